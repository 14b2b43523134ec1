package snapshot

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/klagx/klagx/catchup"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/histogram"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/rebalance"
	"github.com/klagx/klagx/status"
	"github.com/klagx/klagx/timelag"
)

// BuilderOptions configures a Builder.
type BuilderOptions struct {
	// Cluster is the cluster name.
	Cluster string
	// ReadCommitted measures lag to the last stable offset instead of the
	// high-water mark.
	ReadCommitted bool
	// StaleAfter is how long a last good value is kept when it cannot be
	// refreshed; older values are dropped instead of frozen. 0 keeps
	// values forever.
	StaleAfter time.Duration
	// Thresholds are the status thresholds (global and per group).
	Thresholds config.Thresholds
	// TimeLag is how time lag is resolved (mode, fetch budget), and
	// PollInterval sets its accuracy target (timelag.Target).
	TimeLag      config.TimeLag
	PollInterval time.Duration
}

// Builder turns one cluster's observations into Cluster snapshots. It keeps
// the state that spans cycles: previous values (kept with their age while a
// refresh fails), one groupState per group, the time-lag resolver and the
// poll histogram. A Builder is used by one goroutine.
//
// A cycle is ResolveTimes (the record timestamps the estimates need, read
// through a RecordTimes), then Build (the fold, no I/O); between cycles,
// RefreshGroups folds group descriptions.
type Builder struct {
	o        BuilderOptions
	prev     *Cluster
	groups   map[string]*groupState
	shares   map[string]*shareState
	times    *timeLag
	events   []RebalanceEvent
	hist     Histogram
	errs     map[string]uint64
	everUp   bool
	lastGood time.Time
	// produced counts the messages produced to each partition, for the
	// produce rates; rateWindow is the longest growth window of any
	// group, which its samples cover.
	produced   map[tp]*partitionRate
	rateWindow time.Duration
}

// partitionRate is the produce count of one partition and its samples.
type partitionRate struct {
	count  catchup.Produced
	window catchup.Window
}

// RebalanceEvent is a rebalance of one group, for logging and tracing.
type RebalanceEvent struct {
	Group string
	Kind  string
	rebalance.Event
}

// Attrs are the facts of the rebalance that the "group rebalanced" log
// line and the klagx.rebalance span both carry, under the same keys. Each
// adds what only it has (the log line the member lists and times, the span
// the member counts and its cluster).
func (e RebalanceEvent) Attrs() []slog.Attr {
	return []slog.Attr{
		slog.String("group", e.Group), slog.String("kind", e.Kind), slog.String("cause", e.Cause),
		slog.Int("rebalances", e.Generations), slog.Bool("exact_count", e.Exact),
		slog.Int("members_before", e.MembersBefore), slog.Int("members_after", e.MembersAfter),
		slog.Int("static_joined", e.StaticJoined), slog.Int("static_left", e.StaticLeft),
		slog.Int("partitions_moved", e.Moved), slog.Int("partitions_assigned", e.Assigned),
		slog.Int("partitions_unassigned", e.Unassigned),
	}
}

// NewBuilder returns a Builder for one cluster.
func NewBuilder(o BuilderOptions) *Builder {
	b := &Builder{
		o:      o,
		groups: map[string]*groupState{},
		shares: map[string]*shareState{},
		times:  newTimeLag(o),
		errs:   map[string]uint64{},
		hist:   histogram.New(metrics.PollDurationBuckets),

		produced:   map[tp]*partitionRate{},
		rateWindow: o.Thresholds.Default.GrowthWindow,
	}
	for _, ov := range o.Thresholds.Overrides {
		if ov.GrowthWindow != nil {
			b.rateWindow = max(b.rateWindow, *ov.GrowthWindow)
		}
	}
	for _, s := range metrics.PollStages {
		b.errs[s] = 0
	}
	return b
}

// state returns the cross-cycle state of a group, creating it.
func (b *Builder) state(name string) *groupState {
	gs := b.groups[name]
	if gs == nil {
		gs = newGroupState()
		b.groups[name] = gs
	}
	return gs
}

// ResolveTimes reads, through src, the record timestamps this cycle's
// time-lag estimates need (see timeLag.resolve), and keeps them for Build
// and later cycles. It is the only Kafka I/O the builder causes; without
// it, Build estimates from the end offsets alone.
func (b *Builder) ResolveTimes(ctx context.Context, obs *observation.Observation, src RecordTimes) {
	b.times.resolve(ctx, obs, src)
}

// Build folds one observation into a new, immutable Cluster. requests are
// the collector's cumulative request counts by API.
func (b *Builder) Build(obs *observation.Observation, requests []Count) *Cluster {
	b.hist.Observe(obs.End.Sub(obs.Start).Seconds())
	for _, e := range obs.Errors {
		b.errs[e.Stage]++
	}
	c := &Cluster{
		Name:         b.o.Cluster,
		TakenAt:      obs.End,
		PollDuration: b.hist.Copy(),
		Requests:     append([]Count(nil), requests...),
		PollErrors:   b.errCounts(),
	}
	if obs.Err != nil {
		b.keepLastGood(c, obs)
	} else {
		b.everUp, b.lastGood = true, obs.End
		c.Up, c.Ready, c.LastSuccess = true, true, obs.End
		b.times.observeEnds(obs)
		c.Partitions = b.partitions(obs)
		b.observeProduced(c.Partitions)
		c.Groups = b.groupsOf(obs, c.Partitions)
		c.ShareGroups = b.shareGroupsOf(obs, c.Partitions)
	}
	b.prune(c)
	b.prev = c
	return c
}

// keepLastGood fills a cycle that could not reach the cluster: the previous
// values that are still fresh, each group counting one failed read.
func (b *Builder) keepLastGood(c *Cluster, obs *observation.Observation) {
	c.LastError = obs.Err.Error()
	c.Ready = b.everUp
	c.LastSuccess = b.lastGood
	if b.prev == nil {
		return
	}
	c.Partitions = b.keepFresh(b.prev.Partitions, obs.End)
	for _, g := range b.prev.Groups {
		if b.fresh(g.ObservedAt, obs.End) {
			b.state(g.Name).failed(&g, c.LastError)
			c.Groups = append(c.Groups, g)
		}
	}
	b.keepShareGroups(c, obs.End)
}

func (b *Builder) fresh(at, now time.Time) bool {
	return b.o.StaleAfter <= 0 || now.Sub(at) <= b.o.StaleAfter
}

func (b *Builder) keepFresh(ps []Partition, now time.Time) []Partition {
	var out []Partition
	for _, p := range ps {
		if b.fresh(p.ObservedAt, now) {
			out = append(out, p)
		}
	}
	return out
}

// partitions takes every partition read this cycle; a partition whose read
// failed keeps its previous offsets (with their age). Topics missing from
// the metadata were deleted and vanish now.
func (b *Builder) partitions(obs *observation.Observation) []Partition {
	if !obs.MetadataOK {
		if b.prev == nil {
			return nil
		}
		return b.keepFresh(b.prev.Partitions, obs.End)
	}
	var prev map[tp]*Partition
	if b.prev != nil {
		prev = indexPartitions(b.prev.Partitions)
	}
	var out []Partition
	for _, name := range obs.SortedTopics() {
		t := obs.Topics[name]
		nums := make([]int32, 0, len(t.Partitions))
		for p := range t.Partitions {
			nums = append(nums, p)
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
		for _, n := range nums {
			p := t.Partitions[n]
			ok := p.Err == nil && p.Start >= 0 && p.End >= 0 && (!b.o.ReadCommitted || p.Stable >= 0)
			if ok {
				out = append(out, Partition{Topic: name, Partition: n, Start: p.Start, End: p.End, Stable: p.Stable, ObservedAt: obs.End})
				continue
			}
			if old, found := prev[tp{name, n}]; found && !p.Gone && b.fresh(old.ObservedAt, obs.End) {
				out = append(out, *old)
			}
		}
	}
	return out
}

// observeProduced counts the messages produced to each partition since its
// last read. A partition kept from an earlier read (its read failed) has
// its old read time and adds no sample; a partition that is gone is
// forgotten in prune.
func (b *Builder) observeProduced(ps []Partition) {
	for i := range ps {
		p := &ps[i]
		k := tp{p.Topic, p.Partition}
		r := b.produced[k]
		if r == nil {
			r = &partitionRate{}
			b.produced[k] = r
		}
		if r.count.Observe(p.LagEnd(), p.ObservedAt) {
			r.window.Add(p.ObservedAt, r.count.N, b.rateWindow)
		}
	}
}

type tp struct {
	topic     string
	partition int32
}

func indexPartitions(ps []Partition) map[tp]*Partition {
	m := make(map[tp]*Partition, len(ps))
	for i := range ps {
		m[tp{ps[i].Topic, ps[i].Partition}] = &ps[i]
	}
	return m
}

// groupsOf builds every group of the observation. A group whose
// description or offsets could not be read keeps its previous values with
// their age; a group that is no longer listed was deleted and vanishes,
// unless the broker that coordinated it failed to answer ListGroups.
func (b *Builder) groupsOf(obs *observation.Observation, parts []Partition) []Group {
	// parts is in topic, then partition order (see partitions).
	folds := make([]foldPartition, len(parts))
	topicParts := map[string][]*foldPartition{}
	for i := range parts {
		folds[i].p = &parts[i]
		topicParts[parts[i].Topic] = append(topicParts[parts[i].Topic], &folds[i])
	}
	prev := b.prevGroups()
	out := make([]Group, 0, len(obs.Groups))
	for _, name := range obs.SortedGroups() {
		og := obs.Groups[name]
		if err := firstErr(og.DescribeErr, og.FetchErr); err != nil {
			out = append(out, b.unread(og, prev[name], err.Error(), obs.End))
			continue
		}
		out = append(out, b.group(og, topicParts, obs.End))
	}
	if kept := b.unlisted(obs, prev); len(kept) > 0 {
		out = append(out, kept...)
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	}
	return out
}

// prevGroups indexes the previous snapshot's groups by name.
func (b *Builder) prevGroups() map[string]*Group {
	if b.prev == nil {
		return nil
	}
	prev := make(map[string]*Group, len(b.prev.Groups))
	for i := range b.prev.Groups {
		prev[b.prev.Groups[i].Name] = &b.prev.Groups[i]
	}
	return prev
}

// unread is a listed group whose read failed this cycle: its previous
// values while fresh, else only what the listing says.
func (b *Builder) unread(og *observation.Group, old *Group, why string, now time.Time) Group {
	var g Group
	if old != nil && old.HasData && b.fresh(old.ObservedAt, now) {
		g = *old
	} else {
		g = Group{Name: og.Name, Kind: og.Kind, State: og.State, Coordinator: og.Coordinator, ObservedAt: now}
	}
	b.state(g.Name).failed(&g, why)
	return g
}

// unlisted keeps the groups missing from the listing because their
// coordinator did not answer ListGroups: they were not deleted.
func (b *Builder) unlisted(obs *observation.Observation, prev map[string]*Group) []Group {
	if len(obs.UnlistedBrokers) == 0 {
		return nil
	}
	var out []Group
	for name, old := range prev {
		if _, listed := obs.Groups[name]; listed || !b.fresh(old.ObservedAt, obs.End) || !obs.UnlistedBrokers[old.Coordinator] {
			continue
		}
		g := *old
		b.state(g.Name).failed(&g, "coordinator did not answer ListGroups")
		out = append(out, g)
	}
	return out
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// prune forgets the state of group partitions, groups and partitions that
// no longer exist, so churn of groups and topics never grows memory.
func (b *Builder) prune(c *Cluster) {
	live := make(map[string]*Group, len(c.Groups))
	for i := range c.Groups {
		live[c.Groups[i].Name] = &c.Groups[i]
	}
	for name, st := range b.groups {
		g, ok := live[name]
		if !ok {
			delete(b.groups, name)
			continue
		}
		st.retain(g.Partitions)
	}
	b.times.tracker.Retain(b.keepFrom(c))
	if len(b.produced) != len(c.Partitions) {
		live := indexPartitions(c.Partitions)
		for k := range b.produced {
			if live[k] == nil {
				delete(b.produced, k)
			}
		}
	}
	b.pruneShares(c)
}

// keepFrom is, per partition of c, the lowest offset a time-lag estimate
// still needs: the lowest commit of any group, or the log start offset
// (retention headroom, groups without a commit), at most the end.
func (b *Builder) keepFrom(c *Cluster) map[timelag.TP]int64 {
	// Folded per topic first: one string hash per group topic, not per
	// group partition.
	byTopic := map[string]map[int32]int64{}
	for _, p := range c.Partitions {
		m := byTopic[p.Topic]
		if m == nil {
			m = map[int32]int64{}
			byTopic[p.Topic] = m
		}
		m[p.Partition] = min(p.End, p.Start)
	}
	for _, st := range b.groups {
		for topic, parts := range st.parts {
			m := byTopic[topic]
			if m == nil {
				continue
			}
			for n, ps := range parts {
				if cur, ok := m[n]; ok && ps.commits.HasCommit && ps.commits.Offset < cur {
					m[n] = ps.commits.Offset
				}
			}
		}
	}
	from := make(map[timelag.TP]int64, len(c.Partitions))
	for topic, m := range byTopic {
		for n, off := range m {
			from[timelag.TP{Topic: topic, Partition: n}] = off
		}
	}
	return from
}

func (b *Builder) errCounts() []Count {
	out := make([]Count, 0, len(b.errs))
	for k, v := range b.errs {
		out = append(out, Count{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DrainEvents returns the rebalances completed since the last call.
func (b *Builder) DrainEvents() []RebalanceEvent {
	ev := b.events
	b.events = nil
	return ev
}

// RefreshGroups folds a group-state-only observation (collector
// DescribeGroups, between offset cycles) into the latest snapshot: the
// described groups get their new state, members (and the owners of their
// partitions, with the lags of the last cycle), rebalance counters and a
// re-evaluated status; everything else is shared with the previous
// snapshot. It returns nil before the first successful offset cycle.
func (b *Builder) RefreshGroups(obs *observation.Observation) *Cluster {
	if b.prev == nil || !b.prev.Up {
		return nil
	}
	c := *b.prev
	c.Groups = append([]Group(nil), b.prev.Groups...)
	for i := range c.Groups {
		g := &c.Groups[i]
		og, ok := obs.Groups[g.Name]
		if !ok || og.DescribeErr != nil || !g.HasData {
			continue
		}
		st := b.state(g.Name)
		b.events = append(b.events, st.observeRebalance(og, obs.End)...)
		g.State, g.Members, g.StaticMembers = og.State, len(og.Members), og.StaticMembers()
		g.MemberLags, g.Partitions = reown(og, g.Partitions, st.owners)
		st.rebalanceFields(g)
		in := st.lastInput
		in.State, in.Members, in.Rebalancing = og.State, len(og.Members), g.RebalanceInProgress
		res := status.Evaluate(in, g.Thresholds)
		g.Status, g.Reason = res.Status, res.Reason
		catchUp(g) // the group may have stopped, or members come back, since the cycle
	}
	b.prev = &c
	return &c
}
