// Package bench is the scale benchmark harness of klagx (issue
// "Performance at scale"): it runs the real poller and /metrics handler
// against a kfake cluster in a child process, so that what is measured (CPU,
// memory, Kafka requests, scrape latency) is the exporter side alone.
//
// The command is bench/cmd/klagx-bench; TestHarness runs a tiny size
// through the same code path so that the harness cannot rot.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/collector"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/snapshot"
)

// Size is one benchmark shape: Groups consumer groups, each committed on
// every partition of TopicsPerGroup topics, out of Topics topics of
// Partitions partitions. Rows (group × partition series) is
// Groups × TopicsPerGroup × Partitions.
type Size struct {
	Name           string `json:"name"`
	Groups         int    `json:"groups"`
	Topics         int    `json:"topics"`
	Partitions     int    `json:"partitions_per_topic"`
	TopicsPerGroup int    `json:"topics_per_group"`
}

// Rows is the number of group partitions (lag rows) of the size.
func (s Size) Rows() int { return s.Groups * s.TopicsPerGroup * s.Partitions }

// GroupTopics returns the topic indexes group g commits on.
func (s Size) GroupTopics(g int) []int {
	out := make([]int, s.TopicsPerGroup)
	for k := range out {
		out[k] = (g*s.TopicsPerGroup + k) % s.Topics
	}
	return out
}

// Named sizes of the issue.
var Sizes = map[string]Size{
	// 1,000 groups × 10 partitions: 100 topics × 10 partitions, each group
	// on one topic.
	"10k": {Name: "10k", Groups: 1000, Topics: 100, Partitions: 10, TopicsPerGroup: 1},
	// 500 groups × 200 partitions: 200 topics × 50 partitions, each group
	// on 4 topics.
	"100k": {Name: "100k", Groups: 500, Topics: 200, Partitions: 50, TopicsPerGroup: 4},
	// 5,000 groups × 200 partitions over 1,000 topics × 50 partitions.
	"1m": {Name: "1m", Groups: 5000, Topics: 1000, Partitions: 50, TopicsPerGroup: 4},
	// 20 groups × 5 partitions, for the test.
	"tiny": {Name: "tiny", Groups: 20, Topics: 4, Partitions: 5, TopicsPerGroup: 1},
}

// ParseSizes parses a comma-separated list of named sizes (10k, 100k, 1m,
// tiny) or custom ones written groups/topics/partitions/topicsPerGroup.
func ParseSizes(s string) ([]Size, error) {
	var out []Size
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		if f == "" {
			continue
		}
		if sz, ok := Sizes[f]; ok {
			out = append(out, sz)
			continue
		}
		parts := strings.Split(f, "/")
		if len(parts) != 4 {
			return nil, fmt.Errorf("size %q: want one of 10k, 100k, 1m, tiny or groups/topics/partitions/topicsPerGroup", f)
		}
		var n [4]int
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v < 1 {
				return nil, fmt.Errorf("size %q: %q is not a positive integer", f, p)
			}
			n[i] = v
		}
		if n[3] > n[1] {
			return nil, fmt.Errorf("size %q: topicsPerGroup %d > topics %d", f, n[3], n[1])
		}
		out = append(out, Size{Name: f, Groups: n[0], Topics: n[1], Partitions: n[2], TopicsPerGroup: n[3]})
	}
	if len(out) == 0 {
		return nil, errors.New("no sizes")
	}
	return out, nil
}

// Options configure a run.
type Options struct {
	// Exe is the binary re-executed with ChildFlag for the kfake child.
	Exe     string
	Brokers int
	// Cycles is the number of poll cycles (the first one includes the
	// time-lag lookups right after start); at least 2 for a steady state.
	Cycles int
	// Scrapes sequential scrapes, then Concurrency scrapes at once.
	Scrapes, Concurrency int
	// RecordsPerPartition produced before the cycles (lag > 0).
	RecordsPerPartition int
	// Workers bound the concurrent setup commits.
	Workers int
	// Timeout bounds one size, setup included.
	Timeout time.Duration
	// SkipScrapes measures the poll cycles only (memory-bound sizes).
	SkipScrapes bool
	// Gzip asks for a gzip-encoded exposition, as Prometheus does.
	Gzip bool
	// CPUProfile, if set, receives a CPU profile of the poll cycles.
	CPUProfile io.Writer
	// AllMetrics serves every metric family (--metric-opt-in-list='.*')
	// instead of the defaults.
	AllMetrics bool
	// Progress receives progress lines (nil: none).
	Progress io.Writer
	// Logger for the poller (nil: warnings and errors to nowhere).
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Brokers == 0 {
		o.Brokers = 3
	}
	if o.Cycles == 0 {
		o.Cycles = 3
	}
	if o.Scrapes == 0 {
		o.Scrapes = 20
	}
	if o.Concurrency == 0 {
		o.Concurrency = 20
	}
	if o.RecordsPerPartition == 0 {
		o.RecordsPerPartition = 3
	}
	if o.Workers == 0 {
		o.Workers = 16
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Cycle is the cost of one poll cycle (or the mean of several).
type Cycle struct {
	WallSeconds   float64           `json:"wall_seconds"`
	CPUSeconds    float64           `json:"cpu_seconds"`
	Requests      uint64            `json:"requests"`
	RequestsByAPI map[string]uint64 `json:"requests_by_api"`
	BytesWritten  uint64            `json:"bytes_written"`
	BytesRead     uint64            `json:"bytes_read"`
	// HeapInuseBytes is runtime.MemStats.HeapInuse right after the cycle.
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"`
	// Rows is the number of group partitions in the published snapshot.
	Rows int `json:"rows"`
	// Errors is the number of per-stage errors the cycle met.
	Errors int `json:"errors"`
}

// Scrape is the cost of /metrics.
type Scrape struct {
	// P50, P99 and Mean are of sequential scrapes each right after a poll
	// cycle (cold: the normal case, about one scrape per poll interval);
	// Tick* each right after a group-state tick.
	P50Seconds     float64 `json:"p50_seconds"`
	P99Seconds     float64 `json:"p99_seconds"`
	MeanSeconds    float64 `json:"mean_seconds"`
	TickP50Seconds float64 `json:"tick_p50_seconds"`
	TickP99Seconds float64 `json:"tick_p99_seconds"`
	// Render* are the cost of rendering on publish (in the poller's
	// goroutine, part of its cycle or tick) a cycle's and a tick's
	// snapshot: p50 wall and mean process CPU.
	RenderCycleP50Seconds float64 `json:"render_cycle_p50_seconds"`
	RenderCycleCPUSeconds float64 `json:"render_cycle_cpu_seconds"`
	RenderTickP50Seconds  float64 `json:"render_tick_p50_seconds"`
	RenderTickCPUSeconds  float64 `json:"render_tick_cpu_seconds"`
	// Warm scrapes read a snapshot already scraped.
	WarmP50Seconds float64 `json:"warm_p50_seconds"`
	WarmP99Seconds float64 `json:"warm_p99_seconds"`
	// Concurrent scrapes all start at once on a new snapshot.
	ConcurrentP50Seconds float64 `json:"concurrent_p50_seconds"`
	ConcurrentP99Seconds float64 `json:"concurrent_p99_seconds"`
	// ResponseBytes is the uncompressed exposition; WireBytes what was
	// sent (gzip when Options.Gzip).
	ResponseBytes int  `json:"response_bytes"`
	WireBytes     int  `json:"wire_bytes"`
	Gzip          bool `json:"gzip"`
	Series        int  `json:"series"`
	// KafkaRequests sent while scraping; must be 0.
	KafkaRequests uint64 `json:"kafka_requests"`
}

// Result is the measurement of one size.
type Result struct {
	Size         Size    `json:"size"`
	Rows         int     `json:"rows"`
	SetupSeconds float64 `json:"setup_seconds"`
	// Cycles are every cycle in order; First is Cycles[0], Steady the
	// mean of the others.
	Cycles []Cycle `json:"cycles"`
	First  *Cycle  `json:"first,omitempty"`
	Steady *Cycle  `json:"steady,omitempty"`
	// PeakRSSBytes is the peak resident set of the process from the end
	// of setup to the end of the scrapes (VmHWM after a reset on Linux;
	// getrusage Maxrss since start elsewhere).
	PeakRSSBytes uint64 `json:"peak_rss_bytes"`
	// PeakRSSCyclesBytes is the same peak before the scrapes: polling
	// alone.
	PeakRSSCyclesBytes uint64 `json:"peak_rss_cycles_bytes"`
	PeakRSSReset       bool   `json:"peak_rss_reset"`
	// HeapInuseMax is the largest HeapInuse after a cycle;
	// HeapAfterScrapes is HeapInuse after the scrapes.
	HeapInuseMax     uint64 `json:"heap_inuse_max_bytes"`
	HeapAfterScrapes uint64 `json:"heap_after_scrapes_bytes"`
	// HeapLiveBytes and HeapLiveAfterScrapes are HeapInuse right after a
	// forced GC (the retained state): after the cycles, and after the
	// scrapes (with the scrape caches).
	HeapLiveBytes        uint64  `json:"heap_live_bytes"`
	HeapLiveAfterScrapes uint64  `json:"heap_live_after_scrapes_bytes"`
	Scrape               *Scrape `json:"scrape,omitempty"`
	TotalSeconds         float64 `json:"total_seconds"`
	Error                string  `json:"error,omitempty"`
	TimedOut             bool    `json:"timed_out,omitempty"`
	FailedAtStage        string  `json:"failed_at_stage,omitempty"`
}

// Run measures one size. It always returns a Result; Error and TimedOut
// say whether it is complete.
func Run(ctx context.Context, sz Size, o Options) *Result {
	o.defaults()
	res := &Result{Size: sz, Rows: sz.Rows()}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	stage := "start kfake"
	fail := func(err error) *Result {
		res.Error = err.Error()
		res.FailedAtStage = stage
		if ctx.Err() != nil {
			res.TimedOut = true
			res.Error = fmt.Sprintf("did not finish within --timeout=%s (at stage %q): %v", o.Timeout, stage, err)
		}
		res.TotalSeconds = time.Since(start).Seconds()
		return res
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(o.Progress, "[%s %6.1fs] %s\n", sz.Name, time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	progress("starting kfake child: %d brokers, %d topics × %d partitions", o.Brokers, sz.Topics, sz.Partitions)
	child, err := StartChild(ctx, o.Exe, o.Brokers, sz.Topics, sz.Partitions)
	if err != nil {
		return fail(err)
	}
	defer child.Stop()

	stage = "setup"
	setupStart := time.Now()
	if err := setup(ctx, child.Addrs, sz, o, progress); err != nil {
		return fail(err)
	}
	res.SetupSeconds = time.Since(setupStart).Seconds()
	progress("setup done in %.1fs", res.SetupSeconds)

	// Setup garbage is not the exporter's.
	runtime.GC()
	debug.FreeOSMemory()
	res.PeakRSSReset = resetPeakRSS()

	stage = "poll cycles"
	cfg := config.Default()
	cfg.Clusters, cfg.PollInterval = []config.Cluster{config.DefaultCluster("bench", child.Addrs...)}, 60*time.Second
	if o.AllMetrics {
		cfg.Metrics.OptIn = []string{".*"}
	}
	if err := cfg.Validate(); err != nil {
		return fail(err)
	}
	store := snapshot.NewStore("bench")
	p, err := poller.New(cfg, cfg.Clusters[0], store, o.Logger)
	if err != nil {
		return fail(err)
	}
	defer p.Close()
	p.Quiet()
	coll := p.Collector()
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return fail(err)
		}
	}
	for i := 0; i < o.Cycles; i++ {
		beforeReq := requestMap(coll.Requests())
		bw, br := coll.BytesWritten(), coll.BytesRead()
		cpu0 := cpuTime()
		t0 := time.Now()
		cl, obs := p.Cycle(ctx)
		wall := time.Since(t0)
		cpu := cpuTime() - cpu0
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		c := Cycle{
			WallSeconds:    wall.Seconds(),
			CPUSeconds:     cpu.Seconds(),
			RequestsByAPI:  deltaMap(beforeReq, requestMap(coll.Requests())),
			BytesWritten:   coll.BytesWritten() - bw,
			BytesRead:      coll.BytesRead() - br,
			HeapInuseBytes: ms.HeapInuse,
			Errors:         len(obs.Errors),
		}
		for _, v := range c.RequestsByAPI {
			c.Requests += v
		}
		for _, g := range cl.Groups {
			c.Rows += len(g.Partitions)
		}
		res.HeapInuseMax = max(res.HeapInuseMax, ms.HeapInuse)
		res.Cycles = append(res.Cycles, c)
		progress("cycle %d: wall %.3fs cpu %.3fs, %d requests, %d rows, %d errors", i+1, c.WallSeconds, c.CPUSeconds, c.Requests, c.Rows, c.Errors)
		if obs.Err != nil {
			return fail(fmt.Errorf("cycle %d failed: %w", i+1, obs.Err))
		}
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
	}
	if o.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	res.First = &res.Cycles[0]
	if len(res.Cycles) > 1 {
		res.Steady = mean(res.Cycles[1:])
	}
	if got := res.Cycles[len(res.Cycles)-1].Rows; got != res.Rows {
		res.Error = fmt.Sprintf("snapshot has %d group partitions, want %d", got, res.Rows)
	}

	res.PeakRSSCyclesBytes = peakRSS()
	res.HeapLiveBytes = liveHeap()
	if o.SkipScrapes {
		res.PeakRSSBytes = res.PeakRSSCyclesBytes
		res.TotalSeconds = time.Since(start).Seconds()
		return res
	}
	stage = "scrapes"
	sc, err := scrapes(ctx, p, store, cfg, o, func() uint64 { return total(coll.Requests()) })
	if err != nil {
		return fail(err)
	}
	res.Scrape = sc
	progress("scrapes: cold p50 %.3fs p99 %.3fs, tick p50 %.3fs, warm p50 %.3fs, concurrent p99 %.3fs, %d series, %.1f MiB; render on publish: cycle %.3fs (cpu %.3fs), tick %.3fs (cpu %.3fs)",
		sc.P50Seconds, sc.P99Seconds, sc.TickP50Seconds, sc.WarmP50Seconds, sc.ConcurrentP99Seconds, sc.Series, float64(sc.ResponseBytes)/(1<<20),
		sc.RenderCycleP50Seconds, sc.RenderCycleCPUSeconds, sc.RenderTickP50Seconds, sc.RenderTickCPUSeconds)
	if sc.KafkaRequests != 0 {
		res.Error = fmt.Sprintf("scrapes sent %d Kafka requests; a scrape must send none", sc.KafkaRequests)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapAfterScrapes = ms.HeapInuse
	res.PeakRSSBytes = peakRSS()
	res.HeapLiveAfterScrapes = liveHeap()
	res.TotalSeconds = time.Since(start).Seconds()
	return res
}

// setup produces RecordsPerPartition records to every partition (spread
// over the last minutes) and commits, for every group, an offset on every
// partition of its topics in one OffsetCommit, groups in parallel.
func setup(ctx context.Context, addrs []string, sz Size, o Options, progress func(string, ...any)) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addrs...),
		kgo.DefaultProduceTopic(""),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.LeaderAck()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.MaxBufferedRecords(1<<20),
		kgo.ProducerBatchMaxBytes(4<<20),
		kgo.BrokerMaxWriteBytes(64<<20),
	)
	if err != nil {
		return err
	}
	defer cl.Close()

	// Records: R per partition, one every 30s ending now, so that the
	// time lag of a committed offset is a real number of seconds.
	now := time.Now()
	r := o.RecordsPerPartition
	const batch = 50_000
	recs := make([]*kgo.Record, 0, batch)
	produced := 0
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		produced += len(recs)
		recs = recs[:0]
		return nil
	}
	value := []byte("klagx-bench")
	for t := 0; t < sz.Topics; t++ {
		topic := TopicName(t)
		for p := 0; p < sz.Partitions; p++ {
			for i := 0; i < r; i++ {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(p), Value: value,
					Timestamp: now.Add(-time.Duration(r-i) * 30 * time.Second)})
			}
			if len(recs) >= batch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	progress("produced %d records", produced)

	adm := kadm.NewClient(cl)
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		errOnce    sync.Once
		firstErr   error
	)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				g := int(next.Add(1) - 1)
				if g >= sz.Groups || cctx.Err() != nil {
					return
				}
				offs := make(kadm.Offsets)
				// Committed offsets 0..R-1 by group: lag 1..R.
				at := int64(g % r)
				for _, t := range sz.GroupTopics(g) {
					for p := 0; p < sz.Partitions; p++ {
						offs.AddOffset(TopicName(t), int32(p), at, -1)
					}
				}
				resp, err := adm.CommitOffsets(cctx, GroupName(g), offs)
				if err == nil {
					err = resp.Error()
				}
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("commit %s: %w", GroupName(g), err); cancel() })
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("committed %d of %d groups: %w", done.Load(), sz.Groups, ctx.Err())
		}
		return firstErr
	}
	progress("committed %d groups", done.Load())
	return nil
}

// liveHeap returns HeapInuse after a forced GC.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func requestMap(rs []collector.RequestCount) map[string]uint64 {
	m := make(map[string]uint64, len(rs))
	for _, r := range rs {
		m[r.API] = r.Count
	}
	return m
}

func total(rs []collector.RequestCount) uint64 {
	var n uint64
	for _, r := range rs {
		n += r.Count
	}
	return n
}

func deltaMap(before, after map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func mean(cs []Cycle) *Cycle {
	m := &Cycle{RequestsByAPI: map[string]uint64{}}
	n := float64(len(cs))
	var req, bw, br, heap, rows, errs float64
	byAPI := map[string]float64{}
	for _, c := range cs {
		m.WallSeconds += c.WallSeconds / n
		m.CPUSeconds += c.CPUSeconds / n
		req += float64(c.Requests)
		bw += float64(c.BytesWritten)
		br += float64(c.BytesRead)
		heap += float64(c.HeapInuseBytes)
		rows += float64(c.Rows)
		errs += float64(c.Errors)
		for k, v := range c.RequestsByAPI {
			byAPI[k] += float64(v)
		}
	}
	round := func(f float64) uint64 { return uint64(f/n + 0.5) }
	m.Requests, m.BytesWritten, m.BytesRead, m.HeapInuseBytes = round(req), round(bw), round(br), round(heap)
	m.Rows, m.Errors = int(round(rows)), int(round(errs))
	for k, v := range byAPI {
		m.RequestsByAPI[k] = round(v)
	}
	return m
}

// percentile returns the nearest-rank percentile q (0..1) of ds.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
