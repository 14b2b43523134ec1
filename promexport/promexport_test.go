package promexport

import (
	"bytes"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var billing1 = &snapshot.Member{ID: "billing-1-3f2a", ClientID: "billing-1", Host: "/10.0.0.1"}

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
				CatchUpSeconds: 2.5, CatchUpKnown: true,
				Topics: []snapshot.GroupTopic{{Topic: "orders", Lag: 20, LagSeconds: 42.5, LagSecondsKnown: true,
					ConsumeRate: 12, ProduceRate: 4, RatesKnown: true, CatchUpSeconds: 2.5, CatchUpKnown: true}},
				// Two members: one owns both partitions, the static one
				// owns none (lag 0, no lag_seconds).
				MemberLags: []snapshot.MemberLag{
					{Member: snapshot.Member{ID: "billing-1-3f2a", ClientID: "billing-1", Host: "/10.0.0.1"}, Partitions: 2, Lag: 20, LagSeconds: 42.5, LagSecondsKnown: true},
					{Member: snapshot.Member{ID: "billing-2-77c1", InstanceID: "billing-b", ClientID: `billing "2"`, Host: "/10.0.0.2"}},
				},
				Partitions: []snapshot.GroupPartition{
					{Topic: "orders", Partition: 0, Committed: 10, HasCommit: true, Lag: 5, LagKnown: true,
						LagSeconds: 30, TimeLagMethod: "exact", LastCommitAt: at.Add(-12 * time.Second), Owner: billing1},
					{Topic: "orders", Partition: 1, Lag: 15, LagKnown: true, LagSeconds: 42.5, TimeLagMethod: "interpolated", TimeLagError: 15, Owner: billing1},
				}},
			{Name: "late", Kind: "consumer", State: "Reconciling", ObservedAt: at.Add(-30 * time.Second), HasData: true,
				Error: "UNKNOWN_SERVER_ERROR", Lag: 3, Status: "lost", MessagesLost: 3, RebalanceInProgress: true,
				Topics: []snapshot.GroupTopic{{Topic: "orders", Lag: 3}},
				Partitions: []snapshot.GroupPartition{
					{Topic: "orders", Partition: 1, Committed: 2, HasCommit: true, Lag: 15, LagKnown: true, BelowStart: 3, LostTotal: 3},
				}},
			{Name: "unread", Kind: "classic", State: "SomethingNew", ObservedAt: at, Error: "timeout"},
		},
		ShareGroups: []snapshot.ShareGroup{
			{Name: "jobs", State: "Stable", ObservedAt: at, HasData: true, Lag: 7, EstimatedPartitions: 1, ProgressGap: 40,
				Status: "ok", PollErrors: 1,
				Members: []snapshot.ShareMember{{ID: "m1", ClientID: "worker", ClientHost: "/10.0.0.1", Assigned: map[string][]int32{"orders": {0, 1}}}},
				Partitions: []snapshot.SharePartition{
					{Topic: "orders", Partition: 0, Start: 13, Lag: 2, LagKnown: true, AdvancedAt: at},
					{Topic: "orders", Partition: 1, Start: 15, Lag: 5, LagKnown: true, Estimated: true, AdvancedAt: at.Add(-40 * time.Second)},
				}},
			{Name: "jobs-unread", State: "Empty", ObservedAt: at, Error: "timeout"},
		},
	})
	return s
}

func TestGolden(t *testing.T) {
	topic, group := metrics.AllSelection, metrics.AllSelection
	topic.Level, group.Level = metrics.LevelTopic, metrics.LevelGroup
	for _, tc := range []struct {
		file string
		sel  metrics.Selection
	}{
		{"testdata/default.prom", metrics.DefaultSelection},
		{"testdata/partition.prom", metrics.AllSelection},
		{"testdata/topic.prom", topic},
		{"testdata/group.prom", group},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got := text(t, New(fixture(), Options{Selection: tc.sel, Version: "1.2.3", Revision: "abc", GoVersion: "go1.26"}), Text)
			if *update {
				if err := os.WriteFile(tc.file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("differs from %s (go test ./promexport -update):\n%s", tc.file, got)
			}
			p := expfmt.NewTextParser(model.LegacyValidation)
			if _, err := p.TextToMetricFamilies(bytes.NewReader(got)); err != nil {
				t.Fatalf("does not parse: %v", err)
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

// text returns r's current exposition in format.
func text(t testing.TB, r *Renderer, format Format) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.Current().Write(&b, format); err != nil {
		t.Fatal(err)
	}
	if b.Len() != r.Current().Size(format) {
		t.Fatalf("Size() = %d, wrote %d bytes", r.Current().Size(format), b.Len())
	}
	return b.Bytes()
}

// TestEveryFamilyRendered: each family of the contract appears in the
// everything-on golden, so the golden documents the whole contract; the
// default golden holds exactly the default families.
func TestEveryFamilyRendered(t *testing.T) {
	all, err := os.ReadFile("testdata/partition.prom")
	if err != nil {
		t.Fatal(err)
	}
	def, err := os.ReadFile("testdata/default.prom")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range metrics.Families {
		head := []byte("# TYPE " + f.Name + " ")
		if !bytes.Contains(all, head) {
			t.Errorf("family %s missing from the golden", f.Name)
		}
		if got := bytes.Contains(def, head); got == f.OptIn {
			t.Errorf("family %s: in the default golden = %v, but OptIn = %v", f.Name, got, f.OptIn)
		}
	}
}

// TestNoCommitIsAbsentNotMinusOne: the partition without a commit has a lag
// series but no committed-offset series.
func TestNoCommitIsAbsentNotMinusOne(t *testing.T) {
	r := New(fixture(), Options{Selection: metrics.AllSelection})
	n, err := testutil.GatherAndCount(r, metrics.GroupPartitionCommittedOffset)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("%d committed-offset series, want 2 (billing/0 and late/1)", n)
	}
	if body := text(t, r, Text); bytes.Contains(body, []byte(" -1\n")) {
		t.Fatalf("a -1 value was exported:\n%s", body)
	}
}
