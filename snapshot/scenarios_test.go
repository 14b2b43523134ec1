package snapshot

import (
	"testing"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/status"
)

// step is one poll cycle of a scenario: the partition's offsets and the
// group's commit and membership at that moment.
type step struct {
	start, end, stable int64
	commit             int64 // -1: no commit
	members            int
	state              string
}

// runScenario feeds the steps to a builder, one per interval, and returns
// the last group snapshot.
func runScenario(t *testing.T, steps []step, interval time.Duration, readCommitted bool) Group {
	t.Helper()
	th := config.DefaultGroupThresholds()
	b := NewBuilder(BuilderOptions{Cluster: "c", ReadCommitted: readCommitted, StaleAfter: 5 * interval,
		Thresholds: config.Thresholds{Default: th}})
	var g Group
	for i, s := range steps {
		at := t0.Add(time.Duration(i) * interval)
		if s.stable == 0 {
			s.stable = -1
		}
		if s.state == "" {
			s.state = "Stable"
			if s.members == 0 {
				s.state = "Empty"
			}
		}
		members := make([]observation.Member, s.members)
		for m := range members {
			members[m] = observation.Member{ID: "m", Assigned: map[string][]int32{"t": {0}}}
		}
		og := &observation.Group{Name: "g", Kind: observation.KindClassic, State: s.state, Members: members,
			Commits: map[string]map[int32]int64{}}
		if s.commit >= 0 {
			og.Commits["t"] = map[int32]int64{0: s.commit}
		}
		obs := &observation.Observation{Cluster: "c", Start: at, End: at, MetadataOK: true,
			Groups: map[string]*observation.Group{"g": og}, UnlistedBrokers: map[int32]bool{},
			Topics: map[string]*observation.Topic{"t": {Name: "t", Partitions: map[int32]*observation.Partition{
				0: {Leader: 1, Start: s.start, End: s.end, Stable: s.stable}}}}}
		c := b.Build(obs, nil)
		g = *c.Group("g")
	}
	return g
}

// repeat returns n steps produced by f(i).
func repeat(n int, f func(i int) step) []step {
	out := make([]step, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// TestStatusScenarios is the golden table of the situations Burrow's users
// hit, with the status each must get. Default thresholds: warn at 2m of
// time lag, stalled after 3m without progress, growth window 5m; one cycle
// every 15s.
func TestStatusScenarios(t *testing.T) {
	const iv = 15 * time.Second
	for _, tc := range []struct {
		name  string
		steps []step
		rc    bool
		want  status.Status
	}{
		{"idle topic, caught up for an hour", repeat(240, func(int) step {
			return step{end: 500, commit: 500, members: 1}
		}), false, status.OK},
		{"idle topic, empty group caught up", repeat(40, func(int) step {
			return step{end: 500, commit: 500}
		}), false, status.OK},
		{"fast committer keeping up", repeat(40, func(i int) step {
			return step{end: int64(100 * (i + 1)), commit: int64(100*(i+1) - 7*(i%3)), members: 2}
		}), false, status.OK},
		{"fast committer pausing briefly (one minute)", repeat(40, func(i int) step {
			c := int64(100 * (i + 1))
			if i >= 30 && i < 34 {
				c = 3000
			}
			return step{end: int64(100 * (i + 1)), commit: c, members: 2}
		}), false, status.OK},
		{"slow committer: commits keep advancing, lag keeps growing", repeat(40, func(i int) step {
			return step{end: int64(100 * (i + 1)), commit: int64(50 * (i + 1)), members: 1}
		}), false, status.Warning},
		{"stalled: members present, commit frozen with lag", repeat(20, func(i int) step {
			return step{end: int64(100 * (i + 1)), commit: 100, members: 1}
		}), false, status.Stalled},
		{"stopped: no members, lag growing", repeat(10, func(i int) step {
			return step{end: int64(100 * (i + 1)), commit: 100}
		}), false, status.Stopped},
		{"transactional topic stuck at lag 1, read_uncommitted", repeat(40, func(int) step {
			// The last offset is a transaction marker the consumer never
			// commits past: HWM is one ahead of the commit forever.
			return step{end: 1001, stable: 1001, commit: 1000, members: 1}
		}), false, status.Stalled},
		{"same topic measured read_committed: no lag, ok", repeat(40, func(int) step {
			return step{end: 1001, stable: 1000, commit: 1000, members: 1}
		}), true, status.OK},
		{"rewind: offset reset to an earlier position", append(repeat(10, func(i int) step {
			return step{end: int64(100 * (i + 1)), commit: int64(100 * (i + 1)), members: 1}
		}), step{end: 1100, commit: 200, members: 1}), false, status.Rewind},
		{"retention overtook the group", append(repeat(5, func(i int) step {
			return step{end: int64(100 * (i + 1)), commit: 50, members: 1}
		}), step{start: 300, end: 600, commit: 50, members: 1}), false, status.Lost},
		{"rebalancing", append(repeat(5, func(i int) step {
			return step{end: int64(100 * (i + 1)), commit: int64(100 * (i + 1)), members: 1}
		}), step{end: 600, commit: 550, members: 2, state: "PreparingRebalance"}), false, status.Rebalancing},
		{"empty group that never committed anything: nothing to be behind on", repeat(5, func(i int) step {
			return step{end: 100, commit: -1}
		}), false, status.OK},
		{"member subscribed but no commit yet, on a topic with data", repeat(5, func(i int) step {
			return step{end: 100, commit: -1, members: 1}
		}), false, status.OK},
		{"new group, nothing produced yet", repeat(5, func(int) step {
			return step{end: 0, commit: -1, members: 1}
		}), false, status.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := runScenario(t, tc.steps, iv, tc.rc)
			if g.Status != tc.want {
				t.Fatalf("status %q (%s), want %q; lag %d, lag_seconds %.0f, gap %.0fs", g.Status, g.Reason, tc.want, g.Lag, g.LagSeconds, g.CommitGap)
			}
			if g.Status != status.OK && g.Reason == "" {
				t.Fatalf("status %q without a reason", g.Status)
			}
		})
	}
}

// TestStalledCountsOneGapEpisode: a stall is one episode however long it
// lasts; recovering and stalling again is a second one.
func TestStalledCountsOneGapEpisode(t *testing.T) {
	steps := repeat(30, func(i int) step { return step{end: int64(100 * (i + 1)), commit: 100, members: 1} })
	steps = append(steps, repeat(5, func(i int) step { return step{end: 3000, commit: 3000, members: 1} })...)
	steps = append(steps, repeat(30, func(i int) step { return step{end: int64(3000 + 100*(i+1)), commit: 3000, members: 1} })...)
	g := runScenario(t, steps, 15*time.Second, false)
	if g.CommitGaps != 2 || g.Status != status.Stalled {
		t.Fatalf("gaps %d status %s", g.CommitGaps, g.Status)
	}
}

// TestTimeLagOnIdleStoppedGroup: an idle topic with a stopped group: the
// oldest unconsumed message keeps aging, the time lag grows with the clock.
func TestTimeLagOnIdleStoppedGroup(t *testing.T) {
	steps := []step{{end: 0, commit: 0}}
	steps = append(steps, repeat(100, func(int) step { return step{end: 10, commit: 0} })...)
	g := runScenario(t, steps, 15*time.Second, false)
	// The 10 records were produced between cycle 0 and cycle 1; 100
	// cycles later they are 1485-1500 s old.
	if g.LagSeconds < 1485-0.001 || g.LagSeconds > 1500 || !g.LagSecondsKnown {
		t.Fatalf("lag seconds %v", g.LagSeconds)
	}
	if g.TimeLagError > 15.001 {
		t.Fatalf("error bound %v", g.TimeLagError)
	}
}

// TestCatchUpScenarios checks the rates and the catch-up estimate on
// scripted offsets, one cycle every 15 s (growth window 5m).
func TestCatchUpScenarios(t *testing.T) {
	const iv = 15 * time.Second
	// 10 msg/s produced, 30 msg/s consumed, 6000 behind at first.
	catching := func(i int) step {
		return step{end: 10000 + 150*int64(i), commit: 4000 + 450*int64(i), members: 1}
	}
	for _, tc := range []struct {
		name             string
		steps            []step
		known            bool
		secs             float64
		consume, produce float64
		rates            bool
	}{
		{"first cycle: no rate yet", repeat(1, catching), false, 0, 0, 0, false},
		// Lag 6000-20*15*i; after 10 cycles 3000 at 20/s: 150 s.
		{"catching up", repeat(11, catching), true, 150, 30, 10, true},
		{"caught up, first cycle", []step{{end: 10, commit: 10, members: 1}}, true, 0, 0, 0, false},
		{"consuming slower than producing", repeat(5, func(i int) step {
			return step{end: 1000 + 300*int64(i), commit: 100 + 150*int64(i), members: 1}
		}), false, 0, 10, 20, true},
		{"stopped: no members", append(repeat(5, catching), step{end: 10000 + 150*5, commit: 4000 + 450*4}), false, 0, 24, 10, true},
		{"rewind is not consumption", append(repeat(3, catching),
			step{end: 10000 + 150*3, commit: 1000, members: 1},
			step{end: 10000 + 150*4, commit: 1450, members: 1}),
			// consumed 2*450 before the rewind, 450 after, over 60 s;
			// lag 10600-1450 = 9150 at 22.5-10 = 12.5/s.
			true, 9150 / 12.5, 22.5, 10, true},
		{"end offset reset: produced counts from the new end", append(repeat(2, catching),
			step{end: 100, commit: 50, members: 1},
			step{end: 250, commit: 100, members: 1}),
			// produced 150 + 0 + 150 in 45 s; consumed 450 + 0 (rewind) + 50.
			true, 150 / (500.0/45 - 300.0/45), 500.0 / 45, 300.0 / 45, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := runScenario(t, tc.steps, iv, false)
			if g.CatchUpKnown != tc.known || !near(g.CatchUpSeconds, tc.secs) {
				t.Errorf("catch-up = %v %v, want %v %v (status %s, lag %d)", g.CatchUpSeconds, g.CatchUpKnown, tc.secs, tc.known, g.Status, g.Lag)
			}
			gt := g.Topics[0]
			if gt.RatesKnown != tc.rates || !near(gt.ConsumeRate, tc.consume) || !near(gt.ProduceRate, tc.produce) {
				t.Errorf("rates = consume %v produce %v known %v, want %v %v %v", gt.ConsumeRate, gt.ProduceRate, gt.RatesKnown, tc.consume, tc.produce, tc.rates)
			}
		})
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
