package promexport

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

// TestTextEqualsCollector: the direct text rendering parses to exactly the
// series the registry renders through Collect, including group names that
// need escaping (a Kafka group id can be any string).
func TestTextEqualsCollector(t *testing.T) {
	store := fixture()
	at := time.Unix(1_700_000_000, 0)
	store.Publish(&snapshot.Cluster{Name: "staging", Up: true, Ready: true, LastSuccess: at,
		Groups: []snapshot.Group{{Name: "we\"ird\\group\nname", Kind: "classic", State: "Stable", HasData: true, ObservedAt: at, Lag: 2}}})
	for _, level := range []metrics.Level{metrics.LevelPartition, metrics.LevelTopic, metrics.LevelGroup} {
		c := New(store, Options{Level: level, Version: "1", Revision: "r", GoVersion: "go", TotalShards: 1})
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		want, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := c.Text().Render()
		p := expfmt.NewTextParser(model.UTF8Validation)
		got, err := p.TextToMetricFamilies(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("level %d: text does not parse: %v", level, err)
		}
		a := textOfMap(t, got)
		if b := textOf(t, want); a != b {
			t.Fatalf("level %d: direct text differs from the registry's:\n--- text\n%s\n--- registry\n%s", level, a, b)
		}
	}
}
