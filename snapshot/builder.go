package snapshot

import (
	"sort"
	"time"

	"github.com/klagx/klagx/lag"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/observation"
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
}

// Builder turns one cluster's observations into Cluster snapshots. It keeps
// the state that spans cycles: previous values (kept with their age while a
// refresh fails), lost-message counters and the poll histogram. A Builder is
// used by one goroutine.
type Builder struct {
	o        BuilderOptions
	prev     *Cluster
	lost     map[gtp]*lag.LostCounter
	hist     Histogram
	errs     map[string]uint64
	everUp   bool
	lastGood time.Time
}

type gtp struct {
	group, topic string
	partition    int32
}

// NewBuilder returns a Builder for one cluster.
func NewBuilder(o BuilderOptions) *Builder {
	b := &Builder{
		o:    o,
		lost: map[gtp]*lag.LostCounter{},
		errs: map[string]uint64{},
		hist: Histogram{Bounds: metrics.PollDurationBuckets, Counts: make([]uint64, len(metrics.PollDurationBuckets))},
	}
	for _, s := range metrics.PollStages {
		b.errs[s] = 0
	}
	return b
}

// Build folds one observation into a new, immutable Cluster. requests are the
// collector's cumulative request counts by API.
func (b *Builder) Build(obs *observation.Observation, requests []Count) *Cluster {
	b.observeDuration(obs.End.Sub(obs.Start).Seconds())
	for _, e := range obs.Errors {
		b.errs[e.Stage]++
	}
	c := &Cluster{
		Name:         b.o.Cluster,
		TakenAt:      obs.End,
		PollDuration: b.histCopy(),
		Requests:     append([]Count(nil), requests...),
		PollErrors:   b.errCounts(),
	}
	if obs.Err != nil {
		c.LastError = obs.Err.Error()
		c.Ready = b.everUp
		c.LastSuccess = b.lastGood
		if b.prev != nil {
			c.Partitions = b.keepFresh(b.prev.Partitions, obs.End)
			for _, g := range b.prev.Groups {
				if b.fresh(g.ObservedAt, obs.End) {
					g.Error = c.LastError
					c.Groups = append(c.Groups, g)
				}
			}
		}
		b.prune(c)
		b.prev = c
		return c
	}
	b.everUp, b.lastGood = true, obs.End
	c.Up, c.Ready, c.LastSuccess = true, true, obs.End

	c.Partitions = b.partitions(obs)
	parts := indexPartitions(c.Partitions)
	c.Groups = b.groups(obs, parts)
	b.prune(c)
	b.prev = c
	return c
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

// groups builds every group of the observation. A group whose description
// or offsets could not be read keeps its previous values with their age; a
// group that is no longer listed was deleted and vanishes, unless the broker
// that coordinated it failed to answer ListGroups.
func (b *Builder) groups(obs *observation.Observation, parts map[tp]*Partition) []Group {
	topicParts := map[string][]*Partition{}
	for i := range parts {
		p := parts[i]
		topicParts[p.Topic] = append(topicParts[p.Topic], p)
	}
	for _, ps := range topicParts {
		sort.Slice(ps, func(i, j int) bool { return ps[i].Partition < ps[j].Partition })
	}
	var prev map[string]*Group
	if b.prev != nil {
		prev = make(map[string]*Group, len(b.prev.Groups))
		for i := range b.prev.Groups {
			prev[b.prev.Groups[i].Name] = &b.prev.Groups[i]
		}
	}

	out := make([]Group, 0, len(obs.Groups))
	for _, name := range obs.SortedGroups() {
		og := obs.Groups[name]
		if err := firstErr(og.DescribeErr, og.FetchErr); err != nil {
			if old, ok := prev[name]; ok && old.HasData && b.fresh(old.ObservedAt, obs.End) {
				g := *old
				g.Error = err.Error()
				out = append(out, g)
				continue
			}
			out = append(out, Group{Name: name, Kind: og.Kind, State: og.State, Coordinator: og.Coordinator, Error: err.Error(), ObservedAt: obs.End})
			continue
		}
		out = append(out, b.group(og, topicParts, obs.End))
	}
	// Groups missing from the listing because their broker did not answer
	// ListGroups are kept, not deleted.
	if len(obs.UnlistedBrokers) > 0 && b.prev != nil {
		for _, old := range b.prev.Groups {
			if _, listed := obs.Groups[old.Name]; listed {
				continue
			}
			if !b.fresh(old.ObservedAt, obs.End) {
				continue
			}
			if obs.UnlistedBrokers[old.Coordinator] {
				g := old
				g.Error = "coordinator did not answer ListGroups"
				out = append(out, g)
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
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

func (b *Builder) group(og *observation.Group, topicParts map[string][]*Partition, now time.Time) Group {
	g := Group{
		Name: og.Name, Kind: og.Kind, State: og.State, Protocol: og.Protocol, Coordinator: og.Coordinator,
		Members: len(og.Members), StaticMembers: og.StaticMembers(),
		ObservedAt: now, HasData: true,
	}
	for _, topic := range og.Topics() {
		ps, ok := topicParts[topic]
		if !ok {
			// Deleted, filtered out, or never listed: commits on topics
			// that do not exist are not lag.
			continue
		}
		gt := GroupTopic{Topic: topic}
		for _, p := range ps {
			commit := lag.Commit{}
			if off, ok := og.Commits[topic][p.Partition]; ok {
				commit = lag.CommitAt(off)
			}
			end := p.End
			if b.o.ReadCommitted && p.Stable >= 0 {
				end = p.Stable
			}
			r := lag.Partition(commit, lag.Offsets{Start: p.Start, End: end})
			key := gtp{og.Name, topic, p.Partition}
			lc := b.lost[key]
			if lc == nil {
				lc = &lag.LostCounter{}
				b.lost[key] = lc
			}
			lc.Observe(commit, p.Start)
			gp := GroupPartition{
				Topic: topic, Partition: p.Partition,
				Committed: commit.Offset, HasCommit: commit.Valid,
				Lag: r.Lag, LagKnown: true,
				BelowStart: r.BelowStart, LostTotal: lc.Total,
			}
			if !commit.Valid {
				gp.Committed = 0
				g.PartitionsWithoutCommit++
			}
			g.Partitions = append(g.Partitions, gp)
			gt.Lag += r.Lag
		}
		g.Topics = append(g.Topics, gt)
		g.Lag += gt.Lag
	}
	return g
}

// prune forgets lost counters of group partitions that no longer exist, so
// churn of groups and topics never grows memory.
func (b *Builder) prune(c *Cluster) {
	keep := make(map[gtp]bool, len(b.lost))
	for _, g := range c.Groups {
		for _, p := range g.Partitions {
			keep[gtp{g.Name, p.Topic, p.Partition}] = true
		}
	}
	for k := range b.lost {
		if !keep[k] {
			delete(b.lost, k)
		}
	}
}

func (b *Builder) observeDuration(sec float64) {
	b.hist.Count++
	b.hist.Sum += sec
	for i, ub := range b.hist.Bounds {
		if sec <= ub {
			b.hist.Counts[i]++
		}
	}
}

func (b *Builder) histCopy() Histogram {
	h := b.hist
	h.Counts = append([]uint64(nil), b.hist.Counts...)
	return h
}

func (b *Builder) errCounts() []Count {
	out := make([]Count, 0, len(b.errs))
	for k, v := range b.errs {
		out = append(out, Count{Name: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
