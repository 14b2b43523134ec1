package lag

import "testing"

func TestPartition(t *testing.T) {
	for _, tc := range []struct {
		name   string
		commit Commit
		off    Offsets
		want   Result
	}{
		{"caught up", CommitAt(100), Offsets{0, 100}, Result{Lag: 0}},
		{"behind", CommitAt(40), Offsets{0, 100}, Result{Lag: 60}},
		{"empty partition, no commit", CommitAt(-1), Offsets{0, 0}, Result{}},
		{"no commit counts from log start, not from 0", CommitAt(-1), Offsets{30, 100}, Result{Lag: 70}},
		{"no commit sentinel other than -1", Commit{Offset: -7}, Offsets{0, 5}, Result{Lag: 5}},
		{"commit below log start: lost and clamped", CommitAt(10), Offsets{25, 100}, Result{Lag: 75, BelowStart: 15}},
		{"commit exactly at log start", CommitAt(25), Offsets{25, 100}, Result{Lag: 75}},
		{"commit ahead of end (truncation / LSO)", CommitAt(120), Offsets{0, 100}, Result{Lag: 0}},
		{"everything deleted, commit at end", CommitAt(100), Offsets{100, 100}, Result{Lag: 0}},
		{"everything deleted, commit below", CommitAt(50), Offsets{100, 100}, Result{Lag: 0, BelowStart: 50}},
		{"end below start is treated as empty", CommitAt(-1), Offsets{10, 5}, Result{Lag: 0}},
		{"negative start treated as 0", CommitAt(3), Offsets{-1, 10}, Result{Lag: 7}},
		{"read_committed: end is LSO, commit at LSO", CommitAt(99), Offsets{0, 99}, Result{Lag: 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Partition(tc.commit, tc.off)
			if got != tc.want {
				t.Fatalf("Partition(%+v, %+v) = %+v, want %+v", tc.commit, tc.off, got, tc.want)
			}
			if got.Lag < 0 {
				t.Fatalf("negative lag %d", got.Lag)
			}
		})
	}
}

func TestLostCounter(t *testing.T) {
	var l LostCounter
	steps := []struct {
		commit, start int64
		added, total  uint64
	}{
		{50, 40, 0, 0},   // commit above start: nothing lost
		{50, 60, 10, 10}, // retention passes the commit: 50..59 lost
		{50, 60, 0, 10},  // same view next cycle: not counted twice
		{50, 75, 15, 25}, // retention keeps deleting: only the new part
		{80, 75, 0, 25},  // group catches up past start
		{80, 90, 10, 35}, // and falls behind again
		{-1, 200, 0, 35}, // no commit: nothing is "lost" for this group
	}
	for i, s := range steps {
		got := l.Observe(CommitAt(s.commit), s.start)
		if got != s.added || l.Total != s.total {
			t.Fatalf("step %d: Observe(%d, %d) added %d total %d, want %d total %d", i, s.commit, s.start, got, l.Total, s.added, s.total)
		}
	}
}

func FuzzPartition(f *testing.F) {
	f.Add(int64(10), int64(0), int64(100))
	f.Add(int64(-1), int64(30), int64(20))
	f.Fuzz(func(t *testing.T, commit, start, end int64) {
		if start > 1<<60 || end > 1<<60 || commit > 1<<60 || start < -1<<60 || end < -1<<60 || commit < -1<<60 {
			t.Skip()
		}
		r := Partition(CommitAt(commit), Offsets{start, end})
		if r.Lag < 0 || r.BelowStart < 0 {
			t.Fatalf("negative result %+v for %d %d %d", r, commit, start, end)
		}
	})
}
