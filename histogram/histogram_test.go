package histogram

import (
	"reflect"
	"testing"
)

// TestObserveIsCumulative: a value counts in its bucket and every bucket
// above it; a copy does not move with the original.
func TestObserveIsCumulative(t *testing.T) {
	h := New([]float64{1, 5, 10})
	for _, v := range []float64{0.5, 1, 3, 20} {
		h.Observe(v)
	}
	c := h.Copy()
	h.Observe(2)
	if want := []uint64{2, 3, 3}; !reflect.DeepEqual(c.Counts, want) || c.Count != 4 || c.Sum != 24.5 {
		t.Fatalf("copy %+v, want counts %v, count 4, sum 24.5", c, want)
	}
	if want := []uint64{2, 4, 4}; !reflect.DeepEqual(h.Counts, want) || h.Count != 5 {
		t.Fatalf("histogram %+v, want counts %v", h, want)
	}
}
