package snapshot

import (
	"strconv"
	"testing"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
)

// BenchObservation builds an observation of groups × partitions rows: each
// group consumes its own topic of the given partition count.
func benchObservation(groups, partitions int, at time.Time) *observation.Observation {
	o := &observation.Observation{Cluster: "bench", Start: at, End: at, MetadataOK: true,
		Groups: map[string]*observation.Group{}, UnlistedBrokers: map[int32]bool{}, Topics: map[string]*observation.Topic{}}
	for g := range groups {
		topic := "topic-" + strconv.Itoa(g%100)
		if _, ok := o.Topics[topic]; !ok {
			t := &observation.Topic{Name: topic, Partitions: map[int32]*observation.Partition{}}
			for p := range partitions {
				t.Partitions[int32(p)] = &observation.Partition{Start: 10, End: 1000, Stable: -1}
			}
			o.Topics[topic] = t
		}
		commits := map[int32]int64{}
		for p := range partitions {
			commits[int32(p)] = int64(500 + p)
		}
		name := "group-" + strconv.Itoa(g)
		o.Groups[name] = &observation.Group{Name: name, Kind: observation.KindClassic, State: "Stable",
			Commits: map[string]map[int32]int64{topic: commits}}
	}
	return o
}

// BenchmarkBuild10k folds a 1,000 groups × 10 partitions observation
// (10,000 group-partition rows) into a snapshot.
func BenchmarkBuild10k(b *testing.B) {
	obs := benchObservation(1000, 10, time.Unix(1_700_000_000, 0))
	bl := NewBuilder(BuilderOptions{Cluster: "bench", StaleAfter: time.Minute})
	b.ReportAllocs()
	for b.Loop() {
		bl.Build(obs, nil)
	}
	b.ReportMetric(10_000, "rows/op")
}

// withTwoMembers gives every group of obs two members splitting its
// partitions, as a running consumer group has.
func withTwoMembers(obs *observation.Observation) {
	for name, g := range obs.Groups {
		g.Members = nil
		for m := range 2 {
			mb := observation.Member{ID: name + "-" + strconv.Itoa(m), ClientID: name, ClientHost: "/10.0.0.1", Assigned: map[string][]int32{}}
			for topic, cs := range g.Commits {
				for p := range cs {
					if int(p)%2 == m {
						mb.Assigned[topic] = append(mb.Assigned[topic], p)
					}
				}
			}
			g.Members = append(g.Members, mb)
		}
	}
}

// BenchmarkBuild10kMembers is BenchmarkBuild10k with two members per
// group owning the partitions (what the owner fold costs).
func BenchmarkBuild10kMembers(b *testing.B) {
	obs := benchObservation(1000, 10, time.Unix(1_700_000_000, 0))
	withTwoMembers(obs)
	bl := NewBuilder(BuilderOptions{Cluster: "bench", StaleAfter: time.Minute})
	b.ReportAllocs()
	for b.Loop() {
		bl.Build(obs, nil)
	}
	b.ReportMetric(10_000, "rows/op")
}

// BenchmarkBuild10kCycles is BenchmarkBuild10k with the default thresholds
// and a new cycle every 10 s, offsets and commits advancing: each cycle
// adds a produce sample per partition and a consume sample per group topic
// (30 of each kept over the 5m growth window).
func BenchmarkBuild10kCycles(b *testing.B) {
	at := time.Unix(1_700_000_000, 0)
	obs := benchObservation(1000, 10, at)
	bl := NewBuilder(BuilderOptions{Cluster: "bench", StaleAfter: time.Minute,
		Thresholds: config.Thresholds{Default: config.DefaultGroupThresholds()}})
	b.ReportAllocs()
	for b.Loop() {
		at = at.Add(10 * time.Second)
		obs.Start, obs.End = at, at
		for _, t := range obs.Topics {
			for _, p := range t.Partitions {
				p.End += 10
			}
		}
		for _, g := range obs.Groups {
			for _, cs := range g.Commits {
				for p := range cs {
					cs[p] += 10
				}
			}
		}
		bl.Build(obs, nil)
	}
	b.ReportMetric(10_000, "rows/op")
}

// BenchmarkRefresh10kMembers is a group-state tick over the same groups
// with the same members: owners re-folded, no partition moved.
func BenchmarkRefresh10kMembers(b *testing.B) {
	obs := benchObservation(1000, 10, time.Unix(1_700_000_000, 0))
	withTwoMembers(obs)
	bl := NewBuilder(BuilderOptions{Cluster: "bench", StaleAfter: time.Minute})
	bl.Build(obs, nil)
	b.ReportAllocs()
	for b.Loop() {
		bl.RefreshGroups(obs)
	}
	b.ReportMetric(10_000, "rows/op")
}
