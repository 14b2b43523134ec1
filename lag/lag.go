// Package lag holds the offset-lag arithmetic of klagx as pure functions:
// given a committed offset and a partition's log start and end offsets, how
// many messages is the group behind, does it have a commit at all, and how
// many messages did retention delete before the group got to them.
//
// Nothing here reads a clock or talks to Kafka; the collector gathers the
// inputs (commits first, then offsets, so that a commit can never appear to
// be ahead of an end offset read before it) and the snapshot builder keeps
// the state that spans cycles (LostCounter).
//
// The rules:
//   - lag = end − committed, never negative; end is the high-water mark, or
//     the last stable offset for read_committed consumers;
//   - no commit is not "lag −1": the partition is reported as having no
//     commit and its lag counts every retained message (end − start);
//   - a commit below the log start offset means retention deleted messages
//     the group never consumed: they are counted as lost, and the lag is
//     clamped to the retained range (end − start).
package lag

// Offsets are the log boundaries of one partition at one moment.
type Offsets struct {
	// Start is the log start offset: the oldest retained offset.
	Start int64
	// End is the offset lag is measured to: the high-water mark, or the
	// last stable offset for read_committed groups.
	End int64
}

// Commit is a group's committed offset for one partition. Kafka answers
// −1 (or nothing) when there is no commit; both are represented as
// Valid == false and never reach arithmetic.
type Commit struct {
	Offset int64
	Valid  bool
}

// CommitAt returns a valid commit at offset, or an invalid one when offset is
// negative (Kafka's "no commit" sentinel).
func CommitAt(offset int64) Commit {
	return Commit{Offset: offset, Valid: offset >= 0}
}

// End is the offset lag is measured to: the last stable offset when it was
// listed (stable >= 0: a read_committed cluster), else the high-water mark.
func End(highWater, stable int64) int64 {
	if stable >= 0 {
		return stable
	}
	return highWater
}

// Result is the lag of one group on one partition.
type Result struct {
	// Lag is the number of retained messages the group has not consumed;
	// always >= 0.
	Lag int64
	// BelowStart is how many messages lie between the committed offset and
	// the log start offset: deleted by retention before the group consumed
	// them. 0 unless the commit is below the log start.
	BelowStart int64
}

// Partition computes the lag of commit against offsets.
func Partition(c Commit, o Offsets) Result {
	start, end := o.Start, o.End
	if start < 0 {
		start = 0
	}
	if end < start {
		// A broker never reports this, but a start read after a
		// DeleteRecords and an end read before it could; the retained
		// range is then empty.
		end = start
	}
	if !c.Valid {
		return Result{Lag: end - start}
	}
	var r Result
	switch {
	case c.Offset < start:
		r.BelowStart = start - c.Offset
		r.Lag = end - start
	case c.Offset > end:
		// Beyond the end offset (after log truncation, or a
		// read_uncommitted commit measured against the last stable
		// offset): nothing left to consume.
	default:
		r.Lag = end - c.Offset
	}
	return r
}

// LostCounter accumulates, across cycles, the messages retention deleted
// before one group committed past them on one partition. The zero value is
// ready to use.
//
// Every observation where the commit is below the log start adds only the
// part of [commit, start) not counted before, so a group that stays stuck
// while retention keeps deleting is charged once per message, not once per
// cycle.
type LostCounter struct {
	// Total is the running count of lost messages.
	Total uint64
	// countedTo is the offset up to which losses were already counted.
	countedTo int64
}

// Observe updates the counter with one cycle's commit and log start offset
// and returns the number of messages newly counted as lost.
func (l *LostCounter) Observe(c Commit, start int64) uint64 {
	if !c.Valid || c.Offset >= start {
		return 0
	}
	from := c.Offset
	if l.countedTo > from {
		from = l.countedTo
	}
	if start <= from {
		return 0
	}
	n := uint64(start - from)
	l.Total += n
	l.countedTo = start
	return n
}
