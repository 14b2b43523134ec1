package promexport

import (
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

// BenchmarkRender10k gathers and encodes a snapshot of 1,000 groups × 10
// partitions at partition granularity: the cost of one scrape.
func BenchmarkRender10k(b *testing.B) {
	at := time.Unix(1_700_000_000, 0)
	cl := &snapshot.Cluster{Name: "bench", Up: true, Ready: true, TakenAt: at, LastSuccess: at}
	for g := range 1000 {
		grp := snapshot.Group{Name: "group-" + strconv.Itoa(g), Kind: "classic", State: "Stable", HasData: true, ObservedAt: at}
		topic := "topic-" + strconv.Itoa(g%100)
		grp.Topics = []snapshot.GroupTopic{{Topic: topic, Lag: 100}}
		for p := range 10 {
			grp.Partitions = append(grp.Partitions, snapshot.GroupPartition{Topic: topic, Partition: int32(p), Committed: 5, HasCommit: true, Lag: 10, LagKnown: true})
		}
		cl.Groups = append(cl.Groups, grp)
	}
	store := snapshot.NewStore("bench")
	store.Publish(cl)
	reg := prometheus.NewRegistry()
	c := New(store, Options{Level: metrics.LevelPartition})
	reg.MustRegister(c)
	b.Run("registry", func(b *testing.B) { encodeEach(b, reg) })
	b.Run("gatherer-first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encode(b, mustGather(b, c.Gatherer()))
		}
	})
	g := c.Gatherer()
	b.Run("gatherer-cached", func(b *testing.B) { encodeEach(b, g) })
	b.Run("text-first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Text().Render()
		}
	})
}

func mustGather(b *testing.B, g prometheus.Gatherer) []*dto.MetricFamily {
	fams, err := g.Gather()
	if err != nil {
		b.Fatal(err)
	}
	return fams
}

func encode(b *testing.B, fams []*dto.MetricFamily) {
	enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			b.Fatal(err)
		}
	}
}

func encodeEach(b *testing.B, g prometheus.Gatherer) {
	b.ReportAllocs()
	for b.Loop() {
		fams, err := g.Gather()
		if err != nil {
			b.Fatal(err)
		}
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, f := range fams {
			if err := enc.Encode(f); err != nil {
				b.Fatal(err)
			}
		}
	}
}
