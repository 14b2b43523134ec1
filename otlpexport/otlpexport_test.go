package otlpexport_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/otlpexport"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/server"
	"github.com/klagx/klagx/snapshot"
)

// lagEnv is a kfake cluster with a lagging group: orders has 2 partitions,
// billing committed 3 of 7 on partition 0 and nothing on partition 1.
func lagEnv(t *testing.T) *kfaketest.Env {
	env := kfaketest.New(t, 3)
	env.CreateTopic("orders", 2)
	env.Produce("orders", 0, 7, time.Time{})
	env.Produce("orders", 1, 2, time.Time{})
	env.Commit("billing", "orders", map[int32]int64{0: 3})
	return env
}

// TestMetricsEqualScrape: every klagx series received over OTLP has the
// value /metrics shows for the same snapshot, and the other way round, over
// OTLP/HTTP and OTLP/gRPC.
func TestMetricsEqualScrape(t *testing.T) {
	for _, proto := range []string{"http", "grpc"} {
		t.Run(proto, func(t *testing.T) {
			env := lagEnv(t)
			cfg := env.Config()
			store := snapshot.NewStore("test")
			p, err := poller.New(cfg, cfg.Clusters[0], store, kfaketest.Logger(t, slog.LevelWarn))
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ctx := env.Ctx(30 * time.Second)
			p.Cycle(ctx)
			p.Cycle(ctx) // counters and the duration histogram past their first values

			var rcv *receiver
			var endpoint string
			if proto == "http" {
				rcv, endpoint = newHTTPReceiver(t)
			} else {
				rcv, endpoint = newGRPCReceiver(t)
			}
			opts := server.Options{Config: cfg, Version: "v-test", DisableExporterMetrics: true}
			reg := server.Renderer(store, opts)
			exp, err := otlpexport.New(ctx, otlpexport.Config{
				Endpoint: endpoint, Interval: time.Hour, ServiceVersion: "v-test",
				Headers: []string{"X-Test=yes"},
			}, reg, kfaketest.Logger(t, slog.LevelInfo))
			if err != nil {
				t.Fatal(err)
			}
			defer exp.Shutdown(context.Background())
			if err := exp.ForceFlush(ctx); err != nil {
				t.Fatal(err)
			}
			got, res := rcv.lastMetrics(t)
			want := kfaketest.Scrape(t, server.HandlerFor(reg, store, opts), "/metrics")

			for _, k := range []string{
				kfaketest.Key("klagx_up", "cluster", "test"),
				kfaketest.Key("klagx_group_lag", "cluster", "test", "group", "billing"),
				kfaketest.Key("klagx_group_partition_lag", "cluster", "test", "group", "billing", "topic", "orders", "partition", "0"),
				kfaketest.Key("klagx_group_partition_lag", "cluster", "test", "group", "billing", "topic", "orders", "partition", "1"),
				kfaketest.Key("klagx_kafka_requests_total", "api", "ListGroups", "cluster", "test"),
				kfaketest.Key("klagx_poll_duration_seconds_count", "cluster", "test"),
			} {
				if _, ok := want[k]; !ok {
					t.Errorf("/metrics lacks %s", k)
				}
				if _, ok := got[k]; !ok {
					t.Errorf("OTLP lacks %s", k)
				}
			}
			if v := got[kfaketest.Key("klagx_group_partition_lag", "cluster", "test", "group", "billing", "topic", "orders", "partition", "0")]; v != 4 {
				t.Errorf("OTLP partition lag = %v, want 4", v)
			}
			if v := got[kfaketest.Key("klagx_poll_duration_seconds_count", "cluster", "test")]; v != 2 {
				t.Errorf("OTLP poll duration count = %v, want 2", v)
			}
			for k, w := range want {
				g, ok := got[k]
				if !ok {
					t.Errorf("OTLP lacks %s (= %v on /metrics)", k, w)
				} else if g != w && !(math.IsNaN(g) && math.IsNaN(w)) {
					t.Errorf("%s: OTLP %v, /metrics %v", k, g, w)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("OTLP has %s, /metrics does not", k)
				}
				if strings.HasPrefix(k, "go_") || strings.HasPrefix(k, "process_") {
					t.Errorf("self metric %s exported over OTLP", k)
				}
			}
			if res["service.name"] != "klagx" || res["service.version"] != "v-test" {
				t.Errorf("resource = %v", res)
			}
			if proto == "http" {
				rcv.mu.Lock()
				if h := rcv.headers[len(rcv.headers)-1].Get("X-Test"); h != "yes" {
					t.Errorf("header X-Test = %q", h)
				}
				rcv.mu.Unlock()
			}
			t.Logf("%d series compared", len(want))
		})
	}
}

// TestRebalanceSpan: a second consumer joining a group on kfake produces a
// klagx.rebalance span with the group and one joined member, and poll
// cycles produce klagx.poll_cycle spans with their stage children.
func TestRebalanceSpan(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "klagx-env")
	env := kfaketest.New(t, 3)
	env.CreateTopic("work", 4)
	cfg := env.Config(func(c *config.Config) {
		c.PollInterval = time.Second
		c.GroupPollInterval = 100 * time.Millisecond
	})
	store := snapshot.NewStore("test")
	p, err := poller.New(cfg, cfg.Clusters[0], store, kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	rcv, endpoint := newHTTPReceiver(t)
	exp, err := otlpexport.New(context.Background(), otlpexport.Config{Endpoint: endpoint, Interval: time.Hour, Traces: true},
		server.Renderer(store, server.Options{Config: cfg}), kfaketest.Logger(t, slog.LevelInfo))
	if err != nil {
		t.Fatal(err)
	}
	p.SetTracer(otlpexport.NewPollTracer(exp.Tracer(), "test", p.Collector()))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Run(ctx) }()
	defer func() { cancel(); wg.Wait(); p.Close(); _ = exp.Shutdown(context.Background()) }()

	consume := func() {
		cl := env.Consumer("g", []string{"work"}, kgo.Balancers(kgo.RangeBalancer()))
		go func() {
			for !cl.PollFetches(context.Background()).IsClientClosed() {
			}
		}()
	}
	settled := func(n int) func() bool {
		return func() bool {
			gi := env.Cluster.GroupInfo("g")
			if gi == nil || len(gi.Members) != n || gi.State != "Stable" || gi.NumAssigned() != 4 {
				return false
			}
			g := store.Load().Cluster("test").Group("g")
			return g != nil && g.Members == n && !g.RebalanceInProgress && g.State == "Stable"
		}
	}
	consume()
	kfaketest.WaitFor(t, 30*time.Second, "one member settled", settled(1))
	consume()
	kfaketest.WaitFor(t, 30*time.Second, "two members settled", settled(2))

	var found map[string]string
	kfaketest.WaitFor(t, 30*time.Second, "a klagx.rebalance span with one joined member", func() bool {
		if err := exp.ForceFlush(context.Background()); err != nil {
			t.Logf("flush: %v", err)
		}
		for _, s := range rcv.spans() {
			a := attrs(s.GetAttributes())
			if s.GetName() == "klagx.rebalance" && a["group"] == "g" && a["joined"] == "1" && a["members_after"] == "2" {
				if s.GetEndTimeUnixNano() < s.GetStartTimeUnixNano() {
					t.Errorf("rebalance span ends before it starts")
				}
				found = a
				return true
			}
		}
		return false
	})
	for k, want := range map[string]string{"cluster": "test", "kind": "classic", "members_before": "1", "left": "0"} {
		if found[k] != want {
			t.Errorf("rebalance span %s = %q, want %q (%v)", k, found[k], want, found)
		}
	}
	if n := found["rebalances"]; n == "" || n == "0" {
		t.Errorf("rebalance span rebalances = %q", n)
	}
	if _, ok := found["exact_count"]; !ok {
		t.Errorf("rebalance span lacks exact_count: %v", found)
	}

	// Poll cycles: a root span with a child per stage.
	byID := map[string]string{}
	var cycle map[string]string
	var cycleID string
	for _, s := range rcv.spans() {
		byID[string(s.GetSpanId())] = s.GetName()
		if s.GetName() == "klagx.poll_cycle" && cycle == nil {
			cycle, cycleID = attrs(s.GetAttributes()), string(s.GetSpanId())
		}
	}
	if cycle == nil || cycle["cluster"] != "test" || cycle["up"] != "true" || cycle["groups"] == "" || cycle["topics"] == "" {
		t.Fatalf("poll cycle span = %v", cycle)
	}
	var collect map[string]string
	var collectID string
	for _, s := range rcv.spans() {
		if s.GetName() == "klagx.poll.collect" && string(s.GetParentSpanId()) == cycleID {
			collect, collectID = attrs(s.GetAttributes()), string(s.GetSpanId())
		}
	}
	if collect == nil || collect["requests"] == "0" || !strings.Contains(collect["requests_by_api"], "ListGroups=") {
		t.Errorf("collect span of the first cycle = %v", collect)
	}
	// One child span per Kafka API batch, with requests and bytes.
	batches := map[string]map[string]string{}
	for _, s := range rcv.spans() {
		if string(s.GetParentSpanId()) == collectID {
			batches[s.GetName()] = attrs(s.GetAttributes())
		}
	}
	for _, name := range []string{"klagx.kafka.list_groups", "klagx.kafka.describe_groups", "klagx.kafka.offset_fetch", "klagx.kafka.list_offsets"} {
		b, ok := batches[name]
		if !ok {
			t.Errorf("no %s span under klagx.poll.collect (got %v)", name, batches)
			continue
		}
		if b["requests"] == "" || b["bytes_written"] == "" || b["bytes_read"] == "" || b["errors"] == "" {
			t.Errorf("%s span attributes = %v", name, b)
		}
		// The cycle may have no group to describe yet, but it always
		// lists groups and offsets.
		if (name == "klagx.kafka.list_groups" || name == "klagx.kafka.list_offsets") && (b["requests"] == "0" || b["bytes_written"] == "0") {
			t.Errorf("%s span sent nothing: %v", name, b)
		}
	}
	rcv.mu.Lock()
	res := attrs(rcv.traces[0].GetResourceSpans()[0].GetResource().GetAttributes())
	rcv.mu.Unlock()
	if res["service.name"] != "klagx-env" {
		t.Errorf("OTEL_SERVICE_NAME not honoured: resource %v", res)
	}
}

// syncBuffer is a concurrency-safe output sink.
type syncBuffer = kfaketest.SyncBuffer

// TestUnreachableCollector: with the collector's port closed, Run keeps
// polling and serving fresh /metrics, logs the export failures, and
// returns within the shutdown bound.
func TestUnreachableCollector(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	env := lagEnv(t)
	cfg := env.Config(func(c *config.Config) { c.PollInterval = time.Second })
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	defer func() {
		if t.Failed() {
			t.Logf("logs:\n%s", logs.String())
		}
	}()
	addrs := []string{"127.0.0.1:0"}
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- server.Run(ctx, server.Options{
			Config:   cfg,
			Web:      &web.FlagConfig{WebListenAddresses: &addrs},
			OnListen: func(a string) { addrc <- a },
			Logger:   logger,
			Version:  "test",
			OTLP:     &otlpexport.Config{Endpoint: "http://" + dead, Interval: time.Second, Traces: true},
		})
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("Run returned: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not listening")
	}
	scrape := func() kfaketest.Series {
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return kfaketest.Parse(t, b)
	}
	up := kfaketest.Key("klagx_up", "cluster", "test")
	cycles := kfaketest.Key("klagx_poll_duration_seconds_count", "cluster", "test")
	kfaketest.WaitFor(t, 30*time.Second, "three poll cycles with klagx_up 1", func() bool {
		s := scrape()
		return s[up] == 1 && s[cycles] >= 3
	})
	kfaketest.WaitFor(t, 30*time.Second, "an export failure to be logged", func() bool {
		return strings.Contains(logs.String(), "OTLP export failed")
	})
	// Polling still goes on after the failures.
	before := scrape()[cycles]
	kfaketest.WaitFor(t, 10*time.Second, "another poll cycle", func() bool { return scrape()[cycles] > before })

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(server.OTLPShutdownTimeout + 10*time.Second):
		t.Fatal("Run did not return within the shutdown bound")
	}
	t.Logf("Run returned %s after cancel", time.Since(start).Round(time.Millisecond))
	if n := strings.Count(logs.String(), "OTLP export failed"); n > 4 {
		t.Errorf("export failures logged %d times: not rate-limited", n)
	}
}

// TestShutdownBoundedByContext: a collector that accepts connections and
// never answers cannot hold up Shutdown past its context.
func TestShutdownBoundedByContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	store := snapshot.NewStore("x")
	exp, err := otlpexport.New(context.Background(), otlpexport.Config{Endpoint: "http://" + l.Addr().String(), Interval: time.Hour, Traces: true},
		// The SDK's export goroutine may log after Shutdown gave up
		// (and after the test ended): not into t.Log.
		server.Renderer(store, server.Options{}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	_, span := exp.Tracer().Start(context.Background(), "pending")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err = exp.Shutdown(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Shutdown took %s with a 1s context", d)
	}
	t.Logf("Shutdown: %v after %s", err, time.Since(start).Round(time.Millisecond))
}
