package bench

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/server"
	"github.com/klagx/klagx/snapshot"
)

// scrapes serves server.Handler over loopback HTTP and measures
// o.Scrapes sequential scrapes each of a new snapshot (cold), o.Scrapes of
// the same snapshot (warm), then o.Concurrency scrapes of a new snapshot at
// once.
// requests returns the collector's cumulative Kafka request count: it must
// not move while scraping.
func scrapes(ctx context.Context, store *snapshot.Store, cfg *config.Config, o Options, requests func() uint64, republish func()) (*Scrape, error) {
	srv := httptest.NewServer(server.Handler(store, server.Options{Config: cfg, DisableExporterMetrics: true}))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: o.Concurrency + 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := srv.URL + "/metrics"

	get := func() ([]byte, time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, 0, err
		}
		if o.Gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		d := time.Since(t0)
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, 0, fmt.Errorf("GET /metrics: %s: %.200s", resp.Status, body)
		}
		if resp.Header.Get("Content-Encoding") == "gzip" {
			// Not timed: what a scraper does with the body is not ours.
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				return nil, 0, err
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				return nil, 0, err
			}
			return plain, d, nil
		}
		return body, d, nil
	}

	before := requests()
	sc := &Scrape{Gzip: o.Gzip}
	// Cold: a new snapshot before each scrape (what Prometheus sees when
	// it scrapes about once per poll interval). Republishing the current
	// cluster makes a new snapshot with the same content.
	var cold, warm []time.Duration
	for i := 0; i < o.Scrapes; i++ {
		republish()
		body, d, err := get()
		if err != nil {
			return nil, err
		}
		cold = append(cold, d)
		if i == 0 {
			sc.ResponseBytes = len(body)
			sc.Series = countSeries(body)
		}
	}
	// Warm: the same snapshot again (repeated scrapes, several
	// Prometheus replicas).
	for i := 0; i < o.Scrapes; i++ {
		_, d, err := get()
		if err != nil {
			return nil, err
		}
		warm = append(warm, d)
	}
	// Wire size (one more, untimed, without decompression).
	if o.Gzip {
		sc.WireBytes = wireSize(ctx, client, url)
	} else {
		sc.WireBytes = sc.ResponseBytes
	}

	// Concurrent: a new snapshot, then o.Concurrency scrapes at once.
	republish()
	conc := make([]time.Duration, o.Concurrency)
	errs := make([]error, o.Concurrency)
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			_, conc[i], errs[i] = get()
		}()
	}
	close(startGate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	sc.KafkaRequests = requests() - before

	sc.P50Seconds, sc.P99Seconds, sc.MeanSeconds = stats(cold)
	sc.WarmP50Seconds, sc.WarmP99Seconds, _ = stats(warm)
	sc.ConcurrentP50Seconds, sc.ConcurrentP99Seconds, _ = stats(conc)
	return sc, nil
}

// stats returns the p50, p99 and mean of ds in seconds.
func stats(ds []time.Duration) (p50, p99, mean float64) {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	if len(ds) > 0 {
		mean = (sum / time.Duration(len(ds))).Seconds()
	}
	return percentile(ds, 0.50).Seconds(), percentile(ds, 0.99).Seconds(), mean
}

func wireSize(ctx context.Context, client *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	return int(n)
}

// countSeries counts the sample lines of a text exposition (non-empty,
// not comments).
func countSeries(body []byte) int {
	n := 0
	for line := range bytes.Lines(body) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			n++
		}
	}
	return n
}
