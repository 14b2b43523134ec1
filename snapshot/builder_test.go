package snapshot

import (
	"errors"
	"testing"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
)

var t0 = time.Unix(1_700_000_000, 0)

// obsAt builds an observation at t with one topic "t" of two partitions
// (offsets given as start,end pairs) and the given groups.
func obsAt(t time.Time, p0, p1 [2]int64, groups ...*observation.Group) *observation.Observation {
	o := &observation.Observation{
		Cluster: "c", Start: t.Add(-100 * time.Millisecond), End: t,
		Groups: map[string]*observation.Group{}, UnlistedBrokers: map[int32]bool{},
		MetadataOK: true,
		Topics: map[string]*observation.Topic{"t": {Name: "t", Partitions: map[int32]*observation.Partition{
			0: {Leader: 1, Start: p0[0], End: p0[1], Stable: -1},
			1: {Leader: 2, Start: p1[0], End: p1[1], Stable: -1},
		}}},
	}
	for _, g := range groups {
		o.Groups[g.Name] = g
	}
	return o
}

func grp(name string, coord int32, commits map[int32]int64) *observation.Group {
	return &observation.Group{Name: name, Kind: observation.KindClassic, State: "Empty", Coordinator: coord,
		Commits: map[string]map[int32]int64{"t": commits}}
}

func TestBuilderFreshCycle(t *testing.T) {
	b := NewBuilder(BuilderOptions{Cluster: "c", StaleAfter: time.Minute})
	c := b.Build(obsAt(t0, [2]int64{0, 10}, [2]int64{2, 8}, grp("a", 1, map[int32]int64{0: 4})), nil)
	if !c.Up || !c.Ready || !c.LastSuccess.Equal(t0) {
		t.Fatalf("cluster flags: %+v", c)
	}
	g := c.Group("a")
	if g == nil || !g.HasData {
		t.Fatalf("group a missing: %+v", c.Groups)
	}
	if g.Lag != 6+6 || g.PartitionsWithoutCommit != 1 {
		t.Fatalf("lag %d without-commit %d, want 12 and 1", g.Lag, g.PartitionsWithoutCommit)
	}
	if p := g.Partitions[1]; p.HasCommit || p.Lag != 6 {
		t.Fatalf("no-commit partition: %+v", p)
	}
	if c.PollDuration.Count != 1 {
		t.Fatalf("poll histogram not observed")
	}
}

func TestBuilderKeepsLastGoodValuesThenDropsThem(t *testing.T) {
	b := NewBuilder(BuilderOptions{Cluster: "c", StaleAfter: 30 * time.Second})
	b.Build(obsAt(t0, [2]int64{0, 10}, [2]int64{0, 10}, grp("a", 1, map[int32]int64{0: 4, 1: 4}), grp("b", 2, map[int32]int64{0: 1})), nil)

	// Cycle 2: group a cannot be described, partition 1 cannot be listed.
	ga := grp("a", 1, nil)
	ga.DescribeErr = errors.New("boom")
	o := obsAt(t0.Add(10*time.Second), [2]int64{0, 20}, [2]int64{0, 99}, ga, grp("b", 2, map[int32]int64{0: 1}))
	o.Topics["t"].Partitions[1].Err = errors.New("leader not available")
	c := b.Build(o, nil)
	a := c.Group("a")
	if a == nil || a.Lag != 12 || !a.ObservedAt.Equal(t0) || a.Error != "boom" {
		t.Fatalf("group a should keep cycle-1 values with their age: %+v", a)
	}
	if bb := c.Group("b"); bb.Lag != 19+10 || !bb.ObservedAt.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("group b should be fresh and use the kept partition 1 offsets: %+v", bb)
	}
	if p := c.Partitions[1]; p.End != 10 || !p.ObservedAt.Equal(t0) {
		t.Fatalf("partition 1 should keep its last good offsets: %+v", p)
	}

	// Cycle 3, 40s after the last good read: too old, dropped, not frozen.
	o = obsAt(t0.Add(40*time.Second), [2]int64{0, 20}, [2]int64{0, 99}, ga, grp("b", 2, map[int32]int64{0: 1}))
	o.Topics["t"].Partitions[1].Err = errors.New("leader not available")
	c = b.Build(o, nil)
	if a := c.Group("a"); a == nil || a.HasData {
		t.Fatalf("stale group a should have no data left: %+v", a)
	}
	if len(c.Partitions) != 1 {
		t.Fatalf("stale partition kept: %+v", c.Partitions)
	}
}

func TestBuilderWholeCycleFailure(t *testing.T) {
	b := NewBuilder(BuilderOptions{Cluster: "c", StaleAfter: time.Minute})
	failed := &observation.Observation{Cluster: "c", Start: t0, End: t0, Err: errors.New("dial tcp: refused")}
	c := b.Build(failed, nil)
	if c.Up || c.Ready || c.LastError == "" || len(c.Groups) != 0 {
		t.Fatalf("down at start: %+v", c)
	}
	b.Build(obsAt(t0.Add(time.Second), [2]int64{0, 10}, [2]int64{0, 10}, grp("a", 1, map[int32]int64{0: 4})), nil)
	failed = &observation.Observation{Cluster: "c", Start: t0.Add(2 * time.Second), End: t0.Add(2 * time.Second), Err: errors.New("dial tcp: refused")}
	c = b.Build(failed, nil)
	if c.Up || !c.Ready || !c.LastSuccess.Equal(t0.Add(time.Second)) {
		t.Fatalf("down after up: %+v", c)
	}
	if a := c.Group("a"); a == nil || a.Lag != 16 || a.Error == "" {
		t.Fatalf("last good group values should be kept with the error: %+v", a)
	}
}

func TestBuilderDeletedGroupVanishesUnlessBrokerUnlisted(t *testing.T) {
	b := NewBuilder(BuilderOptions{Cluster: "c", StaleAfter: time.Minute})
	b.Build(obsAt(t0, [2]int64{0, 10}, [2]int64{0, 10}, grp("on1", 1, map[int32]int64{0: 1}), grp("on2", 2, map[int32]int64{0: 1})), nil)
	o := obsAt(t0.Add(time.Second), [2]int64{0, 10}, [2]int64{0, 10})
	o.UnlistedBrokers[2] = true
	c := b.Build(o, nil)
	if c.Group("on1") != nil {
		t.Fatal("group on1 is no longer listed by its answering coordinator: it was deleted")
	}
	if g := c.Group("on2"); g == nil || g.Error == "" {
		t.Fatal("group on2's coordinator did not answer ListGroups: keep it")
	}
	if n := partStates(b); n != 2 {
		t.Fatalf("lost counters not pruned with the deleted group: %d", n)
	}
}

func TestBuilderReadCommitted(t *testing.T) {
	b := NewBuilder(BuilderOptions{Cluster: "c", ReadCommitted: true})
	o := obsAt(t0, [2]int64{0, 10}, [2]int64{0, 10}, grp("a", 1, map[int32]int64{0: 9, 1: 9}))
	o.Topics["t"].Partitions[0].Stable = 9  // open transaction after offset 9
	o.Topics["t"].Partitions[1].Stable = 10 // nothing open
	c := b.Build(o, nil)
	if g := c.Group("a"); g.Lag != 1 || g.Partitions[0].Lag != 0 {
		t.Fatalf("read_committed lag should be measured to the LSO: %+v", g.Partitions)
	}
}

func TestStorePublishIsCopyOnWrite(t *testing.T) {
	s := NewStore("b", "a")
	before := s.Load()
	if before.Ready() || before.Clusters[0].Name != "a" {
		t.Fatalf("initial: %+v", before.Clusters)
	}
	s.Publish(&Cluster{Name: "a", Ready: true})
	if before.Clusters[0].Ready {
		t.Fatal("a published snapshot was modified")
	}
	s.Publish(&Cluster{Name: "b", Ready: true})
	if !s.Load().Ready() {
		t.Fatal("all clusters ready")
	}
}

// partStates counts the group partitions whose state (lost counter,
// commit history) the builder keeps.
func partStates(b *Builder) int {
	n := 0
	for _, st := range b.groups {
		for _, m := range st.parts {
			n += len(m)
		}
	}
	return n
}

// TestRatesFromFailedReadsAndNewPartitions: a partition whose offsets
// could not be read keeps its last values but adds no produce sample (no
// fake rate of zero: the messages produced meanwhile count at the next
// read, over the whole time); a group whose read fails adds no consume
// sample; a partition that appears leaves its topic without a produce rate
// until it has been read twice.
func TestRatesFromFailedReadsAndNewPartitions(t *testing.T) {
	member := []observation.Member{{ID: "m"}}
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	g := func(c0, c1 int64) *observation.Group {
		og := grp("a", 1, map[int32]int64{0: c0, 1: c1})
		og.State, og.Members = "Stable", member
		return og
	}
	b := NewBuilder(BuilderOptions{Cluster: "c", StaleAfter: time.Minute,
		Thresholds: config.Thresholds{Default: config.DefaultGroupThresholds()}})
	topic := func(c *Cluster) GroupTopic { return c.Group("a").Topics[0] }

	// 0 s: baseline. Each partition gains 10 messages per 10 s; the group
	// commits 20 per partition per 10 s.
	b.Build(obsAt(at(0), [2]int64{0, 1000}, [2]int64{0, 1000}, g(0, 0)), nil)
	c := b.Build(obsAt(at(10), [2]int64{0, 1010}, [2]int64{0, 1010}, g(20, 20)), nil)
	if gt := topic(c); !gt.RatesKnown || gt.ProduceRate != 2 || gt.ConsumeRate != 4 {
		t.Fatalf("10 s: %+v, want produce 2/s consume 4/s", gt)
	}
	// 20 s: partition 1's offsets fail: it keeps 1010 and adds no sample,
	// so its rate stays 1/s (not (1010-1000)/20 s).
	o := obsAt(at(20), [2]int64{0, 1020}, [2]int64{0, 0}, g(40, 40))
	o.Topics["t"].Partitions[1].Err = errors.New("NOT_LEADER_OR_FOLLOWER")
	c = b.Build(o, nil)
	if gt := topic(c); gt.ProduceRate != 2 || gt.ConsumeRate != 4 || c.Group("a").Lag != 1020-40+1010-40 {
		t.Fatalf("20 s, partition 1 kept: %+v lag %d", gt, c.Group("a").Lag)
	}
	// 30 s: read again at 1030: 30 messages over 30 s, still 1/s.
	c = b.Build(obsAt(at(30), [2]int64{0, 1030}, [2]int64{0, 1030}, g(60, 60)), nil)
	if gt := topic(c); gt.ProduceRate != 2 || gt.ConsumeRate != 4 {
		t.Fatalf("30 s: %+v", gt)
	}
	// 40 s: the group's commits cannot be read: its values and rates are
	// the last good ones, and no sample is added.
	o = obsAt(at(40), [2]int64{0, 1040}, [2]int64{0, 1040}, g(0, 0))
	o.Groups["a"].FetchErr = errors.New("COORDINATOR_NOT_AVAILABLE")
	c = b.Build(o, nil)
	if gt := topic(c); gt.ConsumeRate != 4 || c.Group("a").Error == "" {
		t.Fatalf("40 s, group unread: %+v", gt)
	}
	// 50 s: read again, 100 more committed per partition over 20 s.
	c = b.Build(obsAt(at(50), [2]int64{0, 1050}, [2]int64{0, 1050}, g(100, 100)), nil)
	if gt := topic(c); gt.ConsumeRate != 4 || gt.ProduceRate != 2 {
		t.Fatalf("50 s: %+v", gt)
	}
	// Lag 2*(1050-100) = 1900 at 4-2 = 2/s.
	if gr := c.Group("a"); !gr.CatchUpKnown || gr.CatchUpSeconds != 950 {
		t.Fatalf("50 s: catch-up %v %v, want 950", gr.CatchUpSeconds, gr.CatchUpKnown)
	}
	// 60 s: partition 2 appears: the topic has no produce rate, so no
	// estimate, until it has been read twice.
	o = obsAt(at(60), [2]int64{0, 1060}, [2]int64{0, 1060}, g(120, 120))
	o.Topics["t"].Partitions[2] = &observation.Partition{Leader: 1, Start: 0, End: 5, Stable: -1}
	c = b.Build(o, nil)
	if gt, gr := topic(c), c.Group("a"); gt.RatesKnown || gr.CatchUpKnown {
		t.Fatalf("60 s, new partition: %+v, catch-up known %v", gt, gr.CatchUpKnown)
	}
	o = obsAt(at(70), [2]int64{0, 1070}, [2]int64{0, 1070}, g(140, 140))
	o.Topics["t"].Partitions[2] = &observation.Partition{Leader: 1, Start: 0, End: 15, Stable: -1}
	c = b.Build(o, nil)
	// Partition 2: 10 over 10 s on top of 2/s.
	if gt := topic(c); !gt.RatesKnown || gt.ProduceRate != 3 || gt.ConsumeRate != 4 {
		t.Fatalf("70 s: %+v", gt)
	}
}
