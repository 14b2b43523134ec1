// Package commits follows one group's committed offset on one partition
// across poll cycles: when it last changed, when the group last made
// progress, and whether it moved backwards. Like lag/, it is pure: the
// observation time is an argument and nothing here talks to Kafka.
//
// Progress is what makes an idle topic never look stalled: a partition
// makes progress when its commit advances or when it has nothing left to
// consume (lag 0). A commit gap is the time since the last progress while
// there is lag.
package commits

import (
	"time"

	"github.com/klagx/klagx/lag"
)

// Partition is the commit history of one group on one partition. The zero
// value has seen nothing.
type Partition struct {
	// Offset is the last observed committed offset; valid if HasCommit.
	Offset    int64
	HasCommit bool
	// Since is when the commit was first seen at Offset: the time of the
	// last observed change, or the first observation after start (an
	// upper bound of the last commit time, never a guess in the past).
	Since time.Time
	// ProgressAt is the last time the group advanced its commit here or
	// had nothing to consume.
	ProgressAt time.Time
	// RewoundAt is when the commit was last seen moving backwards.
	RewoundAt time.Time
	seen      bool
}

// Change is what one observation revealed.
type Change struct {
	// Advanced is true when the committed offset moved forward since the
	// previous observation; From is the old offset (or -1 when there was
	// no commit), To the new one.
	Advanced bool
	// Rewound is true when it moved backwards.
	Rewound  bool
	From, To int64
}

// Observe folds one cycle's commit and lag into the history.
func (p *Partition) Observe(c lag.Commit, lagNow int64, at time.Time) Change {
	var ch Change
	switch {
	case !p.seen:
		p.Since = at
		p.ProgressAt = at
	case c.Valid && (!p.HasCommit || c.Offset > p.Offset):
		ch = Change{Advanced: true, From: -1, To: c.Offset}
		if p.HasCommit {
			ch.From = p.Offset
		}
		p.Since, p.ProgressAt = at, at
	case c.Valid && p.HasCommit && c.Offset < p.Offset:
		ch = Change{Rewound: true, From: p.Offset, To: c.Offset}
		p.Since, p.RewoundAt = at, at
		// A rewind is deliberate activity (a reset), not a stall.
		p.ProgressAt = at
	case !c.Valid && p.HasCommit:
		// The commit was deleted (offsets expired or reset to none).
		p.Since = at
	}
	if lagNow == 0 {
		p.ProgressAt = at
	}
	p.seen = true
	p.Offset, p.HasCommit = c.Offset, c.Valid
	if !c.Valid {
		p.Offset = 0
	}
	return ch
}

// Gap returns how long the group has gone without progress on this
// partition while it has lag; 0 when it has no lag.
func (p *Partition) Gap(lagNow int64, now time.Time) time.Duration {
	if lagNow <= 0 || p.ProgressAt.IsZero() {
		return 0
	}
	if d := now.Sub(p.ProgressAt); d > 0 {
		return d
	}
	return 0
}
