package snapshot

import (
	"sort"
	"strconv"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/status"
)

// ShareGroup is one share group's (KIP-932) state and lag. Share groups
// have no committed offsets: the broker tracks, per share-partition, the
// start offset (SPSO) below which every record is acknowledged, archived
// or gone, and the records above it not yet acknowledged.
type ShareGroup struct {
	Name        string
	State       string
	Coordinator int32
	// Members is sorted by member ID.
	Members []ShareMember

	// ObservedAt, Error, PollErrors and HasData are as in Group.
	ObservedAt time.Time
	Error      string
	PollErrors uint64
	HasData    bool

	// Lag sums Partitions[].Lag over partitions whose lag is known.
	Lag int64
	// EstimatedPartitions counts partitions whose lag klagx computed as
	// high-water mark minus start offset, because the broker does not
	// report share-partition lag (before Kafka 4.2): an upper bound, as
	// records above the start offset already acknowledged are counted.
	EstimatedPartitions int
	// ProgressGap is the longest time, in seconds, a share-partition with
	// lag has gone without progress: its start offset advancing or its lag
	// falling (0 when none has lag).
	ProgressGap float64

	Status     status.Status
	Reason     string
	Thresholds config.GroupThresholds

	// Partitions is sorted by topic and partition.
	Partitions []SharePartition
}

// ShareMember is one member of a share group.
type ShareMember struct {
	ID, ClientID, ClientHost string
	// Assigned maps topic → the partitions assigned to the member (share
	// groups assign one partition to many members).
	Assigned map[string][]int32
}

// SharePartition is a share group's state on one partition.
type SharePartition struct {
	Topic     string
	Partition int32
	// Start is the share-partition start offset.
	Start int64
	// Lag is valid if LagKnown; Estimated says it is the upper bound
	// end − start (see ShareGroup.EstimatedPartitions).
	Lag       int64
	LagKnown  bool
	Estimated bool
	// AdvancedAt is when the partition last made progress: its start
	// offset moved or its lag fell.
	AdvancedAt time.Time
}

// ShareGroup returns the named share group, or nil.
func (c *Cluster) ShareGroup(name string) *ShareGroup {
	i := sort.Search(len(c.ShareGroups), func(i int) bool { return c.ShareGroups[i].Name >= name })
	if i < len(c.ShareGroups) && c.ShareGroups[i].Name == name {
		return &c.ShareGroups[i]
	}
	return nil
}

// shareState is what spans cycles for one share group: when each
// share-partition last made progress (see startSeen), the lag samples of the growth
// rule and the failed reads.
type shareState struct {
	starts  map[tp]startSeen
	samples []status.Sample
	errors  uint64
}

// startSeen is a share-partition's progress: its start offset and lag
// when either last moved forward (the start offset up, the lag down), and
// since when.
type startSeen struct {
	offset, lag int64
	since       time.Time
}

func (b *Builder) shareState(name string) *shareState {
	st := b.shares[name]
	if st == nil {
		st = &shareState{starts: map[tp]startSeen{}}
		b.shares[name] = st
	}
	return st
}

// failedShare counts one failed read of the share group g.
func (b *Builder) failedShare(g *ShareGroup, why string) {
	st := b.shareState(g.Name)
	st.errors++
	g.PollErrors, g.Error = st.errors, why
}

// shareGroupsOf builds every share group of the observation, keeping the
// previous values (with their age) of a group whose read failed, and those
// of a group missing because its coordinator did not answer ListGroups; a
// group no longer listed otherwise was deleted and vanishes.
func (b *Builder) shareGroupsOf(obs *observation.Observation, parts []Partition) []ShareGroup {
	ends := indexPartitions(parts)
	prev := map[string]*ShareGroup{}
	if b.prev != nil {
		for i := range b.prev.ShareGroups {
			prev[b.prev.ShareGroups[i].Name] = &b.prev.ShareGroups[i]
		}
	}
	var out []ShareGroup
	for _, name := range obs.SortedShareGroups() {
		og := obs.ShareGroups[name]
		if err := firstErr(og.DescribeErr, og.FetchErr); err != nil {
			g := ShareGroup{Name: name, State: og.State, Coordinator: og.Coordinator, ObservedAt: obs.End}
			if old := prev[name]; old != nil && old.HasData && b.fresh(old.ObservedAt, obs.End) {
				g = *old
			}
			b.failedShare(&g, err.Error())
			out = append(out, g)
			continue
		}
		out = append(out, b.shareGroup(og, ends, obs.End))
	}
	if len(obs.UnlistedBrokers) > 0 {
		for name, old := range prev {
			if _, listed := obs.ShareGroups[name]; listed || !b.fresh(old.ObservedAt, obs.End) || !obs.UnlistedBrokers[old.Coordinator] {
				continue
			}
			g := *old
			b.failedShare(&g, "coordinator did not answer ListGroups")
			out = append(out, g)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	}
	return out
}

// shareGroup folds one share group read this cycle.
func (b *Builder) shareGroup(og *observation.ShareGroup, ends map[tp]*Partition, now time.Time) ShareGroup {
	st := b.shareState(og.Name)
	g := ShareGroup{
		Name: og.Name, State: og.State, Coordinator: og.Coordinator,
		ObservedAt: now, HasData: true, PollErrors: st.errors,
		Thresholds: b.o.Thresholds.For(og.Name),
	}
	for _, m := range og.Members {
		g.Members = append(g.Members, ShareMember{ID: m.ID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: m.Assigned})
	}
	var (
		gap      time.Duration
		gapWhere string
		seen     = make(map[tp]startSeen, len(st.starts))
	)
	for topic, ps := range og.Offsets {
		for n, so := range ps {
			key := tp{topic, n}
			sp := SharePartition{Topic: topic, Partition: n, Start: so.Start, Lag: so.Lag, LagKnown: so.Lag >= 0}
			if !sp.LagKnown {
				// Before Kafka 4.2 the broker does not say how many
				// records above the start offset are acknowledged.
				if p, ok := ends[key]; ok {
					sp.Lag, sp.LagKnown, sp.Estimated = max(0, p.End-so.Start), true, true
					g.EstimatedPartitions++
				}
			}
			// Progress is the start offset moving, or the lag falling:
			// Kafka acknowledges records above the start offset (the
			// broker's lag counts them) before it moves the start offset
			// past them, which it may do much later.
			s, ok := st.starts[key]
			if !ok || s.offset != so.Start || sp.LagKnown && sp.Lag < s.lag {
				s.since = now
			}
			s.offset, s.lag = so.Start, sp.Lag
			seen[key] = s
			sp.AdvancedAt = s.since
			if sp.LagKnown {
				g.Lag += sp.Lag
				if d := now.Sub(s.since); sp.Lag > 0 && d > gap {
					gap, gapWhere = d, topic+"/"+strconv.Itoa(int(n))
				}
			}
			g.Partitions = append(g.Partitions, sp)
		}
	}
	st.starts = seen // partitions the group no longer has state for are forgotten
	sort.Slice(g.Partitions, func(i, j int) bool {
		a, c := g.Partitions[i], g.Partitions[j]
		return a.Topic < c.Topic || a.Topic == c.Topic && a.Partition < c.Partition
	})
	g.ProgressGap = gap.Seconds()
	st.samples = status.Trim(append(st.samples, status.Sample{At: now, Lag: g.Lag}), now, g.Thresholds.GrowthWindow)
	growing, from := status.Growing(st.samples, now, g.Thresholds.GrowthWindow)
	res := status.EvaluateShare(status.ShareInput{
		HasData: true, Members: len(g.Members), Lag: g.Lag,
		Gap: gap, GapWhere: gapWhere, Growing: growing, GrowthFrom: from,
	}, g.Thresholds)
	g.Status, g.Reason = res.Status, res.Reason
	return g
}

// keepShareGroups carries the fresh share groups of the previous snapshot
// through a cycle that could not reach the cluster.
func (b *Builder) keepShareGroups(c *Cluster, now time.Time) {
	for _, g := range b.prev.ShareGroups {
		if b.fresh(g.ObservedAt, now) {
			b.failedShare(&g, c.LastError)
			c.ShareGroups = append(c.ShareGroups, g)
		}
	}
}

// pruneShares forgets the state of share groups no longer in c.
func (b *Builder) pruneShares(c *Cluster) {
	for name := range b.shares {
		if c.ShareGroup(name) == nil {
			delete(b.shares, name)
		}
	}
}
