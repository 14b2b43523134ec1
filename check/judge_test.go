package check

import (
	"testing"
	"time"

	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/snapshot"
	"github.com/klagx/klagx/status"
)

// TestJudgeWindowStall: the window makes a group stalled only when none of
// its partitions with lag committed; then its stuck partitions are stalled
// too. A partition that did not commit in a group that did keeps its
// one-sample status (ten seconds say nothing about a partition committed
// every minute).
func TestJudgeWindowStall(t *testing.T) {
	t0 := time.Now()
	part := func(p int32, committed, lag int64) snapshot.GroupPartition {
		return snapshot.GroupPartition{Topic: "t", Partition: p, Committed: committed, HasCommit: true, Lag: lag, LagKnown: true}
	}
	group := func(at time.Time, ps ...snapshot.GroupPartition) *snapshot.Group {
		g := &snapshot.Group{Name: "g", HasData: true, Members: 1, ObservedAt: at, Partitions: ps}
		for _, p := range ps {
			g.Lag += p.Lag
		}
		return g
	}
	rep := func() *report.Group {
		return &report.Group{Name: "g", Status: status.Warning, Topics: []report.Topic{{Name: "t", Partitions: []report.Partition{
			{Partition: 0, Status: status.Warning}, {Partition: 1, Status: status.Warning}, {Partition: 2, Status: status.OK}}}}}
	}
	cl := &snapshot.Cluster{Name: "c"}
	statuses := func(rg *report.Group) []status.Status {
		var out []status.Status
		for _, p := range rg.Topics[0].Partitions {
			out = append(out, p.Status)
		}
		return out
	}

	// No partition committed: the group and its two lagging partitions
	// are stalled; the one without lag stays ok.
	before := group(t0, part(0, 10, 5), part(1, 20, 7), part(2, 30, 0))
	after := group(t0.Add(10*time.Second), part(0, 10, 9), part(1, 20, 8), part(2, 30, 0))
	rg := rep()
	judge(rg, after, before, cl, cl, 10*time.Second)
	if got := statuses(rg); rg.Status != status.Stalled || got[0] != status.Stalled || got[1] != status.Stalled || got[2] != status.OK {
		t.Errorf("nothing committed: group %s, partitions %v; want stalled, [stalled stalled ok]", rg.Status, got)
	}

	// Partition 0 committed: the group is not stalled, and partition 1
	// keeps its status.
	after = group(t0.Add(10*time.Second), part(0, 12, 3), part(1, 20, 8), part(2, 30, 0))
	rg = rep()
	judge(rg, after, before, cl, cl, 10*time.Second)
	if got := statuses(rg); rg.Status != status.Warning || got[1] != status.Warning {
		t.Errorf("partition 0 committed: group %s, partitions %v; want warning, partition 1 warning", rg.Status, got)
	}
}
