package timelag

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/klagx/klagx/metrics"
)

var t0 = time.Unix(1_700_000_000, 0)

// synthLog is a partition whose record i was produced at ts[i].
type synthLog struct{ ts []time.Time }

func (l *synthLog) produce(at time.Time, n int) {
	for range n {
		l.ts = append(l.ts, at)
	}
}

func (l *synthLog) end() int64 { return int64(len(l.ts)) }

// lookup answers ListOffsets by timestamp the way Kafka does.
func (l *synthLog) lookup(at time.Time) (int64, time.Time, bool) {
	i := sort.Search(len(l.ts), func(i int) bool { return !l.ts[i].Before(at) })
	if i == len(l.ts) {
		return int64(i), time.Time{}, false
	}
	return int64(i), l.ts[i], true
}

func TestCaughtUpIsZero(t *testing.T) {
	var tr Track
	tr.ObserveEnd(10, t0)
	if e := tr.Estimate(10, 10, t0.Add(time.Hour)); e.Method != CaughtUp || e.Seconds != 0 {
		t.Fatalf("%+v", e)
	}
	if e := tr.Estimate(12, 10, t0); e.Method != CaughtUp {
		t.Fatalf("commit beyond end must be caught up: %+v", e)
	}
}

func TestUnknownWithoutObservations(t *testing.T) {
	var tr Track
	if e := tr.Estimate(3, 10, t0); e.Method != Unknown || e.Seconds != 0 {
		t.Fatalf("%+v", e)
	}
}

// TestIdlePartitionKeepsAging: records produced, then nothing; a group
// stuck in the middle must see its time lag grow with the clock, not stay
// at one poll interval (the kafka-lag-exporter bug).
func TestIdlePartitionKeepsAging(t *testing.T) {
	var tr Track
	tr.ObserveEnd(0, t0)
	tr.ObserveEnd(100, t0.Add(15*time.Second)) // 100 records in the first interval
	for i := 2; i < 240; i++ {                 // then idle for an hour
		tr.ObserveEnd(100, t0.Add(time.Duration(i)*15*time.Second))
	}
	now := t0.Add(time.Hour)
	e := tr.Estimate(50, 100, now)
	if e.Method != Interpolated {
		t.Fatalf("%+v", e)
	}
	if e.Seconds < 3585-1 || e.Seconds > 3600 {
		t.Fatalf("age %v, want about an hour", e.Seconds)
	}
	if e.ErrorBound > 15.001 {
		t.Fatalf("error bound %v, want <= one interval", e.ErrorBound)
	}
}

// TestSteadyProducerWithinOneInterval: with end offsets only, the estimate
// is within one poll interval.
func TestSteadyProducerWithinOneInterval(t *testing.T) {
	var tr Track
	var log synthLog
	interval := 15 * time.Second
	for i := range 100 {
		at := t0.Add(time.Duration(i) * interval)
		for s := range 15 {
			log.produce(at.Add(time.Duration(s)*time.Second+time.Millisecond), 10)
		}
		tr.ObserveEnd(log.end(), at.Add(interval))
	}
	now := t0.Add(100 * interval)
	for _, c := range []int64{0, 777, 5000, 14999} {
		e := tr.Estimate(c, log.end(), now)
		truth := now.Sub(log.ts[c]).Seconds()
		if math.Abs(e.Seconds-truth) > interval.Seconds() {
			t.Errorf("commit %d: estimate %v, truth %v (method %s)", c, e.Seconds, truth, e.Method)
		}
		if e.Method == LowerBound {
			if truth < e.Seconds-1e-9 {
				t.Errorf("commit %d: truth %v below the lower bound %v", c, truth, e.Seconds)
			}
			continue
		}
		if truth < e.Seconds-e.ErrorBound-1e-9 || truth > e.Seconds+e.ErrorBound+1e-9 {
			t.Errorf("commit %d: truth %v outside the reported bound %v±%v", c, truth, e.Seconds, e.ErrorBound)
		}
	}
}

// TestLookupsConvergeRightAfterStart: a fresh tracker (exporter restart)
// facing a commit days old, on bursty traffic, reaches the accuracy target
// with a handful of lookup rounds; before the lookups it reports a lower
// bound, never an extrapolation.
func TestLookupsConvergeRightAfterStart(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, shape := range []string{"steady", "bursty", "idle-gaps"} {
		var log synthLog
		at := t0
		for i := range 3000 {
			switch shape {
			case "steady":
				at = at.Add(time.Minute)
				log.produce(at, 5)
			case "bursty":
				at = at.Add(time.Duration(r.IntN(600)) * time.Second)
				log.produce(at, r.IntN(200))
			case "idle-gaps":
				if i%500 == 0 {
					at = at.Add(24 * time.Hour)
				}
				at = at.Add(10 * time.Second)
				log.produce(at, 1)
			}
		}
		now := at.Add(time.Minute)
		interval := 15 * time.Second
		for _, c := range []int64{0, 1, log.end() / 3, log.end() / 2, log.end() - 2} {
			var tr Track
			tr.ObserveEnd(log.end(), now)
			e := tr.Estimate(c, log.end(), now)
			if e.Method != LowerBound {
				t.Fatalf("%s commit %d: before lookups want lower_bound, got %+v", shape, c, e)
			}
			if truth := now.Sub(log.ts[c]).Seconds(); e.Seconds > truth+1e-9 {
				t.Fatalf("%s: lower bound %v above the truth %v", shape, e.Seconds, truth)
			}
			target := Target(interval)
			rounds := 0
			for ; rounds < 40; rounds++ {
				at, ok := tr.LookupFor(c, log.end(), target(time.Duration(tr.Estimate(c, log.end(), now).Seconds*float64(time.Second))))
				if !ok {
					break
				}
				off, ts, found := log.lookup(at)
				tr.ObserveLookup(at, off, ts, found)
			}
			e = tr.Estimate(c, log.end(), now)
			truth := now.Sub(log.ts[c]).Seconds()
			allowed := math.Max(0.05*truth, interval.Seconds())
			if math.Abs(e.Seconds-truth) > allowed {
				t.Errorf("%s commit %d: estimate %v truth %v (allowed %v) after %d rounds, %s", shape, c, e.Seconds, truth, allowed, rounds, e.Method)
			}
			t.Logf("%s commit %d: %d rounds, error %.1fs of %.0fs", shape, c, rounds, math.Abs(e.Seconds-truth), truth)
			if rounds > 30 {
				t.Errorf("%s commit %d: %d lookup rounds", shape, c, rounds)
			}
		}
	}
}

// TestPruneBoundsMemory: a group stalled for days on a busy partition keeps
// a bounded number of points and still answers within the bound.
func TestPruneBoundsMemory(t *testing.T) {
	var tr Track
	interval := 15 * time.Second
	var log synthLog
	for i := range 20000 {
		at := t0.Add(time.Duration(i) * interval)
		log.produce(at.Add(time.Second), 3)
		tr.ObserveEnd(log.end(), at.Add(interval))
		tr.Prune(300, MaxPoints)
	}
	if tr.Size() > 2*MaxPoints+4 {
		t.Fatalf("track grew to %d constraints", tr.Size())
	}
	now := t0.Add(20000 * interval)
	e := tr.Estimate(300, log.end(), now)
	truth := now.Sub(log.ts[300]).Seconds()
	if math.Abs(e.Seconds-truth) > interval.Seconds() {
		t.Fatalf("after pruning: estimate %v truth %v", e.Seconds, truth)
	}
}

func TestTruncationResets(t *testing.T) {
	var tr Track
	tr.ObserveEnd(100, t0)
	tr.ObserveEnd(5, t0.Add(time.Second)) // topic recreated
	if e := tr.Estimate(2, 5, t0.Add(2*time.Second)); e.Method != LowerBound {
		t.Fatalf("old bounds must be forgotten: %+v", e)
	}
}

func FuzzEstimateNeverNegativeOrNaN(f *testing.F) {
	f.Add(int64(5), int64(10), int64(3), int64(7), int64(100))
	f.Fuzz(func(t *testing.T, commit, end, o1, o2, secs int64) {
		var tr Track
		tr.ObserveEnd(end, t0.Add(time.Duration(secs)*time.Millisecond))
		tr.ObserveLookup(t0, o1, t0.Add(time.Duration(o2)*time.Millisecond), o1%2 == 0)
		tr.ObserveRecord(o2, t0.Add(time.Duration(o1)*time.Millisecond))
		e := tr.Estimate(commit, end, t0)
		if e.Seconds < 0 || math.IsNaN(e.Seconds) || math.IsInf(e.Seconds, 0) || math.IsNaN(e.ErrorBound) || math.IsInf(e.ErrorBound, 0) {
			t.Fatalf("%+v", e)
		}
	})
}

func TestContractListsEveryMethod(t *testing.T) {
	if len(metrics.TimeLagMethods) != len(Methods) {
		t.Fatalf("%v vs %v", metrics.TimeLagMethods, Methods)
	}
	for i, m := range Methods {
		if metrics.TimeLagMethods[i] != string(m) {
			t.Fatalf("%v vs %v", metrics.TimeLagMethods, Methods)
		}
	}
}
