package collector

import (
	"context"
	"log/slog"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/observation"
)

// TestShareGroupsOnKfake drives a share group with franz-go's share
// consumer on kfake and checks what a cycle reads of it against kfake's own
// state: the members as GroupInfo lists them, and the start offsets and lag
// that follow from the records produced and acknowledged.
func TestShareGroupsOnKfake(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("s", 2)
	env.Produce("s", 0, 10, time.Time{})
	env.Produce("s", 1, 4, time.Time{})
	cons := env.ShareConsume("sg", "s", 14)
	ctx := env.Ctx(30 * time.Second)

	cfg := env.Config()
	c, err := New(cfg, cfg.Clusters[0], kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	poll := func() *observation.Observation {
		t.Helper()
		pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		obs := c.Poll(pctx)
		if obs.Err != nil {
			t.Fatal(obs.Err)
		}
		return obs
	}

	info, err := env.Cluster.WaitGroupStable(ctx, "sg", 1)
	if err != nil {
		t.Fatal(err)
	}
	obs := poll()
	if len(obs.Groups) != 0 {
		t.Fatalf("share group listed as a consumer group: %v", obs.SortedGroups())
	}
	g := obs.ShareGroups["sg"]
	if g == nil {
		t.Fatalf("share group not listed: %v", obs.SortedShareGroups())
	}
	if g.State != info.State || !sameMembers(g.Members, info.Members) {
		t.Fatalf("got state %s members %+v, kfake has %s %+v", g.State, g.Members, info.State, info.Members)
	}
	want := map[string]map[int32]observation.ShareOffset{"s": {0: {Start: 10, Lag: 0}, 1: {Start: 4, Lag: 0}}}
	if !reflect.DeepEqual(g.Offsets, want) {
		t.Fatalf("offsets %+v, want %+v (everything acknowledged)", g.Offsets, want)
	}

	// The consumer leaves; 5 new records wait on partition 0.
	cons.Close()
	if _, err := env.Cluster.WaitGroupInfo(ctx, "sg", func(gi *kfake.GroupInfo) bool { return gi != nil && len(gi.Members) == 0 }); err != nil {
		t.Fatal(err)
	}
	env.Produce("s", 0, 5, time.Time{})
	before := requestCounts(c)
	obs = poll()
	g = obs.ShareGroups["sg"]
	want["s"][0] = observation.ShareOffset{Start: 10, Lag: 5}
	if g == nil || len(g.Members) != 0 || !reflect.DeepEqual(g.Offsets, want) {
		t.Fatalf("after the consumer left: %+v, want no members and offsets %+v", g, want)
	}
	after := requestCounts(c)
	for _, api := range []string{"ShareGroupDescribe", "DescribeShareGroupOffsets"} {
		if n := after[api] - before[api]; n != 1 {
			t.Errorf("%s: %d requests in a cycle, want 1 (one coordinator)", api, n)
		}
	}

	// Deleted: gone from the next cycle.
	if _, err := env.Admin.DeleteGroup(ctx, "sg"); err != nil {
		t.Fatal(err)
	}
	if obs = poll(); len(obs.ShareGroups) != 0 {
		t.Fatalf("deleted share group still observed: %v", obs.SortedShareGroups())
	}
}

func requestCounts(c *Collector) map[string]uint64 {
	out := map[string]uint64{}
	for _, r := range c.Requests() {
		out[r.API] = r.Count
	}
	return out
}

// sameMembers compares observed members with kfake's.
func sameMembers(got []observation.Member, want []kfake.GroupMember) bool {
	if len(got) != len(want) {
		return false
	}
	for i, w := range want {
		m := got[i]
		for _, ps := range m.Assigned {
			sort.Slice(ps, func(a, b int) bool { return ps[a] < ps[b] })
		}
		for _, ps := range w.Assignment {
			sort.Slice(ps, func(a, b int) bool { return ps[a] < ps[b] })
		}
		if m.ID != w.MemberID || m.ClientID != w.ClientID || m.ClientHost != w.ClientHost || !reflect.DeepEqual(m.Assigned, w.Assignment) {
			return false
		}
	}
	return true
}
