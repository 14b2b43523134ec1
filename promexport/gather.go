package promexport

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

var _ prometheus.Gatherer = (*Renderer)(nil)

type gathered struct {
	fams []*dto.MetricFamily
	err  error
}

// Gather returns the metric families of the current exposition, parsed
// from its text bytes: the same series as /metrics, for consumers of
// families (the OTLP bridge, tests). The result is computed once per
// exposition and shared: callers must not modify it.
func (r *Renderer) Gather() ([]*dto.MetricFamily, error) {
	return r.Current().Families()
}

// Families parses the exposition into metric families (once).
func (e *Exposition) Families() ([]*dto.MetricFamily, error) {
	e.gatherOnce.Do(func() {
		var b bytes.Buffer
		b.Grow(e.Size(Text))
		_ = e.Write(&b, Text)
		p := expfmt.NewTextParser(model.LegacyValidation)
		m, err := p.TextToMetricFamilies(&b)
		if err != nil {
			e.gathered.err = fmt.Errorf("parsing the rendered exposition: %w", err)
			return
		}
		fams := make([]*dto.MetricFamily, 0, len(m))
		for _, f := range m {
			fams = append(fams, f)
		}
		sort.Slice(fams, func(i, j int) bool { return fams[i].GetName() < fams[j].GetName() })
		e.gathered.fams = fams
	})
	return e.gathered.fams, e.gathered.err
}
