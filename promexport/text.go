package promexport

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/klagx/klagx/snapshot"
)

// Text renders the current snapshot in the Prometheus text exposition
// format (0.0.4) directly, series by series into one buffer per family,
// without building metric objects first: on clusters with hundreds of
// thousands of group partitions this is the cost of a scrape. The result is
// kept until the store publishes a new snapshot. Its output parses to the
// same series as Collect's (a test compares them).
type Text struct {
	c *Collector

	mu     sync.Mutex
	cached *snapshot.Snapshot
	body   []byte
}

// Text returns the text renderer over the collector's store.
func (c *Collector) Text() *Text { return &Text{c: c} }

// Render returns the exposition of the current snapshot and the snapshot it
// was rendered from (a cache key for derived forms such as gzip). The bytes
// are shared: callers must not modify them.
func (t *Text) Render() ([]byte, *snapshot.Snapshot) {
	snap := t.c.store.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	if snap != t.cached || t.body == nil {
		s := &textSink{fams: map[string][]byte{}}
		t.c.render(s, snap)
		t.body, t.cached = s.bytes(), snap
	}
	return t.body, snap
}

// textSink appends series lines to one buffer per family.
type textSink struct {
	fams map[string][]byte
}

func (s *textSink) line(name, series string, m *familyMeta, labels []string, extra string, v float64) {
	b := s.fams[name]
	b = append(b, series...)
	if len(labels) > 0 || extra != "" {
		b = append(b, '{')
		for i, src := range m.order {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, *m.names[i]...)
			b = append(b, '=', '"')
			b = appendEscaped(b, labels[src])
			b = append(b, '"')
		}
		if extra != "" {
			if len(labels) > 0 {
				b = append(b, ',')
			}
			b = append(b, extra...)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	b = append(b, '\n')
	s.fams[name] = b
}

func (s *textSink) value(name string, v float64, labels ...string) {
	s.line(name, name, metas[name], labels, "", v)
}

func (s *textSink) histogram(name string, h snapshot.Histogram, labels ...string) {
	m := metas[name]
	for i, ub := range h.Bounds {
		s.line(name, name+"_bucket", m, labels, `le="`+string(appendFloat(nil, ub))+`"`, float64(h.Counts[i]))
	}
	s.line(name, name+"_bucket", m, labels, `le="+Inf"`, float64(h.Count))
	s.line(name, name+"_sum", m, labels, "", h.Sum)
	s.line(name, name+"_count", m, labels, "", float64(h.Count))
}

// bytes joins the families, sorted by name, each with its HELP and TYPE.
func (s *textSink) bytes() []byte {
	names := make([]string, 0, len(s.fams))
	size := 0
	for n, b := range s.fams {
		names = append(names, n)
		size += len(b) + 256
	}
	sort.Strings(names)
	out := make([]byte, 0, size)
	for _, n := range names {
		m := metas[n]
		out = append(out, "# HELP "...)
		out = append(out, n...)
		out = append(out, ' ')
		out = append(out, helpEscaper.Replace(*m.help)...)
		out = append(out, "\n# TYPE "...)
		out = append(out, n...)
		out = append(out, ' ')
		out = append(out, strings.ToLower(m.typ.String())...)
		out = append(out, '\n')
		out = append(out, s.fams[n]...)
	}
	return out
}

var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// appendEscaped appends a label value escaped for the text format:
// backslash, double quote and line feed.
func appendEscaped(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat formats v as the text format does.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}
