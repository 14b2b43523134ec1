// Package server wires one klagx exporter process together: a poller per
// configured cluster publishing to one snapshot store, and an HTTP server
// (exporter-toolkit, so --web.config.file gives TLS and basic auth) that
// serves /metrics, /healthz and /readyz from that store. A scrape never
// sends a Kafka request.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/buildinfo"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/otlpexport"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/promexport"
	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/snapshot"
)

// Options is what Run needs. Config must already be validated.
type Options struct {
	Config *config.Config
	// Web holds the exporter-toolkit listener flags (--web.listen-address,
	// --web.config.file). Addresses are bound by Run itself so that the
	// bound address (":0" in tests) can be reported through OnListen.
	Web *web.FlagConfig
	// TelemetryPath is where metrics are served, default "/metrics".
	TelemetryPath string
	// DisableExporterMetrics drops the go_/process_/promhttp_ metrics.
	DisableExporterMetrics bool
	// EnablePprof serves the Go runtime profiles (net/http/pprof) under
	// /debug/pprof/ and links them from the landing page. Off by default:
	// a CPU profile costs CPU, and a heap dump shows memory contents.
	EnablePprof bool
	// OnListen, if set, is called once per bound address, after binding.
	OnListen func(addr string)
	Logger   *slog.Logger
	Version  string
	// Revision is the git commit of the build, for klagx_build_info; when
	// empty, the one Go stamped into the binary, else "unknown".
	Revision string
	// OTLP, when its Endpoint is set, also pushes the klagx metrics (the
	// registry behind the telemetry path) and the pollers' spans to an
	// OpenTelemetry collector. nil or an empty Endpoint: off.
	OTLP *otlpexport.Config
}

// WebConfigError is what Run returns, before starting anything, when the
// web config file (--web.config.file) is invalid: a configuration error.
type WebConfigError struct {
	File string
	Err  error
}

func (e *WebConfigError) Error() string {
	return fmt.Sprintf("--web.config.file %s: %v", e.File, e.Err)
}

func (e *WebConfigError) Unwrap() error { return e.Err }

// OTLPShutdownTimeout bounds the final flush of OTLP telemetry when Run
// returns.
const OTLPShutdownTimeout = 5 * time.Second

// Run blocks until ctx is cancelled or the HTTP server fails.
func Run(ctx context.Context, o Options) error {
	if o.TelemetryPath == "" {
		o.TelemetryPath = "/metrics"
	}
	logger := o.Logger
	cfg := o.Config
	if o.Web != nil && o.Web.WebConfigFile != nil && *o.Web.WebConfigFile != "" {
		// exporter-toolkit reads the file only when serving: check it
		// (YAML keys, bcrypt hashes, certificate and key) before any
		// poller starts.
		if err := web.Validate(*o.Web.WebConfigFile); err != nil {
			return &WebConfigError{File: *o.Web.WebConfigFile, Err: err}
		}
	}

	names := make([]string, len(cfg.Clusters))
	for i, c := range cfg.Clusters {
		names[i] = c.Name
	}
	store := snapshot.NewStore(names...)

	var pollers []*poller.Poller
	defer func() {
		for _, p := range pollers {
			p.Close()
		}
	}()
	for _, c := range cfg.Clusters {
		p, err := poller.New(cfg, c, store, logger)
		if err != nil {
			return err
		}
		pollers = append(pollers, p)
	}

	reg := Renderer(store, o)
	if o.OTLP != nil && o.OTLP.Enabled() {
		cfg := *o.OTLP
		if cfg.ServiceVersion == "" {
			cfg.ServiceVersion = o.Version
		}
		exp, err := otlpexport.New(ctx, cfg, reg, logger)
		if err != nil {
			return err
		}
		// Registered before the pollers are stopped (below), so it runs
		// after them: their last spans are flushed too.
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), OTLPShutdownTimeout)
			defer cancel()
			if err := exp.Shutdown(sctx); err != nil {
				logger.Warn("OTLP shutdown: pending telemetry not flushed", "component", "otlp", "err", err)
			}
		}()
		if t := exp.Tracer(); t != nil {
			for _, p := range pollers {
				p.SetTracer(otlpexport.NewPollTracer(t, p.Collector().Name(), p.Collector()))
			}
		}
	}
	handler := HandlerFor(reg, store, o)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: httpErrorLog(logger)}

	addrs := []string{":9308"}
	if o.Web != nil && o.Web.WebListenAddresses != nil && len(*o.Web.WebListenAddresses) > 0 {
		addrs = *o.Web.WebListenAddresses
	}
	flags := o.Web
	if flags == nil {
		flags = &web.FlagConfig{}
	}
	if flags.WebConfigFile == nil {
		empty := ""
		flags.WebConfigFile = &empty
	}
	listeners := make([]net.Listener, 0, len(addrs))
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("web.listen-address %q: %w", a, err)
		}
		listeners = append(listeners, l)
	}

	pctx, stopPolling := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, p := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(pctx)
		}()
	}
	defer func() {
		stopPolling()
		wg.Wait()
	}()

	errc := make(chan error, len(listeners))
	webConfig := "none (plain HTTP)"
	if *flags.WebConfigFile != "" {
		webConfig = *flags.WebConfigFile
	}
	// web.Serve logs "Listening on" and "TLS is disabled." at info for each
	// listener; the line below says both once. Its warnings and errors
	// still come through.
	serveLogger := slog.New(minLevelHandler{logger.Handler(), slog.LevelWarn})
	for _, l := range listeners {
		logger.Info("serving metrics", "address", l.Addr().String(), "path", o.TelemetryPath, "web_config", webConfig)
		if o.OnListen != nil {
			o.OnListen(l.Addr().String())
		}
		go func() {
			errc <- web.Serve(l, srv, flags, serveLogger)
		}()
	}

	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server: %w", err)
	}
}

// Handler returns the HTTP routes over store: the telemetry path,
// /healthz (the process is alive), /readyz (every cluster has completed a
// successful cycle) and a landing page.
func Handler(store *snapshot.Store, o Options) http.Handler {
	return HandlerFor(Renderer(store, o), store, o)
}

// Renderer returns the renderer of the klagx metrics over store (not the
// go_/process_ self metrics), subscribed to it: it renders each snapshot
// when it is published. /metrics serves its bytes; OTLP export gathers its
// families. o.Config must be validated (its metric selection compiles).
func Renderer(store *snapshot.Store, o Options) *promexport.Renderer {
	sel := metrics.DefaultSelection
	bi := buildinfo.Read(o.Version)
	if o.Revision != "" {
		bi.Revision = o.Revision
	}
	shard, total := 0, 1
	if o.Config != nil {
		sel, _ = o.Config.MetricSelection()
		shard, total = o.Config.Shard, o.Config.TotalShards
	}
	return promexport.New(store, promexport.Options{
		Selection: sel, Version: o.Version, Revision: bi.Revision, GoVersion: bi.GoVersion,
		Shard: shard, TotalShards: total,
	})
}

// HandlerFor is Handler over an existing renderer (see Renderer).
func HandlerFor(r *promexport.Renderer, store *snapshot.Store, o Options) http.Handler {
	path := o.TelemetryPath
	if path == "" {
		path = "/metrics"
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var metricsHandler http.Handler
	if o.DisableExporterMetrics {
		metricsHandler = &metricsEndpoint{klagx: r, logger: logger}
	} else {
		self := prometheus.NewRegistry()
		self.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		metricsHandler = promhttp.InstrumentMetricHandler(self, &metricsEndpoint{klagx: r, self: self, logger: logger})
	}

	mux := http.NewServeMux()
	mux.Handle(path, metricsHandler)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		snap := store.Load()
		if snap.Ready() {
			fmt.Fprintln(w, "ready")
			return
		}
		var waiting []string
		for _, c := range snap.Clusters {
			if !c.Ready {
				msg := c.Name + ": no successful poll cycle yet"
				if c.LastError != "" {
					msg += " (last error: " + c.LastError + ")"
				}
				waiting = append(waiting, msg)
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "not ready:\n"+strings.Join(waiting, "\n"))
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		var keep report.Filter
		g := r.URL.Query().Get("group")
		if g != "" {
			keep = func(_, group string) bool { return group == g }
		}
		rep := report.FromSnapshot(store.Load(), time.Now(), keep)
		w.Header().Set("Content-Type", "application/json")
		if g != "" && !slices.ContainsFunc(rep.Clusters, func(c report.Cluster) bool { return len(c.Groups) > 0 }) {
			// The group is not in the last snapshot: a typo, a group
			// the filters or this shard drop, or one not yet polled.
			rep.Error = fmt.Sprintf("no consumer group %q in the last poll of any cluster (check the name, --group.include/--group.exclude and --shard; a new group appears after the next poll)", g)
			w.WriteHeader(http.StatusNotFound)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	})
	if o.EnablePprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	if path != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "klagx",
			Description: "Kafka consumer group lag exporter",
			Version:     o.Version,
			Links: []web.LandingLinks{
				{Address: path, Text: "Metrics"},
				{Address: "/status", Text: "Status (JSON)"},
				{Address: "/readyz", Text: "Readiness"},
				{Address: "/healthz", Text: "Health"},
			},
			// The page links the pprof handlers unless told not to.
			Profiling: strconv.FormatBool(o.EnablePprof),
		})
		if err == nil {
			mux.Handle("/", landing)
		}
	}
	return mux
}

// minLevelHandler drops the records below min.
type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevelHandler{h.Handler.WithAttrs(as), h.min}
}

func (h minLevelHandler) WithGroup(name string) slog.Handler {
	return minLevelHandler{h.Handler.WithGroup(name), h.min}
}

// httpErrorLog routes net/http's own error lines through slog: TLS
// handshake failures at debug (a tcpSocket probe or a port scan on a TLS port
// makes one every time), everything else (accept errors, handler panics) at
// warn.
func httpErrorLog(logger *slog.Logger) *log.Logger {
	return log.New(httpErrorWriter{logger.With("component", "http")}, "", 0)
}

type httpErrorWriter struct{ logger *slog.Logger }

func (w httpErrorWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		level = slog.LevelDebug
	}
	w.logger.Log(context.Background(), level, msg)
	return len(p), nil
}
