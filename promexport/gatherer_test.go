package promexport

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

func textOf(t *testing.T, fams []*dto.MetricFamily) string {
	t.Helper()
	var b strings.Builder
	for _, f := range fams {
		if err := writeFamily(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestGathererEqualsCollector: the fast gatherer renders exactly what the
// registry renders through Collect, at every level.
func TestGathererEqualsCollector(t *testing.T) {
	for _, level := range []metrics.Level{metrics.LevelPartition, metrics.LevelTopic, metrics.LevelGroup} {
		c := New(fixture(), Options{Level: level, Version: "1", Revision: "r", GoVersion: "go", Shard: 0, TotalShards: 1})
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(c)
		want, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Gatherer().Gather()
		if err != nil {
			t.Fatal(err)
		}
		if a, b := textOf(t, got), textOf(t, want); a != b {
			t.Fatalf("level %d: gatherer output differs from the registry's:\n--- gatherer\n%s\n--- registry\n%s", level, a, b)
		}
	}
}

// TestGathererCachesPerSnapshot: one rendering per published snapshot.
func TestGathererCachesPerSnapshot(t *testing.T) {
	store := fixture()
	g := New(store, Options{Level: metrics.LevelPartition}).Gatherer()
	a, _ := g.Gather()
	b, _ := g.Gather()
	if &a[0] != &b[0] {
		t.Fatal("same snapshot rendered twice")
	}
	store.Publish(&snapshot.Cluster{Name: "staging", Up: true})
	c, _ := g.Gather()
	if &c[0] == &a[0] {
		t.Fatal("new snapshot not rendered")
	}
}

func textOfMap(t *testing.T, m map[string]*dto.MetricFamily) string {
	t.Helper()
	fams := make([]*dto.MetricFamily, 0, len(m))
	for _, f := range m {
		fams = append(fams, f)
	}
	return textOf(t, fams)
}
