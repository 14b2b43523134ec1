package promexport

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

// Gatherer renders the snapshot straight into metric families, without the
// registry's per-series descriptor and consistency checks (every series is
// built from the metrics table, so they hold by construction), and keeps the
// result until the store publishes a new snapshot: repeated and concurrent
// scrapes of one snapshot cost one rendering. It produces the same series as
// Collect (a test compares them).
type Gatherer struct {
	c    *Collector
	text *Text

	mu     sync.Mutex
	cached *snapshot.Snapshot
	fams   []*dto.MetricFamily
}

var _ prometheus.Gatherer = (*Gatherer)(nil)

// Gatherer returns the fast, caching gatherer over the collector's store.
func (c *Collector) Gatherer() *Gatherer { return &Gatherer{c: c, text: c.Text()} }

// Render returns the text exposition of the current snapshot (see Text):
// /metrics serves it, OTLP gathers the families, both from the same
// snapshot and the same table.
func (g *Gatherer) Render() ([]byte, *snapshot.Snapshot) { return g.text.Render() }

// Gather returns the families of the current snapshot. Callers must not
// modify them: they are shared by every scrape of that snapshot.
func (g *Gatherer) Gather() ([]*dto.MetricFamily, error) {
	snap := g.c.store.Load()
	g.mu.Lock()
	defer g.mu.Unlock()
	if snap == g.cached && g.fams != nil {
		return g.fams, nil
	}
	fs := newFamilySink()
	g.c.render(fs, snap)
	g.fams, g.cached = fs.families(), snap
	return g.fams, nil
}

// familySink builds dto families directly. Series are carved out of slabs
// (chunks of structs allocated together) rather than allocated one by one:
// a big cluster renders hundreds of thousands of them.
type familySink struct {
	fams map[string]*dto.MetricFamily
	// values interns label values within one rendering: group and topic
	// names repeat across many series.
	values map[string]*string

	metrics []dto.Metric
	gauges  []dto.Gauge
	counts  []dto.Counter
	floats  []float64
	pairs   []dto.LabelPair
	ptrs    []*dto.LabelPair
}

const slab = 4096

func (s *familySink) newMetric() *dto.Metric {
	if len(s.metrics) == 0 {
		s.metrics = make([]dto.Metric, slab)
	}
	m := &s.metrics[0]
	s.metrics = s.metrics[1:]
	return m
}

func (s *familySink) newFloat(v float64) *float64 {
	if len(s.floats) == 0 {
		s.floats = make([]float64, slab)
	}
	p := &s.floats[0]
	s.floats = s.floats[1:]
	*p = v
	return p
}

// familyMeta is what the sink needs of a family: its dto header and the
// order in which its labels sort by name.
type familyMeta struct {
	name, help *string
	typ        dto.MetricType
	names      []*string // label names, sorted
	order      []int     // order[i] = index in the family's label list of the i-th sorted name
}

var metas = func() map[string]*familyMeta {
	out := make(map[string]*familyMeta, len(metrics.Families))
	for _, f := range metrics.Families {
		m := &familyMeta{name: proto.String(f.Name), help: proto.String(f.Help)}
		switch f.Type {
		case metrics.Counter:
			m.typ = dto.MetricType_COUNTER
		case metrics.Histogram:
			m.typ = dto.MetricType_HISTOGRAM
		default:
			m.typ = dto.MetricType_GAUGE
		}
		idx := make([]int, len(f.Labels))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(a, b int) bool { return f.Labels[idx[a]] < f.Labels[idx[b]] })
		for _, i := range idx {
			m.names = append(m.names, proto.String(f.Labels[i]))
		}
		m.order = idx
		out[f.Name] = m
	}
	return out
}()

func newFamilySink() *familySink {
	return &familySink{fams: map[string]*dto.MetricFamily{}, values: map[string]*string{}}
}

func (s *familySink) family(name string) (*dto.MetricFamily, *familyMeta) {
	m := metas[name]
	f, ok := s.fams[name]
	if !ok {
		f = &dto.MetricFamily{Name: m.name, Help: m.help, Type: m.typ.Enum()}
		s.fams[name] = f
	}
	return f, m
}

func (s *familySink) labels(m *familyMeta, values []string) []*dto.LabelPair {
	n := len(values)
	if len(s.pairs) < n {
		s.pairs = make([]dto.LabelPair, slab)
	}
	if len(s.ptrs) < n {
		s.ptrs = make([]*dto.LabelPair, slab)
	}
	pairs, out := s.pairs[:n:n], s.ptrs[:n:n]
	s.pairs, s.ptrs = s.pairs[n:], s.ptrs[n:]
	for i, src := range m.order {
		v, ok := s.values[values[src]]
		if !ok {
			v = proto.String(values[src])
			s.values[values[src]] = v
		}
		pairs[i] = dto.LabelPair{Name: m.names[i], Value: v}
		out[i] = &pairs[i]
	}
	return out
}

func (s *familySink) value(name string, v float64, labels ...string) {
	f, m := s.family(name)
	metric := s.newMetric()
	metric.Label = s.labels(m, labels)
	if m.typ == dto.MetricType_COUNTER {
		if len(s.counts) == 0 {
			s.counts = make([]dto.Counter, slab)
		}
		c := &s.counts[0]
		s.counts = s.counts[1:]
		c.Value = s.newFloat(v)
		metric.Counter = c
	} else {
		if len(s.gauges) == 0 {
			s.gauges = make([]dto.Gauge, slab)
		}
		g := &s.gauges[0]
		s.gauges = s.gauges[1:]
		g.Value = s.newFloat(v)
		metric.Gauge = g
	}
	f.Metric = append(f.Metric, metric)
}

func (s *familySink) histogram(name string, h snapshot.Histogram, labels ...string) {
	f, m := s.family(name)
	buckets := make([]*dto.Bucket, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[i] = &dto.Bucket{UpperBound: proto.Float64(b), CumulativeCount: proto.Uint64(h.Counts[i])}
	}
	f.Metric = append(f.Metric, &dto.Metric{
		Label: s.labels(m, labels),
		Histogram: &dto.Histogram{
			SampleCount: proto.Uint64(h.Count),
			SampleSum:   proto.Float64(h.Sum),
			Bucket:      buckets,
		},
	})
}

// families returns the non-empty families sorted by name.
func (s *familySink) families() []*dto.MetricFamily {
	out := make([]*dto.MetricFamily, 0, len(s.fams))
	for _, f := range s.fams {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out
}
