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
	"time"

	"github.com/klagx/klagx/collector"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/snapshot"
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
	wasUp    *bool
}

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
		}),
		store:    store,
		interval: cfg.PollInterval,
		logger:   logger.With("cluster", cluster.Name),
	}, nil
}

// Collector returns the underlying collector (for request counts in tests
// and benchmarks).
func (p *Poller) Collector() *collector.Collector { return p.coll }

// Close releases the Kafka client.
func (p *Poller) Close() { p.coll.Close() }

// Cycle runs one poll cycle with a deadline of one interval, publishes the
// resulting snapshot and returns it with the raw observation.
func (p *Poller) Cycle(ctx context.Context) (*snapshot.Cluster, *observation.Observation) {
	cctx, cancel := context.WithTimeout(ctx, p.interval)
	obs := p.coll.Poll(cctx)
	cancel()
	reqs := p.coll.Requests()
	counts := make([]snapshot.Count, len(reqs))
	for i, r := range reqs {
		counts[i] = snapshot.Count{Name: r.API, Value: r.Count}
	}
	cl := p.builder.Build(obs, counts)
	p.store.Publish(cl)
	p.log(obs)
	return cl, obs
}

// Run polls until ctx is done.
func (p *Poller) Run(ctx context.Context) {
	for {
		start := time.Now()
		p.Cycle(ctx)
		if ctx.Err() != nil {
			return
		}
		wait := p.interval - time.Since(start)
		if wait < 0 {
			wait = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// log reports the cycle: state changes of the cluster at warn/info, partial
// errors as one summary line per cycle, and the details at debug.
func (p *Poller) log(obs *observation.Observation) {
	dur := obs.End.Sub(obs.Start).Seconds()
	up := obs.Err == nil
	switch {
	case !up && (p.wasUp == nil || *p.wasUp):
		p.logger.Warn("cluster unreachable; keeping last values", "err", obs.Err, "duration_seconds", dur)
	case up && p.wasUp != nil && !*p.wasUp:
		p.logger.Info("cluster reachable again", "duration_seconds", dur)
	case up && p.wasUp == nil:
		p.logger.Info("first poll cycle done", "groups", len(obs.Groups), "topics", len(obs.Topics), "duration_seconds", dur)
	}
	p.wasUp = &up
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
