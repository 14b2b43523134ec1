// Package catchup is pure arithmetic for "when will this group catch up":
// messages produced to a partition and consumed from it by a group, counted
// from successive offsets; their rates over a window of recent cycles; and
// the estimate, over a group's topics, of the time until its lag reaches
// zero at those rates.
//
// Offsets are not counters, so they are turned into counts first, with
// rules for what an offset can do besides growing:
//
//   - the first observation of a partition (or of a commit) is a baseline:
//     no count, and so no rate, until a second one;
//   - an end offset that moves backwards (the topic was recreated, the log
//     truncated) is a reset: a new baseline, nothing counted, as a
//     Prometheus counter reset would be;
//   - a committed offset that moves backwards (a rewind) is a new baseline:
//     the messages consumed again afterwards count, the rewind itself does
//     not;
//   - messages deleted by retention below the commit are not consumption:
//     a commit counts only from the log start offset up;
//   - a commit that moves while the group has no members was moved by an
//     administrator (kafka-consumer-groups --reset-offsets needs an empty
//     group), not consumed: a new baseline;
//   - a value kept from an earlier read (a failed read) is not observed
//     again: a stale offset gives no sample, so never a fake rate of zero.
//
// A rate is the count's difference between the oldest and the newest
// sample of the window, divided by the time between them: commits that
// come in bursts (a commit interval longer than the poll interval) are
// averaged over the window.
package catchup

import (
	"iter"
	"time"
)

// Sample is a running count of messages at one time.
type Sample struct {
	At time.Time
	N  int64
}

// Window holds the samples of one running count, oldest first, trimmed to
// what a window needs. The zero value is empty and ready to use.
type Window struct {
	samples []Sample
}

// Add appends the count n observed at at and drops the samples older than
// window needs (it keeps the newest one at or before at-window). A sample
// not after the newest one is ignored.
func (w *Window) Add(at time.Time, n int64, window time.Duration) {
	if k := len(w.samples); k > 0 && !at.After(w.samples[k-1].At) {
		return
	}
	w.samples = append(w.samples, Sample{At: at, N: n})
	cut := 0
	for i, s := range w.samples {
		if !s.At.After(at.Add(-window)) {
			cut = i
		}
	}
	if cut > 0 {
		w.samples = append(w.samples[:0], w.samples[cut:]...)
	}
}

// Last returns the newest sample (ok false when there is none).
func (w *Window) Last() (Sample, bool) {
	if len(w.samples) == 0 {
		return Sample{}, false
	}
	return w.samples[len(w.samples)-1], true
}

// Rate is the count's rate in messages per second over window ending at
// the newest sample: from the newest sample at or before its time minus
// window (or the oldest kept, when the samples span less) to the newest.
// ok is false with fewer than two samples.
func (w *Window) Rate(window time.Duration) (rate float64, ok bool) {
	if len(w.samples) < 2 {
		return 0, false
	}
	last := w.samples[len(w.samples)-1]
	first := w.samples[0]
	for _, s := range w.samples {
		if !s.At.After(last.At.Add(-window)) {
			first = s
		}
	}
	dt := last.At.Sub(first.At).Seconds()
	if dt <= 0 {
		return 0, false
	}
	return float64(last.N-first.N) / dt, true
}

// Produced counts the messages produced to one partition from its end
// offsets (the offset lag is measured to: the last stable offset on a
// read_committed cluster). The zero value has seen nothing.
type Produced struct {
	seen bool
	end  int64
	at   time.Time
	// N is the running count.
	N int64
}

// Observe folds the end offset read at at and reports whether it was a
// new observation (false for a value kept from an earlier read: at not
// after the last one).
func (p *Produced) Observe(end int64, at time.Time) bool {
	if p.seen && !at.After(p.at) {
		return false
	}
	if p.seen && end > p.end {
		p.N += end - p.end
	}
	p.seen, p.end, p.at = true, end, at
	return true
}

// Consumed follows one group's commits on one partition and counts the
// messages they consume. The zero value has seen no commit.
type Consumed struct {
	valid  bool
	commit int64
}

// Observe folds one read of the group's commit (valid false: none), the
// partition's log start offset and whether the group has members, and
// returns the messages consumed since the last read. The caller sums them
// into a running count per topic, so that a partition leaving the group
// does not make that count fall.
func (c *Consumed) Observe(commit int64, valid bool, start int64, members bool) int64 {
	if !valid {
		c.valid = false
		return 0
	}
	var n int64
	if c.valid && members && commit > c.commit {
		// Only what lies above the log start was there to be consumed;
		// what retention deleted below it was lost.
		if from := max(c.commit, start); commit > from {
			n = commit - from
		}
	}
	c.valid, c.commit = true, commit
	return n
}

// Topic is what the estimate needs of one topic of a group: its lag, and
// its consume and produce rates (Known false when either is not known
// yet).
type Topic struct {
	Lag              int64
	Consume, Produce float64
	Known            bool
}

// Seconds is the time, at the current rates, until the topic's lag reaches
// zero: 0 without lag; ok false when it will not (no rate yet, or the
// group consumes no faster than the topic is produced to).
func (t Topic) Seconds() (float64, bool) {
	if t.Lag <= 0 {
		return 0, true
	}
	if !t.Known || t.Consume <= t.Produce {
		return 0, false
	}
	return float64(t.Lag) / (t.Consume - t.Produce), true
}

// Estimate is the time until the lag of every topic reaches zero: the
// largest Topic.Seconds. ok is false when any topic with lag will not
// catch up at its current rates. Without lag it is 0.
func Estimate(topics iter.Seq[Topic]) (float64, bool) {
	var secs float64
	for t := range topics {
		s, ok := t.Seconds()
		if !ok {
			return 0, false
		}
		secs = max(secs, s)
	}
	return secs, true
}
