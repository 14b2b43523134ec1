package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/report"
)

func catchupKey(group string) string {
	return kfaketest.Key("klagx_group_catchup_seconds", "cluster", "real", "group", group)
}

// TestCatchUpMatchesKafkaTool: a scripted producer and two franz-go
// consumers with known counts per step on real Kafka. Every step produces
// 10 messages; "catchup-fast" consumes and commits 30 of its backlog,
// "catchup-slow" 5. Nothing moves before klagx starts or after the last
// step, so over klagx's window (--growth-window=1h: every sample from its
// first cycle) it saw exactly what Kafka's kafka-consumer-groups shows
// between its two describes: consumed Δcurrent, produced Δend. The
// estimate is LAG / ((Δcurrent - Δend) / Δt), with Δt between klagx's
// first and latest read, which lies between (last step done - klagx
// ready) and (now - klagx started): the estimate must lie in the bounds
// those give, whatever the load. "catchup-slow" consumes more slowly than
// it is produced to, and "catchup-fast" after its member leaves is
// stopped: neither has an estimate.
func TestCatchUpMatchesKafkaTool(t *testing.T) {
	e := env(t, kafka)
	const topic = "catchup-orders"
	createTopic(t, e, topic, 1, -1, nil)
	e.Produce(topic, 0, 600, time.Time{})
	fast := consumer(t, kafka, "catchup-fast", []string{topic})
	slow := consumer(t, kafka, "catchup-slow", []string{topic})
	e.ConsumeAndCommit(fast, 30)
	e.ConsumeAndCommit(slow, 5)
	before := map[string]toolRow{"catchup-fast": describeGroup(t, kafka, "catchup-fast")[0], "catchup-slow": describeGroup(t, kafka, "catchup-slow")[0]}

	started := time.Now()
	k := startKlagx(t, kafka, "--group.include=catchup-.*", "--growth-window=1h")
	ready := time.Now()
	// klagx's first read of the groups, before anything moves.
	since := k.waitGroup("catchup-fast", time.Time{}, 30*time.Second, func(report.Group) (bool, string) { return true, "" }).ObservedAt
	const steps = 5
	for range steps {
		e.Produce(topic, 0, 10, time.Time{})
		e.ConsumeAndCommit(fast, 30)
		e.ConsumeAndCommit(slow, 5)
		since = k.waitGroup("catchup-fast", since, 30*time.Second, func(report.Group) (bool, string) { return true, "" }).ObservedAt
	}
	done := time.Now()
	after := map[string]toolRow{"catchup-fast": describeGroup(t, kafka, "catchup-fast")[0], "catchup-slow": describeGroup(t, kafka, "catchup-slow")[0]}
	for name, r := range after {
		b := before[name]
		record(t, "%s: tool CURRENT-OFFSET %s → %s, LOG-END-OFFSET %s → %s, LAG %s", name, fmtp(b.Current), fmtp(r.Current), fmtp(b.End), fmtp(r.End), fmtp(r.Lag))
	}
	fr, fb := after["catchup-fast"], before["catchup-fast"]
	consumed, produced := *fr.Current-*fb.Current, *fr.End-*fb.End
	if consumed != 30*steps || produced != 10*steps {
		t.Fatalf("the tool saw %d consumed and %d produced, want %d and %d", consumed, produced, 30*steps, 10*steps)
	}

	// A read of klagx that began after the last step: wait for two.
	var g report.Group
	for range 2 {
		g = k.waitGroup("catchup-fast", time.Now(), 30*time.Second, func(report.Group) (bool, string) { return true, "" })
	}
	now := time.Now()
	if g.Lag != *fr.Lag {
		t.Fatalf("klagx lag %d, tool LAG %d", g.Lag, *fr.Lag)
	}
	if g.CatchUpSeconds == nil {
		t.Fatalf("catchup-fast has no estimate: %+v", g)
	}
	perSecond := float64(consumed - produced) // per Δt
	lo := float64(*fr.Lag) * done.Sub(ready).Seconds() / perSecond
	hi := float64(*fr.Lag) * now.Sub(started).Seconds() / perSecond
	record(t, "catchup-fast: lag %d, klagx catch-up %.2f s, bounds from the tool [%.2f, %.2f] s; rates consume %.3f produce %.3f msg/s",
		g.Lag, *g.CatchUpSeconds, lo, hi, *g.Topics[0].ConsumeRate, *g.Topics[0].ProduceRate)
	if *g.CatchUpSeconds < lo || *g.CatchUpSeconds > hi {
		t.Errorf("catch-up %.3f s outside [%.3f, %.3f]", *g.CatchUpSeconds, lo, hi)
	}
	// The rates stand in the scripted ratio exactly, since both counts
	// span the same klagx reads.
	tp := g.Topics[0]
	if ratio := *tp.ConsumeRate / *tp.ProduceRate; ratio < 3-1e-9 || ratio > 3+1e-9 {
		t.Errorf("consume/produce rate %.6f, want 3", ratio)
	}
	s := k.metrics()
	if _, ok := s[catchupKey("catchup-fast")]; !ok {
		t.Errorf("klagx_group_catchup_seconds missing for catchup-fast")
	}

	// Slower than production: no estimate, in /status or /metrics.
	gs, _ := k.group("catchup-slow")
	if gs.CatchUpSeconds != nil || gs.Lag != *after["catchup-slow"].Lag {
		t.Errorf("catchup-slow: lag %d (tool %d), catch-up %v; want no estimate", gs.Lag, *after["catchup-slow"].Lag, gs.CatchUpSeconds)
	}
	if _, ok := s[catchupKey("catchup-slow")]; ok {
		t.Errorf("klagx_group_catchup_seconds present for catchup-slow")
	}

	// The fast consumer leaves with lag: stopped, no estimate.
	fast.Close()
	gone := k.waitGroup("catchup-fast", time.Now(), 60*time.Second, func(g report.Group) (bool, string) {
		return g.Members == 0, fmt.Sprintf("%d members", g.Members)
	})
	if gone.CatchUpSeconds != nil {
		t.Errorf("stopped catchup-fast still has an estimate %v", *gone.CatchUpSeconds)
	}
	if _, ok := k.metrics()[catchupKey("catchup-fast")]; ok {
		t.Errorf("klagx_group_catchup_seconds present for the stopped catchup-fast")
	}
}
