// Package promexport renders snapshots as Prometheus metrics.
//
// Collector is a prometheus.Collector over a snapshot.Store: Describe sends
// every family of the metrics contract, and Collect loads the current
// snapshot once and emits const metrics from it. It never talks to Kafka, so
// any number of concurrent scrapes costs the cluster nothing, and a group or
// topic that is gone from the snapshot is gone from the next scrape: there is
// no registry state that could keep a ghost series alive.
//
// This is not the collector package (which polls Kafka); it only renders.
package promexport

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
	"github.com/klagx/klagx/status"
)

// Options configures a Collector.
type Options struct {
	// Level is the finest granularity to emit: families finer than it are
	// skipped (see metrics.Level). Default metrics.LevelPartition.
	Level metrics.Level
	// Shard and TotalShards are exported as klagx_shard_ordinal and
	// klagx_total_shards; only shard 0 emits the klagx_partition_* series,
	// which every shard reads but which do not depend on groups.
	Shard, TotalShards int
	// Version, Revision and GoVersion label klagx_build_info.
	Version, Revision, GoVersion string
}

// Collector renders the latest snapshot. It is safe for concurrent use.
type Collector struct {
	store *snapshot.Store
	o     Options
	descs map[string]*prometheus.Desc
	types map[string]prometheus.ValueType
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a Collector over store.
func New(store *snapshot.Store, o Options) *Collector {
	c := &Collector{store: store, o: o, descs: map[string]*prometheus.Desc{}, types: map[string]prometheus.ValueType{}}
	for _, f := range metrics.Families {
		c.descs[f.Name] = prometheus.NewDesc(f.Name, f.Help, f.Labels, nil)
		c.types[f.Name] = prometheus.GaugeValue
		if f.Type == metrics.Counter {
			c.types[f.Name] = prometheus.CounterValue
		}
	}
	return c
}

// Describe sends the descriptor of every family in the contract.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range metrics.Families {
		ch <- c.descs[f.Name]
	}
}

// Collect emits the current snapshot.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.render(chanSink{c, ch}, c.store.Load())
}

// render sends every series of snap to ch.
func (c *Collector) render(ch sink, snap *snapshot.Snapshot) {
	c.emit(ch, metrics.BuildInfo, 1, c.o.Version, c.o.Revision, c.o.GoVersion)
	c.emit(ch, metrics.ShardOrdinal, float64(c.o.Shard))
	c.emit(ch, metrics.ShardTotal, float64(max(c.o.TotalShards, 1)))
	for _, cl := range snap.Clusters {
		c.collectCluster(ch, cl)
	}
}

// sink receives rendered series: a channel of const metrics for Collect, or
// metric families built directly for the Gatherer.
type sink interface {
	value(name string, v float64, labels ...string)
	histogram(name string, h snapshot.Histogram, labels ...string)
}

type chanSink struct {
	c  *Collector
	ch chan<- prometheus.Metric
}

func (s chanSink) value(name string, v float64, labels ...string) {
	s.ch <- prometheus.MustNewConstMetric(s.c.descs[name], s.c.types[name], v, labels...)
}

func (s chanSink) histogram(name string, h snapshot.Histogram, labels ...string) {
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b] = h.Counts[i]
	}
	s.ch <- prometheus.MustNewConstHistogram(s.c.descs[name], h.Count, h.Sum, buckets, labels...)
}

func (c *Collector) on(level metrics.Level) bool { return level <= c.o.Level }

func (c *Collector) emit(ch sink, name string, v float64, labels ...string) {
	ch.value(name, v, labels...)
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c *Collector) collectCluster(ch sink, cl *snapshot.Cluster) {
	name := cl.Name
	c.emit(ch, metrics.Up, boolf(cl.Up), name)
	if !cl.LastSuccess.IsZero() {
		c.emit(ch, metrics.LastPollSuccess, unix(cl.LastSuccess), name)
	}
	if cl.PollDuration.Count > 0 {
		c.histogram(ch, metrics.PollDuration, cl.PollDuration, name)
	}
	for _, r := range cl.Requests {
		c.emit(ch, metrics.KafkaRequests, float64(r.Value), name, r.Name)
	}
	for _, e := range cl.PollErrors {
		c.emit(ch, metrics.PollErrors, float64(e.Value), name, e.Name)
	}

	if c.on(metrics.LevelPartition) && c.o.Shard == 0 {
		for _, p := range cl.Partitions {
			part := strconv.Itoa(int(p.Partition))
			c.emit(ch, metrics.PartitionStartOffset, float64(p.Start), name, p.Topic, part)
			c.emit(ch, metrics.PartitionEndOffset, float64(p.End), name, p.Topic, part)
			if p.Stable >= 0 {
				c.emit(ch, metrics.PartitionStableOffset, float64(p.Stable), name, p.Topic, part)
			}
		}
	}
	for i := range cl.Groups {
		c.collectGroup(ch, name, &cl.Groups[i])
	}
}

func (c *Collector) collectGroup(ch sink, cluster string, g *snapshot.Group) {
	state := metrics.NormalizeGroupState(g.State)
	for _, s := range metrics.GroupStates {
		c.emit(ch, metrics.GroupState, boolf(s == state), cluster, g.Name, s)
	}
	st := g.Status
	if st == "" || !g.HasData {
		st = status.Unknown
	}
	for _, s := range status.All {
		c.emit(ch, metrics.GroupStatus, boolf(s == st), cluster, g.Name, s.String())
	}
	c.emit(ch, metrics.GroupPollErrors, float64(g.PollErrors), cluster, g.Name)
	if !g.HasData {
		return
	}
	c.emit(ch, metrics.GroupLastPollSuccess, unix(g.ObservedAt), cluster, g.Name)
	c.emit(ch, metrics.GroupMembers, float64(g.Members), cluster, g.Name)
	c.emit(ch, metrics.GroupStaticMembers, float64(g.StaticMembers), cluster, g.Name)
	c.emit(ch, metrics.GroupLag, float64(g.Lag), cluster, g.Name)
	c.emit(ch, metrics.GroupPartitionsWithoutCommit, float64(g.PartitionsWithoutCommit), cluster, g.Name)
	if g.LagSecondsKnown {
		c.emit(ch, metrics.GroupLagSeconds, g.LagSeconds, cluster, g.Name)
	}
	c.emit(ch, metrics.GroupTimeLagError, g.TimeLagError, cluster, g.Name)
	for _, m := range g.TimeLagMethods {
		c.emit(ch, metrics.GroupTimeLagPartitions, float64(m.Value), cluster, g.Name, m.Name)
	}
	c.emit(ch, metrics.GroupCommitGap, g.CommitGap, cluster, g.Name)
	c.emit(ch, metrics.GroupCommitGaps, float64(g.CommitGaps), cluster, g.Name)
	c.emit(ch, metrics.GroupRewinds, float64(g.Rewinds), cluster, g.Name)
	c.emit(ch, metrics.GroupMessagesLost, float64(g.MessagesLost), cluster, g.Name)
	if g.HeadroomKnown {
		c.emit(ch, metrics.GroupRetentionHeadroom, float64(g.RetentionHeadroom), cluster, g.Name)
	}
	if g.HeadroomSecondsKnown {
		c.emit(ch, metrics.GroupRetentionHeadroomSeconds, g.RetentionHeadroomSeconds, cluster, g.Name)
	}
	c.histogram(ch, metrics.GroupCommitLatency, g.CommitLatency, cluster, g.Name)
	c.emit(ch, metrics.GroupRebalances, float64(g.Rebalances), cluster, g.Name)
	c.emit(ch, metrics.GroupRebalanceInProgress, boolf(g.RebalanceInProgress), cluster, g.Name)
	c.emit(ch, metrics.GroupMemberJoins, float64(g.MemberJoins), cluster, g.Name)
	c.emit(ch, metrics.GroupMemberLeaves, float64(g.MemberLeaves), cluster, g.Name)
	c.emit(ch, metrics.GroupPartitionsMoved, float64(g.PartitionsMoved), cluster, g.Name)
	c.emit(ch, metrics.GroupUnownedPartitions, float64(g.UnownedPartitions), cluster, g.Name)
	if !g.LastRebalance.IsZero() {
		c.emit(ch, metrics.GroupLastRebalance, unix(g.LastRebalance), cluster, g.Name)
	}
	c.histogram(ch, metrics.GroupRebalanceDuration, g.RebalanceDuration, cluster, g.Name)
	c.thresholds(ch, cluster, g)
	if c.on(metrics.LevelTopic) {
		for _, t := range g.Topics {
			c.emit(ch, metrics.GroupTopicLag, float64(t.Lag), cluster, g.Name, t.Topic)
			if t.LagSecondsKnown {
				c.emit(ch, metrics.GroupTopicLagSeconds, t.LagSeconds, cluster, g.Name, t.Topic)
			}
		}
	}
	if c.on(metrics.LevelPartition) {
		for _, p := range g.Partitions {
			part := strconv.Itoa(int(p.Partition))
			if p.HasCommit {
				c.emit(ch, metrics.GroupPartitionCommittedOffset, float64(p.Committed), cluster, g.Name, p.Topic, part)
			}
			if p.LagKnown {
				c.emit(ch, metrics.GroupPartitionLag, float64(p.Lag), cluster, g.Name, p.Topic, part)
			}
			if p.TimeLagMethod != "" && p.TimeLagMethod != "unknown" {
				c.emit(ch, metrics.GroupPartitionLagSeconds, p.LagSeconds, cluster, g.Name, p.Topic, part)
			}
			if p.HasCommit && !p.LastCommitAt.IsZero() {
				c.emit(ch, metrics.GroupPartitionLastCommit, unix(p.LastCommitAt), cluster, g.Name, p.Topic, part)
			}
			c.emit(ch, metrics.GroupPartitionMessagesLost, float64(p.LostTotal), cluster, g.Name, p.Topic, part)
		}
	}
}

func (c *Collector) histogram(ch sink, name string, h snapshot.Histogram, labels ...string) {
	if len(h.Bounds) == 0 {
		return
	}
	ch.histogram(name, h, labels...)
}

// thresholds exports the group's status thresholds, so that alert rules
// compare each group against its own (per-group overrides included).
func (c *Collector) thresholds(ch sink, cluster string, g *snapshot.Group) {
	th := g.Thresholds
	for _, t := range []struct {
		sev  string
		secs float64
		msgs int64
	}{
		{"warning", th.WarnLagSeconds.Seconds(), th.WarnLag},
		{"critical", th.CritLagSeconds.Seconds(), th.CritLag},
	} {
		if t.secs > 0 {
			c.emit(ch, metrics.GroupLagThresholdSeconds, t.secs, cluster, g.Name, t.sev)
		}
		if t.msgs > 0 {
			c.emit(ch, metrics.GroupLagThreshold, float64(t.msgs), cluster, g.Name, t.sev)
		}
	}
	if th.StallAfter > 0 {
		c.emit(ch, metrics.GroupStallThresholdSeconds, th.StallAfter.Seconds(), cluster, g.Name)
	}
}
