package timelag

import (
	"math"
	"sort"
	"time"
)

// Method says how a time-lag value was obtained.
type Method string

// Methods, best first.
const (
	// CaughtUp: the group has consumed everything; the lag is 0 exactly.
	CaughtUp Method = "caught_up"
	// Exact: the timestamp of the record at the committed offset is known.
	Exact Method = "exact"
	// Interpolated: between two known bounds; see Estimate.ErrorBound.
	Interpolated Method = "interpolated"
	// LowerBound: the committed offset is older than every known point;
	// the value is a lower bound of the true age (never an extrapolation).
	LowerBound Method = "lower_bound"
	// Unknown: nothing is known yet (no end offset observed).
	Unknown Method = "unknown"
)

// Methods lists every Method, for label sets and docs.
var Methods = []Method{CaughtUp, Exact, Interpolated, LowerBound, Unknown}

// Estimate is the time lag of one committed offset.
type Estimate struct {
	// Seconds is the estimated age of the oldest unconsumed record; always
	// finite and >= 0.
	Seconds float64
	Method  Method
	// ErrorBound is the width, in seconds, of the interval the true value
	// lies in (0 for CaughtUp and Exact; for LowerBound the true value is
	// >= Seconds and ErrorBound is 0 but meaningless).
	ErrorBound float64
	// RecordTime is the estimated timestamp of the record at the offset
	// (zero for CaughtUp and Unknown).
	RecordTime time.Time
}

// bound is one constraint on record timestamps.
type bound struct {
	offset int64
	at     time.Time
}

// Track holds what is known about one partition's record timestamps. The
// zero value is empty and usable.
type Track struct {
	// lowers: for every record c >= offset, timestamp(c) >= at.
	// Kept sorted by offset with non-decreasing times (dominated
	// constraints removed).
	lowers []bound
	// uppers: for every record c <= offset, timestamp(c) <= at.
	// Kept sorted by offset with non-decreasing times.
	uppers []bound
	// exact timestamps of single records.
	exact map[int64]time.Time

	// end bookkeeping: the current end offset, when it was first and
	// last seen.
	end               int64
	endFirst, endLast time.Time
	haveEnd           bool
}

// ObserveEnd records that the partition's end offset (high-water mark) was
// end at time at. Call it once per poll cycle, in time order.
func (t *Track) ObserveEnd(end int64, at time.Time) {
	if t.haveEnd && end == t.end {
		t.endLast = at
		// Nothing new was produced: record end is still in the future.
		t.addLower(end, at)
		return
	}
	if t.haveEnd && end < t.end {
		// The log was truncated or the partition recreated: what was
		// known no longer applies.
		*t = Track{}
	}
	t.end, t.endFirst, t.endLast, t.haveEnd = end, at, at, true
	if end > 0 {
		// Record end-1 exists now: produced no later than now.
		t.addUpper(end-1, at)
	}
	// Record end does not exist yet: it will be produced after now.
	t.addLower(end, at)
}

// ObserveLookup records the answer to a ListOffsets lookup by timestamp:
// offset is the first record whose timestamp is >= asked, recordTime its
// timestamp. found is false when no record is that recent (Kafka answers the
// end offset and timestamp -1); offset is then the end offset.
func (t *Track) ObserveLookup(asked time.Time, offset int64, recordTime time.Time, found bool) {
	if offset > 0 {
		// Records before offset are older than asked.
		t.addUpper(offset-1, asked)
	}
	if found {
		t.addExact(offset, recordTime)
	}
}

// ObserveRecord records the exact timestamp of the record at offset, e.g.
// from a fetch.
func (t *Track) ObserveRecord(offset int64, recordTime time.Time) {
	t.addExact(offset, recordTime)
}

func (t *Track) addExact(offset int64, at time.Time) {
	if t.exact == nil {
		t.exact = map[int64]time.Time{}
	}
	t.exact[offset] = at
	// Timestamps are not strictly ordered in Kafka (producer clocks), but
	// treating an exact record time as a bound on its neighbours is the
	// assumption every time-index lookup makes too.
	t.addLower(offset, at)
	t.addUpper(offset, at)
}

// addLower inserts "timestamp(c) >= at for c >= offset", dropping
// constraints it dominates and skipping it if it is dominated.
func (t *Track) addLower(offset int64, at time.Time) {
	// Dominated if some lower at an offset <= ours has a time >= ours.
	i := sort.Search(len(t.lowers), func(i int) bool { return t.lowers[i].offset > offset })
	if i > 0 && !t.lowers[i-1].at.Before(at) {
		return
	}
	// Remove constraints at offsets >= ours with times <= ours.
	j := i
	for j < len(t.lowers) && !t.lowers[j].at.After(at) {
		j++
	}
	if i > 0 && t.lowers[i-1].offset == offset {
		i--
	}
	t.lowers = append(t.lowers[:i], append([]bound{{offset, at}}, t.lowers[j:]...)...)
}

// addUpper inserts "timestamp(c) <= at for c <= offset".
func (t *Track) addUpper(offset int64, at time.Time) {
	// Dominated if some upper at an offset >= ours has a time <= ours.
	i := sort.Search(len(t.uppers), func(i int) bool { return t.uppers[i].offset >= offset })
	if i < len(t.uppers) && !t.uppers[i].at.After(at) {
		return
	}
	// Remove constraints at offsets <= ours with times >= ours.
	k := i
	for k > 0 && !t.uppers[k-1].at.Before(at) {
		k--
	}
	end := i
	if end < len(t.uppers) && t.uppers[end].offset == offset {
		end++
	}
	t.uppers = append(t.uppers[:k], append([]bound{{offset, at}}, t.uppers[end:]...)...)
}

// lowerAt returns the tightest lower bound for record c.
func (t *Track) lowerAt(c int64) (bound, bool) {
	i := sort.Search(len(t.lowers), func(i int) bool { return t.lowers[i].offset > c })
	if i == 0 {
		return bound{}, false
	}
	return t.lowers[i-1], true
}

// upperAt returns the tightest upper bound for record c.
func (t *Track) upperAt(c int64) (bound, bool) {
	i := sort.Search(len(t.uppers), func(i int) bool { return t.uppers[i].offset >= c })
	if i == len(t.uppers) {
		return bound{}, false
	}
	return t.uppers[i], true
}

// Estimate returns the time lag of a group committed at commit on a
// partition whose current end offset is end, at time now. A commit below
// the log start offset should be passed as the log start offset (the oldest
// unconsumed message that still exists).
func (t *Track) Estimate(commit, end int64, now time.Time) Estimate {
	if commit >= end {
		return Estimate{Method: CaughtUp}
	}
	if ts, ok := t.exact[commit]; ok {
		return Estimate{Seconds: age(now, ts), Method: Exact, RecordTime: ts}
	}
	hi, okHi := t.upperAt(commit)
	lo, okLo := t.lowerAt(commit)
	switch {
	case !okHi && !okLo:
		return Estimate{Method: Unknown}
	case !okHi:
		// Nothing bounds it from above: cannot happen once an end at or
		// above commit+1 was observed. Report what is known.
		return Estimate{Seconds: 0, Method: Unknown}
	case !okLo:
		return Estimate{Seconds: age(now, hi.at), Method: LowerBound, RecordTime: hi.at}
	}
	if hi.at.Before(lo.at) {
		// Inconsistent producer timestamps: the bounds cross. Take the
		// later one, which errs towards a smaller age.
		return Estimate{Seconds: age(now, lo.at), Method: Interpolated, RecordTime: lo.at}
	}
	est := lo.at
	if hi.offset > lo.offset {
		frac := float64(commit-lo.offset) / float64(hi.offset-lo.offset)
		frac = math.Min(1, math.Max(0, frac))
		est = lo.at.Add(time.Duration(frac * float64(hi.at.Sub(lo.at))))
	}
	return Estimate{
		Seconds:    age(now, est),
		Method:     Interpolated,
		ErrorBound: hi.at.Sub(lo.at).Seconds(),
		RecordTime: est,
	}
}

// LookupFor returns the timestamp to look up next to tighten the estimate
// for commit, and whether one is needed: when commit is older than every
// known lower bound (look up the earliest record first, timestamp 0, which
// brackets everything retained), or when the bracket is wider than target.
func (t *Track) LookupFor(commit, end int64, target time.Duration) (time.Time, bool) {
	if commit >= end {
		return time.Time{}, false
	}
	if _, ok := t.exact[commit]; ok {
		return time.Time{}, false
	}
	hi, okHi := t.upperAt(commit)
	lo, okLo := t.lowerAt(commit)
	if !okHi {
		return time.Time{}, false
	}
	if !okLo {
		// Search backwards exponentially from the upper bound: each
		// miss moves the upper bound back to the time asked, so the
		// distance doubles. Recent commits are bracketed in a few
		// rounds this way.
		d := target
		if t.haveEnd && t.endLast.Sub(hi.at) > d {
			d = t.endLast.Sub(hi.at)
		}
		at := hi.at.Add(-d)
		// After a few doublings, ask for the earliest record instead:
		// old commits then converge by bisection from a full bracket.
		if d > 16*target || at.UnixMilli() <= 0 {
			at = time.UnixMilli(0)
		}
		return at, true
	}
	width := hi.at.Sub(lo.at)
	if width <= target || width <= 2*time.Millisecond {
		return time.Time{}, false
	}
	return lo.at.Add(width / 2), true
}

// Prune forgets constraints that no longer matter: those entirely below
// keepFrom (the lowest offset any group still needs, usually the minimum
// committed offset, or the log start offset), keeping the one bound just
// below it. It also thins the constraints to at most maxPoints each, keeping
// the ones nearest to keepFrom and the newest ones.
func (t *Track) Prune(keepFrom int64, maxPoints int) {
	// lowers: keep the last one at or below keepFrom, and everything above.
	i := sort.Search(len(t.lowers), func(i int) bool { return t.lowers[i].offset > keepFrom })
	if i > 1 {
		t.lowers = append(t.lowers[:0], t.lowers[i-1:]...)
	}
	// uppers: those at offsets < keepFrom bound nothing we need.
	j := sort.Search(len(t.uppers), func(i int) bool { return t.uppers[i].offset >= keepFrom })
	if j > 0 {
		t.uppers = append(t.uppers[:0], t.uppers[j:]...)
	}
	for off := range t.exact {
		if off < keepFrom {
			delete(t.exact, off)
		}
	}
	if maxPoints > 4 {
		t.lowers = thin(t.lowers, maxPoints)
		t.uppers = thin(t.uppers, maxPoints)
	}
}

// thin drops every other point from the middle of bs until it fits in max,
// keeping the first two and the last quarter (the newest) intact.
func thin(bs []bound, max int) []bound {
	for len(bs) > max {
		keepTail := max / 4
		out := append(make([]bound, 0, len(bs)), bs[:2]...)
		mid := bs[2 : len(bs)-keepTail]
		for k := 1; k < len(mid); k += 2 {
			out = append(out, mid[k])
		}
		out = append(out, bs[len(bs)-keepTail:]...)
		if len(out) == len(bs) {
			break
		}
		bs = out
	}
	return bs
}

// Size returns how many constraints the track holds (for memory tests).
func (t *Track) Size() int { return len(t.lowers) + len(t.uppers) + len(t.exact) }

func age(now, ts time.Time) float64 {
	s := now.Sub(ts).Seconds()
	if s < 0 || math.IsNaN(s) {
		return 0
	}
	return s
}
