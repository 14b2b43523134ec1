package server

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
)

// startServer runs Run with o, listening on 127.0.0.1:0 unless o.Web
// names addresses, and returns the bound address and a stop function that
// cancels Run and returns its error (the same one on every call).
func startServer(t *testing.T, o Options) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if o.Web == nil {
		o.Web = &web.FlagConfig{}
	}
	if o.Web.WebListenAddresses == nil {
		o.Web.WebListenAddresses = &[]string{"127.0.0.1:0"}
	}
	if o.Logger == nil {
		o.Logger = kfaketest.Logger(t, slog.LevelWarn)
	}
	if o.Version == "" {
		o.Version = "test"
	}
	addrc := make(chan string, 1)
	o.OnListen = func(a string) { addrc <- a }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, o) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		cancel()
		t.Fatalf("Run returned before listening: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server did not start listening")
	}
	var (
		once   sync.Once
		runErr error
	)
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				runErr = errors.New("Run did not return 30s after cancel")
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return addr, stop
}

// runServer starts Run on 127.0.0.1:0 and returns its base URL and a stop
// function that waits for Run to return; Run must return cleanly. mods
// adjust the options.
func runServer(t *testing.T, cfg *config.Config, mods ...func(*Options)) (string, func()) {
	t.Helper()
	o := Options{Config: cfg}
	for _, m := range mods {
		m(&o)
	}
	addr, stopRun := startServer(t, o)
	stop := func() {
		if err := stopRun(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return "http://" + addr, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeEndpoints(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("orders", 2)
	env.Produce("orders", 0, 7, time.Time{})
	env.Commit("billing", "orders", map[int32]int64{0: 3})

	base, stop := runServer(t, env.Config(func(c *config.Config) { c.PollInterval = time.Second }))
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	kfaketest.WaitFor(t, 30*time.Second, "/readyz to turn ready", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == 200
	})
	_, body := get(t, base+"/metrics")
	s := kfaketest.Parse(t, []byte(body))
	expect(t, s, map[string]float64{
		kfaketest.Key("klagx_up", "cluster", "test"):              1,
		gp("klagx_group_partition_lag", "billing", "orders", "0"): 4,
	})
	if !s.Has("klagx_build_info", "version", "test") {
		t.Error("klagx_build_info missing")
	}
	if !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "promhttp_metric_handler_requests_total") {
		t.Error("exporter self metrics missing")
	}
	code, st := get(t, base+"/status?group=billing")
	if code != 200 || !strings.Contains(st, `"schema": "klagx.report/v1"`) || !strings.Contains(st, `"name": "billing"`) {
		t.Errorf("/status: %d %s", code, st)
	}
	if code, body := get(t, base+"/"); code != 200 || !strings.Contains(body, "/metrics") {
		t.Errorf("landing page: %d", code)
	}
	stop()
}

// TestServeClusterDownAtStart: the process serves, says klagx_up 0 and
// not-ready, and does not crash.
func TestServeClusterDownAtStart(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	cfg := kfaketest.Config(config.DefaultCluster("down", dead), time.Second)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	base, _ := runServer(t, cfg)
	kfaketest.WaitFor(t, 30*time.Second, "a failed cycle to be published", func() bool {
		_, body := get(t, base+"/metrics")
		return strings.Contains(body, `klagx_poll_duration_seconds_count{cluster="down"}`)
	})
	_, body := get(t, base+"/metrics")
	s := kfaketest.Parse(t, []byte(body))
	expect(t, s, map[string]float64{kfaketest.Key("klagx_up", "cluster", "down"): 0})
	code, ready := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(ready, "down") {
		t.Fatalf("/readyz: %d %q", code, ready)
	}
}

// TestMetricsGzipAndCache: a gzip scrape (as Prometheus sends) decodes to
// the same series as a plain one, and repeated scrapes of one snapshot
// reuse one rendering.
func TestMetricsGzipAndCache(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("t", 2)
	env.Produce("t", 0, 5, time.Time{})
	env.Commit("g", "t", map[int32]int64{0: 1})
	p := newPipeline(t, env)
	p.poller.Cycle(context.Background())
	plain := kfaketest.Scrape(t, p.handler, "/metrics")

	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	p.handler.ServeHTTP(rec, req)
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	zipped := kfaketest.Parse(t, body)
	if len(zipped) != len(plain) || zipped[gp("klagx_group_partition_lag", "g", "t", "0")] != 4 {
		t.Fatalf("gzip scrape has %d series, plain %d", len(zipped), len(plain))
	}

	// With exporter metrics: self metrics first, klagx metrics cached.
	h := Handler(p.store, Options{Config: env.Config()})
	a := kfaketest.Scrape(t, h, "/metrics")
	if _, ok := a[kfaketest.Key("klagx_up", "cluster", "test")]; !ok {
		t.Fatal("klagx_up missing")
	}
	if !strings.Contains(strings.Join(keys(a), "\n"), "go_goroutines") {
		t.Fatal("self metrics missing")
	}
}

func keys(s kfaketest.Series) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	return out
}
