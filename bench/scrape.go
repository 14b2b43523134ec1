package bench

import (
	"bufio"
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
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/server"
	"github.com/klagx/klagx/snapshot"
)

// scrapes serves server.Handler over loopback HTTP and measures
// o.Scrapes sequential scrapes each right after a poll cycle of p
// (cold: what Prometheus sees scraping about once per poll interval),
// o.Scrapes each right after a group-state tick, o.Scrapes of the same
// snapshot (warm), then o.Concurrency scrapes at once after a cycle. The
// renderer renders on publish, inside the cycle or tick: two store
// subscribers around it time that rendering. requests returns the
// collector's cumulative Kafka request count: it must not move while
// scraping (cycles and ticks excluded).
func scrapes(ctx context.Context, p *poller.Poller, store *snapshot.Store, cfg *config.Config, o Options, requests func() uint64) (*Scrape, error) {
	var (
		renderStart time.Time
		renderCPU0  time.Duration
		renderWall  []time.Duration
		renderCPU   time.Duration
		timing      bool
	)
	store.Subscribe(func(*snapshot.Snapshot) { renderStart, renderCPU0 = time.Now(), cpuTime() })
	srv := httptest.NewServer(server.Handler(store, server.Options{Config: cfg, DisableExporterMetrics: true}))
	store.Subscribe(func(*snapshot.Snapshot) {
		if timing {
			renderWall = append(renderWall, time.Since(renderStart))
			renderCPU += cpuTime() - renderCPU0
		}
	})
	timing = true
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: o.Concurrency + 1, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	url := srv.URL + "/metrics"

	// get scrapes once. Only with decode does it keep and decompress the
	// body (untimed; what a scraper does with it is not ours): the
	// harness shares the exporter's process, whose peak RSS it reports.
	get := func(decode bool) ([]byte, time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, 0, err
		}
		if o.Gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		req.Header.Set("Accept", prometheusAccept)
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		if !decode && resp.StatusCode == http.StatusOK {
			_, err := io.Copy(io.Discard, resp.Body)
			return nil, time.Since(t0), err
		}
		body, err := io.ReadAll(resp.Body)
		d := time.Since(t0)
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, 0, fmt.Errorf("GET /metrics: %s: %.200s", resp.Status, body)
		}
		if resp.Header.Get("Content-Encoding") == "gzip" {
			// Not timed: what a scraper does with the body is not
			// ours. Kept compressed; measure streams it.
			return body, d, nil
		}
		return body, d, nil
	}

	sc := &Scrape{Gzip: o.Gzip}
	// renders runs step (a cycle or a tick, which publishes once) and
	// returns its rendering's wall time and CPU.
	renders := func(step func()) (time.Duration, time.Duration) {
		n, cpu0 := len(renderWall), renderCPU
		step()
		if len(renderWall) != n+1 {
			return 0, 0
		}
		return renderWall[n], renderCPU - cpu0
	}
	var renderCycle, renderTick []time.Duration
	var cpuCycle, cpuTick time.Duration
	// scrape is get, counting the Kafka requests sent meanwhile.
	scrape := func(decode bool) ([]byte, time.Duration, error) {
		before := requests()
		body, d, err := get(decode)
		sc.KafkaRequests += requests() - before
		return body, d, err
	}
	var cold, tick, warm []time.Duration
	for i := 0; i < o.Scrapes; i++ {
		w, c := renders(func() { p.Cycle(ctx) })
		renderCycle, cpuCycle = append(renderCycle, w), cpuCycle+c
		body, d, err := scrape(i == 0)
		if err != nil {
			return nil, err
		}
		cold = append(cold, d)
		if i == 0 {
			if sc.ResponseBytes, sc.Series, err = measure(body, o.Gzip); err != nil {
				return nil, err
			}
		}
	}
	// Tick: a group-state tick (groups described again, their
	// partitions shared) before each scrape.
	for i := 0; i < o.Scrapes; i++ {
		w, c := renders(func() { p.GroupTick(ctx) })
		renderTick, cpuTick = append(renderTick, w), cpuTick+c
		_, d, err := scrape(false)
		if err != nil {
			return nil, err
		}
		tick = append(tick, d)
	}
	// Warm: the same snapshot again (repeated scrapes, several
	// Prometheus replicas).
	for i := 0; i < o.Scrapes; i++ {
		_, d, err := scrape(false)
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

	// Concurrent: a new cycle, then o.Concurrency scrapes at once.
	p.Cycle(ctx)
	before := requests()
	conc := make([]time.Duration, o.Concurrency)
	errs := make([]error, o.Concurrency)
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-startGate
			_, conc[i], errs[i] = get(false)
		}()
	}
	close(startGate)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	sc.KafkaRequests += requests() - before

	sc.P50Seconds, sc.P99Seconds, sc.MeanSeconds = stats(cold)
	sc.TickP50Seconds, sc.TickP99Seconds, _ = stats(tick)
	sc.RenderCycleP50Seconds, _, _ = stats(renderCycle)
	sc.RenderTickP50Seconds, _, _ = stats(renderTick)
	if o.Scrapes > 0 {
		sc.RenderCycleCPUSeconds = (cpuCycle / time.Duration(o.Scrapes)).Seconds()
		sc.RenderTickCPUSeconds = (cpuTick / time.Duration(o.Scrapes)).Seconds()
	}
	sc.WarmP50Seconds, sc.WarmP99Seconds, _ = stats(warm)
	sc.ConcurrentP50Seconds, sc.ConcurrentP99Seconds, _ = stats(conc)
	return sc, nil
}

// prometheusAccept is the Accept header of Prometheus 3's default
// scrape_protocols (it gets OpenMetrics).
const prometheusAccept = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"

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

// measure returns the uncompressed size of an exposition and its number
// of sample lines (non-empty, not comments), decompressing it as a stream
// (the harness shares the exporter's process and its peak RSS).
func measure(body []byte, gz bool) (size, series int, err error) {
	var r io.Reader = bytes.NewReader(body)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return 0, 0, err
		}
		r = zr
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		size += len(sc.Bytes()) + 1
		if len(line) > 0 && line[0] != '#' {
			series++
		}
	}
	return size, series, sc.Err()
}
