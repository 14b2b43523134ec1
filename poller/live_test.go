package poller

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/snapshot"
)

// TestTimeLagAccuracyLive runs the exporter cycle by cycle next to a live
// producer (bursts, steady traffic, then silence) and a group committing
// a few seconds behind, then stuck: every cycle's time lag must be within
// max(5% of the true age, one poll interval) of the truth.
func TestTimeLagAccuracyLive(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("live", 1)
	const interval = time.Second
	cfg := env.Config(func(c *config.Config) {
		c.PollInterval = interval
		c.Thresholds.Default = config.GroupThresholds{StallAfter: interval, GrowthWindow: interval}
	})
	store := snapshot.NewStore("test")
	p, err := New(cfg, cfg.Clusters[0], store, kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	var produced []time.Time // truth: timestamp of record i
	produce := func(n int) {
		now := time.Now()
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: "live", Partition: 0, Value: []byte("x"), Timestamp: now}
		}
		if err := env.Client.ProduceSync(env.Ctx(10*time.Second), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for range n {
			produced = append(produced, now.Truncate(time.Millisecond))
		}
	}
	// commitBehind commits the first record produced at least d ago.
	commitBehind := func(d time.Duration) int64 {
		cut := time.Now().Add(-d)
		c := sort.Search(len(produced), func(i int) bool { return produced[i].After(cut) })
		env.Commit("follower", "live", map[int32]int64{0: int64(c)})
		return int64(c)
	}
	produce(1)
	commitBehind(0)

	var errs []float64
	check := func(phase string) {
		cl, _ := p.Cycle(context.Background())
		g := cl.Group("follower")
		if g == nil || len(g.Partitions) != 1 {
			t.Fatalf("%s: group missing", phase)
		}
		gp := g.Partitions[0]
		truth := 0.0
		if c := gp.Committed; c < int64(len(produced)) {
			truth = cl.TakenAt.Sub(produced[c]).Seconds()
		}
		e := math.Abs(gp.LagSeconds - truth)
		errs = append(errs, e)
		t.Logf("%s: commit %d lag %d: %.3fs (%s ±%.3f) truth %.3fs", phase, gp.Committed, gp.Lag, gp.LagSeconds, gp.TimeLagMethod, gp.TimeLagError, truth)
		if allowed := math.Max(0.05*truth, interval.Seconds()); e > allowed {
			t.Errorf("%s: time lag %.2fs (%s ±%.2f), truth %.2fs, error %.2fs > %.2fs", phase, gp.LagSeconds, gp.TimeLagMethod, gp.TimeLagError, truth, e, allowed)
		}
	}
	deadline := time.Now().Add(8 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		// Steady, with a burst every third cycle.
		for s := 0; s < 10; s++ {
			n := 5
			if i%3 == 0 && s == 0 {
				n = 300
			}
			produce(n)
			time.Sleep(interval / 10)
		}
		commitBehind(2 * time.Second)
		check("live")
	}
	// Silence: the group stays where it is; its oldest unconsumed message
	// must keep aging.
	var last float64
	for i := 0; i < 4; i++ {
		time.Sleep(interval)
		check("idle")
		g := store.Load().Cluster("test").Group("follower")
		if g.LagSeconds <= last {
			t.Errorf("idle: time lag did not grow: %.2f after %.2f", g.LagSeconds, last)
		}
		last = g.LagSeconds
	}
	sort.Float64s(errs)
	t.Logf("live: %d cycles, absolute error p50 %.3fs p90 %.3fs max %.3fs (poll interval %s)",
		len(errs), errs[len(errs)/2], errs[len(errs)*9/10], errs[len(errs)-1], interval)
}
