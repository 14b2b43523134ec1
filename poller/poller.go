// Package poller runs the one-way pipeline for one cluster: collector (Kafka
// I/O) → observation → snapshot.Builder → snapshot.Store, on the cluster's
// own schedule. Cycles of one cluster never overlap: a cycle that overruns
// its interval delays the next one instead of piling up, and every cycle has
// a deadline of one poll interval.
package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/klagx/klagx/collector"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/snapshot"
	"github.com/klagx/klagx/timelag"
)

// StaleCycles is how many poll intervals a last good value is kept while it
// cannot be refreshed. After that it is dropped from the snapshot (and so
// from /metrics) instead of being frozen forever.
const StaleCycles = 5

// Poller polls one cluster and publishes its snapshots.
type Poller struct {
	coll     *collector.Collector
	builder  *snapshot.Builder
	store    *snapshot.Store
	interval time.Duration
	logger   *slog.Logger
	// failures counts the consecutive cycles that could not reach the
	// cluster at all (0: the last cycle did); downSince is when the first of
	// them started; everUp is whether any cycle reached it.
	failures  int
	downSince time.Time
	everUp    bool
	timeLag   config.TimeLag
	statuses  map[string]string // group → last logged status

	groupInterval time.Duration
	// quiet turns off the event log lines (status changes, rebalances,
	// first cycle): a one-shot check is not an event stream.
	quiet bool
	// refs are the groups the last offset cycle listed, described again
	// on every group tick.
	refs []collector.GroupRef

	cluster string
	// tracer records poll cycles and rebalances as spans; nil when OTLP
	// traces are off.
	tracer trace.Tracer
}

// MaxLookupRounds bounds the ListOffsets-by-time rounds of one cycle (each
// round is one request per partition leader, whatever the number of
// partitions; a partition can be asked once per round). Right after start,
// each committed offset takes a handful of rounds to bracket, and partitions
// shared by many groups at different offsets take more; whatever is not
// done continues in the next cycles. In steady state the end offsets read
// anyway keep the brackets tight and no round is needed. Rounds also stop
// when half the cycle's deadline is used.
const MaxLookupRounds = 48

// New returns a Poller for cluster publishing to store.
func New(cfg *config.Config, cluster config.Cluster, store *snapshot.Store, logger *slog.Logger) (*Poller, error) {
	coll, err := collector.New(cfg, cluster, logger)
	if err != nil {
		return nil, err
	}
	return &Poller{
		coll: coll,
		builder: snapshot.NewBuilder(snapshot.BuilderOptions{
			Cluster:       cluster.Name,
			ReadCommitted: cluster.Isolation == config.IsolationReadCommitted,
			StaleAfter:    StaleCycles * cfg.PollInterval,
			Thresholds:    cfg.Thresholds,
		}),
		store:         store,
		interval:      cfg.PollInterval,
		groupInterval: cfg.GroupPollInterval,
		timeLag:       cfg.TimeLag,
		logger:        logger.With("cluster", cluster.Name),
		cluster:       cluster.Name,
	}, nil
}

// SetTracer makes the poller record a span per poll cycle ("klagx.poll_cycle",
// with a child span per stage) and per rebalance ("klagx.rebalance"). nil
// (the default) records nothing. Call it before Run.
func (p *Poller) SetTracer(t trace.Tracer) {
	p.tracer = t
	if t == nil {
		p.coll.SetStageFunc(nil)
		return
	}
	// One child span per Kafka API batch of the cycle, under
	// klagx.poll.collect.
	p.coll.SetStageFunc(func(ctx context.Context, stage string) (context.Context, func(*observation.Observation, int)) {
		return p.stage(ctx, "klagx.kafka."+stage)
	})
}

// Quiet turns off the event log lines (status changes, rebalances, the
// cluster going down and coming back: a one-shot caller reports the cycle's
// error itself); partial errors are still logged.
func (p *Poller) Quiet() { p.quiet = true }

// Collector returns the underlying collector (for request counts in tests
// and benchmarks).
func (p *Poller) Collector() *collector.Collector { return p.coll }

// Close releases the Kafka client.
func (p *Poller) Close() { p.coll.Close() }

// Cycle runs one poll cycle with a deadline of one interval, publishes the
// resulting snapshot and returns it with the raw observation.
func (p *Poller) Cycle(ctx context.Context) (*snapshot.Cluster, *observation.Observation) {
	var span trace.Span
	if p.tracer != nil {
		ctx, span = p.tracer.Start(ctx, "klagx.poll_cycle", trace.WithAttributes(attribute.String("cluster", p.cluster)))
	}
	cctx, cancel := context.WithTimeout(ctx, p.interval)
	sctx, endCollect := p.stage(cctx, "klagx.poll.collect")
	obs := p.coll.Poll(sctx)
	endCollect(obs, 0)
	if obs.Err == nil {
		p.builder.ObserveOffsets(obs)
		before := len(obs.Errors)
		sctx, endTimes := p.stage(cctx, "klagx.poll.time_lag")
		p.resolveTimes(sctx, obs)
		endTimes(obs, before)
	}
	cancel()
	if span != nil {
		defer p.endCycleSpan(span, obs)
	}
	reqs := p.coll.Requests()
	counts := make([]snapshot.Count, len(reqs))
	for i, r := range reqs {
		counts[i] = snapshot.Count{Name: r.API, Value: r.Count}
	}
	cl := p.builder.Build(obs, counts)
	p.store.Publish(cl)
	if ctx.Err() != nil {
		return cl, obs // shutting down: the failed cycle is not news
	}
	p.log(obs)
	p.logStatusChanges(cl)
	p.logRebalances()
	if obs.Err == nil {
		p.refs = p.refs[:0]
		for _, name := range obs.SortedGroups() {
			p.refs = append(p.refs, collector.GroupRef{Name: name, Kind: obs.Groups[name].Kind})
		}
	}
	return cl, obs
}

// GroupTick reads the state of the groups the last cycle listed (one
// DescribeGroups and one ConsumerGroupDescribe per coordinator), feeds
// rebalance detection, and publishes the updated snapshot. It returns the
// published cluster, or nil when nothing was published.
func (p *Poller) GroupTick(ctx context.Context) *snapshot.Cluster {
	if len(p.refs) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, p.groupInterval)
	obs := p.coll.DescribeGroups(cctx, p.refs)
	cancel()
	cl := p.builder.RefreshGroups(obs)
	if cl == nil {
		return nil
	}
	p.store.Publish(cl)
	p.logStatusChanges(cl)
	p.logRebalances()
	return cl
}

// logRebalances writes one structured line (and, with a tracer, one span)
// per completed rebalance.
func (p *Poller) logRebalances() {
	events := p.builder.DrainEvents()
	p.traceRebalances(events)
	if p.quiet {
		return
	}
	for _, ev := range events {
		attrs := []any{"group", ev.Group, "kind", ev.Kind, "cause", ev.Cause,
			"rebalances", ev.Generations, "exact_count", ev.Exact,
			"start", ev.Start.UTC().Format(time.RFC3339Nano), "end", ev.End.UTC().Format(time.RFC3339Nano),
			"members_before", ev.MembersBefore, "members_after", ev.MembersAfter,
			"joined", ev.Joined, "left", ev.Left, "static_joined", ev.StaticJoined, "static_left", ev.StaticLeft,
			"partitions_moved", ev.Moved, "partitions_assigned", ev.Assigned, "partitions_unassigned", ev.Unassigned}
		if ev.DurationKnown {
			attrs = append(attrs, "duration_seconds", ev.Duration.Seconds())
		} else {
			attrs = append(attrs, "duration_seconds", "between polls")
		}
		p.logger.Info("group rebalanced", attrs...)
	}
}

// resolveTimes tightens the time-lag estimates this cycle needs: in exact
// mode by fetching the records at the committed offsets (within the fetch
// budget), then by ListOffsets lookups by timestamp, batched per leader,
// for whatever is still too loosely bracketed.
func (p *Poller) resolveTimes(ctx context.Context, obs *observation.Observation) {
	needs := p.builder.Needs(obs)
	if len(needs) == 0 {
		return
	}
	tr := p.builder.TimeLag()
	now := obs.End
	if p.timeLag.Mode == config.TimeLagExact {
		var recs []collector.RecordAt
		for _, n := range needs {
			if e := tr.Track(n.TP).Estimate(n.Offset, n.End, now); e.Method != timelag.Exact {
				recs = append(recs, collector.RecordAt{TP: n.TP, Offset: n.Offset})
			}
		}
		for r, ts := range p.coll.FetchTimestamps(ctx, obs, recs, p.timeLag.FetchBudget) {
			tr.Track(r.TP).ObserveRecord(r.Offset, ts)
		}
	}
	target := timelag.Target(p.interval)
	asked := map[timelag.TP]time.Time{}
	deadline, hasDeadline := ctx.Deadline()
	halfway := time.Now().Add(time.Until(deadline) / 2)
	for round := 0; round < MaxLookupRounds && ctx.Err() == nil; round++ {
		if hasDeadline && time.Now().After(halfway) {
			return
		}
		at := tr.Lookups(needs, now, target)
		for tp, t := range at {
			// A lookup that did not narrow the bracket would be asked
			// again: stop for this partition this cycle.
			if prev, ok := asked[tp]; ok && prev.Equal(t) {
				delete(at, tp)
			}
		}
		if len(at) == 0 {
			return
		}
		for tp, l := range p.coll.LookupTimes(ctx, obs, at) {
			off := l.Offset
			if !l.Found {
				off = endOf(obs, tp)
				if off < 0 {
					continue
				}
			}
			tr.Track(tp).ObserveLookup(l.Asked, off, l.RecordTime, l.Found)
		}
		for tp, t := range at {
			asked[tp] = t
		}
	}
}

func endOf(obs *observation.Observation, tp timelag.TP) int64 {
	if t, ok := obs.Topics[tp.Topic]; ok {
		if p, ok := t.Partitions[tp.Partition]; ok && p.Err == nil {
			return p.End
		}
	}
	return -1
}

// RetryBackoff is the wait before the next attempt after failures
// consecutive cycles could not reach the cluster at all: 1s, doubling, at
// most one poll interval. The failed attempt itself lasted up to
// collector.RequestTimeout, so a cluster that comes back is seen within
// about one interval, and a cluster that stays down costs one connection
// attempt (and one log line) per step.
func RetryBackoff(failures int, interval time.Duration) time.Duration {
	if failures <= 0 {
		return interval
	}
	d := min(time.Second, interval)
	for i := 1; i < failures && d < interval; i++ {
		d *= 2
	}
	return min(d, interval)
}

// Run polls until ctx is done: an offset cycle every poll interval and a
// group-state tick every group poll interval in between, on one goroutine,
// so that nothing here needs a lock and cycles never overlap. While the
// cluster cannot be reached at all, cycles are retried with RetryBackoff
// and group ticks pause.
func (p *Poller) Run(ctx context.Context) {
	nextCycle := time.Now()
	nextTick := nextCycle.Add(p.groupInterval)
	for ctx.Err() == nil {
		now := time.Now()
		switch {
		case !now.Before(nextCycle):
			p.Cycle(ctx)
			if p.failures > 0 {
				nextCycle = time.Now().Add(RetryBackoff(p.failures, p.interval))
			} else {
				nextCycle = nextCycle.Add(p.interval)
			}
			if after := time.Now(); nextCycle.Before(after) {
				nextCycle = after // overran: start the next one now, never pile up
			}
			nextTick = time.Now().Add(p.groupInterval)
			continue
		case p.failures > 0:
			// Nothing to describe while the cluster is unreachable.
			nextTick = nextCycle
		case !now.Before(nextTick):
			p.GroupTick(ctx)
			nextTick = time.Now().Add(p.groupInterval)
			continue
		}
		wake := nextCycle
		if nextTick.Before(wake) {
			wake = nextTick
		}
		t := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// logStatusChanges logs one line per group whose status changed, with the
// reason: the event trail behind klagx_group_status.
func (p *Poller) logStatusChanges(cl *snapshot.Cluster) {
	if !cl.Up || p.quiet {
		return
	}
	if p.statuses == nil {
		p.statuses = map[string]string{}
	}
	seen := make(map[string]bool, len(cl.Groups))
	for _, g := range cl.Groups {
		seen[g.Name] = true
		prev, ok := p.statuses[g.Name]
		if ok && prev == g.Status {
			continue
		}
		p.statuses[g.Name] = g.Status
		if !ok && g.Status == "ok" {
			continue // a healthy group appearing is not news
		}
		level := slog.LevelInfo
		if g.Status != "ok" && g.Status != "rebalancing" {
			level = slog.LevelWarn
		}
		from := prev
		if !ok {
			from = "none"
		}
		p.logger.Log(context.Background(), level, "group status changed", "group", g.Name,
			"from", from, "to", g.Status, "reason", g.Reason, "lag", g.Lag, "lag_seconds", g.LagSeconds)
	}
	for name := range p.statuses {
		if !seen[name] {
			delete(p.statuses, name)
		}
	}
}

// log reports the cycle: state changes of the cluster at warn/info, partial
// errors as one summary line per cycle, and the details at debug.
func (p *Poller) log(obs *observation.Observation) {
	dur := obs.End.Sub(obs.Start).Seconds()
	up := obs.Err == nil
	switch {
	case !up:
		// One line per failed attempt, and attempts back off: the log
		// says what is wrong without flooding while the cluster is down.
		p.failures++
		if p.failures == 1 {
			p.downSince = obs.Start
		}
		msg := "cluster unreachable; keeping last values"
		if !p.everUp {
			msg = "cluster unreachable; not ready until a poll cycle succeeds"
		}
		if !p.quiet {
			p.logger.Warn(msg, "err", obs.Err, "attempt", p.failures,
				"down_for_seconds", obs.End.Sub(p.downSince).Round(time.Millisecond).Seconds(),
				"retry_in", RetryBackoff(p.failures, p.interval).String(), "duration_seconds", dur)
		}
	case p.failures > 0:
		if !p.quiet {
			p.logger.Info("cluster reachable again", "attempts", p.failures,
				"down_for_seconds", obs.End.Sub(p.downSince).Round(time.Millisecond).Seconds(), "duration_seconds", dur)
		}
	case !p.everUp && !p.quiet:
		p.logger.Info("first poll cycle done", "groups", len(obs.Groups), "topics", len(obs.Topics), "duration_seconds", dur)
	}
	if up {
		p.failures = 0
		p.everUp = true
	}
	if up && len(obs.Errors) > 0 {
		byStage := map[string]int{}
		for _, e := range obs.Errors {
			byStage[e.Stage]++
		}
		first := obs.Errors[0]
		p.logger.Warn("poll cycle had errors; affected values kept from earlier cycles",
			"errors", len(obs.Errors), "by_stage", fmt.Sprint(byStage),
			"first_stage", first.Stage, "first_group", first.Group, "first_topic", first.Topic, "first_err", first.Err)
	}
	if p.logger.Enabled(context.Background(), slog.LevelDebug) {
		for _, e := range obs.Errors {
			p.logger.Debug("poll error", "stage", e.Stage, "group", e.Group, "topic", e.Topic, "partition", e.Partition, "broker", e.Broker, "err", e.Err)
		}
		p.logger.Debug("poll cycle", "groups", len(obs.Groups), "topics", len(obs.Topics), "duration_seconds", dur, "err", errors.Unwrap(obs.Err))
	}
}

// stage starts a child span of the cycle span for one stage; its end
// function records the Kafka requests the stage sent (the collector's
// request counter, read before and after) and the errors it added to obs
// after the first errsBefore.
func (p *Poller) stage(ctx context.Context, name string) (context.Context, func(obs *observation.Observation, errsBefore int)) {
	if p.tracer == nil {
		return ctx, func(*observation.Observation, int) {}
	}
	before := p.coll.Requests()
	wBefore, rBefore := p.coll.BytesWritten(), p.coll.BytesRead()
	ctx, span := p.tracer.Start(ctx, name, trace.WithAttributes(attribute.String("cluster", p.cluster)))
	return ctx, func(obs *observation.Observation, errsBefore int) {
		total, byAPI := requestDelta(before, p.coll.Requests())
		span.SetAttributes(
			attribute.Int64("bytes_written", int64(p.coll.BytesWritten()-wBefore)),
			attribute.Int64("bytes_read", int64(p.coll.BytesRead()-rBefore)),
		)
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
			attribute.Int("requests", total),
			attribute.StringSlice("requests_by_api", byAPI),
			attribute.Int("errors", n),
			attribute.StringSlice("errors_by_stage", countList(byStage)),
		)
		span.End()
	}
}

// endCycleSpan ends the klagx.poll_cycle span with the cycle's outcome.
func (p *Poller) endCycleSpan(span trace.Span, obs *observation.Observation) {
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

// traceRebalances records one klagx.rebalance span per event, from its
// start to its end (a new trace each: a rebalance spans several cycles).
func (p *Poller) traceRebalances(events []snapshot.RebalanceEvent) {
	if p.tracer == nil {
		return
	}
	for _, ev := range events {
		start := ev.Start
		if start.IsZero() || start.After(ev.End) {
			start = ev.End
		}
		attrs := []attribute.KeyValue{
			attribute.String("cluster", p.cluster),
			attribute.String("group", ev.Group),
			attribute.String("kind", ev.Kind),
			attribute.String("cause", ev.Cause),
			attribute.Int("rebalances", ev.Generations),
			attribute.Bool("exact_count", ev.Exact),
			attribute.Int("members_before", ev.MembersBefore),
			attribute.Int("members_after", ev.MembersAfter),
			attribute.Int("joined", len(ev.Joined)),
			attribute.Int("left", len(ev.Left)),
			attribute.Int("static_joined", ev.StaticJoined),
			attribute.Int("static_left", ev.StaticLeft),
			attribute.Int("partitions_moved", ev.Moved),
			attribute.Int("partitions_assigned", ev.Assigned),
			attribute.Int("partitions_unassigned", ev.Unassigned),
			attribute.Bool("duration_known", ev.DurationKnown),
		}
		if ev.DurationKnown {
			attrs = append(attrs, attribute.Float64("duration_seconds", ev.Duration.Seconds()))
		}
		_, span := p.tracer.Start(context.Background(), "klagx.rebalance",
			trace.WithNewRoot(), trace.WithTimestamp(start), trace.WithAttributes(attrs...))
		span.End(trace.WithTimestamp(ev.End))
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
