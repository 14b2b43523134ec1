package promexport

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klagx/klagx/metrics"
)

// Format is an exposition format the renderer writes.
type Format int

// The formats. Their series lines are the same bytes: integers and floats
// as Go's shortest representation (valid in both), the le label in
// OpenMetrics' canonical form ("1.0"; Prometheus 3 normalises le to it for
// both formats).
const (
	// Text is the Prometheus text format 0.0.4.
	Text Format = iota
	// OpenMetrics is OpenMetrics 1.0.0 (and 0.0.1, which is the same).
	OpenMetrics
)

// family is what rendering needs of one family of the contract.
type family struct {
	name string
	typ  metrics.Type
	on   bool // selected (metrics.Selection)
	idx  int  // index in Renderer.fams
	// chunked families (group-topic and group-partition series) are
	// rendered per group; slot is their index in groupCache.lines.
	chunked bool
	slot    int
	names   []string
	// order[i] is the index in the family's label list of the i-th label
	// name in sorted order (lines carry labels sorted by name).
	order []int
	// head is the HELP and TYPE header per Format; headGz the same as a
	// gzip member.
	head, headGz [2][]byte
}

func newFamily(f metrics.Family, on bool) *family {
	fam := &family{name: f.Name, typ: f.Type, on: on}
	fam.order = make([]int, len(f.Labels))
	for i := range fam.order {
		fam.order[i] = i
	}
	sort.Slice(fam.order, func(a, b int) bool { return f.Labels[fam.order[a]] < f.Labels[fam.order[b]] })
	for _, i := range fam.order {
		fam.names = append(fam.names, f.Labels[i])
	}
	fam.head[Text] = []byte("# HELP " + f.Name + " " + escapeHelp(f.Help, false) + "\n# TYPE " + f.Name + " " + string(f.Type) + "\n")
	// OpenMetrics names a counter family without its _total suffix,
	// which only its samples carry.
	om := f.Name
	if f.Type == metrics.Counter {
		om = strings.TrimSuffix(om, "_total")
	}
	fam.head[OpenMetrics] = []byte("# HELP " + om + " " + escapeHelp(f.Help, true) + "\n# TYPE " + om + " " + string(f.Type) + "\n")
	return fam
}

// appendLine appends one sample: the family name plus suffix, the labels
// (values in the family's label order) and, if le is not empty, the le
// label, then the value.
func (f *family) appendLine(b []byte, suffix string, values []string, le string, v float64) []byte {
	b = append(b, f.name...)
	b = append(b, suffix...)
	if len(values) > 0 || le != "" {
		b = append(b, '{')
		for i, src := range f.order {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, f.names[i]...)
			b = append(b, '=', '"')
			b = appendEscaped(b, values[src])
			b = append(b, '"')
		}
		if le != "" {
			if len(values) > 0 {
				b = append(b, ',')
			}
			b = append(b, `le="`...)
			b = append(b, le...)
			b = append(b, '"')
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	return append(b, '\n')
}

// escapeHelp escapes a HELP text: backslash and line feed, and for
// OpenMetrics also the double quote.
func escapeHelp(s string, quote bool) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	if quote {
		s = strings.ReplaceAll(s, `"`, `\"`)
	}
	return s
}

// appendEscaped appends a label value escaped as both formats require:
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

// appendFloat formats a sample value: integers without exponent or
// fraction, the rest in Go's shortest form.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.AppendInt(b, int64(v), 10)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// appendOpenMetricsFloat formats a bucket bound as OpenMetrics' canonical
// number: always with a fraction or an exponent.
func appendOpenMetricsFloat(b []byte, v float64) []byte {
	n := len(b)
	b = strconv.AppendFloat(b, v, 'g', -1, 64)
	if !strings.ContainsAny(string(b[n:]), "e.") {
		b = append(b, '.', '0')
	}
	return b
}

// unix returns t as fractional Unix seconds.
func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
