// Package otlpexport pushes klagx's telemetry to an OpenTelemetry
// collector over OTLP (HTTP or gRPC): the metrics of /metrics, and the
// spans the pollers record (one per poll cycle, one per rebalance).
//
// There is no second collection path: the metrics are read, at every
// export, from the renderer that serves /metrics (promexport.Renderer, whose
// Gather parses the exposition it rendered for the current snapshot),
// through the OpenTelemetry Prometheus bridge. Names, labels, types and values are
// the same; the exporter's own go_*/process_* metrics are not exported.
//
// No global OpenTelemetry state is touched: the providers are private to
// the Exporter, and export errors are logged (rate-limited) through the
// given slog logger instead of otel's global error handler. Exports run on
// the SDK's goroutines: a slow or unreachable collector never blocks
// polling or /metrics, and spans are dropped rather than queued without
// bound.
package otlpexport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	promb "go.opentelemetry.io/contrib/bridges/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"
)

// DefaultInterval is the metric export period when Config.Interval is 0.
const DefaultInterval = 15 * time.Second

// TracerName is the instrumentation scope of klagx's spans.
const TracerName = "github.com/klagx/klagx/poller"

// errorLogEvery is the minimum time between two "export failed" lines of
// one signal while the collector keeps failing.
const errorLogEvery = time.Minute

// Exporter owns a MeterProvider (periodic OTLP metric export of the
// gatherer) and, with Config.Traces, a TracerProvider (batched OTLP span
// export).
type Exporter struct {
	mp     *sdkmetric.MeterProvider
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	logger *slog.Logger
}

// New starts exporting. It does not connect: an unreachable collector
// shows up as logged export failures, not as an error here. gatherer is
// the renderer behind /metrics (without the go_/process_ self metrics).
func New(ctx context.Context, cfg Config, gatherer promclient.Gatherer, logger *slog.Logger) (*Exporter, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("otlp.endpoint is empty")
	}
	ep, _ := parseEndpoint(cfg.Endpoint)
	headers, _ := ParseHeaders(cfg.Headers)
	interval := cfg.Interval
	if interval == 0 {
		interval = DefaultInterval
	}
	logger = logger.With("component", "otlp")
	if cfg.InsecureSkipVerify && ep.tls {
		logger.Warn("OTLP collector certificate is not verified (--otlp.insecure-skip-verify)")
	}
	errs := &errorLog{logger: logger, every: errorLogEvery}

	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", "klagx"),
			attribute.String("service.version", cfg.ServiceVersion),
		),
		// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the above.
		resource.WithFromEnv(),
	)
	if err != nil && res == nil {
		return nil, fmt.Errorf("otlp resource: %w", err)
	} else if err != nil {
		logger.Warn("OTLP resource partly built", "err", err)
	}

	mexp, err := newMetricExporter(ctx, ep, headers, cfg.InsecureSkipVerify)
	if err != nil {
		return nil, fmt.Errorf("otlp metric exporter: %w", err)
	}
	reader := sdkmetric.NewPeriodicReader(&loggedMetricExporter{Exporter: mexp, errs: errs},
		sdkmetric.WithInterval(interval),
		sdkmetric.WithProducer(promb.NewMetricProducer(promb.WithGatherer(&loggedGatherer{g: gatherer, errs: errs}))),
	)
	e := &Exporter{
		mp:     sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(reader)),
		logger: logger,
	}
	if cfg.Traces {
		texp, err := newSpanExporter(ctx, ep, headers, cfg.InsecureSkipVerify)
		if err != nil {
			_ = e.mp.Shutdown(ctx)
			return nil, fmt.Errorf("otlp span exporter: %w", err)
		}
		e.tp = sdktrace.NewTracerProvider(
			sdktrace.WithResource(res),
			sdktrace.WithBatcher(&loggedSpanExporter{SpanExporter: texp, errs: errs}),
		)
		e.tracer = e.tp.Tracer(TracerName, trace.WithInstrumentationVersion(cfg.ServiceVersion))
	}
	logger.Info("exporting OTLP", "endpoint", redact(ep), "protocol", protocol(ep),
		"interval", interval.String(), "traces", cfg.Traces)
	return e, nil
}

// Tracer returns the tracer for the pollers, or nil when traces are off.
func (e *Exporter) Tracer() trace.Tracer {
	if e == nil || e.tracer == nil {
		return nil
	}
	return e.tracer
}

// ForceFlush exports the current metrics and the pending spans now.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	var errs []error
	if e.tp != nil {
		errs = append(errs, e.tp.ForceFlush(ctx))
	}
	errs = append(errs, e.mp.ForceFlush(ctx))
	return errors.Join(errs...)
}

// Shutdown flushes the pending spans and a last metric export, and stops.
// Bound it with ctx: against an unreachable collector the exporters retry
// until ctx ends. Traces and metrics shut down concurrently, so one ctx
// deadline bounds the whole.
func (e *Exporter) Shutdown(ctx context.Context) error {
	var wg sync.WaitGroup
	var terr error
	if e.tp != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			terr = e.tp.Shutdown(ctx)
		}()
	}
	merr := e.mp.Shutdown(ctx)
	wg.Wait()
	return errors.Join(terr, merr)
}

func protocol(ep endpoint) string {
	if ep.grpc {
		return "grpc"
	}
	return "http/protobuf"
}

// redact shows where the exporter sends, without any path credentials.
func redact(ep endpoint) string {
	scheme := "http"
	switch {
	case ep.grpc && ep.tls:
		scheme = "grpcs"
	case ep.grpc:
		scheme = "grpc"
	case ep.tls:
		scheme = "https"
	}
	return scheme + "://" + ep.host + ep.base
}

func tlsConfig(skipVerify bool) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: skipVerify} //nolint:gosec // opt-in flag
}

func newMetricExporter(ctx context.Context, ep endpoint, headers map[string]string, skipVerify bool) (sdkmetric.Exporter, error) {
	if ep.grpc {
		opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpoint(ep.host)}
		// Without the skip, TLS is the SDK's: system roots, or the
		// OTEL_EXPORTER_OTLP_*CERTIFICATE files.
		if ep.tls && skipVerify {
			opts = append(opts, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(tlsConfig(true))))
		} else if !ep.tls {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		}
		if headers != nil {
			opts = append(opts, otlpmetricgrpc.WithHeaders(headers))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	}
	opts := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpoint(ep.host), otlpmetrichttp.WithURLPath(ep.base + "/v1/metrics")}
	if ep.tls && skipVerify {
		opts = append(opts, otlpmetrichttp.WithTLSClientConfig(tlsConfig(true)))
	} else if !ep.tls {
		opts = append(opts, otlpmetrichttp.WithInsecure())
	}
	if headers != nil {
		opts = append(opts, otlpmetrichttp.WithHeaders(headers))
	}
	return otlpmetrichttp.New(ctx, opts...)
}

func newSpanExporter(ctx context.Context, ep endpoint, headers map[string]string, skipVerify bool) (sdktrace.SpanExporter, error) {
	if ep.grpc {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(ep.host)}
		// Without the skip, TLS is the SDK's: system roots, or the
		// OTEL_EXPORTER_OTLP_*CERTIFICATE files.
		if ep.tls && skipVerify {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsConfig(true))))
		} else if !ep.tls {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if headers != nil {
			opts = append(opts, otlptracegrpc.WithHeaders(headers))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(ep.host), otlptracehttp.WithURLPath(ep.base + "/v1/traces")}
	if ep.tls && skipVerify {
		opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsConfig(true)))
	} else if !ep.tls {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	if headers != nil {
		opts = append(opts, otlptracehttp.WithHeaders(headers))
	}
	return otlptracehttp.New(ctx, opts...)
}

// loggedMetricExporter logs export failures itself and reports success to
// the SDK, which would otherwise hand the error to otel's global handler.
type loggedMetricExporter struct {
	sdkmetric.Exporter
	errs *errorLog
}

func (l *loggedMetricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	l.errs.report("metrics", l.Exporter.Export(ctx, rm))
	return nil
}

// loggedSpanExporter does the same for spans.
type loggedSpanExporter struct {
	sdktrace.SpanExporter
	errs *errorLog
}

func (l *loggedSpanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	l.errs.report("traces", l.SpanExporter.ExportSpans(ctx, spans))
	return nil
}

// loggedGatherer logs a gather error (which /metrics would also show) and
// passes on what was gathered, so the bridge never reaches otel's global
// error handler.
type loggedGatherer struct {
	g    promclient.Gatherer
	errs *errorLog
}

func (l *loggedGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := l.g.Gather()
	l.errs.report("gather", err)
	return mfs, nil
}

// errorLog rate-limits failure lines per signal: the first failure is
// logged at once, then at most one line per interval with the number of
// failures in between, and one line when exports work again.
type errorLog struct {
	logger *slog.Logger
	every  time.Duration

	mu    sync.Mutex
	state map[string]*signalState
}

type signalState struct {
	failing    bool
	last       time.Time
	suppressed int
}

func (l *errorLog) report(signal string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == nil {
		l.state = map[string]*signalState{}
	}
	s := l.state[signal]
	if s == nil {
		s = &signalState{}
		l.state[signal] = s
	}
	now := time.Now()
	if err == nil {
		if s.failing {
			l.logger.Info("OTLP export working again", "signal", signal, "failures_not_logged", s.suppressed)
		}
		*s = signalState{}
		return
	}
	if s.failing && now.Sub(s.last) < l.every {
		s.suppressed++
		return
	}
	l.logger.Warn("OTLP export failed; /metrics is unaffected", "signal", signal, "err", err, "failures_not_logged", s.suppressed)
	*s = signalState{failing: true, last: now}
}
