package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the whole output of a run (the --json file).
type Report struct {
	Schema    string    `json:"schema"`
	StartedAt time.Time `json:"started_at"`
	Machine   Machine   `json:"machine"`
	Options   struct {
		Brokers             int    `json:"brokers"`
		Cycles              int    `json:"cycles"`
		Scrapes             int    `json:"scrapes"`
		Concurrency         int    `json:"concurrency"`
		RecordsPerPartition int    `json:"records_per_partition"`
		Timeout             string `json:"timeout"`
		Gzip                bool   `json:"gzip"`
	} `json:"options"`
	Results []*Result `json:"results"`
}

// Machine describes where the run happened.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	GoVersion  string `json:"go_version"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemTotal   string `json:"mem_total,omitempty"`
	CPUModel   string `json:"cpu_model,omitempty"`
}

// NewReport starts a report for options o.
func NewReport(o Options) *Report {
	o.defaults()
	r := &Report{Schema: "klagx.bench/v1", StartedAt: time.Now().UTC()}
	r.Machine = Machine{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version(),
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	r.Machine.MemTotal = procField("/proc/meminfo", "MemTotal:")
	r.Machine.CPUModel = procField("/proc/cpuinfo", "model name")
	r.Options.Brokers, r.Options.Cycles = o.Brokers, o.Cycles
	r.Options.Scrapes, r.Options.Concurrency = o.Scrapes, o.Concurrency
	r.Options.RecordsPerPartition, r.Options.Timeout, r.Options.Gzip = o.RecordsPerPartition, o.Timeout.String(), o.Gzip
	return r
}

func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			_, v, _ := strings.Cut(line, ":")
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

const mib = 1 << 20

// WriteTable writes the human table, one row per size, then the requests
// by API and any errors.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "size\trows\tsetup s\twall 1st s\twall steady s\tcpu 1st s\tcpu steady s\treq 1st\treq steady\tKiB out/in steady\theap MiB\tRSS cycles MiB\tRSS +scrapes MiB\tscrape p50 s\tscrape p99 s\ttick scrape p50 s\twarm p50 s\tconc p99 s\trender cycle s (cpu)\trender tick s (cpu)\tresp MiB\tseries\t")
	for _, res := range r.Results {
		row := []string{res.Size.Name, fmt.Sprint(res.Rows), f3(res.SetupSeconds)}
		if res.First != nil {
			st := res.Steady
			if st == nil {
				st = res.First
			}
			row = append(row, f3(res.First.WallSeconds), f3(st.WallSeconds), f3(res.First.CPUSeconds), f3(st.CPUSeconds),
				fmt.Sprint(res.First.Requests), fmt.Sprint(st.Requests),
				fmt.Sprintf("%.0f/%.0f", float64(st.BytesWritten)/1024, float64(st.BytesRead)/1024),
				fmt.Sprintf("%.1f", float64(res.HeapInuseMax)/mib), fmt.Sprintf("%.1f", float64(res.PeakRSSCyclesBytes)/mib),
				fmt.Sprintf("%.1f", float64(res.PeakRSSBytes)/mib))
		} else {
			row = append(row, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-")
		}
		if sc := res.Scrape; sc != nil {
			row = append(row, f3(sc.P50Seconds), f3(sc.P99Seconds), f3(sc.TickP50Seconds), f3(sc.WarmP50Seconds), f3(sc.ConcurrentP99Seconds),
				f3(sc.RenderCycleP50Seconds)+" ("+f3(sc.RenderCycleCPUSeconds)+")", f3(sc.RenderTickP50Seconds)+" ("+f3(sc.RenderTickCPUSeconds)+")",
				fmt.Sprintf("%.1f", float64(sc.ResponseBytes)/mib), fmt.Sprint(sc.Series))
		} else {
			row = append(row, "-", "-", "-", "-", "-", "-", "-", "-", "-")
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, res := range r.Results {
		if res.First != nil {
			fmt.Fprintf(w, "%s requests by API, first cycle: %s\n", res.Size.Name, apis(res.First.RequestsByAPI))
			if res.Steady != nil {
				fmt.Fprintf(w, "%s requests by API, steady cycle: %s\n", res.Size.Name, apis(res.Steady.RequestsByAPI))
			}
		}
		if sc := res.Scrape; sc != nil {
			fmt.Fprintf(w, "%s scrapes: %d Kafka requests sent while scraping; wire %.2f MiB (gzip=%v); warm p99 %.3fs, concurrent p50 %.3fs; heap after scrapes %.1f MiB (live %.1f MiB; live after cycles %.1f MiB)\n",
				res.Size.Name, sc.KafkaRequests, float64(sc.WireBytes)/mib, sc.Gzip, sc.WarmP99Seconds, sc.ConcurrentP50Seconds, float64(res.HeapAfterScrapes)/mib, float64(res.HeapLiveAfterScrapes)/mib, float64(res.HeapLiveBytes)/mib)
		}
		if res.Error != "" {
			fmt.Fprintf(w, "%s: ERROR: %s\n", res.Size.Name, res.Error)
		}
	}
	return nil
}

// WriteBenchfmt writes the results in the Go benchmark format, for
// benchstat: one line per measurement with custom units.
func (r *Report) WriteBenchfmt(w io.Writer) error {
	fmt.Fprintf(w, "goos: %s\ngoarch: %s\npkg: github.com/klagx/klagx/bench\n", r.Machine.GOOS, r.Machine.GOARCH)
	if r.Machine.CPUModel != "" {
		fmt.Fprintf(w, "cpu: %s\n", r.Machine.CPUModel)
	}
	for _, res := range r.Results {
		name := fmt.Sprintf("rows=%d", res.Rows)
		if res.First != nil {
			line(w, "BenchmarkCycleFirst/"+name, 1, res.First)
		}
		if res.Steady != nil {
			line(w, "BenchmarkCycleSteady/"+name, len(res.Cycles)-1, res.Steady)
		}
		if res.First != nil {
			fmt.Fprintf(w, "BenchmarkMemory/%s-%d\t1\t%d heap-B\t%d cycles-peak-rss-B\t%d peak-rss-B\n", name, r.Machine.GOMAXPROCS, res.HeapInuseMax, res.PeakRSSCyclesBytes, res.PeakRSSBytes)
		}
		if sc := res.Scrape; sc != nil {
			fmt.Fprintf(w, "BenchmarkScrape/%s-%d\t%d\t%.0f ns/op\t%.0f p50-ns\t%.0f p99-ns\t%d resp-B\t%d series\n",
				name, r.Machine.GOMAXPROCS, r.Options.Scrapes, sc.MeanSeconds*1e9, sc.P50Seconds*1e9, sc.P99Seconds*1e9, sc.ResponseBytes, sc.Series)
			fmt.Fprintf(w, "BenchmarkScrapeTick/%s-%d\t%d\t%.0f p50-ns\t%.0f p99-ns\n",
				name, r.Machine.GOMAXPROCS, r.Options.Scrapes, sc.TickP50Seconds*1e9, sc.TickP99Seconds*1e9)
			fmt.Fprintf(w, "BenchmarkRender/%s-%d\t%d\t%.0f cycle-p50-ns\t%.0f cycle-cpu-ns\t%.0f tick-p50-ns\t%.0f tick-cpu-ns\n",
				name, r.Machine.GOMAXPROCS, r.Options.Scrapes, sc.RenderCycleP50Seconds*1e9, sc.RenderCycleCPUSeconds*1e9, sc.RenderTickP50Seconds*1e9, sc.RenderTickCPUSeconds*1e9)
			fmt.Fprintf(w, "BenchmarkScrapeWarm/%s-%d\t%d\t%.0f p50-ns\t%.0f p99-ns\n",
				name, r.Machine.GOMAXPROCS, r.Options.Scrapes, sc.WarmP50Seconds*1e9, sc.WarmP99Seconds*1e9)
			fmt.Fprintf(w, "BenchmarkScrapeConcurrent/%s-%d\t%d\t%.0f p50-ns\t%.0f p99-ns\n",
				name, r.Machine.GOMAXPROCS, r.Options.Concurrency, sc.ConcurrentP50Seconds*1e9, sc.ConcurrentP99Seconds*1e9)
		}
	}
	return nil
}

func line(w io.Writer, name string, n int, c *Cycle) {
	fmt.Fprintf(w, "%s-%d\t%d\t%.0f ns/op\t%.0f cpu-ns/op\t%d requests/op\t%d wire-out-B/op\t%d wire-in-B/op\n",
		name, runtime.GOMAXPROCS(0), n, c.WallSeconds*1e9, c.CPUSeconds*1e9, c.Requests, c.BytesWritten, c.BytesRead)
}

func apis(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

func f3(f float64) string { return fmt.Sprintf("%.3f", f) }
