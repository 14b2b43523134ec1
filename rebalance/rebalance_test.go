package rebalance

import (
	"github.com/klagx/klagx/observation"

	"reflect"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func m(id string, gen int32, parts ...int32) Member {
	return Member{ID: id, Generation: gen, Assigned: map[string][]int32{"t": parts}}
}

func static(id, inst string, gen int32, parts ...int32) Member {
	mm := m(id, gen, parts...)
	mm.InstanceID = inst
	return mm
}

func classic(ms int, state string, members ...Member) Observation {
	return Observation{At: at(ms), Kind: observation.KindClassic, State: state, Members: members}
}

func TestClassicSeenInProgress(t *testing.T) {
	tr := NewTracker([]float64{1, 5, 30})
	tr.Observe(classic(0, "Stable", m("a", -1, 0, 1)))
	if ev := tr.Observe(classic(1000, "PreparingRebalance", m("a", -1), m("b", -1))); ev != nil || !tr.InProgress() {
		t.Fatalf("start: %v", ev)
	}
	tr.Observe(classic(2000, "CompletingRebalance", m("a", -1), m("b", -1)))
	evs := tr.Observe(classic(3500, "Stable", m("a", -1, 0), m("b", -1, 1)))
	if len(evs) != 1 {
		t.Fatalf("events %v", evs)
	}
	ev := evs[0]
	if !ev.DurationKnown || ev.Duration != 2500*time.Millisecond || !ev.Start.Equal(at(1000)) || ev.Generations != 1 || ev.Exact {
		t.Fatalf("%+v", ev)
	}
	if !reflect.DeepEqual(ev.Joined, []string{"b"}) || ev.Left != nil || ev.Moved != 1 || ev.MembersBefore != 1 || ev.MembersAfter != 2 {
		t.Fatalf("%+v", ev)
	}
	s := tr.Stats()
	if s.Rebalances != 1 || s.Joins != 1 || s.Moved != 1 || s.Durations.Count != 1 || s.Durations.Counts[1] != 1 || s.InProgress {
		t.Fatalf("%+v", s)
	}
}

func TestClassicBetweenPolls(t *testing.T) {
	tr := NewTracker(nil)
	tr.Observe(classic(0, "Stable", m("a", -1, 0, 1), m("b", -1, 2)))
	evs := tr.Observe(classic(2000, "Stable", m("a", -1, 0, 1, 2)))
	if len(evs) != 1 || evs[0].DurationKnown || !reflect.DeepEqual(evs[0].Left, []string{"b"}) || evs[0].Cause != "members 1 left" {
		t.Fatalf("%+v", evs)
	}
	// Nothing changed: nothing counted (precision).
	if evs := tr.Observe(classic(4000, "Stable", m("a", -1, 0, 1, 2))); evs != nil {
		t.Fatalf("%+v", evs)
	}
}

// TestGenerationCountsSeveralBetweenPolls: KIP-792 metadata makes the
// count exact even when rebalances left no visible trace.
func TestGenerationCountsSeveralBetweenPolls(t *testing.T) {
	tr := NewTracker(nil)
	tr.Observe(classic(0, "Stable", m("a", 4, 0), m("b", 4, 1)))
	evs := tr.Observe(classic(2000, "Stable", m("a", 7, 0), m("b", 7, 1)))
	if len(evs) != 1 || evs[0].Generations != 3 || !evs[0].Exact || evs[0].Cause != "generation advanced" {
		t.Fatalf("%+v", evs)
	}
	if tr.Stats().Rebalances != 3 {
		t.Fatalf("%+v", tr.Stats())
	}
}

func TestStaticRestartIsNotARebalance(t *testing.T) {
	tr := NewTracker(nil)
	tr.Observe(classic(0, "Stable", static("id-1", "pod-0", 3, 0), static("id-2", "pod-1", 3, 1)))
	// pod-1 restarted: new member id, same instance id, fresh metadata.
	if evs := tr.Observe(classic(2000, "Stable", static("id-1", "pod-0", 3, 0), static("id-9", "pod-1", -1, 1))); evs != nil {
		t.Fatalf("static restart counted: %+v", evs)
	}
}

func TestLastMemberLeavingAndFirstJoining(t *testing.T) {
	tr := NewTracker(nil)
	tr.Observe(classic(0, "Stable", m("a", 2, 0, 1)))
	evs := tr.Observe(classic(1000, "Empty"))
	if len(evs) != 1 || evs[0].Unassigned != 2 || evs[0].MembersAfter != 0 {
		t.Fatalf("%+v", evs)
	}
	evs = tr.Observe(classic(2000, "Stable", m("z", -1, 0, 1)))
	if len(evs) != 1 || evs[0].Assigned != 2 || tr.Stats().Rebalances != 2 {
		t.Fatalf("%+v %+v", evs, tr.Stats())
	}
}

func consumer(ms int, state string, epoch, asg int32, members ...Member) Observation {
	return Observation{At: at(ms), Kind: observation.KindConsumer, State: state, Epoch: epoch, AssignmentEpoch: asg, Members: members}
}

func TestConsumerGroupEpochs(t *testing.T) {
	tr := NewTracker([]float64{1, 10})
	tr.Observe(consumer(0, "Stable", 5, 5, m("a", 5, 0, 1)))
	// b joins: epoch 6, a still at 5 while it revokes.
	if evs := tr.Observe(consumer(500, "Reconciling", 6, 6, m("a", 5, 0, 1), m("b", 6))); evs != nil || !tr.InProgress() {
		t.Fatal("should be in progress")
	}
	evs := tr.Observe(consumer(1500, "Stable", 6, 6, m("a", 6, 0), m("b", 6, 1)))
	if len(evs) != 1 || evs[0].Generations != 1 || !evs[0].Exact || !evs[0].DurationKnown || evs[0].Duration != time.Second || evs[0].Moved != 1 {
		t.Fatalf("%+v", evs)
	}
	// Two epochs between polls, settled: counted 2, duration unknown.
	evs = tr.Observe(consumer(3500, "Stable", 8, 8, m("a", 8, 0, 1)))
	if len(evs) != 1 || evs[0].Generations != 2 || evs[0].DurationKnown || tr.Stats().Rebalances != 3 {
		t.Fatalf("%+v", evs)
	}
	// Same epoch, nothing: no event.
	if evs := tr.Observe(consumer(5500, "Stable", 8, 8, m("a", 8, 0, 1))); evs != nil {
		t.Fatalf("%+v", evs)
	}
}

func recorded(ms int, state string, gen int32, members ...Member) Observation {
	o := classic(ms, state, members...)
	o.Generation, o.GenerationKnown = gen, true
	return o
}

// With recorded generations, every generation counts, including those that
// leave no trace between two polls, and a change seen before its record is
// read is counted once, when it is.
func TestClassicRecordedGenerations(t *testing.T) {
	tr := NewTracker([]float64{1, 5})
	tr.Observe(recorded(0, "Stable", 4, m("a", -1, 0, 1)))
	// Three generations between two polls (a rolling restart), members
	// and assignment back where they were: inference would count none.
	evs := tr.Observe(recorded(2000, "Stable", 7, m("a", -1, 0, 1)))
	if len(evs) != 1 || evs[0].Generations != 3 || !evs[0].Exact || evs[0].Cause != "generation advanced" || evs[0].DurationKnown {
		t.Fatalf("between polls: %+v", evs)
	}
	// A member joined, seen before the coordinator's record is read: not
	// counted yet, then counted once with what changed.
	if evs := tr.Observe(recorded(4000, "Stable", 7, m("a", -1, 0), m("b", -1, 1))); evs != nil {
		t.Fatalf("before its record: %+v", evs)
	}
	evs = tr.Observe(recorded(6000, "Stable", 8, m("a", -1, 0), m("b", -1, 1)))
	if len(evs) != 1 || evs[0].Generations != 1 || !reflect.DeepEqual(evs[0].Joined, []string{"b"}) || evs[0].Moved != 1 {
		t.Fatalf("after its record: %+v", evs)
	}
	// Seen in progress, settled before the record is read: still in
	// progress until it is, then timed from the first sight.
	tr.Observe(recorded(8000, "PreparingRebalance", 8))
	if evs := tr.Observe(recorded(9000, "Stable", 8, m("a", -1, 0, 1))); evs != nil || !tr.InProgress() {
		t.Fatalf("settled before its record: %+v", evs)
	}
	evs = tr.Observe(recorded(10000, "Stable", 9, m("a", -1, 0, 1)))
	if len(evs) != 1 || !evs[0].DurationKnown || evs[0].Duration != 2*time.Second || evs[0].Generations != 1 {
		t.Fatalf("in progress: %+v", evs)
	}
	// Nothing new: nothing counted.
	if evs := tr.Observe(recorded(12000, "Stable", 9, m("a", -1, 0, 1))); evs != nil {
		t.Fatalf("idle: %+v", evs)
	}
	// Deleted and created again: a lower generation is a new baseline.
	if evs := tr.Observe(recorded(14000, "Stable", 1, m("c", -1, 0, 1))); evs != nil {
		t.Fatalf("recreated: %+v", evs)
	}
	// The source stops answering: inference takes over for that step.
	evs = tr.Observe(classic(16000, "Stable", m("c", -1, 0), m("d", -1, 1)))
	if len(evs) != 1 || evs[0].Exact || evs[0].Generations != 1 {
		t.Fatalf("fallback: %+v", evs)
	}
	if s := tr.Stats(); s.Rebalances != 3+1+1+1 || s.Joins != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// Streams groups (KIP-1071) count rebalances by group epochs, as KIP-848
// groups do.
func TestStreamsGroupEpochs(t *testing.T) {
	streams := func(ms int, state string, epoch, asg int32, members ...Member) Observation {
		o := consumer(ms, state, epoch, asg, members...)
		o.Kind = observation.KindStreams
		return o
	}
	tr := NewTracker([]float64{1, 10})
	tr.Observe(streams(0, "Stable", 3, 3, m("a", 3, 0, 1)))
	if evs := tr.Observe(streams(500, "Reconciling", 4, 4, m("a", 3, 0, 1), m("b", 4))); evs != nil || !tr.InProgress() {
		t.Fatal("should be in progress")
	}
	evs := tr.Observe(streams(1500, "Stable", 4, 4, m("a", 4, 0), m("b", 4, 1)))
	if len(evs) != 1 || evs[0].Generations != 1 || !evs[0].Exact || evs[0].Duration != time.Second || len(evs[0].Joined) != 1 {
		t.Fatalf("%+v", evs)
	}
	// b leaves and the group settles two epochs on (leave, then the
	// new target assignment) between polls.
	evs = tr.Observe(streams(3500, "Stable", 6, 6, m("a", 6, 0, 1)))
	if len(evs) != 1 || evs[0].Generations != 2 || tr.Stats().Rebalances != 3 || len(evs[0].Left) != 1 {
		t.Fatalf("%+v %+v", evs, tr.Stats())
	}
}
