package check

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"log/slog"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/status"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// scenario builds a cluster with known values: two-hour-old records; billing
// is caught up (OK); shipping has a member and is 30 messages behind
// (WARNING above --warn-lag 25); returns has no members and lag (stopped,
// CRITICAL); the share group jobs acknowledged 5 records of topic jobs and
// left with 2 more waiting (stopped, CRITICAL).
func scenario(t *testing.T) *kfaketest.Env {
	env := kfaketest.New(t, 3)
	env.CreateTopic("orders", 2)
	old := time.Now().Add(-2 * time.Hour)
	env.Produce("orders", 0, 40, old)
	env.Produce("orders", 1, 20, old)
	env.Commit("billing", "orders", map[int32]int64{0: 40, 1: 20})
	env.Commit("shipping", "orders", map[int32]int64{0: 10, 1: 20})
	env.Commit("returns", "orders", map[int32]int64{0: 38, 1: 20})
	// A member that joins and never polls or commits.
	env.Consumer("shipping", []string{"orders"}, kgo.ClientID("shipping-1"))
	kfaketest.WaitFor(t, 30*time.Second, "shipping to have a member", func() bool {
		gi := env.Cluster.GroupInfo("shipping")
		return gi != nil && gi.State == "Stable" && len(gi.Members) == 1
	})
	env.CreateTopic("jobs", 1)
	env.Produce("jobs", 0, 5, old)
	env.ShareConsume("jobs", "jobs", 5).Close()
	env.Produce("jobs", 0, 2, old)
	return env
}

// stableID replaces the random part of a kgo member ID (client ID, "-",
// 32 hex digits).
func stableID(id string) string {
	return regexp.MustCompile(`-[0-9a-f]{32}$`).ReplaceAllString(id, "-MEMBER")
}

// normalize replaces what depends on the wall clock with fixed values:
// timestamps, member IDs and client hosts (a random suffix, an ephemeral
// port), and time lags rounded to the minute (the records are two
// hours old, so the rounded value is known exactly).
func normalize(r *Result) {
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.Report.GeneratedAt = fixed
	round := func(p *float64) {
		if p != nil {
			*p = math.Round(*p/60) * 60
		}
	}
	age := regexp.MustCompile(`time lag [0-9hms.]+ is`)
	for ci := range r.Report.Clusters {
		c := &r.Report.Clusters[ci]
		c.LastSuccess = &fixed
		for gi := range c.ShareGroups {
			c.ShareGroups[gi].ObservedAt = fixed
			for mi := range c.ShareGroups[gi].Members {
				c.ShareGroups[gi].Members[mi].ID = "member"
			}
		}
		for gi := range c.Groups {
			g := &c.Groups[gi]
			g.ObservedAt = fixed
			g.Reason = age.ReplaceAllString(g.Reason, "time lag ~2h is")
			g.TimeLagErrorSeconds = 0
			round(g.LagSeconds)
			for mi := range g.MemberLags {
				m := &g.MemberLags[mi]
				m.MemberID, m.Host = stableID(m.MemberID), "127.0.0.1:PORT"
				round(m.LagSeconds)
			}
			for ti := range g.Topics {
				round(g.Topics[ti].LagSeconds)
				for pi := range g.Topics[ti].Partitions {
					p := &g.Topics[ti].Partitions[pi]
					round(p.LagSeconds)
					p.Reason = age.ReplaceAllString(p.Reason, "time lag ~2h is")
					if p.LastCommitAt != nil {
						p.LastCommitAt = &fixed
					}
					if p.Owner != nil {
						p.Owner = &report.Owner{MemberID: stableID(p.Owner.MemberID), ClientID: p.Owner.ClientID, Host: "127.0.0.1:PORT"}
					}
				}
			}
		}
	}
}

// checkOwners compares the owner of every partition and the member lags
// with what kfake's GroupInfo says of the group's members.
func checkOwners(t *testing.T, env *kfaketest.Env, res *Result) {
	t.Helper()
	for _, g := range res.Report.Clusters[0].Groups {
		gi := env.Cluster.GroupInfo(g.Name)
		want := map[int32]report.Owner{}
		lags := map[string]int64{}
		var members []report.MemberLag
		for _, m := range gi.Members {
			o := report.Owner{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost}
			ml := report.MemberLag{Owner: o}
			for _, p := range m.Assignment["orders"] {
				want[p] = o
				ml.Partitions++
			}
			members = append(members, ml)
		}
		for _, p := range g.Topics[0].Partitions {
			if w, ok := want[p.Partition]; !ok && p.Owner != nil || ok && (p.Owner == nil || *p.Owner != w) {
				t.Errorf("%s orders/%d: owner %+v, want %+v (GroupInfo)", g.Name, p.Partition, p.Owner, w)
			} else if ok {
				lags[w.MemberID] += p.Lag
			}
		}
		if len(g.MemberLags) != len(members) {
			t.Fatalf("%s: %d member lags, want %d (GroupInfo)", g.Name, len(g.MemberLags), len(members))
		}
		for i, m := range members {
			got := g.MemberLags[i]
			if got.Owner != m.Owner || got.Partitions != m.Partitions || got.Lag != lags[m.MemberID] {
				t.Errorf("%s: member %+v, want %+v with lag %d", g.Name, got, m, lags[m.MemberID])
			}
		}
	}
}

func TestGoldenOutputs(t *testing.T) {
	env := scenario(t)
	cfg := env.Config(func(c *config.Config) {
		c.Thresholds.Default = config.GroupThresholds{WarnLagSeconds: 2 * time.Minute, CritLagSeconds: 3 * time.Hour,
			WarnLag: 25, StallAfter: time.Minute, GrowthWindow: time.Minute}
		// Exact record timestamps: the time lags are known to the
		// millisecond, so the golden holds them (rounded to the minute
		// the test takes to run).
		c.TimeLag.Mode = config.TimeLagExact
	})
	res, err := Run(context.Background(), Options{Config: cfg, Timeout: 10 * time.Second, Logger: kfaketest.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Severity != status.SeverityCritical {
		t.Fatalf("severity %s", res.Severity)
	}
	checkOwners(t, env, res)
	normalize(res)
	for _, format := range Formats {
		t.Run(format, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, res, format); err != nil {
				t.Fatal(err)
			}
			path := "testdata/" + format + ".golden"
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Fatalf("%s output differs from %s (go test ./check -update):\n%s", format, path, b.String())
			}
		})
	}
}

// TestJSONSchemaDecodes: the JSON output decodes strictly into the
// documented schema.
func TestJSONSchemaDecodes(t *testing.T) {
	body, err := os.ReadFile("testdata/json.golden")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var r report.Report
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	if r.Schema != report.Schema || r.Severity == nil || *r.Severity != "CRITICAL" || r.ExitCode == nil || *r.ExitCode != 2 {
		t.Fatalf("%+v", r)
	}
	groups := map[string]report.Group{}
	for _, g := range r.Clusters[0].Groups {
		groups[g.Name] = g
	}
	if g := groups["shipping"]; g.Lag != 30 || g.Severity != "WARNING" || *g.LagSeconds != 7200 || g.Status != "warning" {
		t.Fatalf("shipping: %+v", g)
	}
	if g := groups["billing"]; g.Lag != 0 || g.Severity != "OK" || *g.LagSeconds != 0 {
		t.Fatalf("billing: %+v", g)
	}
	if g := groups["returns"]; g.Lag != 2 || g.Severity != "CRITICAL" || g.Status != "stopped" {
		t.Fatalf("returns: %+v", g)
	}
	if !strings.Contains(string(body), `"committed": 10`) {
		t.Fatal("committed offsets missing")
	}
}

// TestStallWithinWindowJudgesPartitionsToo: shipping has a member, lag on
// partition 0 and no commit during the window. check calls the group
// stalled, and, by the same rule applied to each partition as the
// exporter does, partition 0 stalled too (not "warning", which it would
// say judged on one sample); partition 1 has no lag and stays ok.
func TestStallWithinWindowJudgesPartitionsToo(t *testing.T) {
	env := scenario(t)
	cfg := env.Config(func(c *config.Config) {
		c.Thresholds.Default = config.GroupThresholds{WarnLagSeconds: 2 * time.Minute, StallAfter: time.Minute, GrowthWindow: time.Minute}
	})
	res, err := Run(context.Background(), Options{Config: cfg, Window: time.Second, Timeout: 10 * time.Second, Logger: kfaketest.Logger(t, slog.LevelWarn)})
	if err != nil {
		t.Fatal(err)
	}
	var shipping *report.Group
	for gi, g := range res.Report.Clusters[0].Groups {
		if g.Name == "shipping" {
			shipping = &res.Report.Clusters[0].Groups[gi]
		}
	}
	if shipping == nil || shipping.Status != status.Stalled || shipping.Severity != status.SeverityCritical {
		t.Fatalf("shipping: %+v", shipping)
	}
	got := map[int32]status.Status{}
	for _, p := range shipping.Topics[0].Partitions {
		got[p.Partition] = p.Status
		if p.Partition == 0 && !strings.HasPrefix(p.Reason, "no commit progress in ") {
			t.Errorf("partition 0 reason %q", p.Reason)
		}
	}
	if got[0] != status.Stalled || got[1] != status.OK {
		t.Errorf("partition statuses %v, want 0 stalled (like the group), 1 ok", got)
	}
	// returns has no members: stopped, whatever the window shows.
	for _, g := range res.Report.Clusters[0].Groups {
		if g.Name == "returns" && (g.Status != status.Stopped || g.Topics[0].Partitions[0].Status != status.Stopped) {
			t.Errorf("returns: group %s, partition 0 %s; want stopped", g.Status, g.Topics[0].Partitions[0].Status)
		}
	}
}
