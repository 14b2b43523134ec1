// Command klagx-bench measures klagx at scale: for each size it starts a
// 3-broker kfake cluster in a child process (this binary re-executed with
// --kfake), commits offsets for many groups, runs poll cycles of the real
// poller and scrapes the real /metrics handler, and prints per-cycle CPU,
// wall time, Kafka requests, memory and scrape latency.
//
//	go run ./bench/cmd/klagx-bench --sizes=10k,100k --json bench.json
//
// A size that does not finish within --timeout is reported as such and the
// run goes on with the next size; the exit status is 0 unless a size failed
// for another reason (1) or the flags are wrong (2).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/klagx/klagx/bench"
)

func main() {
	if bench.IsChild(os.Args[1:]) {
		if err := bench.RunChild(os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "klagx-bench --kfake:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(run())
}

func run() int {
	var (
		sizes     = flag.String("sizes", "10k,100k", "comma-separated sizes: 10k, 100k, 1m, tiny, or groups/topics/partitions/topicsPerGroup")
		cycles    = flag.Int("cycles", 3, "poll cycles per size (the first includes the time-lag lookups after start)")
		scrapes   = flag.Int("scrapes", 20, "sequential /metrics scrapes per size")
		conc      = flag.Int("concurrency", 20, "concurrent /metrics scrapes per size")
		brokers   = flag.Int("brokers", 3, "kfake brokers")
		records   = flag.Int("records", 3, "records produced per partition")
		workers   = flag.Int("workers", 16, "concurrent commits during setup")
		timeout   = flag.Duration("timeout", 10*time.Minute, "time limit of one size, setup included")
		gzip      = flag.Bool("gzip", true, "scrape with Accept-Encoding: gzip, as Prometheus does")
		jsonOut   = flag.String("json", "", "also write the results as JSON to this file")
		benchOut  = flag.String("benchfmt", "", "also write the results in Go benchmark format (for benchstat) to this file; - for stdout")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the poll cycles of the first size to this file")
		allFams   = flag.Bool("all-metrics", false, "serve every metric family (--metric-opt-in-list='.*') instead of the defaults")
		noScrape  = flag.Bool("cycles-only", false, "skip the /metrics scrapes (sizes whose rendering does not fit in memory)")
		verbose   = flag.Bool("v", false, "log the poller's warnings and errors to stderr")
		churn     = flag.Int("churn-cycles", 1000, "after the sizes, a soak of this many poll cycles creating and deleting a group and a topic each cycle, reporting the live heap (0 skips it)")
		_         = flag.Bool("kfake", false, "internal: run as the kfake child process")
		startedAt = time.Now()
	)
	flag.Parse()
	if *cycles < 1 || *scrapes < 1 || *conc < 1 || *brokers < 1 || *records < 1 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "klagx-bench: --cycles, --scrapes, --concurrency, --brokers, --records and --workers must be >= 1")
		return 2
	}
	sz, err := bench.ParseSizes(*sizes)
	if err != nil {
		fmt.Fprintln(os.Stderr, "klagx-bench:", err)
		return 2
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "klagx-bench:", err)
		return 1
	}
	opts := bench.Options{
		Exe: exe, Brokers: *brokers, Cycles: *cycles, Scrapes: *scrapes, Concurrency: *conc,
		RecordsPerPartition: *records, Workers: *workers, Timeout: *timeout, Gzip: *gzip,
		SkipScrapes: *noScrape, AllMetrics: *allFams,
		Progress: os.Stderr,
	}
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintln(os.Stderr, "klagx-bench:", err)
			return 1
		}
		defer f.Close()
		opts.CPUProfile = f
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	rep := bench.NewReport(opts)
	status := 0
	for _, s := range sz {
		if ctx.Err() != nil {
			break
		}
		res := bench.Run(ctx, s, opts)
		opts.CPUProfile = nil // the first size only
		rep.Results = append(rep.Results, res)
		switch {
		case res.TimedOut:
			fmt.Fprintf(os.Stderr, "[%s] TIMEOUT: %s\n", s.Name, res.Error)
		case res.Error != "":
			fmt.Fprintf(os.Stderr, "[%s] FAILED: %s\n", s.Name, res.Error)
			status = 1
		}
	}
	var churnRes *bench.ChurnResult
	if *churn > 0 && ctx.Err() == nil {
		churnRes = bench.Churn(ctx, *churn, 50, 5, opts)
		if churnRes.Error != "" {
			fmt.Fprintf(os.Stderr, "[churn] FAILED: %s\n", churnRes.Error)
			status = 1
		}
	}
	fmt.Println()
	if churnRes != nil && churnRes.Error == "" {
		n := churnRes.Cycles
		fmt.Printf("churn soak: %d cycles, a group and a topic created and deleted per cycle: live heap %.1f MiB at cycle %d, %.1f at %d, %.1f at %d; goroutines %d → %d; %d groups exported at the end; %.0fs\n\n",
			n, churnRes.LiveHeapMiB[n/10], n/10, churnRes.LiveHeapMiB[n/2], n/2, churnRes.LiveHeapMiB[n], n,
			churnRes.Goroutines[n/10], churnRes.Goroutines[n], churnRes.GroupsExported, churnRes.Seconds)
	}
	if err := rep.WriteTable(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "klagx-bench:", err)
		status = 1
	}
	if *jsonOut != "" {
		if err := writeFile(*jsonOut, rep.WriteJSON); err != nil {
			fmt.Fprintln(os.Stderr, "klagx-bench:", err)
			status = 1
		}
	}
	if *benchOut != "" {
		if err := writeFile(*benchOut, rep.WriteBenchfmt); err != nil {
			fmt.Fprintln(os.Stderr, "klagx-bench:", err)
			status = 1
		}
	}
	fmt.Fprintf(os.Stderr, "total %.1fs\n", time.Since(startedAt).Seconds())
	return status
}

func writeFile(name string, write func(io.Writer) error) error {
	if name == "-" {
		return write(os.Stdout)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
