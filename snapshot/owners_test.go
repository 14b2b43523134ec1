package snapshot

import (
	"reflect"
	"testing"
	"time"

	"github.com/klagx/klagx/observation"
)

// withMembers returns g, Stable, with the given members.
func withMembers(g *observation.Group, ms ...observation.Member) *observation.Group {
	g.State, g.Members = "Stable", ms
	return g
}

func member(id, host string, parts ...int32) observation.Member {
	m := observation.Member{ID: id, ClientID: "client-" + id, ClientHost: host}
	if len(parts) > 0 {
		m.Assigned = map[string][]int32{"t": parts}
	}
	return m
}

// TestMemberLags: each member sums the lag of the partitions assigned to
// it; one assigned nothing has lag 0; the members are sorted by ID
// whatever order Kafka listed them in; every partition names its owner.
func TestMemberLags(t *testing.T) {
	b := NewBuilder(BuilderOptions{Cluster: "c", StaleAfter: time.Minute})
	og := withMembers(grp("a", 1, map[int32]int64{0: 4, 1: 5}),
		member("m2", "/10.0.0.2"), member("m1", "/10.0.0.1", 0, 1))
	og.Members[0].InstanceID = "static-2"
	g := b.Build(obsAt(t0, [2]int64{0, 10}, [2]int64{0, 8}, og), nil).Group("a")
	m1 := Member{ID: "m1", ClientID: "client-m1", Host: "/10.0.0.1"}
	m2 := Member{ID: "m2", InstanceID: "static-2", ClientID: "client-m2", Host: "/10.0.0.2"}
	want := []MemberLag{{Member: m1, Partitions: 2, Lag: 6 + 3}, {Member: m2}}
	if got := withoutTimes(g.MemberLags); !reflect.DeepEqual(got, want) {
		t.Fatalf("member lags %+v, want %+v", got, want)
	}
	for _, p := range g.Partitions {
		if p.Owner == nil || *p.Owner != m1 {
			t.Errorf("t/%d: owner %+v, want %+v", p.Partition, p.Owner, m1)
		}
	}
	if g.UnownedPartitions != 0 {
		t.Errorf("unowned %d, want 0", g.UnownedPartitions)
	}
}

// TestMemberLagsFollowRefresh: a description between offset cycles moves
// the owners and the member lags (with the last cycle's partition lags);
// a member that left is gone; a description that moved nothing keeps the
// partition slice (so the renderer re-renders nothing), one that moved a
// partition copies it and leaves the published one as it was.
func TestMemberLagsFollowRefresh(t *testing.T) {
	b := NewBuilder(BuilderOptions{Cluster: "c", StaleAfter: time.Minute})
	commits := map[int32]int64{0: 4, 1: 5}
	c1 := b.Build(obsAt(t0, [2]int64{0, 10}, [2]int64{0, 8},
		withMembers(grp("a", 1, commits), member("m1", "h1", 0), member("m2", "h2", 1))), nil)
	g1 := c1.Group("a")
	if got := lagsByID(g1); !reflect.DeepEqual(got, map[string]int64{"m1": 6, "m2": 3}) {
		t.Fatalf("cycle: member lags %v", got)
	}

	desc := func(ms ...observation.Member) *observation.Observation {
		return &observation.Observation{Cluster: "c", End: t0.Add(2 * time.Second),
			Groups: map[string]*observation.Group{"a": withMembers(grp("a", 1, nil), ms...)}}
	}
	c2 := b.RefreshGroups(desc(member("m1", "h1", 0), member("m2", "h2", 1)))
	g2 := c2.Group("a")
	if &g2.Partitions[0] != &g1.Partitions[0] {
		t.Error("a refresh that moved no partition copied the partitions")
	}

	// m2 leaves; m1 gets both partitions.
	c3 := b.RefreshGroups(desc(member("m1", "h1", 0, 1)))
	g3 := c3.Group("a")
	if got := lagsByID(g3); !reflect.DeepEqual(got, map[string]int64{"m1": 9}) {
		t.Fatalf("after m2 left: member lags %v, want m1 9 only", got)
	}
	for _, p := range g3.Partitions {
		if p.Owner == nil || p.Owner.ID != "m1" {
			t.Errorf("after m2 left: t/%d owned by %+v, want m1", p.Partition, p.Owner)
		}
	}
	if &g3.Partitions[0] == &g2.Partitions[0] || g2.Partitions[1].Owner.ID != "m2" {
		t.Error("a refresh that moved a partition modified the published partitions")
	}

	// Everyone leaves: no members, no owners.
	g4 := b.RefreshGroups(desc()).Group("a")
	if len(g4.MemberLags) != 0 || g4.Partitions[0].Owner != nil || g4.Partitions[1].Owner != nil {
		t.Fatalf("empty group: member lags %+v, owners %+v %+v", g4.MemberLags, g4.Partitions[0].Owner, g4.Partitions[1].Owner)
	}
	// The next offset cycle agrees with the refresh.
	g5 := b.Build(obsAt(t0.Add(4*time.Second), [2]int64{0, 10}, [2]int64{0, 8}, withMembers(grp("a", 1, commits))), nil).Group("a")
	if len(g5.MemberLags) != 0 || g5.Partitions[0].Owner != nil {
		t.Fatalf("cycle after everyone left: %+v", g5.MemberLags)
	}
}

func lagsByID(g *Group) map[string]int64 {
	out := map[string]int64{}
	for _, m := range g.MemberLags {
		out[m.ID] = m.Lag
	}
	return out
}

// withoutTimes drops the time lags, which depend on the estimator.
func withoutTimes(ms []MemberLag) []MemberLag {
	out := append([]MemberLag(nil), ms...)
	for i := range out {
		out[i].LagSeconds, out[i].LagSecondsKnown = 0, false
	}
	return out
}
