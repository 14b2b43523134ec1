package catchup

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestWindowRate(t *testing.T) {
	var w Window
	if _, ok := w.Rate(time.Minute); ok {
		t.Fatal("rate from no sample")
	}
	w.Add(at(0), 100, time.Minute)
	if _, ok := w.Rate(time.Minute); ok {
		t.Fatal("rate from one sample (first cycle)")
	}
	w.Add(at(10), 200, time.Minute)
	if r, ok := w.Rate(time.Minute); !ok || r != 10 {
		t.Fatalf("rate = %v %v, want 10", r, ok)
	}
	// A sample not after the newest (a kept value) is ignored.
	w.Add(at(10), 999, time.Minute)
	if r, _ := w.Rate(time.Minute); r != 10 {
		t.Fatalf("stale sample changed the rate to %v", r)
	}
	// Over 100 s the window keeps the newest sample at or before now-60s.
	for s := 20; s <= 100; s += 10 {
		w.Add(at(s), 200+int64(s-10)*3, time.Minute)
	}
	// Samples 40..100 s: from 200+30*3=290 to 200+90*3=470 in 60 s.
	if r, _ := w.Rate(time.Minute); r != 3 {
		t.Fatalf("rate over the window = %v, want 3", r)
	}
	if len(w.samples) != 7 {
		t.Fatalf("kept %d samples, want 7 (40..100 s)", len(w.samples))
	}
	// Bursty commits (every 30 s, 300 each) average to 10/s over 60 s.
	var b Window
	n := int64(0)
	for s := 0; s <= 60; s += 10 {
		if s%30 == 0 && s > 0 {
			n += 300
		}
		b.Add(at(s), n, time.Minute)
	}
	if r, _ := b.Rate(time.Minute); r != 10 {
		t.Fatalf("bursty rate = %v, want 10", r)
	}
}

func TestProduced(t *testing.T) {
	var p Produced
	steps := []struct {
		end  int64
		at   int
		new  bool
		want int64
	}{
		{100, 0, true, 0},   // baseline
		{150, 10, true, 50}, // 50 produced
		{150, 10, false, 50},
		{170, 5, false, 50}, // older than the last read: a kept value
		{20, 20, true, 50},  // end moved backwards: reset, nothing counted
		{60, 30, true, 90},  // counts from the new baseline
		{60, 40, true, 90},  // idle
		{1060, 50, true, 1090},
	}
	for i, s := range steps {
		if got := p.Observe(s.end, at(s.at)); got != s.new || p.N != s.want {
			t.Fatalf("step %d: new %v N %d, want %v %d", i, got, p.N, s.new, s.want)
		}
	}
}

func TestConsumed(t *testing.T) {
	var c Consumed
	steps := []struct {
		name    string
		commit  int64
		valid   bool
		start   int64
		members bool
		want    int64
	}{
		{"no commit", 0, false, 0, true, 0},
		{"first commit is a baseline", 100, true, 0, true, 0},
		{"advance", 130, true, 0, true, 30},
		{"burst", 230, true, 0, true, 100},
		{"rewind is a baseline", 50, true, 0, true, 0},
		{"consumed again after the rewind", 80, true, 0, true, 30},
		{"retention deletes below the commit", 80, true, 120, true, 0},
		{"reset to log start is not consumption", 120, true, 120, true, 0},
		{"advance from the log start", 125, true, 120, true, 5},
		{"commit past messages deleted meanwhile", 200, true, 150, true, 50},
		{"moved while empty: an admin reset", 900, true, 150, false, 0},
		{"consumption after the reset", 910, true, 150, true, 10},
		{"commit deleted", 0, false, 150, true, 0},
		{"commit again is a baseline", 920, true, 150, true, 0},
	}
	for _, s := range steps {
		if got := c.Observe(s.commit, s.valid, s.start, s.members); got != s.want {
			t.Fatalf("%s: consumed %d, want %d", s.name, got, s.want)
		}
	}
}

func TestEstimate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		topics []Topic
		want   float64
		ok     bool
	}{
		{"no topics", nil, 0, true},
		{"no lag, no rates yet", []Topic{{Lag: 0}}, 0, true},
		{"600 behind, consuming 30/s, producing 10/s", []Topic{{Lag: 600, Consume: 30, Produce: 10, Known: true}}, 30, true},
		{"largest of the topics", []Topic{
			{Lag: 600, Consume: 30, Produce: 10, Known: true},
			{Lag: 100, Consume: 2, Produce: 1, Known: true},
			{Lag: 0, Consume: 0, Produce: 5, Known: true},
		}, 100, true},
		{"no rate yet", []Topic{{Lag: 600}}, 0, false},
		{"consume equals produce", []Topic{{Lag: 600, Consume: 10, Produce: 10, Known: true}}, 0, false},
		{"one topic falls behind", []Topic{
			{Lag: 600, Consume: 30, Produce: 10, Known: true},
			{Lag: 5, Consume: 1, Produce: 3, Known: true},
		}, 0, false},
	} {
		got, ok := Estimate(slices.Values(tc.topics))
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
