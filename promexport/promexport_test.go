package promexport

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a snapshot covering every family and the edge cases: a group
// with no commit on a partition, a group kept from an earlier cycle, a group
// never read, lost messages, a read_committed partition.
func fixture() *snapshot.Store {
	at := time.Unix(1_700_000_000, 0)
	s := snapshot.NewStore("prod", "staging")
	s.Publish(&snapshot.Cluster{
		Name: "prod", Up: true, Ready: true, TakenAt: at, LastSuccess: at,
		PollDuration: snapshot.Histogram{Count: 2, Sum: 0.3, Bounds: metrics.PollDurationBuckets,
			Counts: []uint64{0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2}},
		Requests:   []snapshot.Count{{Name: "ListGroups", Value: 6}, {Name: "ListOffsets", Value: 12}},
		PollErrors: []snapshot.Count{{Name: "describe_groups", Value: 1}, {Name: "list_groups", Value: 0}},
		Partitions: []snapshot.Partition{
			{Topic: "orders", Partition: 0, Start: 0, End: 15, Stable: -1, ObservedAt: at},
			{Topic: "orders", Partition: 1, Start: 5, End: 20, Stable: 18, ObservedAt: at},
		},
		Groups: []snapshot.Group{
			{Name: "billing", Kind: "classic", State: "Stable", Members: 2, StaticMembers: 1, ObservedAt: at, HasData: true,
				Lag: 20, PartitionsWithoutCommit: 1, LagSeconds: 42.5, LagSecondsKnown: true, TimeLagError: 15,
				TimeLagMethods: []snapshot.Count{{Name: "exact", Value: 1}, {Name: "interpolated", Value: 1}},
				Status:         "warning", Reason: "lag rose from 3 to 20 over 5m0s",
				Thresholds: config.GroupThresholds{WarnLagSeconds: 2 * time.Minute, CritLagSeconds: 10 * time.Minute, CritLag: 5000, StallAfter: 3 * time.Minute, GrowthWindow: 5 * time.Minute},
				CommitGap:  12, CommitGaps: 1, Rewinds: 2,
				CommitLatency: snapshot.Histogram{Count: 3, Sum: 4.5, Bounds: metrics.CommitLatencyBuckets,
					Counts: []uint64{0, 0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
				Rebalances: 3, MemberJoins: 2, MemberLeaves: 1, PartitionsMoved: 4, LastRebalance: at.Add(-time.Minute), UnownedPartitions: 1,
				RebalanceDuration: snapshot.Histogram{Count: 2, Sum: 3, Bounds: metrics.RebalanceDurationBuckets,
					Counts: []uint64{0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2}},
				RetentionHeadroom: 10, HeadroomKnown: true, RetentionHeadroomSeconds: 3600, HeadroomSecondsKnown: true,
				Topics: []snapshot.GroupTopic{{Topic: "orders", Lag: 20, LagSeconds: 42.5, LagSecondsKnown: true}},
				Partitions: []snapshot.GroupPartition{
					{Topic: "orders", Partition: 0, Committed: 10, HasCommit: true, Lag: 5, LagKnown: true,
						LagSeconds: 30, TimeLagMethod: "exact", LastCommitAt: at.Add(-12 * time.Second)},
					{Topic: "orders", Partition: 1, Lag: 15, LagKnown: true, LagSeconds: 42.5, TimeLagMethod: "interpolated", TimeLagError: 15},
				}},
			{Name: "late", Kind: "consumer", State: "Reconciling", ObservedAt: at.Add(-30 * time.Second), HasData: true,
				Error: "UNKNOWN_SERVER_ERROR", Lag: 3, Status: "lost", MessagesLost: 3, RebalanceInProgress: true,
				Topics: []snapshot.GroupTopic{{Topic: "orders", Lag: 3}},
				Partitions: []snapshot.GroupPartition{
					{Topic: "orders", Partition: 1, Committed: 2, HasCommit: true, Lag: 15, LagKnown: true, BelowStart: 3, LostTotal: 3},
				}},
			{Name: "unread", Kind: "classic", State: "SomethingNew", ObservedAt: at, Error: "timeout"},
		},
	})
	return s
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file  string
		level metrics.Level
	}{
		{"testdata/partition.prom", metrics.LevelPartition},
		{"testdata/topic.prom", metrics.LevelTopic},
		{"testdata/group.prom", metrics.LevelGroup},
	} {
		t.Run(tc.file, func(t *testing.T) {
			c := New(fixture(), Options{Level: tc.level, Version: "1.2.3", Revision: "abc", GoVersion: "go1.26"})
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(c)
			got := render(t, reg)
			if *update {
				if err := os.WriteFile(tc.file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if err := testutil.GatherAndCompare(reg, bytes.NewReader(want)); err != nil {
				t.Fatalf("differs from %s (go test ./promexport -update): %v", tc.file, err)
			}
			problems, err := promlint.New(bytes.NewReader(got)).Lint()
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("promlint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

func render(t *testing.T, reg *prometheus.Registry) []byte {
	t.Helper()
	var b strings.Builder
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if err := writeFamily(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return []byte(b.String())
}

// TestEveryFamilyRendered: each family of the contract appears in the
// partition-level golden, so the golden documents the whole contract.
func TestEveryFamilyRendered(t *testing.T) {
	body, err := os.ReadFile("testdata/partition.prom")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range metrics.Families {
		if !bytes.Contains(body, []byte("# TYPE "+f.Name+" ")) {
			t.Errorf("family %s missing from the golden", f.Name)
		}
	}
}

// TestNoCommitIsAbsentNotMinusOne: the partition without a commit has a lag
// series but no committed-offset series.
func TestNoCommitIsAbsentNotMinusOne(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(fixture(), Options{Level: metrics.LevelPartition}))
	n, err := testutil.GatherAndCount(reg, metrics.GroupPartitionCommittedOffset)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d committed-offset series, want 2 (billing/0 and late/1)", n)
	}
	body := render(t, reg)
	if bytes.Contains(body, []byte(" -1\n")) {
		t.Fatalf("a -1 value was exported:\n%s", body)
	}
}
