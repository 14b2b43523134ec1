package timelag

import (
	"sort"
	"time"
)

// TP names a partition.
type TP struct {
	Topic     string
	Partition int32
}

// MaxPoints bounds the constraints kept per partition (each of lower and
// upper bounds), so that a group stalled for days cannot grow memory.
const MaxPoints = 64

// Tracker holds a Track per partition of one cluster. It is used by one
// goroutine (the cluster's poller).
type Tracker struct {
	tracks map[TP]*Track
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker { return &Tracker{tracks: map[TP]*Track{}} }

// Track returns the partition's track, creating it.
func (r *Tracker) Track(tp TP) *Track {
	t, ok := r.tracks[tp]
	if !ok {
		t = &Track{}
		r.tracks[tp] = t
	}
	return t
}

// Retain forgets every partition not in keep (deleted topics), and prunes
// the rest to what the given lowest needed offsets still use.
func (r *Tracker) Retain(keepFrom map[TP]int64) {
	for tp, t := range r.tracks {
		from, ok := keepFrom[tp]
		if !ok {
			delete(r.tracks, tp)
			continue
		}
		t.Prune(from, MaxPoints)
	}
}

// Lookup is the answer to a ListOffsets lookup by timestamp for one
// partition.
type Lookup struct {
	Asked time.Time
	// Offset is the first offset whose record timestamp is >= Asked, and
	// RecordTime that timestamp. Found is false when no record is that
	// recent; Offset is then -1 and the caller uses the end offset.
	Offset     int64
	RecordTime time.Time
	Found      bool
}

// RecordAt names one record: a partition and an offset.
type RecordAt struct {
	TP     TP
	Offset int64
}

// Need is one wanted offset position: a group's committed offset (or the
// log start offset) on a partition whose end offset is End.
type Need struct {
	TP     TP
	Offset int64
	End    int64
}

// Lookups returns, for each partition, at most one timestamp to look up
// that tightens the estimates for needs with the given target accuracy
// (target(age) is the acceptable error for a value of that age). Partitions
// are looked up at the needing offset with the widest bracket first.
func (r *Tracker) Lookups(needs []Need, now time.Time, target func(age time.Duration) time.Duration) map[TP]time.Time {
	type cand struct {
		at    time.Time
		width time.Duration
	}
	best := map[TP]cand{}
	for _, n := range needs {
		t := r.Track(n.TP)
		est := t.Estimate(n.Offset, n.End, now)
		if est.Method == CaughtUp || est.Method == Exact {
			continue
		}
		at, ok := t.LookupFor(n.Offset, n.End, target(time.Duration(est.Seconds*float64(time.Second))))
		if !ok {
			continue
		}
		width := time.Duration(1<<62 - 1)
		if est.Method == Interpolated {
			width = time.Duration(est.ErrorBound * float64(time.Second))
		}
		if c, ok := best[n.TP]; !ok || width > c.width {
			best[n.TP] = cand{at, width}
		}
	}
	out := make(map[TP]time.Time, len(best))
	for tp, c := range best {
		out[tp] = c.at
	}
	return out
}

// SortedTPs returns the keys of m, sorted, for deterministic requests.
func SortedTPs[V any](m map[TP]V) []TP {
	out := make([]TP, 0, len(m))
	for tp := range m {
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// Target is the default accuracy target: 5% of the age or one poll
// interval, whichever is larger.
func Target(interval time.Duration) func(age time.Duration) time.Duration {
	return func(age time.Duration) time.Duration {
		if t := age / 20; t > interval {
			return t
		}
		return interval
	}
}
