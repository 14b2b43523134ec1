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
