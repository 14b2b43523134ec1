// Package poller runs the one-way pipeline for one cluster on the cluster's
// own schedule: collect (collector.Poll, then the record timestamps the
// builder's time-lag estimates need, read through the collector) → fold
// (snapshot.Builder.Build, no I/O) → publish (snapshot.Store). The poller
// only schedules, logs and calls its tracing hook (Tracer). Cycles of one cluster never overlap: a cycle that overruns
// its interval delays the next one instead of piling up, and every cycle has
// a deadline of one poll interval.
package poller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/klagx/klagx/collector"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/snapshot"
	"github.com/klagx/klagx/status"
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
	// timeout is the deadline of one cycle: the poll interval unless
	// SetCycleTimeout changed it.
	timeout time.Duration
	logger  *slog.Logger
	// failures counts the consecutive cycles that could not reach the
	// cluster at all (0: the last cycle did); downSince is when the first of
	// them started; everUp is whether any cycle reached it.
	failures  int
	downSince time.Time
	everUp    bool
	statuses  map[string]status.Status // group → last logged status

	groupInterval time.Duration
	// quiet turns off the event log lines (status changes, rebalances,
	// first cycle): a one-shot check is not an event stream.
	quiet bool
	// refs are the groups the last offset cycle listed, described again
	// on every group tick.
	refs []collector.GroupRef

	// trace records cycles, stages and rebalances (noTracer when OTLP
	// traces are off).
	trace Tracer
}

// Tracer is the tracing hook of a poller: it is told when a cycle and each
// of its stages start and end, and of every completed rebalance.
// otlpexport.PollTracer implements it with spans.
type Tracer interface {
	// Cycle starts a poll cycle; end is called with its observation.
	Cycle(ctx context.Context) (_ context.Context, end func(*observation.Observation))
	// Stage starts one stage of a cycle ("collect", "time_lag"); end is
	// called with the observation and how many errors it held before.
	Stage(ctx context.Context, name string) (_ context.Context, end func(obs *observation.Observation, errsBefore int))
	// KafkaStage is the collector's hook around each Kafka API batch.
	KafkaStage(ctx context.Context, stage string) (_ context.Context, end func(obs *observation.Observation, errsBefore int))
	// Rebalances is told of the rebalances completed since the last call.
	Rebalances([]snapshot.RebalanceEvent)
}

// noTracer records nothing.
type noTracer struct{}

func (noTracer) Cycle(ctx context.Context) (context.Context, func(*observation.Observation)) {
	return ctx, func(*observation.Observation) {}
}

func (noTracer) Stage(ctx context.Context, _ string) (context.Context, func(*observation.Observation, int)) {
	return ctx, func(*observation.Observation, int) {}
}

func (n noTracer) KafkaStage(ctx context.Context, stage string) (context.Context, func(*observation.Observation, int)) {
	return n.Stage(ctx, stage)
}

func (noTracer) Rebalances([]snapshot.RebalanceEvent) {}

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
			TimeLag:       cfg.TimeLag,
			PollInterval:  cfg.PollInterval,
		}),
		store:         store,
		interval:      cfg.PollInterval,
		timeout:       cfg.PollInterval,
		groupInterval: cfg.GroupPollInterval,
		logger:        logger.With("cluster", cluster.Name),
		trace:         noTracer{},
	}, nil
}

// SetTracer installs the tracing hook (nil removes it). Call it before
// Run.
func (p *Poller) SetTracer(t Tracer) {
	if t == nil {
		p.trace = noTracer{}
		p.coll.SetStageFunc(nil)
		return
	}
	p.trace = t
	p.coll.SetStageFunc(t.KafkaStage)
}

// SetCycleTimeout sets the deadline of one cycle (one poll interval by
// default) without changing anything the poll interval sets: the request
// timeout, the stale-after, the time-lag accuracy target. klagx check uses
// it for --timeout. Call it before Run or Cycle.
func (p *Poller) SetCycleTimeout(d time.Duration) { p.timeout = d }

// Quiet turns off the event log lines (status changes, rebalances, the
// cluster going down and coming back: a one-shot caller reports the cycle's
// error itself); partial errors are still logged.
func (p *Poller) Quiet() { p.quiet = true }

// Collector returns the underlying collector (for request counts in tests
// and benchmarks).
func (p *Poller) Collector() *collector.Collector { return p.coll }

// Close releases the Kafka client.
func (p *Poller) Close() { p.coll.Close() }

// Cycle runs one poll cycle, publishes the resulting snapshot and returns
// it with the raw observation. A cycle reads top to bottom: collect (all of
// its Kafka I/O, within one poll interval), fold into the snapshot, publish,
// then log.
func (p *Poller) Cycle(ctx context.Context) (*snapshot.Cluster, *observation.Observation) {
	ctx, endCycle := p.trace.Cycle(ctx)
	obs := p.collect(ctx)
	cl := p.builder.Build(obs, p.requests())
	p.store.Publish(cl)
	endCycle(obs)
	if ctx.Err() != nil {
		return cl, obs // shutting down: the failed cycle is not news
	}
	p.log(obs)
	p.logStatusChanges(cl)
	p.logRebalances()
	p.rememberGroups(obs)
	return cl, obs
}

// collect does the cycle's Kafka I/O within the cycle's deadline: the
// collector's poll (groups, commits, log offsets), then, when the cluster
// answered, the record timestamps the builder's time-lag estimates ask for
// (through the collector too).
func (p *Poller) collect(ctx context.Context) *observation.Observation {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	sctx, end := p.trace.Stage(ctx, "collect")
	obs := p.coll.Poll(sctx)
	end(obs, 0)
	if obs.Err != nil {
		return obs
	}
	before := len(obs.Errors)
	sctx, end = p.trace.Stage(ctx, "time_lag")
	p.builder.ResolveTimes(sctx, obs, p.coll)
	end(obs, before)
	return obs
}

// requests are the collector's cumulative request counts, for the snapshot.
func (p *Poller) requests() []snapshot.Count {
	reqs := p.coll.Requests()
	counts := make([]snapshot.Count, len(reqs))
	for i, r := range reqs {
		counts[i] = snapshot.Count{Name: r.API, Value: r.Count}
	}
	return counts
}

// rememberGroups keeps the groups a cycle listed, for the group ticks.
func (p *Poller) rememberGroups(obs *observation.Observation) {
	if obs.Err != nil {
		return
	}
	p.refs = p.refs[:0]
	for _, name := range obs.SortedGroups() {
		p.refs = append(p.refs, collector.GroupRef{Name: name, Kind: obs.Groups[name].Kind})
	}
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
	p.trace.Rebalances(events)
	if p.quiet {
		return
	}
	for _, ev := range events {
		attrs := ev.Attrs()
		attrs = append(attrs, slog.Any("joined", ev.Joined), slog.Any("left", ev.Left),
			slog.String("start", ev.Start.UTC().Format(time.RFC3339Nano)), slog.String("end", ev.End.UTC().Format(time.RFC3339Nano)))
		if ev.DurationKnown {
			attrs = append(attrs, slog.Float64("duration_seconds", ev.Duration.Seconds()))
		} else {
			attrs = append(attrs, slog.String("duration_seconds", "between polls"))
		}
		p.logger.LogAttrs(context.Background(), slog.LevelInfo, "group rebalanced", attrs...)
	}
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
		p.statuses = map[string]status.Status{}
	}
	seen := make(map[string]bool, len(cl.Groups))
	for _, g := range cl.Groups {
		seen[g.Name] = true
		prev, ok := p.statuses[g.Name]
		if ok && prev == g.Status {
			continue
		}
		p.statuses[g.Name] = g.Status
		if !ok && g.Status == status.OK {
			continue // a healthy group appearing is not news
		}
		level := slog.LevelInfo
		if g.Status != status.OK && g.Status != status.Rebalancing {
			level = slog.LevelWarn
		}
		from := prev.String()
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
