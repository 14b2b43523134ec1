package otlpexport

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/klagx/klagx/collector"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/snapshot"
)

// Wire is what a PollTracer reads from the collector to annotate a stage:
// cumulative request counts by API and bytes on the wire.
// *collector.Collector implements it.
type Wire interface {
	Requests() []collector.RequestCount
	BytesWritten() uint64
	BytesRead() uint64
}

// PollTracer records one cluster's poll cycles as spans: klagx.poll_cycle
// per cycle, with a klagx.poll.<stage> child per stage of the cycle and a
// klagx.kafka.<stage> child per Kafka API batch of the collector; and one
// klagx.rebalance span per completed rebalance. It implements
// poller.Tracer.
type PollTracer struct {
	tracer  trace.Tracer
	cluster string
	wire    Wire
}

// NewPollTracer returns a PollTracer of cluster on t (Exporter.Tracer),
// reading request counts from wire.
func NewPollTracer(t trace.Tracer, cluster string, wire Wire) *PollTracer {
	return &PollTracer{tracer: t, cluster: cluster, wire: wire}
}

// Cycle starts a klagx.poll_cycle span; end ends it with the cycle's
// outcome.
func (t *PollTracer) Cycle(ctx context.Context) (context.Context, func(*observation.Observation)) {
	ctx, span := t.tracer.Start(ctx, "klagx.poll_cycle", trace.WithAttributes(attribute.String("cluster", t.cluster)))
	return ctx, func(obs *observation.Observation) {
		span.SetAttributes(
			attribute.Bool("up", obs.Err == nil),
			attribute.Int("groups", len(obs.Groups)),
			attribute.Int("topics", len(obs.Topics)),
			attribute.Float64("duration_seconds", obs.End.Sub(obs.Start).Seconds()),
			attribute.Int("errors", len(obs.Errors)),
		)
		if obs.Err != nil {
			span.RecordError(obs.Err)
			span.SetStatus(codes.Error, "cluster unreachable")
		}
		span.End()
	}
}

// Stage starts the klagx.poll.<name> child span of one stage of a cycle
// (collect, time_lag).
func (t *PollTracer) Stage(ctx context.Context, name string) (context.Context, func(obs *observation.Observation, errsBefore int)) {
	return t.span(ctx, "klagx.poll."+name)
}

// KafkaStage starts the klagx.kafka.<stage> child span of one Kafka API
// batch; it is a collector.StageFunc.
func (t *PollTracer) KafkaStage(ctx context.Context, stage string) (context.Context, func(obs *observation.Observation, errsBefore int)) {
	return t.span(ctx, "klagx.kafka."+stage)
}

// span starts a child span; its end function records the Kafka requests
// and bytes sent meanwhile (the collector's counters, read before and
// after) and the errors added to obs after the first errsBefore.
func (t *PollTracer) span(ctx context.Context, name string) (context.Context, func(obs *observation.Observation, errsBefore int)) {
	before := t.wire.Requests()
	wBefore, rBefore := t.wire.BytesWritten(), t.wire.BytesRead()
	ctx, span := t.tracer.Start(ctx, name, trace.WithAttributes(attribute.String("cluster", t.cluster)))
	return ctx, func(obs *observation.Observation, errsBefore int) {
		total, byAPI := requestDelta(before, t.wire.Requests())
		errs := obs.Errors[min(errsBefore, len(obs.Errors)):]
		byStage := map[string]int{}
		for _, e := range errs {
			byStage[e.Stage]++
		}
		n := len(errs)
		if obs.Err != nil && errsBefore == 0 {
			n++
			span.RecordError(obs.Err)
			span.SetStatus(codes.Error, "cluster unreachable")
		}
		span.SetAttributes(
			attribute.Int64("bytes_written", int64(t.wire.BytesWritten()-wBefore)),
			attribute.Int64("bytes_read", int64(t.wire.BytesRead()-rBefore)),
			attribute.Int("requests", total),
			attribute.StringSlice("requests_by_api", byAPI),
			attribute.Int("errors", n),
			attribute.StringSlice("errors_by_stage", countList(byStage)),
		)
		span.End()
	}
}

// Rebalances records one klagx.rebalance span per event, from its start
// to its end (a new trace each: a rebalance spans several cycles).
func (t *PollTracer) Rebalances(events []snapshot.RebalanceEvent) {
	for _, ev := range events {
		start := ev.Start
		if start.IsZero() || start.After(ev.End) {
			start = ev.End
		}
		attrs := []attribute.KeyValue{attribute.String("cluster", t.cluster)}
		for _, a := range ev.Attrs() {
			attrs = append(attrs, spanAttr(a))
		}
		attrs = append(attrs,
			attribute.Int("joined", len(ev.Joined)),
			attribute.Int("left", len(ev.Left)),
			attribute.Bool("duration_known", ev.DurationKnown),
		)
		if ev.DurationKnown {
			attrs = append(attrs, attribute.Float64("duration_seconds", ev.Duration.Seconds()))
		}
		_, span := t.tracer.Start(context.Background(), "klagx.rebalance",
			trace.WithNewRoot(), trace.WithTimestamp(start), trace.WithAttributes(attrs...))
		span.End(trace.WithTimestamp(ev.End))
	}
}

// spanAttr converts a log attribute of a scalar kind.
func spanAttr(a slog.Attr) attribute.KeyValue {
	switch v := a.Value; v.Kind() {
	case slog.KindInt64:
		return attribute.Int64(a.Key, v.Int64())
	case slog.KindBool:
		return attribute.Bool(a.Key, v.Bool())
	case slog.KindFloat64:
		return attribute.Float64(a.Key, v.Float64())
	default:
		return attribute.String(a.Key, v.String())
	}
}

// requestDelta returns the requests sent between two readings of the
// cumulative counters: the total and "API=N" entries sorted by API.
func requestDelta(before, after []collector.RequestCount) (int, []string) {
	prev := make(map[string]uint64, len(before))
	for _, r := range before {
		prev[r.API] = r.Count
	}
	total := 0
	by := map[string]int{}
	for _, r := range after {
		if d := int(r.Count - prev[r.API]); d > 0 {
			by[r.API] = d
			total += d
		}
	}
	return total, countList(by)
}

func countList(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}
