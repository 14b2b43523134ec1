package commits

import (
	"testing"
	"time"

	"github.com/klagx/klagx/lag"
)

var t0 = time.Unix(1_700_000_000, 0)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestAdvanceRewindAndGap(t *testing.T) {
	var p Partition
	if ch := p.Observe(lag.CommitAt(10), 5, at(0)); ch.Advanced || ch.Rewound {
		t.Fatalf("first observation is not a change: %+v", ch)
	}
	if g := p.Gap(5, at(100)); g != 100*time.Second {
		t.Fatalf("gap %v", g)
	}
	ch := p.Observe(lag.CommitAt(15), 5, at(110))
	if !ch.Advanced || ch.From != 10 || ch.To != 15 || !p.Since.Equal(at(110)) {
		t.Fatalf("advance: %+v %+v", ch, p)
	}
	if g := p.Gap(5, at(120)); g != 10*time.Second {
		t.Fatalf("gap after advance %v", g)
	}
	ch = p.Observe(lag.CommitAt(3), 17, at(130))
	if !ch.Rewound || ch.From != 15 || ch.To != 3 || !p.RewoundAt.Equal(at(130)) {
		t.Fatalf("rewind: %+v", ch)
	}
}

// TestIdleIsNeverAGap: no lag means progress, however old the commit.
func TestIdleIsNeverAGap(t *testing.T) {
	var p Partition
	p.Observe(lag.CommitAt(100), 0, at(0))
	for s := 15; s < 3600; s += 15 {
		p.Observe(lag.CommitAt(100), 0, at(s))
		if g := p.Gap(0, at(s)); g != 0 {
			t.Fatalf("idle partition has gap %v", g)
		}
	}
	// One message arrives: the gap counts from the last cycle that saw the
	// partition caught up (3585 s), not from the last commit an hour ago.
	p.Observe(lag.CommitAt(100), 1, at(3600))
	if g := p.Gap(1, at(3615)); g != 30*time.Second {
		t.Fatalf("gap should count from the last caught-up time: %v", g)
	}
}

func TestFirstCommitIsAnAdvance(t *testing.T) {
	var p Partition
	p.Observe(lag.Commit{}, 10, at(0))
	ch := p.Observe(lag.CommitAt(4), 6, at(15))
	if !ch.Advanced || ch.From != -1 || ch.To != 4 {
		t.Fatalf("%+v", ch)
	}
}
