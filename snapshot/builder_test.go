package snapshot

import (
	"errors"
	"testing"
	"time"

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
