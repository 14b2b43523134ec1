// Package rebalance turns successive descriptions of a consumer group into
// rebalance events: when each started and ended, how long it took, which
// members joined and left, and how many partitions changed owner.
//
// Classic groups (DescribeGroups) carry no generation id, so a rebalance is
// inferred between two settled observations (Stable or Empty) from what
// happened in between: a rebalancing state was seen (PreparingRebalance,
// CompletingRebalance), the set of members changed, or the assignment
// changed. Where members send ConsumerProtocol metadata v2+ (KIP-792), their
// join metadata carries the generation they last held; its advance counts
// rebalances exactly, including several between two polls, and the inference
// is the fallback when no member carries it.
//
// KIP-848 consumer groups have epochs: a rebalance is a group epoch advance,
// and it is in progress while the assignment epoch or any member's epoch
// lags the group epoch (states Assigning, Reconciling).
//
// Where an exact source of classic generations is configured (the records
// the coordinator writes to __consumer_offsets, package groupmeta), the
// observation carries the group's generation: its advance is then the
// number of rebalances, and nothing else counts one.
//
// Members are identified by group.instance.id when they have one (static
// membership), else by member id, so a static member that restarts within
// its session timeout, which Kafka does not rebalance, is not a change.
//
// The package is pure: observation times are arguments; nothing here reads
// the clock or talks to Kafka.
package rebalance

import (
	"sort"
	"strconv"
	"time"

	"github.com/klagx/klagx/histogram"
	"github.com/klagx/klagx/observation"
)

// RebalancingStates are the group states during which a group is
// rebalancing: PreparingRebalance and CompletingRebalance (classic),
// Assigning and Reconciling (KIP-848).
var RebalancingStates = map[string]bool{
	"PreparingRebalance": true, "CompletingRebalance": true, // classic
	"Assigning": true, "Reconciling": true, // KIP-848
}

// Member is one member as described.
type Member struct {
	ID         string
	InstanceID string // group.instance.id for static members
	// Assigned maps topic → partitions owned.
	Assigned map[string][]int32
	// Generation: classic, the generation the member last held, from its
	// join metadata (v2+), or -1; KIP-848, the member epoch.
	Generation int32
}

// Key identifies a member across rejoins: its instance id if static.
func (m Member) Key() string {
	if m.InstanceID != "" {
		return "static:" + m.InstanceID
	}
	return m.ID
}

// Observation is one description of a group.
type Observation struct {
	At    time.Time
	Kind  string // observation.KindClassic, KindConsumer or KindStreams
	State string
	// Members as described; for classic groups in a rebalancing state the
	// assignment is empty and is ignored.
	Members []Member
	// Epoch and AssignmentEpoch are set for KIP-848 and streams groups.
	Epoch, AssignmentEpoch int32
	// Generation is a classic group's generation as its coordinator last
	// recorded it, valid when GenerationKnown (only with an exact source:
	// --rebalance.source=consumer-offsets, and once that source has read
	// its topic to the end).
	Generation      int32
	GenerationKnown bool
}

// Event is one observed rebalance (or several, when Generations > 1 and
// they completed between two polls).
type Event struct {
	Start, End time.Time
	// Duration is End-Start when the rebalance was seen in progress
	// (DurationKnown); a rebalance that started and ended between two polls
	// has an unknown duration shorter than the poll interval.
	Duration      time.Duration
	DurationKnown bool
	// Generations is how many rebalances this event stands for (>= 1).
	// Exact is true when it comes from generations or epochs rather than
	// from inference.
	Generations int
	Exact       bool

	MembersBefore, MembersAfter int
	// Joined and Left are member keys, sorted.
	Joined, Left []string
	// StaticJoined and StaticLeft count static members among them.
	StaticJoined, StaticLeft int
	// Moved counts partitions whose owner changed (assigned before and
	// after, to different members); Assigned and Unassigned count
	// partitions that gained or lost their owner.
	Moved, Assigned, Unassigned int
	// Cause summarises what was seen: "members joined", "members left",
	// "assignment changed", "generation advanced", "epoch advanced", ...
	Cause string
}

// settled is a group as last seen outside a rebalance.
type settled struct {
	at       time.Time
	members  map[string]Member
	owners   map[tp]string
	maxGen   int32 // classic: highest member generation, -1 unknown
	gen      int32 // classic: recorded group generation, if genKnown
	genKnown bool
	epoch    int32 // KIP-848
}

type tp struct {
	topic     string
	partition int32
}

// Stats are the cumulative counters of one group.
type Stats struct {
	Rebalances uint64
	Joins      uint64
	Leaves     uint64
	Moved      uint64
	// InProgress is true while a rebalance is observed in progress; Since
	// is when it was first seen.
	InProgress bool
	Since      time.Time
	// Last is when the last rebalance was seen ending (zero if none).
	Last time.Time
	// Durations are the durations, in seconds, of the rebalances whose
	// duration is known, over the tracker's bounds.
	Durations histogram.Histogram
}

// Tracker follows one group. The zero value is not usable; use NewTracker.
type Tracker struct {
	base       *settled
	inProgress bool
	start      time.Time
	stats      Stats
}

// NewTracker returns a tracker whose duration histogram uses bounds
// (seconds, ascending).
func NewTracker(bounds []float64) *Tracker {
	return &Tracker{stats: Stats{Durations: histogram.New(bounds)}}
}

// Stats returns a copy of the counters.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Durations = t.stats.Durations.Copy()
	s.InProgress = t.inProgress
	if t.inProgress {
		s.Since = t.start
	}
	return s
}

// InProgress reports whether a rebalance is being observed.
func (t *Tracker) InProgress() bool { return t.inProgress }

// Observe folds one description into the tracker and returns the
// rebalances it completes (usually none).
func (t *Tracker) Observe(o Observation) []Event {
	if o.State == "Dead" {
		return nil
	}
	if o.Kind == observation.KindConsumer || o.Kind == observation.KindStreams {
		return t.observeConsumer(o)
	}
	return t.observeClassic(o)
}

func (t *Tracker) begin(at time.Time) {
	if !t.inProgress {
		t.inProgress, t.start = true, at
	}
}

func (t *Tracker) observeClassic(o Observation) []Event {
	if RebalancingStates[o.State] {
		t.begin(o.At)
		return nil
	}
	cur := settle(o)
	if t.base == nil {
		t.base = cur
		if t.inProgress {
			// Seen only mid-rebalance before: nothing to compare with.
			t.inProgress = false
		}
		return nil
	}
	if t.base.genKnown && cur.genKnown {
		return t.observeRecorded(cur, o.At)
	}
	ev := diff(t.base, cur)
	n, exact := 1, false
	if t.base.maxGen >= 0 && cur.maxGen >= 0 {
		if d := cur.maxGen - t.base.maxGen; d > 0 {
			n, exact = int(d), true
			if ev.Cause == "" {
				ev.Cause = "generation advanced"
			}
		}
	}
	changed := ev.Cause != ""
	if !t.inProgress && !changed {
		t.base = cur
		return nil
	}
	if t.inProgress && ev.Cause == "" {
		ev.Cause = "rebalance seen in progress"
	}
	ev.Generations, ev.Exact = n, exact
	return []Event{t.finish(ev, cur, o.At)}
}

// observeRecorded compares two settled classic views that both carry the
// recorded generation: each generation advanced is one rebalance.
func (t *Tracker) observeRecorded(cur *settled, at time.Time) []Event {
	d := cur.gen - t.base.gen
	if d < 0 {
		// The group was deleted and created again under the same name.
		t.base, t.inProgress = cur, false
		return nil
	}
	ev := diff(t.base, cur)
	if d == 0 {
		// A settled group has stored its generation, so a change seen
		// without a new one is a record not read yet: keep the baseline
		// (and a rebalance seen in progress) until it is, so that the
		// event then says what changed.
		if ev.Cause == "" && !t.inProgress {
			t.base = cur
		}
		return nil
	}
	ev.Generations, ev.Exact = int(d), true
	if ev.Cause == "" {
		ev.Cause = "generation advanced"
	}
	return []Event{t.finish(ev, cur, at)}
}

func (t *Tracker) observeConsumer(o Observation) []Event {
	cur := settle(o)
	cur.epoch = o.Epoch
	reconciled := o.AssignmentEpoch >= o.Epoch
	for _, m := range o.Members {
		if m.Generation < o.Epoch {
			reconciled = false
		}
	}
	if o.State != "Stable" && o.State != "Empty" {
		reconciled = false
	}
	if t.base == nil {
		if reconciled {
			t.base = cur
		} else {
			t.begin(o.At)
		}
		return nil
	}
	advanced := o.Epoch > t.base.epoch
	if !reconciled {
		if advanced {
			t.begin(o.At)
		}
		return nil
	}
	if !advanced {
		// Settled at the same epoch: no rebalance (a reconciliation
		// that was seen without an epoch advance is not one).
		t.inProgress = false
		t.base = cur
		return nil
	}
	ev := diff(t.base, cur)
	ev.Generations, ev.Exact = int(o.Epoch-t.base.epoch), true
	if ev.Cause == "" {
		ev.Cause = "epoch advanced"
	}
	return []Event{t.finish(ev, cur, o.At)}
}

// finish completes ev at time at, updates the counters and the baseline.
func (t *Tracker) finish(ev Event, cur *settled, at time.Time) Event {
	ev.End = at
	if t.inProgress {
		ev.Start, ev.DurationKnown = t.start, true
		ev.Duration = at.Sub(t.start)
		t.stats.Durations.Observe(ev.Duration.Seconds())
	} else {
		// Between two polls: it started after the previous one.
		ev.Start = t.base.at
	}
	t.stats.Rebalances += uint64(ev.Generations)
	t.stats.Joins += uint64(len(ev.Joined))
	t.stats.Leaves += uint64(len(ev.Left))
	t.stats.Moved += uint64(ev.Moved)
	t.stats.Last = at
	t.inProgress = false
	t.base = cur
	return ev
}

func settle(o Observation) *settled {
	s := &settled{at: o.At, members: map[string]Member{}, owners: map[tp]string{}, maxGen: -1, gen: o.Generation, genKnown: o.GenerationKnown}
	for _, m := range o.Members {
		k := m.Key()
		s.members[k] = m
		for topic, ps := range m.Assigned {
			for _, p := range ps {
				s.owners[tp{topic, p}] = k
			}
		}
		if m.Generation > s.maxGen {
			s.maxGen = m.Generation
		}
	}
	return s
}

// diff compares two settled views; ev.Cause is empty when nothing changed.
func diff(a, b *settled) Event {
	ev := Event{MembersBefore: len(a.members), MembersAfter: len(b.members)}
	for k, m := range b.members {
		if _, ok := a.members[k]; !ok {
			ev.Joined = append(ev.Joined, k)
			if m.InstanceID != "" {
				ev.StaticJoined++
			}
		}
	}
	for k, m := range a.members {
		if _, ok := b.members[k]; !ok {
			ev.Left = append(ev.Left, k)
			if m.InstanceID != "" {
				ev.StaticLeft++
			}
		}
	}
	sort.Strings(ev.Joined)
	sort.Strings(ev.Left)
	for p, owner := range b.owners {
		prev, ok := a.owners[p]
		switch {
		case !ok:
			ev.Assigned++
		case prev != owner:
			ev.Moved++
		}
	}
	for p := range a.owners {
		if _, ok := b.owners[p]; !ok {
			ev.Unassigned++
		}
	}
	var causes []string
	if len(ev.Joined) > 0 {
		causes = append(causes, strconv.Itoa(len(ev.Joined))+" joined")
	}
	if len(ev.Left) > 0 {
		causes = append(causes, strconv.Itoa(len(ev.Left))+" left")
	}
	if len(causes) == 0 && (ev.Moved > 0 || ev.Assigned > 0 || ev.Unassigned > 0) {
		causes = append(causes, "assignment changed")
	}
	for i, c := range causes {
		if i > 0 {
			ev.Cause += ", "
		}
		ev.Cause += c
	}
	if len(ev.Joined)+len(ev.Left) > 0 {
		ev.Cause = "members " + ev.Cause
	}
	return ev
}
