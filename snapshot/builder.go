package snapshot

import (
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/klagx/klagx/commits"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/status"
	"github.com/klagx/klagx/timelag"

	"github.com/klagx/klagx/lag"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/rebalance"
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
}

// Builder turns one cluster's observations into Cluster snapshots. It keeps
// the state that spans cycles: previous values (kept with their age while a
// refresh fails), lost-message counters and the poll histogram. A Builder is
// used by one goroutine.
type Builder struct {
	o       BuilderOptions
	prev    *Cluster
	parts   map[gtp]*partState
	groupSt map[string]*groupState
	times   *timelag.Tracker
	// fedStart and fedEnd identify the last observation whose end offsets
	// the tracker has seen (times, not a pointer, so that the observation
	// is not kept alive).
	fedStart, fedEnd time.Time
	rebal            map[string]*rebalance.Tracker
	events           []RebalanceEvent
	hist             Histogram
	errs             map[string]uint64
	everUp           bool
	lastGood         time.Time
}

type gtp struct {
	group, topic string
	partition    int32
}

// partState is what spans cycles for one group on one partition.
type partState struct {
	lost    lag.LostCounter
	commits commits.Partition
}

// groupState is what spans cycles for one group.
type groupState struct {
	samples    []status.Sample
	lastInput  status.Input
	latency    Histogram
	gaps       uint64
	inGap      bool
	rewinds    uint64
	rewoundAt  time.Time
	rewoundOn  string
	lostEvents []lostEvent
	// errors counts the cycles in which the group could not be read.
	errors uint64
}

// state returns the cross-cycle state of a group, creating it.
func (b *Builder) state(name string) *groupState {
	gs := b.groupSt[name]
	if gs == nil {
		gs = &groupState{latency: newHistogram(metrics.CommitLatencyBuckets)}
		b.groupSt[name] = gs
	}
	return gs
}

// failed counts one failed read of group g and records why.
func (b *Builder) failed(g *Group, why string) {
	gs := b.state(g.Name)
	gs.errors++
	g.PollErrors = gs.errors
	g.Error = why
}

// RebalanceEvent is a rebalance of one group, for logging and tracing.
type RebalanceEvent struct {
	Group string
	Kind  string
	rebalance.Event
}

type lostEvent struct {
	at    time.Time
	n     int64
	where string
}

// NewBuilder returns a Builder for one cluster.
func NewBuilder(o BuilderOptions) *Builder {
	b := &Builder{
		o:       o,
		parts:   map[gtp]*partState{},
		groupSt: map[string]*groupState{},
		times:   timelag.NewTracker(),
		rebal:   map[string]*rebalance.Tracker{},
		errs:    map[string]uint64{},
		hist:    Histogram{Bounds: metrics.PollDurationBuckets, Counts: make([]uint64, len(metrics.PollDurationBuckets))},
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
					b.failed(&g, c.LastError)
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

	b.ObserveOffsets(obs)
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
				b.failed(&g, err.Error())
				out = append(out, g)
				continue
			}
			g := Group{Name: name, Kind: og.Kind, State: og.State, Coordinator: og.Coordinator, ObservedAt: obs.End}
			b.failed(&g, err.Error())
			out = append(out, g)
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
				b.failed(&g, "coordinator did not answer ListGroups")
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
	th := b.o.Thresholds.For(og.Name)
	g := Group{
		Name: og.Name, Kind: og.Kind, State: og.State, Protocol: og.Protocol, Coordinator: og.Coordinator,
		Members: len(og.Members), StaticMembers: og.StaticMembers(),
		ObservedAt: now, HasData: true, Thresholds: th,
	}
	gs := b.state(og.Name)
	g.PollErrors = gs.errors
	b.observeRebalance(og, now)
	b.rebalanceFields(&g)
	owned := map[string]map[int32]bool{}
	for _, m := range og.Members {
		for topic, ps := range m.Assigned {
			if owned[topic] == nil {
				owned[topic] = map[int32]bool{}
			}
			for _, p := range ps {
				owned[topic][p] = true
			}
		}
	}
	countUnowned := len(og.Members) > 0 && og.State == "Stable"
	methods := map[timelag.Method]int{}
	var (
		gap     time.Duration
		lagging int
		lostNow int64
		lostAt  string
	)
	for _, topic := range og.Topics() {
		ps, ok := topicParts[topic]
		if !ok {
			// Deleted, filtered out, or never listed: commits on topics
			// that do not exist are not lag.
			continue
		}
		gt := GroupTopic{Topic: topic}
		for _, p := range ps {
			where := topic + "/" + strconv.Itoa(int(p.Partition))
			commit := lag.Commit{}
			if off, ok := og.Commits[topic][p.Partition]; ok {
				commit = lag.CommitAt(off)
			}
			end := b.lagEnd(p)
			r := lag.Partition(commit, lag.Offsets{Start: p.Start, End: end})
			key := gtp{og.Name, topic, p.Partition}
			st := b.parts[key]
			if st == nil {
				st = &partState{}
				b.parts[key] = st
			}
			if n := st.lost.Observe(commit, p.Start); n > 0 {
				gs.lostEvents = append(gs.lostEvents, lostEvent{now, int64(n), where})
			}
			ch := st.commits.Observe(commit, r.Lag, now)
			track := b.times.Track(timelag.TP{Topic: topic, Partition: p.Partition})
			if ch.Advanced && ch.To > 0 && ch.To <= end && ch.From >= 0 {
				// The newest message this commit covers is To-1.
				if e := track.Estimate(ch.To-1, ch.To, now); e.Method == timelag.Exact || e.Method == timelag.Interpolated {
					gs.latency.observe(e.Seconds)
				}
			}
			if ch.Rewound {
				gs.rewinds++
				gs.rewoundAt = now
				gs.rewoundOn = fmt.Sprintf("%s (from %d to %d)", where, ch.From, ch.To)
			}
			pos := positionFor(commit, p.Start)
			est := track.Estimate(pos, end, now)
			methods[est.Method]++
			gp := GroupPartition{
				Topic: topic, Partition: p.Partition,
				Committed: commit.Offset, HasCommit: commit.Valid,
				Lag: r.Lag, LagKnown: true,
				BelowStart: r.BelowStart, LostTotal: st.lost.Total,
				LagSeconds: est.Seconds, TimeLagMethod: string(est.Method), TimeLagError: est.ErrorBound,
			}
			if commit.Valid {
				gp.LastCommitAt = st.commits.Since
				if countUnowned && !owned[topic][p.Partition] {
					g.UnownedPartitions++
				}
			} else {
				gp.Committed = 0
				g.PartitionsWithoutCommit++
			}
			if est.Method != timelag.Unknown {
				if !gt.LagSecondsKnown || est.Seconds > gt.LagSeconds {
					gt.LagSeconds = est.Seconds
				}
				gt.LagSecondsKnown = true
				if est.ErrorBound > g.TimeLagError {
					g.TimeLagError = est.ErrorBound
				}
			}
			if r.Lag > 0 {
				// The group is in a gap only while none of its partitions
				// with lag makes progress: a consumer working through a
				// backlog can leave some partitions untouched for a while.
				// A single stuck partition shows in its time lag instead.
				d := st.commits.Gap(r.Lag, now)
				if lagging == 0 || d < gap {
					gap = d
				}
				lagging++
			}
			if r.BelowStart > 0 {
				lostNow += r.BelowStart
				lostAt = where
			}
			if r.Lag > 0 && commit.Valid && r.BelowStart == 0 {
				b.headroom(&g, track, commit.Offset, p.Start, end, now)
			}
			pin := status.Input{
				HasData: true, State: og.State, Members: len(og.Members),
				Lag: r.Lag, LagSeconds: est.Seconds, LagSecondsKnown: est.Method != timelag.Unknown,
				Gap: st.commits.Gap(r.Lag, now), GapWhere: where, LostNow: r.BelowStart, LostWhere: where,
				Rebalancing: g.RebalanceInProgress,
			}
			if !st.commits.RewoundAt.IsZero() && now.Sub(st.commits.RewoundAt) <= th.GrowthWindow {
				pin.Rewound = where
			}
			pres := status.Evaluate(pin, th)
			gp.Status, gp.Reason = string(pres.Status), pres.Reason
			g.MessagesLost += st.lost.Total
			g.Partitions = append(g.Partitions, gp)
			gt.Lag += r.Lag
		}
		g.Topics = append(g.Topics, gt)
		g.Lag += gt.Lag
		if gt.LagSecondsKnown {
			if !g.LagSecondsKnown || gt.LagSeconds > g.LagSeconds {
				g.LagSeconds = gt.LagSeconds
			}
			g.LagSecondsKnown = true
		}
	}
	for _, m := range timelag.Methods {
		if n := methods[m]; n > 0 {
			g.TimeLagMethods = append(g.TimeLagMethods, Count{Name: string(m), Value: uint64(n)})
		}
	}
	g.CommitGap = gap.Seconds()

	// Status.
	window := th.GrowthWindow
	gs.samples = status.Trim(append(gs.samples, status.Sample{At: now, Lag: g.Lag}), now, window)
	growing, from := status.Growing(gs.samples, now, window)
	var lostRecent int64
	keep := gs.lostEvents[:0]
	for _, e := range gs.lostEvents {
		if now.Sub(e.at) <= window {
			keep = append(keep, e)
			lostRecent += e.n
			lostAt = e.where
		}
	}
	gs.lostEvents = keep
	in := status.Input{
		HasData: true, State: og.State, Members: len(og.Members),
		Lag: g.Lag, LagSeconds: g.LagSeconds, LagSecondsKnown: g.LagSecondsKnown,
		Gap: gap, GapWhere: fmt.Sprintf("any of its %d partitions with lag", lagging),
		LostNow: lostNow, LostRecent: lostRecent, LostWhere: lostAt,
		Growing: growing, GrowthFrom: from,
		Rebalancing: g.RebalanceInProgress,
	}
	if !gs.rewoundAt.IsZero() && now.Sub(gs.rewoundAt) <= window {
		in.Rewound = gs.rewoundOn
	}
	gs.lastInput = in
	res := status.Evaluate(in, th)
	g.Status, g.Reason = string(res.Status), res.Reason
	stalled := res.Status == status.Stalled
	if stalled && !gs.inGap {
		gs.gaps++
	}
	gs.inGap = stalled
	g.CommitGaps = gs.gaps
	g.Rewinds = gs.rewinds
	g.CommitLatency = gs.latency.copy()
	return g
}

// positionFor is the offset whose record is the oldest unconsumed one:
// the commit, or the log start offset without a commit or below it.
func positionFor(c lag.Commit, start int64) int64 {
	if !c.Valid || c.Offset < start {
		return start
	}
	return c.Offset
}

// lagEnd is the offset lag is measured to.
func (b *Builder) lagEnd(p *Partition) int64 {
	if b.o.ReadCommitted && p.Stable >= 0 {
		return p.Stable
	}
	return p.End
}

// headroom folds one lagging partition into the group's retention
// headroom: how far the commit is ahead of the log start, in messages and
// in record time.
func (b *Builder) headroom(g *Group, track *timelag.Track, commit, start, end int64, now time.Time) {
	msgs := commit - start
	if !g.HeadroomKnown || msgs < g.RetentionHeadroom {
		g.RetentionHeadroom = msgs
	}
	g.HeadroomKnown = true
	ec := track.Estimate(commit, end, now)
	es := track.Estimate(start, end, now)
	if !usable(ec) || !usable(es) {
		return
	}
	secs := ec.RecordTime.Sub(es.RecordTime).Seconds()
	if secs < 0 {
		secs = 0
	}
	if !g.HeadroomSecondsKnown || secs < g.RetentionHeadroomSeconds {
		g.RetentionHeadroomSeconds = secs
	}
	g.HeadroomSecondsKnown = true
}

func usable(e timelag.Estimate) bool {
	return e.Method == timelag.Exact || e.Method == timelag.Interpolated
}

// ObserveOffsets feeds the cycle's end offsets to the time-lag tracker. The
// poller calls it before asking for Needs; Build calls it too, and does
// nothing when the poller already fed the same observation.
func (b *Builder) ObserveOffsets(obs *observation.Observation) {
	if obs.Err != nil || !obs.MetadataOK || (obs.Start.Equal(b.fedStart) && obs.End.Equal(b.fedEnd)) {
		return
	}
	b.fedStart, b.fedEnd = obs.Start, obs.End
	for name, t := range obs.Topics {
		for n, p := range t.Partitions {
			if p.Err != nil || p.End < 0 {
				continue
			}
			b.times.Track(timelag.TP{Topic: name, Partition: n}).ObserveEnd(p.End, obs.End)
		}
	}
}

// TimeLag returns the tracker, for the poller to feed lookups and fetched
// record timestamps into.
func (b *Builder) TimeLag() *timelag.Tracker { return b.times }

// Needs lists the offsets whose record timestamps this cycle's estimates
// depend on: for every readable group, each partition with lag at its
// oldest unconsumed offset, and the log start offset of that partition (for
// the retention headroom).
func (b *Builder) Needs(obs *observation.Observation) []timelag.Need {
	if obs.Err != nil {
		return nil
	}
	seen := map[timelag.Need]bool{}
	var out []timelag.Need
	add := func(n timelag.Need) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, name := range obs.SortedGroups() {
		og := obs.Groups[name]
		if og.DescribeErr != nil || og.FetchErr != nil {
			continue
		}
		for _, topic := range og.Topics() {
			t, ok := obs.Topics[topic]
			if !ok {
				continue
			}
			for n, p := range t.Partitions {
				if p.Err != nil || p.Start < 0 || p.End < 0 {
					continue
				}
				commit := lag.Commit{}
				if off, ok := og.Commits[topic][n]; ok {
					commit = lag.CommitAt(off)
				}
				end := p.End
				if b.o.ReadCommitted && p.Stable >= 0 {
					end = p.Stable
				}
				pos := positionFor(commit, p.Start)
				if pos >= end {
					continue
				}
				tp := timelag.TP{Topic: topic, Partition: n}
				add(timelag.Need{TP: tp, Offset: pos, End: end})
				if pos > p.Start {
					add(timelag.Need{TP: tp, Offset: p.Start, End: end})
				}
			}
		}
	}
	return out
}

// prune forgets the state of group partitions, groups and partitions that
// no longer exist, so churn of groups and topics never grows memory.
func (b *Builder) prune(c *Cluster) {
	keep := make(map[gtp]bool, len(b.parts))
	groups := make(map[string]bool, len(c.Groups))
	minPos := map[timelag.TP]int64{}
	for _, p := range c.Partitions {
		minPos[timelag.TP{Topic: p.Topic, Partition: p.Partition}] = p.End
	}
	for _, g := range c.Groups {
		groups[g.Name] = true
		for _, p := range g.Partitions {
			keep[gtp{g.Name, p.Topic, p.Partition}] = true
		}
	}
	for k, st := range b.parts {
		if !keep[k] {
			delete(b.parts, k)
			continue
		}
		tp := timelag.TP{Topic: k.topic, Partition: k.partition}
		if cur, ok := minPos[tp]; ok && st.commits.HasCommit && st.commits.Offset < cur {
			minPos[tp] = st.commits.Offset
		}
	}
	for _, p := range c.Partitions {
		tp := timelag.TP{Topic: p.Topic, Partition: p.Partition}
		if p.Start < minPos[tp] {
			// Keep what the log start needs too (headroom, no-commit
			// groups).
			minPos[tp] = p.Start
		}
	}
	for name := range b.groupSt {
		if !groups[name] {
			delete(b.groupSt, name)
		}
	}
	for name := range b.rebal {
		if !groups[name] {
			delete(b.rebal, name)
		}
	}
	b.times.Retain(minPos)
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

func newHistogram(bounds []float64) Histogram {
	return Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds))}
}

func (h *Histogram) observe(v float64) {
	h.Count++
	h.Sum += v
	for i, ub := range h.Bounds {
		if v <= ub {
			h.Counts[i]++
		}
	}
}

func (h Histogram) copy() Histogram {
	h.Counts = append([]uint64(nil), h.Counts...)
	return h
}

// observeRebalance feeds one group description to the group's rebalance
// tracker and keeps the events it completes.
func (b *Builder) observeRebalance(og *observation.Group, at time.Time) {
	if og.DescribeErr != nil {
		return
	}
	tr := b.rebal[og.Name]
	if tr == nil {
		tr = rebalance.NewTracker(metrics.RebalanceDurationBuckets)
		b.rebal[og.Name] = tr
	}
	o := rebalance.Observation{At: at, Kind: og.Kind, State: og.State, Epoch: og.Epoch, AssignmentEpoch: og.AssignmentEpoch,
		Generation: og.Generation, GenerationKnown: og.GenerationKnown}
	for _, m := range og.Members {
		o.Members = append(o.Members, rebalance.Member{ID: m.ID, InstanceID: m.InstanceID, Assigned: m.Assigned, Generation: m.Generation})
	}
	for _, ev := range tr.Observe(o) {
		b.events = append(b.events, RebalanceEvent{Group: og.Name, Kind: og.Kind, Event: ev})
	}
}

// rebalanceFields copies the group's rebalance counters into g.
func (b *Builder) rebalanceFields(g *Group) {
	tr := b.rebal[g.Name]
	if tr == nil {
		return
	}
	st := tr.Stats()
	g.Rebalances, g.RebalanceInProgress = st.Rebalances, st.InProgress
	g.MemberJoins, g.MemberLeaves, g.PartitionsMoved = st.Joins, st.Leaves, st.Moved
	g.LastRebalance = st.Last
	g.RebalanceDuration = Histogram{Count: st.DurationCount, Sum: st.DurationSum, Bounds: tr.Bounds(), Counts: st.DurationCounts}
}

// DrainEvents returns the rebalances completed since the last call.
func (b *Builder) DrainEvents() []RebalanceEvent {
	ev := b.events
	b.events = nil
	return ev
}

// RefreshGroups folds a group-state-only observation (collector
// DescribeGroups, between offset cycles) into the latest snapshot: the
// described groups get their new state, members, rebalance counters and a
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
		b.observeRebalance(og, obs.End)
		g.State, g.Members, g.StaticMembers = og.State, len(og.Members), og.StaticMembers()
		b.rebalanceFields(g)
		if gs := b.groupSt[g.Name]; gs != nil {
			in := gs.lastInput
			in.State, in.Members, in.Rebalancing = og.State, len(og.Members), g.RebalanceInProgress
			res := status.Evaluate(in, g.Thresholds)
			g.Status, g.Reason = string(res.Status), res.Reason
		}
	}
	b.prev = &c
	return &c
}
