package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/klagx/klagx/snapshot"
)

func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                         false,
		"gzip":                     true,
		"GZIP":                     true,
		"gzip, deflate, br":        true,
		"deflate, x-gzip":          true,
		"gzip;q=0":                 false,
		"gzip; q=0.0, deflate":     false,
		"gzip;q=0.5":               true,
		"*":                        true,
		"*;q=0":                    false,
		"*, gzip;q=0":              false,
		"identity":                 false,
		"notgzip":                  false,
		"gzipped":                  false,
		"br;q=1, gzip;q=0.001":     true,
		"gzip;q=bogus":             false,
		"identity;q=1, *;q=0.1":    true,
		" gzip ; q = 1 ":           true,
		"deflate;q=0.5, gzip;q=-1": false,
	} {
		if got := acceptsGzip(header); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
	}
}

func metricsStore() *snapshot.Store {
	at := time.Unix(1_700_000_000, 0)
	store := snapshot.NewStore("c")
	store.Publish(&snapshot.Cluster{Name: "c", Up: true, Ready: true, LastSuccess: at,
		Groups: []snapshot.Group{{Name: "g", State: "Stable", HasData: true, ObservedAt: at, Lag: 3, Rebalances: 2}}})
	return store
}

func scrapeWith(t *testing.T, h http.Handler, accept, encoding string) (*httptest.ResponseRecorder, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.Bytes()
	if rec.Header().Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	return rec, body
}

// prometheusAccept is the Accept header of Prometheus 3's default
// scrape_protocols.
const prometheusAccept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"

// TestMetricsNegotiation: /metrics answers OpenMetrics to a scraper that
// prefers it (Prometheus), the text format otherwise, gzipped or not, and
// each answer decodes, self metrics included, with one # EOF at the end.
func TestMetricsNegotiation(t *testing.T) {
	store := metricsStore()
	// client_golang's own go_memstats_alloc_bytes gauge and
	// go_memstats_alloc_bytes_total counter share one OpenMetrics family
	// name, which expfmt's strict decoder refuses (Prometheus accepts it,
	// as it does from promhttp): decode the klagx part alone, and look for
	// the self metrics in the full answer.
	klagx := Handler(store, Options{DisableExporterMetrics: true})
	h := Handler(store, Options{})
	for _, tc := range []struct {
		accept, encoding string
		om               bool
	}{
		{"", "", false},
		{"", "gzip", false},
		{prometheusAccept, "gzip", true},
		{prometheusAccept, "", true},
		{"text/plain;version=0.0.4", "gzip;q=0", false},
		{"application/openmetrics-text; version=0.0.1", "", true},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited", "", false},
	} {
		rec, body := scrapeWith(t, h, tc.accept, tc.encoding)
		ct := rec.Header().Get("Content-Type")
		format := expfmt.ResponseFormat(rec.Header())
		if isOM := format.FormatType() == expfmt.TypeOpenMetrics; isOM != tc.om {
			t.Errorf("Accept %q: Content-Type %q, want OpenMetrics = %v", tc.accept, ct, tc.om)
		}
		if gz := rec.Header().Get("Content-Encoding") == "gzip"; gz != acceptsGzip(tc.encoding) {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", tc.encoding, rec.Header().Get("Content-Encoding"))
		}
		if tc.om && (!bytes.HasSuffix(body, []byte("\n# EOF\n")) || bytes.Count(body, []byte("# EOF")) != 1) {
			t.Errorf("Accept %q: OpenMetrics body must end with exactly one # EOF", tc.accept)
		}
		for _, want := range []string{"go_goroutines", "process_cpu_seconds", "promhttp_metric_handler_requests"} {
			if !bytes.Contains(body, []byte("# TYPE "+want)) {
				t.Errorf("Accept %q: self metric %s missing", tc.accept, want)
			}
		}
		_, body = scrapeWith(t, klagx, tc.accept, tc.encoding)
		dec := expfmt.NewDecoder(bytes.NewReader(body), format)
		names := map[string]bool{}
		for {
			var f dto.MetricFamily
			if err := dec.Decode(&f); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("Accept %q: %v\n%s", tc.accept, err, body)
			}
			names[f.GetName()] = true
		}
		for _, want := range []string{"klagx_up", "klagx_group_lag", "klagx_group_rebalances_total"} {
			if !names[want] && !names[strings.TrimSuffix(want, "_total")] {
				t.Errorf("Accept %q: family %s missing", tc.accept, want)
			}
		}
	}
}

// TestMetricsServeRenderedBytes: a scrape after a publish serves the new
// snapshot (rendered on publish), and scrapes between publishes serve the
// same bytes.
func TestMetricsServeRenderedBytes(t *testing.T) {
	store := metricsStore()
	h := Handler(store, Options{DisableExporterMetrics: true})
	_, a := scrapeWith(t, h, "", "")
	_, b := scrapeWith(t, h, "", "gzip")
	if !bytes.Equal(a, b) {
		t.Fatal("gzip and plain scrapes of one snapshot differ")
	}
	cl := *store.Load().Cluster("c")
	cl.Groups = []snapshot.Group{cl.Groups[0]}
	cl.Groups[0].Lag = 42
	store.Publish(&cl)
	if _, c := scrapeWith(t, h, "", ""); !bytes.Contains(c, []byte(`klagx_group_lag{cluster="c",group="g"} 42`)) {
		t.Fatalf("the published snapshot is not served:\n%s", c)
	}
}
