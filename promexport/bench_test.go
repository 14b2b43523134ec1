package promexport

import (
	"strconv"
	"testing"
	"time"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

// benchCluster is 500 groups × 200 partitions (100k rows), as the scale
// harness's 100k size.
func benchCluster() *snapshot.Cluster {
	at := time.Unix(1_700_000_000, 0)
	cl := &snapshot.Cluster{Name: "bench", Up: true, Ready: true, TakenAt: at, LastSuccess: at}
	for g := range 500 {
		grp := snapshot.Group{Name: "group-" + strconv.Itoa(g), Kind: "classic", State: "Stable", HasData: true, ObservedAt: at, Status: "ok"}
		for k := range 4 {
			topic := "topic-" + strconv.Itoa((g*4+k)%200)
			grp.Topics = append(grp.Topics, snapshot.GroupTopic{Topic: topic, Lag: 100})
			for p := range 50 {
				grp.Partitions = append(grp.Partitions, snapshot.GroupPartition{Topic: topic, Partition: int32(p),
					Committed: 5, HasCommit: true, Lag: int64(g + p), LagKnown: true, LagSeconds: 12.5, TimeLagMethod: "interpolated", LastCommitAt: at})
			}
		}
		cl.Groups = append(cl.Groups, grp)
	}
	return cl
}

func cycleOf(cl *snapshot.Cluster) *snapshot.Cluster {
	c := *cl
	c.Groups = append([]snapshot.Group(nil), cl.Groups...)
	for i := range c.Groups {
		c.Groups[i].Partitions = append([]snapshot.GroupPartition(nil), c.Groups[i].Partitions...)
	}
	return &c
}

// BenchmarkRender100k: rendering on publish, at the defaults and with
// every family, of a poll cycle's snapshot (everything new) and of a group
// tick's (partitions shared).
func BenchmarkRender100k(b *testing.B) {
	for _, tc := range []struct {
		name string
		sel  metrics.Selection
	}{{"default", metrics.DefaultSelection}, {"all", metrics.AllSelection}} {
		cl := benchCluster()
		store := snapshot.NewStore("bench")
		store.Publish(cl)
		New(store, Options{Selection: tc.sel})
		b.Run(tc.name+"/cycle", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				store.Publish(cycleOf(cl))
			}
		})
		b.Run(tc.name+"/tick", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				store.Publish(tick(store.Load().Clusters[0], "group-1", 3))
			}
		})
	}
}
