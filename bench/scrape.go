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
	"github.com/klagx/klagx/server"
	"github.com/klagx/klagx/snapshot"
)

// scrapes serves server.Handler over loopback HTTP and measures
// o.Scrapes sequential scrapes each right after a new cycle's snapshot was
// published (cold), o.Scrapes each after a group tick's snapshot, o.Scrapes
// of the same snapshot (warm), then o.Concurrency scrapes of a new snapshot
// at once. The renderer renders on publish: the publishes are timed as the
// rendering cost. requests returns the collector's cumulative Kafka request
// count: it must not move while scraping.
func scrapes(ctx context.Context, store *snapshot.Store, cfg *config.Config, o Options, requests func() uint64) (*Scrape, error) {
	srv := httptest.NewServer(server.Handler(store, server.Options{Config: cfg, DisableExporterMetrics: true}))
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

	before := requests()
	sc := &Scrape{Gzip: o.Gzip}
	var renderCycle, renderTick []time.Duration
	var cpuCycle, cpuTick time.Duration
	publish := func(cl *snapshot.Cluster, walls *[]time.Duration, cpus *time.Duration) {
		c0, t0 := cpuTime(), time.Now()
		store.Publish(cl)
		*walls = append(*walls, time.Since(t0))
		*cpus += cpuTime() - c0
	}
	// Cold: a new cycle's snapshot (every group's partitions new slices,
	// as a poll cycle publishes) before each scrape: what Prometheus sees
	// when it scrapes about once per poll interval.
	var cold, tick, warm []time.Duration
	for i := 0; i < o.Scrapes; i++ {
		publish(cycleCopy(store.Load().Clusters[0]), &renderCycle, &cpuCycle)
		body, d, err := get(i == 0)
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
	// Tick: a group-state tick's snapshot (groups copied, their
	// partitions shared) before each scrape.
	for i := 0; i < o.Scrapes; i++ {
		publish(tickCopy(store.Load().Clusters[0]), &renderTick, &cpuTick)
		_, d, err := get(false)
		if err != nil {
			return nil, err
		}
		tick = append(tick, d)
	}
	// Warm: the same snapshot again (repeated scrapes, several
	// Prometheus replicas).
	for i := 0; i < o.Scrapes; i++ {
		_, d, err := get(false)
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
	store.Publish(cycleCopy(store.Load().Clusters[0]))
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
	sc.KafkaRequests = requests() - before

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

// cycleCopy returns cl as a poll cycle would publish it again: a new
// cluster whose groups' partitions and topics are new slices (the
// renderer re-renders every group).
func cycleCopy(cl *snapshot.Cluster) *snapshot.Cluster {
	c := tickCopy(cl)
	for i := range c.Groups {
		g := &c.Groups[i]
		g.Partitions = append([]snapshot.GroupPartition(nil), g.Partitions...)
		g.Topics = append([]snapshot.GroupTopic(nil), g.Topics...)
	}
	c.Partitions = append([]snapshot.Partition(nil), cl.Partitions...)
	return c
}

// tickCopy returns cl as a group-state tick publishes it: a new cluster
// with the groups copied and their partitions shared.
func tickCopy(cl *snapshot.Cluster) *snapshot.Cluster {
	c := *cl
	c.Groups = append([]snapshot.Group(nil), cl.Groups...)
	return &c
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
