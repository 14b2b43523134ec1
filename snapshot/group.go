package snapshot

import (
	"fmt"
	"strconv"
	"time"

	"github.com/klagx/klagx/catchup"
	"github.com/klagx/klagx/commits"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/histogram"
	"github.com/klagx/klagx/lag"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/rebalance"
	"github.com/klagx/klagx/status"
	"github.com/klagx/klagx/timelag"
)

// groupState is what spans cycles for one group: per partition its lost
// counter and commit history; for the group its lag samples (the growth
// rule), retention losses, rewinds, commit gaps, the commit-latency
// histogram, its failed reads and its rebalance tracker. Each concern has
// one method.
type groupState struct {
	// parts is keyed by topic, then partition: one string hash per topic
	// of the group per cycle, not one per partition. nParts counts them.
	parts     map[string]map[int32]*partState
	nParts    int
	rebalance *rebalance.Tracker // nil until the group is first described
	samples   []status.Sample
	// lastInput is the input of the last status evaluation, re-evaluated
	// with the new group state between offset cycles.
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
	// owners is the owner index of the last fold (owners.byTopic), reused
	// by the next one.
	owners map[string]map[int32]int
	// consumed is, per topic, the running count of messages the group
	// consumed and its samples, for the consume rates.
	consumed map[string]*topicRate
}

// topicRate is a running count of messages on one topic and its samples.
type topicRate struct {
	n      int64
	window catchup.Window
}

// partState is what spans cycles for one group on one partition.
type partState struct {
	lost    lag.LostCounter
	commits commits.Partition
	// where names the partition ("topic/partition") in status reasons and
	// events; built once, not every cycle.
	where string

	// consumed follows the commits for the consume rate.
	consumed catchup.Consumed
}

type lostEvent struct {
	at    time.Time
	n     int64
	where string
}

func newGroupState() *groupState {
	return &groupState{parts: map[string]map[int32]*partState{}, latency: histogram.New(metrics.CommitLatencyBuckets),
		consumed: map[string]*topicRate{}}
}

// topic returns the states of the group's partitions of one topic,
// creating the topic's map.
func (s *groupState) topic(topic string) map[int32]*partState {
	m := s.parts[topic]
	if m == nil {
		m = map[int32]*partState{}
		s.parts[topic] = m
	}
	return m
}

// part returns the state of one partition of a topic (its map from
// s.topic), creating it.
func (s *groupState) part(parts map[int32]*partState, topic string, partition int32) *partState {
	ps := parts[partition]
	if ps == nil {
		ps = &partState{where: topic + "/" + strconv.Itoa(int(partition))}
		parts[partition] = ps
		s.nParts++
	}
	return ps
}

// failed counts one failed read of the group and records why in g.
func (s *groupState) failed(g *Group, why string) {
	s.errors++
	g.PollErrors = s.errors
	g.Error = why
}

// observeRebalance feeds one group description to the rebalance tracker
// and returns the rebalances it completes.
func (s *groupState) observeRebalance(og *observation.Group, at time.Time) []RebalanceEvent {
	if og.DescribeErr != nil {
		return nil
	}
	if s.rebalance == nil {
		s.rebalance = rebalance.NewTracker(metrics.RebalanceDurationBuckets)
	}
	o := rebalance.Observation{At: at, Kind: og.Kind, State: og.State, Epoch: og.Epoch, AssignmentEpoch: og.AssignmentEpoch,
		Generation: og.Generation, GenerationKnown: og.GenerationKnown}
	for _, m := range og.Members {
		o.Members = append(o.Members, rebalance.Member{ID: m.ID, InstanceID: m.InstanceID, Assigned: m.Assigned, Generation: m.Generation})
	}
	var out []RebalanceEvent
	for _, ev := range s.rebalance.Observe(o) {
		out = append(out, RebalanceEvent{Group: og.Name, Kind: og.Kind, Event: ev})
	}
	return out
}

// rebalanceFields copies the rebalance counters into g.
func (s *groupState) rebalanceFields(g *Group) {
	if s.rebalance == nil {
		return
	}
	st := s.rebalance.Stats()
	g.Rebalances, g.RebalanceInProgress = st.Rebalances, st.InProgress
	g.MemberJoins, g.MemberLeaves, g.PartitionsMoved = st.Joins, st.Leaves, st.Moved
	g.LastRebalance = st.Last
	g.RebalanceDuration = st.Durations
}

// observeLost counts the messages retention deleted below the partition's
// commit since the last cycle, and remembers them for the growth window.
func (s *groupState) observeLost(ps *partState, commit lag.Commit, start int64, where string, now time.Time) {
	if n := ps.lost.Observe(commit, start); n > 0 {
		s.lostEvents = append(s.lostEvents, lostEvent{now, int64(n), where})
	}
}

// recentLosses drops the losses older than window and returns the count of
// the rest and where the latest happened ("" if none).
func (s *groupState) recentLosses(now time.Time, window time.Duration) (int64, string) {
	var n int64
	var where string
	keep := s.lostEvents[:0]
	for _, e := range s.lostEvents {
		if now.Sub(e.at) <= window {
			keep = append(keep, e)
			n += e.n
			where = e.where
		}
	}
	s.lostEvents = keep
	return n, where
}

// observeCommit folds the partition's commit into its history: a commit
// that advanced observes the commit latency (the age of the newest message
// it covers, when its record time is known), one that moved backwards
// counts a rewind.
func (s *groupState) observeCommit(ps *partState, commit lag.Commit, offLag, end int64, where string, track *timelag.Track, now time.Time) {
	ch := ps.commits.Observe(commit, offLag, now)
	if ch.Advanced && ch.To > 0 && ch.To <= end && ch.From >= 0 {
		// The newest message this commit covers is To-1.
		if e := track.Estimate(ch.To-1, ch.To, now); usable(e) {
			s.latency.Observe(e.Seconds)
		}
	}
	if ch.Rewound {
		s.rewinds++
		s.rewoundAt = now
		s.rewoundOn = fmt.Sprintf("%s (from %d to %d)", where, ch.From, ch.To)
	}
}

// rewound names where the group's commit last moved backwards within
// window, or "".
func (s *groupState) rewound(now time.Time, window time.Duration) string {
	if !s.rewoundAt.IsZero() && now.Sub(s.rewoundAt) <= window {
		return s.rewoundOn
	}
	return ""
}

// growth adds the cycle's lag sample and reports whether lag rose through
// window, from which value.
func (s *groupState) growth(lagNow int64, now time.Time, window time.Duration) (bool, int64) {
	s.samples = status.Trim(append(s.samples, status.Sample{At: now, Lag: lagNow}), now, window)
	return status.Growing(s.samples, now, window)
}

// countGaps counts the group entering the stalled status.
func (s *groupState) countGaps(st status.Status) uint64 {
	stalled := st == status.Stalled
	if stalled && !s.inGap {
		s.gaps++
	}
	s.inGap = stalled
	return s.gaps
}

// retain forgets the partitions the group no longer has: those not in ps,
// the group's partitions in the snapshot. The state holds every partition
// of ps (folded this cycle, or kept with them from an earlier one), so
// equal counts mean nothing to forget, the usual case.
func (s *groupState) retain(ps []GroupPartition) {
	if s.nParts == len(ps) {
		return
	}
	keep := make(map[timelag.TP]bool, len(ps))
	for _, p := range ps {
		keep[timelag.TP{Topic: p.Topic, Partition: p.Partition}] = true
	}
	for topic, m := range s.parts {
		for n := range m {
			if !keep[timelag.TP{Topic: topic, Partition: n}] {
				delete(m, n)
				s.nParts--
			}
		}
		if len(m) == 0 {
			delete(s.parts, topic)
			delete(s.consumed, topic)
		}
	}
}

// groupFold folds one successful read of a group, partition by partition,
// into its Group value: the sums and extremes over partitions that the
// group's own status needs.
type groupFold struct {
	st    *groupState
	og    *observation.Group
	g     Group // the result
	th    config.GroupThresholds
	times *timeLag
	now   time.Time

	owners       owners
	countUnowned bool
	methods      map[timelag.Method]int
	gap          time.Duration // shortest commit gap of a partition with lag
	lagging      int           // partitions with lag
	lostNow      int64
	lostAt       string

	// produced holds the produce counts of the partitions
	// (Builder.produced).
	produced map[tp]*partitionRate
}

// foldPartition is a partition of the cycle as the group folds see it:
// the partition, and what is the same for every group on it this cycle,
// looked up by the first group that needs it: its time-lag track, and the
// time lag of its log start offset.
type foldPartition struct {
	p        *Partition
	track    *timelag.Track
	start    timelag.Estimate
	hasStart bool
	// rate is the partition's produce rate over rateWindow (rateKnown),
	// looked up once for the groups that share a growth window.
	rate       float64
	rateKnown  bool
	rateWindow time.Duration
}

// produceRate is the partition's produce rate over window, from its
// produce count in produced.
func (p *foldPartition) produceRate(window time.Duration, produced map[tp]*partitionRate) (float64, bool) {
	if p.rateWindow != window {
		p.rate, p.rateKnown = 0, false
		if r := produced[tp{p.p.Topic, p.p.Partition}]; r != nil {
			p.rate, p.rateKnown = r.window.Rate(window)
		}
		p.rateWindow = window
	}
	return p.rate, p.rateKnown
}

// trackOf returns the partition's time-lag track.
func (p *foldPartition) trackOf(times *timeLag) *timelag.Track {
	if p.track == nil {
		p.track = times.tracker.Track(timelag.TP{Topic: p.p.Topic, Partition: p.p.Partition})
	}
	return p.track
}

// startEstimate is the time lag of the log start offset; end and now are
// the same for every group in a cycle. It needs trackOf first.
func (p *foldPartition) startEstimate(end int64, now time.Time) timelag.Estimate {
	if !p.hasStart {
		p.start, p.hasStart = p.track.Estimate(p.p.Start, end, now), true
	}
	return p.start
}

// foldTopic is what a groupFold looks up once per topic for its
// partitions: their states, the group's commits and the owners of its
// partitions.
type foldTopic struct {
	states  map[int32]*partState
	commits map[int32]int64
	owned   map[int32]int
	// consumed sums the messages the group consumed from the topic's
	// partitions since the last cycle.
	consumed int64
}

// group builds one group read successfully this cycle.
func (b *Builder) group(og *observation.Group, topicParts map[string][]*foldPartition, now time.Time) Group {
	th := b.o.Thresholds.For(og.Name)
	g := Group{
		Name: og.Name, Kind: og.Kind, State: og.State, Protocol: og.Protocol, Coordinator: og.Coordinator,
		Members: len(og.Members), StaticMembers: og.StaticMembers(),
		ObservedAt: now, HasData: true, Thresholds: th,
	}
	st := b.state(og.Name)
	g.PollErrors = st.errors
	b.events = append(b.events, st.observeRebalance(og, now)...)
	st.rebalanceFields(&g)
	f := groupFold{st: st, og: og, g: g, th: th, times: b.times, now: now,
		owners: newOwners(og, st.owners), countUnowned: len(og.Members) > 0 && og.State == "Stable",
		methods: map[timelag.Method]int{}, produced: b.produced}
	topics := og.Topics()
	n := 0
	for _, topic := range topics {
		n += len(topicParts[topic])
	}
	if n > 0 { // else both stay nil, as for a group with no partitions
		f.g.Partitions = make([]GroupPartition, 0, n)
		f.g.Topics = make([]GroupTopic, 0, len(topics))
	}
	for _, topic := range topics {
		// A topic missing from the partitions was deleted, filtered out
		// or never listed: commits on topics that do not exist are not
		// lag.
		if ps, ok := topicParts[topic]; ok {
			f.topic(topic, ps)
		}
	}
	f.finish()
	return f.g
}

// topic folds the group's partitions of one topic.
func (f *groupFold) topic(topic string, ps []*foldPartition) {
	gt := GroupTopic{Topic: topic}
	ft := foldTopic{states: f.st.topic(topic), commits: f.og.Commits[topic], owned: f.owners.topic(topic)}
	for _, p := range ps {
		gp := f.partition(p, &ft)
		gt.Lag += gp.Lag
		if gp.TimeLagMethod != timelag.Unknown && (!gt.LagSecondsKnown || gp.LagSeconds > gt.LagSeconds) {
			gt.LagSeconds, gt.LagSecondsKnown = gp.LagSeconds, true
		}
		f.g.Partitions = append(f.g.Partitions, gp)
	}
	f.rates(&gt, ps, ft.consumed)
	f.g.Topics = append(f.g.Topics, gt)
	f.g.Lag += gt.Lag
	if gt.LagSecondsKnown && (!f.g.LagSecondsKnown || gt.LagSeconds > f.g.LagSeconds) {
		f.g.LagSeconds, f.g.LagSecondsKnown = gt.LagSeconds, true
	}
}

// partition folds the group's position on one partition: offset lag, lost
// messages, commit history, time lag, retention headroom and the
// partition's own status.
func (f *groupFold) partition(fp *foldPartition, ft *foldTopic) GroupPartition {
	p, track := fp.p, fp.trackOf(f.times)
	commit := commitIn(ft.commits, p.Partition)
	end := p.LagEnd()
	r := lag.Partition(commit, lag.Offsets{Start: p.Start, End: end})
	ps := f.st.part(ft.states, p.Topic, p.Partition)
	where := ps.where
	f.st.observeLost(ps, commit, p.Start, where, f.now)
	ft.consumed += ps.consumed.Observe(commit.Offset, commit.Valid, p.Start, len(f.og.Members) > 0)
	f.st.observeCommit(ps, commit, r.Lag, end, where, track, f.now)
	est := track.Estimate(positionFor(commit, p.Start), end, f.now)
	gp := GroupPartition{
		Topic: p.Topic, Partition: p.Partition,
		Committed: commit.Offset, HasCommit: commit.Valid,
		Lag: r.Lag, LagKnown: true,
		BelowStart: r.BelowStart, LostTotal: ps.lost.Total,
		LagSeconds: est.Seconds, TimeLagMethod: est.Method, TimeLagError: est.ErrorBound,
	}
	f.commitFields(&gp, commit, ps, ft.owned)
	f.methods[est.Method]++
	if est.Method != timelag.Unknown && est.ErrorBound > f.g.TimeLagError {
		f.g.TimeLagError = est.ErrorBound
	}
	gap := ps.commits.Gap(r.Lag, f.now)
	f.addGap(r.Lag, gap)
	if r.BelowStart > 0 {
		f.lostNow += r.BelowStart
		f.lostAt = where
	}
	if r.Lag > 0 && commit.Valid && r.BelowStart == 0 {
		f.headroom(fp, commit.Offset, end)
	}
	in := f.input(r.Lag, est.Seconds, est.Method != timelag.Unknown)
	in.Gap, in.GapWhere, in.LostNow, in.LostWhere = gap, where, r.BelowStart, where
	if !ps.commits.RewoundAt.IsZero() && f.now.Sub(ps.commits.RewoundAt) <= f.th.GrowthWindow {
		in.Rewound = where
	}
	res := status.Evaluate(in, f.th)
	gp.Status, gp.Reason = res.Status, res.Reason
	f.g.MessagesLost += ps.lost.Total
	f.owners.own(&gp, ft.owned)
	return gp
}

// rates fills the topic's consume and produce rates over the growth
// window and its catch-up estimate. The consume count grows by what the
// topic's partitions consumed this cycle; the produce rate sums its
// partitions' rates and is unknown while any of them has none yet (a
// partition that just appeared).
func (f *groupFold) rates(gt *GroupTopic, ps []*foldPartition, consumed int64) {
	window := f.th.GrowthWindow
	tr := f.st.consumed[gt.Topic]
	if tr == nil {
		tr = &topicRate{}
		f.st.consumed[gt.Topic] = tr
	}
	tr.n += consumed
	tr.window.Add(f.now, tr.n, window)
	cr, ok := tr.window.Rate(window)
	var pr float64
	for _, p := range ps {
		r, known := p.produceRate(window, f.produced)
		pr += r
		ok = ok && known
	}
	if ok {
		gt.ConsumeRate, gt.ProduceRate, gt.RatesKnown = cr, pr, true
	}
	gt.CatchUpSeconds, gt.CatchUpKnown = catchupTopic(*gt).Seconds()
}

// catchupTopic is what the estimate needs of a group topic.
func catchupTopic(gt GroupTopic) catchup.Topic {
	return catchup.Topic{Lag: gt.Lag, Consume: gt.ConsumeRate, Produce: gt.ProduceRate, Known: gt.RatesKnown}
}

// catchUp sets the group's catch-up estimate from its topics' rates:
// absent while the group is stopped (no members) or stalled with lag,
// whatever the rates of the window say, since nobody is consuming now.
func catchUp(g *Group) {
	g.CatchUpSeconds, g.CatchUpKnown = 0, false
	if g.Lag > 0 && (g.Members == 0 || g.Status == status.Stopped || g.Status == status.Stalled) {
		return
	}
	g.CatchUpSeconds, g.CatchUpKnown = catchup.Estimate(func(yield func(catchup.Topic) bool) {
		for _, t := range g.Topics {
			if !yield(catchupTopic(t)) {
				return
			}
		}
	})
}

// commitFields fills what the partition's commit says: when it last
// changed, or that there is none; and whether a member owns it.
func (f *groupFold) commitFields(gp *GroupPartition, commit lag.Commit, ps *partState, owned map[int32]int) {
	if !commit.Valid {
		gp.Committed = 0
		f.g.PartitionsWithoutCommit++
		return
	}
	gp.LastCommitAt = ps.commits.Since
	if _, ok := owned[gp.Partition]; f.countUnowned && !ok {
		f.g.UnownedPartitions++
	}
}

// addGap folds one partition's commit gap. The group is in a gap only while
// none of its partitions with lag makes progress: a consumer working
// through a backlog can leave some partitions untouched for a while. A
// single stuck partition shows in its time lag instead.
func (f *groupFold) addGap(offLag int64, gap time.Duration) {
	if offLag <= 0 {
		return
	}
	if f.lagging == 0 || gap < f.gap {
		f.gap = gap
	}
	f.lagging++
}

// headroom folds one lagging partition into the group's retention
// headroom: how far the commit is ahead of the log start, in messages and
// in record time.
func (f *groupFold) headroom(p *foldPartition, commit, end int64) {
	g := &f.g
	msgs := commit - p.p.Start
	if !g.HeadroomKnown || msgs < g.RetentionHeadroom {
		g.RetentionHeadroom = msgs
	}
	g.HeadroomKnown = true
	ec := p.track.Estimate(commit, end, f.now)
	es := p.startEstimate(end, f.now)
	if !usable(ec) || !usable(es) {
		return
	}
	secs := max(ec.RecordTime.Sub(es.RecordTime).Seconds(), 0)
	if !g.HeadroomSecondsKnown || secs < g.RetentionHeadroomSeconds {
		g.RetentionHeadroomSeconds = secs
	}
	g.HeadroomSecondsKnown = true
}

// input is the status input of this read of the group, for the given lag;
// the partition and the group add what is theirs.
func (f *groupFold) input(offLag int64, lagSeconds float64, lagSecondsKnown bool) status.Input {
	return status.Input{
		HasData: true, State: f.og.State, Members: len(f.og.Members),
		Lag: offLag, LagSeconds: lagSeconds, LagSecondsKnown: lagSecondsKnown,
		Rebalancing: f.g.RebalanceInProgress,
	}
}

// finish sets the group-wide values once every partition is folded: time
// lag methods, commit gap, and the group's status from its growth, losses
// and rewinds.
func (f *groupFold) finish() {
	g, st, window := &f.g, f.st, f.th.GrowthWindow
	for _, m := range timelag.Methods {
		if n := f.methods[m]; n > 0 {
			g.TimeLagMethods = append(g.TimeLagMethods, Count{Name: string(m), Value: uint64(n)})
		}
	}
	g.CommitGap = f.gap.Seconds()
	in := f.input(g.Lag, g.LagSeconds, g.LagSecondsKnown)
	in.Gap, in.GapWhere = f.gap, fmt.Sprintf("any of its %d partitions with lag", f.lagging)
	in.Growing, in.GrowthFrom = st.growth(g.Lag, f.now, window)
	in.LostNow, in.LostWhere = f.lostNow, f.lostAt
	var recentAt string
	if in.LostRecent, recentAt = st.recentLosses(f.now, window); recentAt != "" {
		in.LostWhere = recentAt
	}
	in.Rewound = st.rewound(f.now, window)
	st.lastInput = in
	res := status.Evaluate(in, f.th)
	g.Status, g.Reason = res.Status, res.Reason
	catchUp(g)
	g.CommitGaps = st.countGaps(res.Status)
	g.Rewinds = st.rewinds
	g.CommitLatency = st.latency.Copy()
	g.MemberLags = f.owners.members
	st.owners = f.owners.byTopic
}

func usable(e timelag.Estimate) bool {
	return e.Method == timelag.Exact || e.Method == timelag.Interpolated
}
