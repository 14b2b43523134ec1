// Package histogram holds the cumulative, Prometheus-style histogram that
// klagx accumulates across poll cycles (poll durations, commit latencies,
// rebalance durations) and copies into each snapshot. It is plain data
// with no dependencies; rendering is promexport's.
package histogram

// Histogram is a cumulative histogram: Counts[i] is the number of
// observations <= Bounds[i]; Count and Sum cover every observation. The
// zero value has no buckets; use New.
type Histogram struct {
	Count uint64
	Sum   float64
	// Bounds are the bucket upper bounds, ascending.
	Bounds []float64
	Counts []uint64
}

// New returns an empty histogram over bounds (shared, never modified).
func New(bounds []float64) Histogram {
	return Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds))}
}

// Observe adds one value.
func (h *Histogram) Observe(v float64) {
	h.Count++
	h.Sum += v
	for i, ub := range h.Bounds {
		if v <= ub {
			h.Counts[i]++
		}
	}
}

// Copy returns h with its own Counts, safe to publish while h goes on
// observing.
func (h Histogram) Copy() Histogram {
	h.Counts = append([]uint64(nil), h.Counts...)
	return h
}
