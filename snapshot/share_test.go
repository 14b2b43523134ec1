package snapshot

import (
	"errors"
	"testing"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/status"
)

// shareObs is obsAt with one share group: members, and per partition of
// topic "t" its start offset and broker lag (-1: not reported).
func shareObs(at time.Time, members int, start0, lag0, start1, lag1 int64) *observation.Observation {
	o := obsAt(at, [2]int64{0, 20}, [2]int64{0, 10})
	g := &observation.ShareGroup{Name: "s", State: "Stable", Coordinator: 1,
		Offsets: map[string]map[int32]observation.ShareOffset{"t": {0: {Start: start0, Lag: lag0}, 1: {Start: start1, Lag: lag1}}}}
	for range members {
		g.Members = append(g.Members, observation.Member{ID: "m", ClientID: "c", ClientHost: "/h"})
	}
	if members == 0 {
		g.State = "Empty"
	}
	o.ShareGroups = map[string]*observation.ShareGroup{"s": g}
	return o
}

// TestShareGroupStatus walks a share group through ok, stalled, stopped,
// a failed read (last values kept with the error) and deletion, with the
// broker's lag and with the estimate of brokers before Kafka 4.2.
func TestShareGroupStatus(t *testing.T) {
	th := config.DefaultGroupThresholds()
	b := NewBuilder(BuilderOptions{Cluster: "c", StaleAfter: 10 * time.Minute, Thresholds: config.Thresholds{Default: th}})

	// Broker lag on partition 0 (3: records above the start offset already
	// acknowledged are not counted), none on partition 1: 10 − 6 = 4.
	g := b.Build(shareObs(t0, 1, 15, 3, 6, -1), nil).ShareGroup("s")
	if g == nil || g.Lag != 7 || g.EstimatedPartitions != 1 || g.Status != status.OK || len(g.Members) != 1 {
		t.Fatalf("first cycle: %+v", g)
	}
	if p := g.Partitions[1]; !p.Estimated || p.Lag != 4 || p.Start != 6 {
		t.Fatalf("estimated partition: %+v", p)
	}

	// Start offsets do not move for the stall threshold: stalled.
	at := t0.Add(th.StallAfter)
	g = b.Build(shareObs(at, 1, 15, 3, 6, -1), nil).ShareGroup("s")
	if g.Status != status.Stalled || g.ProgressGap != th.StallAfter.Seconds() {
		t.Fatalf("no start offset progress for %s: %s (%s), gap %v", th.StallAfter, g.Status, g.Reason, g.ProgressGap)
	}
	// One advances: the gap is that of the other only, which is still long.
	at = at.Add(time.Second)
	g = b.Build(shareObs(at, 1, 16, 2, 6, -1), nil).ShareGroup("s")
	if g.Status != status.Stalled || g.Partitions[0].AdvancedAt != at || g.Reason == "" {
		t.Fatalf("after partition 0 advanced: %+v", g)
	}
	// Both advance: ok.
	g = b.Build(shareObs(at.Add(time.Second), 1, 17, 1, 7, -1), nil).ShareGroup("s")
	if g.Status != status.OK || g.ProgressGap != 0 {
		t.Fatalf("both advanced: %s (%s), gap %v", g.Status, g.Reason, g.ProgressGap)
	}

	// No members with lag: stopped.
	at = at.Add(2 * time.Second)
	g = b.Build(shareObs(at, 0, 17, 1, 7, -1), nil).ShareGroup("s")
	if g.Status != status.Stopped {
		t.Fatalf("no members: %s (%s)", g.Status, g.Reason)
	}

	// A failed read keeps the last values, with the error and a count.
	failed := shareObs(at.Add(time.Second), 0, 0, 0, 0, 0)
	failed.ShareGroups["s"].DescribeErr = errors.New("COORDINATOR_NOT_AVAILABLE")
	g = b.Build(failed, nil).ShareGroup("s")
	if g == nil || g.Lag != 1+3 || g.Error != "COORDINATOR_NOT_AVAILABLE" || g.PollErrors != 1 || !g.ObservedAt.Equal(at) {
		t.Fatalf("failed read: %+v", g)
	}

	// Deleted: gone, and so is its state.
	gone := obsAt(at.Add(2*time.Second), [2]int64{0, 20}, [2]int64{0, 10})
	if c := b.Build(gone, nil); len(c.ShareGroups) != 0 || len(b.shares) != 0 {
		t.Fatalf("deleted share group kept: %+v, state %d", c.ShareGroups, len(b.shares))
	}
}
