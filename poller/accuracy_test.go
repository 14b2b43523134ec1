package poller

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/snapshot"
)

// history is the true record timestamps of one partition.
type history []time.Time

// produceHistory writes records with the given timestamps to topic/0.
func produceHistory(t *testing.T, env *kfaketest.Env, topic string, ts history) {
	t.Helper()
	recs := make([]*kgo.Record, len(ts))
	for i, at := range ts {
		recs[i] = &kgo.Record{Topic: topic, Partition: 0, Value: []byte(strconv.Itoa(i)), Timestamp: at}
	}
	for len(recs) > 0 {
		n := min(len(recs), 5000)
		if err := env.Client.ProduceSync(env.Ctx(30*time.Second), recs[:n]...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		recs = recs[n:]
	}
}

// shapes builds the true histories, all ending before now.
func shapes(now time.Time) map[string]history {
	r := rand.New(rand.NewPCG(7, 11))
	out := map[string]history{}
	var steady history // one record every 5 s for 12 hours
	for at := now.Add(-12 * time.Hour); at.Before(now.Add(-time.Second)); at = at.Add(5 * time.Second) {
		steady = append(steady, at)
	}
	out["steady"] = steady
	var bursty history // bursts of 1-300 records, gaps of up to 20 min, over 2 days
	for at := now.Add(-48 * time.Hour); at.Before(now.Add(-10 * time.Minute)); at = at.Add(time.Duration(r.IntN(1200)) * time.Second) {
		for range 1 + r.IntN(300) {
			bursty = append(bursty, at)
		}
	}
	out["bursty"] = bursty
	var idle history // an hour of traffic three days ago, then nothing
	for at := now.Add(-73 * time.Hour); at.Before(now.Add(-72 * time.Hour)); at = at.Add(2 * time.Second) {
		idle = append(idle, at)
	}
	out["idle"] = idle
	return out
}

// TestTimeLagAccuracyRightAfterStart: a fresh exporter (no history) facing
// groups committed at many positions in steady, bursty and idle partitions
// must be within max(5% of the true age, one poll interval) on its first
// cycle, in the default mode, and exact in exact mode.
func TestTimeLagAccuracyRightAfterStart(t *testing.T) {
	now := time.Now()
	hist := shapes(now)
	env := kfaketest.New(t, 3)
	const interval = 10 * time.Second
	type probe struct {
		topic, group string
		commit       int
	}
	var probes []probe
	for name, h := range hist {
		env.CreateTopic(name, 1)
		produceHistory(t, env, name, h)
		for i, frac := range []float64{0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999} {
			c := int(frac * float64(len(h)))
			g := fmt.Sprintf("%s-%d", name, i)
			env.Commit(g, name, map[int32]int64{0: int64(c)})
			probes = append(probes, probe{name, g, c})
		}
	}

	for _, mode := range []config.TimeLagMode{config.TimeLagInterpolate, config.TimeLagExact} {
		t.Run(string(mode), func(t *testing.T) {
			cfg := env.Config(func(c *config.Config) {
				c.PollInterval = interval
				c.TimeLag.Mode = mode
			})
			store := snapshot.NewStore("test")
			p, err := New(cfg, cfg.Clusters[0], store, kfaketest.Logger(t, slog.LevelWarn))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			before := requestCounts(p)
			cl, _ := p.Cycle(context.Background())
			after := requestCounts(p)
			at := cl.TakenAt
			var rel []float64
			for _, pr := range probes {
				g := cl.Group(pr.group)
				if g == nil || len(g.Partitions) != 1 {
					t.Fatalf("group %s missing", pr.group)
				}
				gp := g.Partitions[0]
				truth := at.Sub(hist[pr.topic][pr.commit]).Seconds()
				errAbs := math.Abs(gp.LagSeconds - truth)
				allowed := math.Max(0.05*truth, interval.Seconds())
				if mode == config.TimeLagExact {
					// Kafka timestamps are milliseconds.
					allowed = 0.001
					if gp.TimeLagMethod != "exact" {
						t.Errorf("%s: method %s in exact mode", pr.group, gp.TimeLagMethod)
					}
				}
				if errAbs > allowed {
					t.Errorf("%s (commit %d of %d): %.1fs, truth %.1fs, error %.1fs > %.1fs (%s ±%.1f)",
						pr.group, pr.commit, len(hist[pr.topic]), gp.LagSeconds, truth, errAbs, allowed, gp.TimeLagMethod, gp.TimeLagError)
				}
				if gp.TimeLagMethod == "interpolated" && errAbs > gp.TimeLagError+0.001 {
					t.Errorf("%s: error %.1fs outside the reported bound %.1fs", pr.group, errAbs, gp.TimeLagError)
				}
				rel = append(rel, errAbs/truth)
			}
			sort.Float64s(rel)
			t.Logf("%s mode, %d probes, relative error p50 %.4f%% p90 %.4f%% max %.4f%%; ListOffsets requests in the first cycle: %d",
				mode, len(rel), 100*rel[len(rel)/2], 100*rel[len(rel)*9/10], 100*rel[len(rel)-1], after["ListOffsets"]-before["ListOffsets"])
			// Steady state: a second cycle needs no lookups.
			before = requestCounts(p)
			p.Cycle(context.Background())
			after = requestCounts(p)
			if n := after["ListOffsets"] - before["ListOffsets"]; n > 6 {
				t.Errorf("second cycle sent %d ListOffsets (start+end for 3 leaders is 6): lookups did not settle", n)
			}
		})
	}
}

func requestCounts(p *Poller) map[string]uint64 {
	m := map[string]uint64{}
	for _, r := range p.Collector().Requests() {
		m[r.API] = r.Count
	}
	return m
}
