// Package check is the one-shot `klagx check`: poll each cluster once (or
// twice, --window apart, to see commit progress and rates), judge every
// matching group, and render a table, JSON or a Nagios line with an exit
// code. It uses the same collector, time-lag method and status rules as the
// exporter; only the schedule differs.
package check

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/snapshot"
	"github.com/klagx/klagx/status"
)

// Options configures a check.
type Options struct {
	Config *config.Config
	// Window is the time between the two samples; 0 takes one sample (no
	// commit-progress or rate judgement).
	Window time.Duration
	// Timeout is the deadline of one sample against Kafka; > 0. It does
	// not change what the poll interval sets (request timeout, time-lag
	// accuracy target).
	Timeout time.Duration
	Logger  *slog.Logger
}

// Error is a failure that makes the whole check UNKNOWN: a cluster that
// cannot be reached, an authentication failure, no group matched.
type Error struct{ Err error }

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Result is a finished check.
type Result struct {
	// Report is the JSON view of the last sample, with Severity and the
	// rates filled in per group.
	Report   report.Report
	Severity status.Severity
	// Counts of groups by severity.
	Counts map[status.Severity]int
	// thresholds per "cluster\x00group", for the Nagios perfdata.
	thresholds map[string]groupThresholds
}

type groupThresholds struct{ warnLag, critLag, warnSecs, critSecs int64 }

// Checker holds one poller per cluster across samples, so that each sample
// is judged against the previous one (commit progress, rates).
type Checker struct {
	o       Options
	store   *snapshot.Store
	pollers []*poller.Poller
	prev    map[string]*snapshot.Cluster
	prevAt  time.Time
}

// New builds a Checker; it does not contact Kafka.
func New(o Options) (*Checker, error) {
	if o.Timeout <= 0 {
		return nil, &Error{fmt.Errorf("check: timeout %s must be positive", o.Timeout)}
	}
	names := make([]string, len(o.Config.Clusters))
	for i, c := range o.Config.Clusters {
		names[i] = c.Name
	}
	c := &Checker{o: o, store: snapshot.NewStore(names...)}
	for _, cc := range o.Config.Clusters {
		p, err := poller.New(o.Config, cc, c.store, o.Logger)
		if err != nil {
			c.Close()
			return nil, &Error{err}
		}
		p.Quiet()
		p.SetCycleTimeout(o.Timeout)
		c.pollers = append(c.pollers, p)
	}
	return c, nil
}

// Close releases the Kafka clients.
func (c *Checker) Close() {
	for _, p := range c.pollers {
		p.Close()
	}
}

// Sample polls every cluster once and judges every matching group, against
// the previous sample when there is one. It returns an *Error when a
// cluster cannot be polled or no group matches.
func (c *Checker) Sample(ctx context.Context) (*Result, error) {
	cur := map[string]*snapshot.Cluster{}
	for _, p := range c.pollers {
		cl, _ := p.Cycle(ctx)
		if !cl.Up {
			return nil, &Error{fmt.Errorf("cluster %s: %s", cl.Name, cl.LastError)}
		}
		cur[cl.Name] = cl
	}
	now := time.Now()
	window := now.Sub(c.prevAt)
	prev := c.prev
	c.prev, c.prevAt = cur, now
	snap := c.store.Load()
	res := &Result{Report: report.FromSnapshot(snap, now, nil), Severity: status.SeverityOK,
		Counts: map[status.Severity]int{}, thresholds: map[string]groupThresholds{}}
	matched := 0
	for ci := range res.Report.Clusters {
		rc := &res.Report.Clusters[ci]
		cl := snap.Cluster(rc.Name)
		var before *snapshot.Cluster
		if prev != nil {
			before = prev[rc.Name]
		}
		for gi := range rc.Groups {
			rg := &rc.Groups[gi]
			matched++
			g := cl.Group(rg.Name)
			var bg *snapshot.Group
			if before != nil {
				bg = before.Group(rg.Name)
			}
			judge(rg, g, bg, cl, before, window.Round(time.Millisecond))
			th := g.Thresholds
			res.thresholds[rc.Name+"\x00"+rg.Name] = groupThresholds{th.WarnLag, th.CritLag,
				int64(th.WarnLagSeconds.Seconds()), int64(th.CritLagSeconds.Seconds())}
			res.Counts[rg.Severity]++
			if rg.Severity.Worse(res.Severity) {
				res.Severity = rg.Severity
			}
		}
	}
	for ci := range res.Report.Clusters {
		rc := &res.Report.Clusters[ci]
		cl := snap.Cluster(rc.Name)
		var before *snapshot.Cluster
		if prev != nil {
			before = prev[rc.Name]
		}
		for gi := range rc.ShareGroups {
			rg := &rc.ShareGroups[gi]
			matched++
			g := cl.ShareGroup(rg.Name)
			var bg *snapshot.ShareGroup
			if before != nil {
				bg = before.ShareGroup(rg.Name)
			}
			judgeShare(rg, g, bg, window.Round(time.Millisecond))
			th := g.Thresholds
			res.thresholds[rc.Name+"\x00share\x00"+rg.Name] = groupThresholds{th.WarnLag, th.CritLag, 0, 0}
			res.Counts[rg.Severity]++
			if rg.Severity.Worse(res.Severity) {
				res.Severity = rg.Severity
			}
		}
	}
	if matched == 0 {
		return res, &Error{errors.New("no consumer group matched: check --group / --group.include and that the groups exist")}
	}
	sev, code := res.Severity, res.Severity.ExitCode()
	res.Report.Severity, res.Report.ExitCode = &sev, &code
	return res, nil
}

// Run performs a one-shot check: one sample, or two Window apart.
func Run(ctx context.Context, o Options) (*Result, error) {
	c, err := New(o)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res, err := c.Sample(ctx)
	if err != nil || o.Window <= 0 {
		return res, err
	}
	t := time.NewTimer(o.Window)
	select {
	case <-ctx.Done():
		t.Stop()
		return nil, &Error{ctx.Err()}
	case <-t.C:
	}
	return c.Sample(ctx)
}

// judge sets the group's severity, adjusts its status and reason for what
// only two samples can show (no commit progress within the window), and
// fills the rates.
//
// The window rule is the stall rule of package status with the window as
// the stall threshold: the group is stalled when none of its partitions
// with lag advanced its commit. Its stuck partitions (lag in both samples,
// no commit) are then stalled too, as /status shows them, not "warning".
// A partition that did not commit in a group that did keeps its
// one-sample status: ten seconds say nothing about a partition committed
// every minute, and the exporter would not call it stalled either.
func judge(rg *report.Group, g, before *snapshot.Group, cl, firstCl *snapshot.Cluster, window time.Duration) {
	th := g.Thresholds
	if before != nil && before.HasData && g.HasData {
		dt := g.ObservedAt.Sub(before.ObservedAt).Seconds()
		if dt > 0 {
			d := deltas(before, g, firstCl, cl)
			pr, cr := float64(d.produced)/dt, float64(d.committed)/dt
			rg.ProduceRate, rg.CommitRate = &pr, &cr
			if windowStallApplies(rg.Status) && g.Members > 0 && g.Lag > 0 && before.Lag > 0 && !d.progressed {
				rg.Status = status.Stalled
				rg.Reason = fmt.Sprintf("no commit progress in %s with %d messages behind", window, g.Lag)
				for ti := range rg.Topics {
					for pi := range rg.Topics[ti].Partitions {
						rp := &rg.Topics[ti].Partitions[pi]
						if d.stuck[partitionKey{rg.Topics[ti].Name, rp.Partition}] && windowStallApplies(rp.Status) {
							rp.Status = status.Stalled
							rp.Reason = fmt.Sprintf("no commit progress in %s with %d messages behind", window, rp.Lag)
						}
					}
				}
			}
		}
	}
	sev := rg.Status.Severity()
	var why string
	if g.HasData {
		if th.CritLagSeconds > 0 && g.LagSecondsKnown && g.LagSeconds >= th.CritLagSeconds.Seconds() {
			sev, why = status.SeverityCritical, fmt.Sprintf("time lag %s is above %s", time.Duration(g.LagSeconds*float64(time.Second)).Round(time.Second), th.CritLagSeconds)
		} else if th.CritLag > 0 && g.Lag >= th.CritLag {
			sev, why = status.SeverityCritical, fmt.Sprintf("lag %d messages is above %d", g.Lag, th.CritLag)
		}
	}
	if why != "" && (rg.Status == status.OK || rg.Status == status.Warning) {
		rg.Reason = why
	}
	rg.Severity = sev
}

// windowStallApplies is false for the statuses status.Evaluate puts before
// stalled (lost, stopped, rebalancing, unknown): the window does not
// override them.
// judgeShare sets a share group's severity: its status's, CRITICAL at
// the critical lag threshold, and, between two samples, stalled when it has
// members and lag in both and no share-partition made progress.
func judgeShare(rg *report.ShareGroup, g, before *snapshot.ShareGroup, window time.Duration) {
	if before != nil && before.HasData && g.HasData && windowStallApplies(rg.Status) &&
		len(g.Members) > 0 && g.Lag > 0 && before.Lag > 0 && !shareProgressed(before, g) {
		rg.Status = status.Stalled
		rg.Reason = fmt.Sprintf("no acknowledgement progress in %s with %d records not acknowledged", window, g.Lag)
	}
	rg.Severity = rg.Status.Severity()
	if th := g.Thresholds; g.HasData && th.CritLag > 0 && g.Lag >= th.CritLag {
		rg.Severity = status.SeverityCritical
		if rg.Status == status.OK || rg.Status == status.Warning {
			rg.Reason = fmt.Sprintf("lag %d records is above %d", g.Lag, th.CritLag)
		}
	}
}

// shareProgressed reports whether any share-partition of b made progress
// since a: its start offset moved up or its lag fell, or it is new.
func shareProgressed(a, b *snapshot.ShareGroup) bool {
	prev := map[partitionKey]snapshot.SharePartition{}
	for _, p := range a.Partitions {
		prev[partitionKey{p.Topic, p.Partition}] = p
	}
	for _, p := range b.Partitions {
		q, ok := prev[partitionKey{p.Topic, p.Partition}]
		if !ok || p.Start > q.Start || p.LagKnown && q.LagKnown && p.Lag < q.Lag {
			return true
		}
	}
	return false
}

func windowStallApplies(s status.Status) bool {
	switch s {
	case status.Lost, status.Stopped, status.Rebalancing, status.Unknown:
		return false
	}
	return true
}

// partitionKey names one partition of a topic.
type partitionKey struct {
	topic     string
	partition int32
}

// sampleDeltas is what changed for one group between two samples.
type sampleDeltas struct {
	// produced and committed count the messages produced to the group's
	// partitions and committed by it.
	produced, committed int64
	// progressed is true when any partition advanced its commit; stuck
	// holds the partitions with lag in both samples that did not.
	progressed bool
	stuck      map[partitionKey]bool
}

// deltas compares the group in sample a (cluster ca) with sample b (cb).
func deltas(a, b *snapshot.Group, ca, cb *snapshot.Cluster) sampleDeltas {
	d := sampleDeltas{stuck: map[partitionKey]bool{}}
	prev := map[partitionKey]snapshot.GroupPartition{}
	for _, p := range a.Partitions {
		prev[partitionKey{p.Topic, p.Partition}] = p
	}
	endsA, endsB := map[partitionKey]int64{}, map[partitionKey]int64{}
	for _, p := range ca.Partitions {
		endsA[partitionKey{p.Topic, p.Partition}] = p.End
	}
	for _, p := range cb.Partitions {
		endsB[partitionKey{p.Topic, p.Partition}] = p.End
	}
	for _, p := range b.Partitions {
		k := partitionKey{p.Topic, p.Partition}
		if ea, ok := endsA[k]; ok {
			if n := endsB[k] - ea; n > 0 {
				d.produced += n
			}
		}
		q, ok := prev[k]
		if !ok {
			continue
		}
		switch {
		case p.HasCommit && q.HasCommit && p.Committed > q.Committed:
			d.committed += p.Committed - q.Committed
			d.progressed = true
		case p.HasCommit && !q.HasCommit:
			d.progressed = true
		case p.Lag > 0 && q.Lag > 0:
			d.stuck[k] = true
		}
	}
	return d
}

// SortedGroups returns the groups of the report in cluster, name order with
// their cluster name.
func SortedGroups(r report.Report) []struct {
	Cluster string
	Group   report.Group
} {
	var out []struct {
		Cluster string
		Group   report.Group
	}
	for _, c := range r.Clusters {
		for _, g := range c.Groups {
			out = append(out, struct {
				Cluster string
				Group   report.Group
			}{c.Name, g})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Cluster != out[j].Cluster {
			return out[i].Cluster < out[j].Cluster
		}
		return out[i].Group.Name < out[j].Group.Name
	})
	return out
}
