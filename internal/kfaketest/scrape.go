package kfaketest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series is a parsed exposition: "name{a="x",b="y"}" (labels sorted) → value.
type Series map[string]float64

// Scrape GETs path from h and parses the text exposition strictly. It fails
// the test on a parse error or on a duplicate series.
func Scrape(t testing.TB, h http.Handler, path string) Series {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
	return Parse(t, rec.Body.Bytes())
}

// Parse parses a text exposition, failing on errors and duplicate series.
func Parse(t testing.TB, body []byte) Series {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	out := Series{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			key := SeriesKey(name, m.GetLabel())
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				v = float64(m.GetHistogram().GetSampleCount())
				key = SeriesKey(name+"_count", m.GetLabel())
			default:
				v = m.GetUntyped().GetValue()
			}
			if _, dup := out[key]; dup {
				t.Fatalf("duplicate series %s", key)
			}
			out[key] = v
		}
	}
	return out
}

// SeriesKey renders name and labels in a canonical form.
func SeriesKey(name string, labels []*dto.LabelPair) string {
	ls := make([]string, 0, len(labels))
	for _, l := range labels {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

// Key builds a canonical series key from name and label pairs k1, v1, ...
func Key(name string, kv ...string) string {
	ls := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, fmt.Sprintf("%s=%q", kv[i], kv[i+1]))
	}
	sort.Strings(ls)
	return name + "{" + strings.Join(ls, ",") + "}"
}

// With returns the series whose key starts with prefix (a metric name, or
// a name plus "{" and leading labels).
func (s Series) With(prefix string) Series {
	out := Series{}
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

// Has reports whether any series of the metric name carries label=value.
func (s Series) Has(name, label, value string) bool {
	needle := fmt.Sprintf("%s=%q", label, value)
	for k := range s {
		if strings.HasPrefix(k, name+"{") && strings.Contains(k, needle) {
			return true
		}
	}
	return false
}
