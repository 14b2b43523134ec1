package server

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/report"
)

// TestCatchUpScriptedRates drives real franz-go consumers on kfake with
// known rates per poll cycle: 10 messages produced per step; "fast"
// consumes and commits 30 per step from a backlog of 600 (its lag falls by
// 20 per step), "slow" 5 per step (its lag grows). The rates are per
// second of klagx's own read times, which the snapshot records, so the
// expected estimate is exact: after step k (cycle k; cycle 1 is the
// baseline), lag 600-20k, consumed 30(k-1) and produced 10(k-1) messages
// over t_k - t_1, estimate = lag / ((30(k-1) - 10(k-1)) / (t_k - t_1)).
// Every offset moves between cycles, never during one, so sampling adds no
// error here; the design notes bound the error of offsets moving while a
// cycle reads them.
func TestCatchUpScriptedRates(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("orders", 1)
	env.Produce("orders", 0, 600, time.Time{})
	fast := env.Consumer("fast", []string{"orders"})
	slow := env.Consumer("slow", []string{"orders"})
	// A long growth window: every sample of the test is in it.
	p := newPipeline(t, env, func(c *config.Config) { c.Thresholds.Default.GrowthWindow = time.Hour })

	var first time.Time
	const steps = 6
	for k := 1; k <= steps; k++ {
		env.Produce("orders", 0, 10, time.Time{})
		env.ConsumeAndCommit(fast, 30)
		env.ConsumeAndCommit(slow, 5)
		s := p.cycle()
		c := p.store.Load().Cluster("test")
		gf, gs := c.Group("fast"), c.Group("slow")
		if gf == nil || gs == nil {
			t.Fatalf("step %d: groups missing", k)
		}
		if want := int64(600 - 20*k); gf.Lag != want || gs.Lag != int64(600+5*k) {
			t.Fatalf("step %d: lag fast %d slow %d, want %d %d", k, gf.Lag, gs.Lag, want, 600+5*k)
		}
		if k == 1 {
			// The first cycle is a baseline: no rate, no estimate.
			first = gf.ObservedAt
			absent(t, s, g("klagx_group_catchup_seconds", "fast"), g("klagx_group_catchup_seconds", "slow"))
			continue
		}
		dt := gf.ObservedAt.Sub(first).Seconds()
		cr, pr := float64(30*(k-1))/dt, float64(10*(k-1))/dt
		want := float64(gf.Lag) / (cr - pr)
		got, ok := s[g("klagx_group_catchup_seconds", "fast")]
		if !ok || math.Abs(got-want) > 1e-9*want {
			t.Fatalf("step %d: catch-up %v (present %v), want %v", k, got, ok, want)
		}
		// Slow consumes 5/step against 10/step produced: not catching up.
		absent(t, s, g("klagx_group_catchup_seconds", "slow"))

		// /status has the rates per topic.
		var r report.Report
		rec := httptest.NewRecorder()
		p.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/status", nil))
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		for _, rg := range r.Clusters[0].Groups {
			tp := rg.Topics[0]
			wantC := map[string]float64{"fast": cr, "slow": float64(5*(k-1)) / dt}[rg.Name]
			if tp.ConsumeRate == nil || tp.ProduceRate == nil || !closeTo(*tp.ConsumeRate, wantC) || !closeTo(*tp.ProduceRate, pr) {
				t.Fatalf("step %d: %s rates %v %v, want %v %v", k, rg.Name, tp.ConsumeRate, tp.ProduceRate, wantC, pr)
			}
			if (rg.CatchUpSeconds != nil) != (rg.Name == "fast") {
				t.Fatalf("step %d: %s catchup_seconds %v", k, rg.Name, rg.CatchUpSeconds)
			}
		}
	}

	// Fast stops (its member leaves) with lag left: no estimate, whatever
	// the rates of the window say.
	fast.Close()
	kfaketest.WaitFor(t, 30*time.Second, "fast to have no members", func() bool {
		s := p.cycle()
		return s[g("klagx_group_members", "fast")] == 0
	})
	absent(t, p.cycle(), g("klagx_group_catchup_seconds", "fast"))
}

func closeTo(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }
