package snapshot

import (
	"context"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/lag"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/timelag"
)

// RecordTimes is the Kafka I/O behind the time-lag estimates: lookups by
// timestamp and record fetches, batched per partition leader. Errors are
// added to obs under their stage. *collector.Collector implements it.
type RecordTimes interface {
	LookupTimes(ctx context.Context, obs *observation.Observation, at map[timelag.TP]time.Time) map[timelag.TP]timelag.Lookup
	FetchTimestamps(ctx context.Context, obs *observation.Observation, records []timelag.RecordAt, budget int) map[timelag.RecordAt]time.Time
}

// MaxLookupRounds bounds the ListOffsets-by-time rounds of one cycle (each
// round is one request per partition leader, whatever the number of
// partitions; a partition can be asked once per round). Right after start,
// each committed offset takes a handful of rounds to bracket, and partitions
// shared by many groups at different offsets take more; whatever is not
// done continues in the next cycles. In steady state the end offsets read
// anyway keep the brackets tight and no round is needed. Rounds also stop
// when half the cycle's deadline is used.
const MaxLookupRounds = 48

// timeLag is the builder's time-lag resolver: it owns what is known about
// record timestamps per partition (the brackets of timelag.Tracker), works
// out which offsets a cycle's estimates depend on, asks a RecordTimes for
// them, and answers estimates. Nothing outside the builder touches it.
type timeLag struct {
	tracker     *timelag.Tracker
	mode        config.TimeLagMode
	fetchBudget int
	// target is the accuracy a bracket is narrowed to (timelag.Target of
	// the poll interval).
	target func(age time.Duration) time.Duration
}

func newTimeLag(o BuilderOptions) *timeLag {
	return &timeLag{
		tracker:     timelag.NewTracker(),
		mode:        o.TimeLag.Mode,
		fetchBudget: o.TimeLag.FetchBudget,
		target:      timelag.Target(o.PollInterval),
	}
}

// observeEnds feeds a cycle's end offsets to the brackets. Observing the
// same observation twice changes nothing.
func (t *timeLag) observeEnds(obs *observation.Observation) {
	if obs.Err != nil || !obs.MetadataOK {
		return
	}
	for name, tp := range obs.Topics {
		for n, p := range tp.Partitions {
			if p.Err != nil || p.End < 0 {
				continue
			}
			t.tracker.Track(timelag.TP{Topic: name, Partition: n}).ObserveEnd(p.End, obs.End)
		}
	}
}

// estimate is the time lag of the record at offset on tp, whose lag end is
// end.
func (t *timeLag) estimate(tp timelag.TP, offset, end int64, now time.Time) timelag.Estimate {
	return t.tracker.Track(tp).Estimate(offset, end, now)
}

// needs lists the offsets whose record timestamps this cycle's estimates
// depend on: for every readable group, each partition with lag at its
// oldest unconsumed offset, and the log start offset of that partition (for
// the retention headroom).
func (t *timeLag) needs(obs *observation.Observation) []timelag.Need {
	// Needs are told apart per topic by partition and offset: a
	// partition's end is the same for every group in one observation.
	seen := map[string]map[needAt]bool{}
	var out []timelag.Need
	for _, name := range obs.SortedGroups() {
		og := obs.Groups[name]
		if og.DescribeErr != nil || og.FetchErr != nil {
			continue
		}
		for _, topic := range og.Topics() {
			ot, ok := obs.Topics[topic]
			if !ok {
				continue
			}
			s := seen[topic]
			if s == nil {
				s = make(map[needAt]bool, len(ot.Partitions))
				seen[topic] = s
			}
			out = groupNeeds(out, s, topic, ot, og.Commits[topic])
		}
	}
	return out
}

// needAt is a needed record of one topic, for needs to skip repeats.
type needAt struct {
	partition int32
	offset    int64
}

// groupNeeds appends to out the needs of one group on one topic (ot, the
// group's commits on topic) that are not in seen yet, and adds them to seen.
func groupNeeds(out []timelag.Need, seen map[needAt]bool, topic string, ot *observation.Topic, commits map[int32]int64) []timelag.Need {
	add := func(n int32, offset, end int64) {
		if k := (needAt{n, offset}); !seen[k] {
			seen[k] = true
			out = append(out, timelag.Need{TP: timelag.TP{Topic: topic, Partition: n}, Offset: offset, End: end})
		}
	}
	for n, p := range ot.Partitions {
		if p.Err != nil || p.Start < 0 || p.End < 0 {
			continue
		}
		end := lag.End(p.End, p.Stable)
		pos := positionFor(commitIn(commits, n), p.Start)
		if pos >= end {
			continue
		}
		add(n, pos, end)
		if pos > p.Start {
			add(n, p.Start, end)
		}
	}
	return out
}

// resolve tightens the estimates obs needs: in exact mode by fetching the
// records at the needed offsets (within the fetch budget), then by lookups
// by timestamp, batched per leader, for whatever is still bracketed more
// loosely than the target. Its only I/O is through src.
func (t *timeLag) resolve(ctx context.Context, obs *observation.Observation, src RecordTimes) {
	if obs.Err != nil {
		return
	}
	t.observeEnds(obs)
	needs := t.needs(obs)
	if len(needs) == 0 {
		return
	}
	if t.mode == config.TimeLagExact {
		t.fetchRecords(ctx, obs, needs, src)
	}
	t.lookupRounds(ctx, obs, needs, src)
}

// fetchRecords reads the timestamps of the needed records not known
// exactly yet.
func (t *timeLag) fetchRecords(ctx context.Context, obs *observation.Observation, needs []timelag.Need, src RecordTimes) {
	var recs []timelag.RecordAt
	for _, n := range needs {
		if e := t.estimate(n.TP, n.Offset, n.End, obs.End); e.Method != timelag.Exact {
			recs = append(recs, timelag.RecordAt{TP: n.TP, Offset: n.Offset})
		}
	}
	for r, ts := range src.FetchTimestamps(ctx, obs, recs, t.fetchBudget) {
		t.tracker.Track(r.TP).ObserveRecord(r.Offset, ts)
	}
}

// lookupRounds asks lookups by timestamp, one round (one request per
// leader) at a time, until every needed bracket meets the target, a lookup
// stops narrowing, MaxLookupRounds or half the deadline is used.
func (t *timeLag) lookupRounds(ctx context.Context, obs *observation.Observation, needs []timelag.Need, src RecordTimes) {
	asked := map[timelag.TP]time.Time{}
	deadline, hasDeadline := ctx.Deadline()
	halfway := time.Now().Add(time.Until(deadline) / 2)
	for round := 0; round < MaxLookupRounds && ctx.Err() == nil; round++ {
		if hasDeadline && time.Now().After(halfway) {
			return
		}
		at := t.tracker.Lookups(needs, obs.End, t.target)
		for tp, when := range at {
			// A lookup that did not narrow the bracket would be asked
			// again: stop for this partition this cycle.
			if prev, ok := asked[tp]; ok && prev.Equal(when) {
				delete(at, tp)
			}
		}
		if len(at) == 0 {
			return
		}
		for tp, l := range src.LookupTimes(ctx, obs, at) {
			t.observeLookup(obs, tp, l)
		}
		for tp, when := range at {
			asked[tp] = when
		}
	}
}

// observeLookup folds one lookup answer; "no record that recent" answers
// the end offset.
func (t *timeLag) observeLookup(obs *observation.Observation, tp timelag.TP, l timelag.Lookup) {
	off := l.Offset
	if !l.Found {
		off = endOf(obs, tp)
		if off < 0 {
			return
		}
	}
	t.tracker.Track(tp).ObserveLookup(l.Asked, off, l.RecordTime, l.Found)
}

func endOf(obs *observation.Observation, tp timelag.TP) int64 {
	if t, ok := obs.Topics[tp.Topic]; ok {
		if p, ok := t.Partitions[tp.Partition]; ok && p.Err == nil {
			return p.End
		}
	}
	return -1
}

// commitIn is the group's commit on a partition among its commits on the
// partition's topic (invalid without one).
func commitIn(commits map[int32]int64, partition int32) lag.Commit {
	if off, ok := commits[partition]; ok {
		return lag.CommitAt(off)
	}
	return lag.Commit{}
}

// positionFor is the offset whose record is the oldest unconsumed one:
// the commit, or the log start offset without a commit or below it.
func positionFor(c lag.Commit, start int64) int64 {
	if !c.Valid || c.Offset < start {
		return start
	}
	return c.Offset
}
