package promexport

import (
	"strconv"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
	"github.com/klagx/klagx/status"
	"github.com/klagx/klagx/timelag"
)

// sliceKey identifies a slice of a published snapshot: published slices
// are never modified, so the same backing array and length mean the same
// contents.
type sliceKey[T any] struct {
	p *T
	n int
}

func keyOf[T any](s []T) sliceKey[T] {
	if len(s) == 0 {
		return sliceKey[T]{}
	}
	return sliceKey[T]{&s[0], len(s)}
}

// clusterCache is the rendering of one published *snapshot.Cluster.
type clusterCache struct {
	cl *snapshot.Cluster
	// lines holds, per family index, the cluster- and group-level lines.
	lines [][]byte
	// parts is the snapshot's partition list that partLines (per family
	// index, the klagx_partition_* lines) was rendered from.
	parts     sliceKey[snapshot.Partition]
	partLines [][]byte
	// groups, in the snapshot's order, and by name.
	groups []*groupCache
	byName map[string]*groupCache
}

// groupCache holds a group's per-topic and per-partition lines (per
// family slot), and the slices they were rendered from. They are the bulk
// of an exposition and are kept compressed: one gzip member each.
type groupCache struct {
	parts  sliceKey[snapshot.GroupPartition]
	topics sliceKey[snapshot.GroupTopic]
	lines  []member
}

// member is a gzip member of n bytes of lines.
type member struct {
	gz []byte
	n  int
}

// sink appends lines to one buffer per family: by family index, or by
// slot for a group's chunked families.
type sink struct {
	r       *Renderer
	dst     [][]byte
	slotted bool
}

func (s *sink) buf(f *family) *[]byte {
	if s.slotted {
		return &s.dst[f.slot]
	}
	return &s.dst[f.idx]
}

func (s *sink) value(name string, v float64, labels ...string) {
	f := s.r.byName[name]
	if !f.on {
		return
	}
	b := s.buf(f)
	*b = f.appendLine(*b, "", labels, "", v)
}

func (s *sink) histogram(name string, h snapshot.Histogram, labels ...string) {
	f := s.r.byName[name]
	if !f.on || len(h.Bounds) == 0 {
		return
	}
	b := s.buf(f)
	for i, ub := range h.Bounds {
		*b = f.appendLine(*b, "_bucket", labels, string(appendOpenMetricsFloat(nil, ub)), float64(h.Counts[i]))
	}
	*b = f.appendLine(*b, "_bucket", labels, "+Inf", float64(h.Count))
	*b = f.appendLine(*b, "_sum", labels, "", h.Sum)
	*b = f.appendLine(*b, "_count", labels, "", float64(h.Count))
}

func (r *Renderer) on(name string) bool { return r.byName[name].on }

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// partitionLabels holds the partition label of the first partitions, so
// that the hot loop does not format them again.
var partitionLabels = func() []string {
	out := make([]string, 1024)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

func partitionLabel(p int32) string {
	if p >= 0 && int(p) < len(partitionLabels) {
		return partitionLabels[p]
	}
	return strconv.Itoa(int(p))
}

// renderCluster renders cl, reusing from old (the rendering of the
// cluster's previous snapshot, or nil) every group's chunked lines whose
// partitions and topics are the same slices.
func (r *Renderer) renderCluster(cl *snapshot.Cluster, old *clusterCache) *clusterCache {
	cc := &clusterCache{cl: cl, lines: make([][]byte, len(r.fams)), byName: make(map[string]*groupCache, len(cl.Groups))}
	s := &sink{r: r, dst: cc.lines}
	r.clusterLines(s, cl)

	cc.parts = keyOf(cl.Partitions)
	if old != nil && old.parts == cc.parts {
		cc.partLines = old.partLines
	} else {
		cc.partLines = make([][]byte, len(r.fams))
		r.partitionLines(&sink{r: r, dst: cc.partLines}, cl)
	}

	for i := range cl.Groups {
		g := &cl.Groups[i]
		r.groupLines(s, cl.Name, g)
		gc := &groupCache{parts: keyOf(g.Partitions), topics: keyOf(g.Topics)}
		if prev := old.group(g.Name); prev != nil && prev.parts == gc.parts && prev.topics == gc.topics {
			gc.lines = prev.lines
		} else if r.chunked > 0 && g.HasData {
			gc.lines = r.renderChunks(cl.Name, g)
		}
		cc.groups = append(cc.groups, gc)
		cc.byName[g.Name] = gc
	}
	for i := range cl.ShareGroups {
		r.shareGroupLines(s, cl.Name, &cl.ShareGroups[i])
	}
	return cc
}

// shareGroupLines renders a share group's series, its per-partition ones
// included: share groups are few, so they are not chunked per group.
func (r *Renderer) shareGroupLines(s *sink, cluster string, g *snapshot.ShareGroup) {
	if r.on(metrics.ShareGroupState) {
		state := metrics.NormalizeGroupState(g.State)
		for _, st := range metrics.GroupStates {
			s.value(metrics.ShareGroupState, boolf(st == state), cluster, g.Name, st)
		}
	}
	if r.on(metrics.ShareGroupStatus) {
		st := g.Status
		if st == "" || !g.HasData {
			st = status.Unknown
		}
		for _, v := range status.All {
			s.value(metrics.ShareGroupStatus, boolf(v == st), cluster, g.Name, v.String())
		}
	}
	s.value(metrics.ShareGroupPollErrors, float64(g.PollErrors), cluster, g.Name)
	if !g.HasData {
		return
	}
	s.value(metrics.ShareGroupLastPollSuccess, unix(g.ObservedAt), cluster, g.Name)
	s.value(metrics.ShareGroupMembers, float64(len(g.Members)), cluster, g.Name)
	s.value(metrics.ShareGroupLag, float64(g.Lag), cluster, g.Name)
	s.value(metrics.ShareGroupProgressGap, g.ProgressGap, cluster, g.Name)
	s.value(metrics.ShareGroupEstimatedPartitions, float64(g.EstimatedPartitions), cluster, g.Name)
	var topicLag int64
	for i, p := range g.Partitions {
		part := partitionLabel(p.Partition)
		s.value(metrics.ShareGroupPartitionStart, float64(p.Start), cluster, g.Name, p.Topic, part)
		if p.LagKnown {
			s.value(metrics.ShareGroupPartitionLag, float64(p.Lag), cluster, g.Name, p.Topic, part)
			topicLag += p.Lag
		}
		if i == len(g.Partitions)-1 || g.Partitions[i+1].Topic != p.Topic {
			s.value(metrics.ShareGroupTopicLag, float64(topicLag), cluster, g.Name, p.Topic)
			topicLag = 0
		}
	}
}

// renderChunks renders a group's chunked lines into the renderer's
// scratch buffers and compresses them.
func (r *Renderer) renderChunks(cluster string, g *snapshot.Group) []member {
	if r.scratch == nil {
		r.scratch = make([][]byte, r.chunked)
	}
	r.chunkedLines(&sink{r: r, dst: r.scratch, slotted: true}, cluster, g)
	out := make([]member, r.chunked)
	for i, b := range r.scratch {
		if len(b) > 0 {
			out[i] = member{gz: r.gzip([][]byte{b}), n: len(b)}
		}
		r.scratch[i] = b[:0]
	}
	return out
}

func (c *clusterCache) group(name string) *groupCache {
	if c == nil {
		return nil
	}
	return c.byName[name]
}

// processLines renders the series of the exporter process, which do not
// depend on snapshots.
func (r *Renderer) processLines(s *sink) {
	s.value(metrics.BuildInfo, 1, r.o.Version, r.o.Revision, r.o.GoVersion)
	s.value(metrics.ShardOrdinal, float64(r.o.Shard))
	s.value(metrics.ShardTotal, float64(max(r.o.TotalShards, 1)))
}

// clusterLines renders the cluster-level series.
func (r *Renderer) clusterLines(s *sink, cl *snapshot.Cluster) {
	name := cl.Name
	s.value(metrics.Up, boolf(cl.Up), name)
	if !cl.LastSuccess.IsZero() {
		s.value(metrics.LastPollSuccess, unix(cl.LastSuccess), name)
	}
	if cl.PollDuration.Count > 0 {
		s.histogram(metrics.PollDuration, cl.PollDuration, name)
	}
	for _, rq := range cl.Requests {
		s.value(metrics.KafkaRequests, float64(rq.Value), name, rq.Name)
	}
	for _, e := range cl.PollErrors {
		s.value(metrics.PollErrors, float64(e.Value), name, e.Name)
	}
}

// partitionLines renders the klagx_partition_* series (shard 0 only).
func (r *Renderer) partitionLines(s *sink, cl *snapshot.Cluster) {
	if r.o.Shard != 0 || !(r.on(metrics.PartitionStartOffset) || r.on(metrics.PartitionEndOffset) || r.on(metrics.PartitionStableOffset)) {
		return
	}
	for _, p := range cl.Partitions {
		part := partitionLabel(p.Partition)
		s.value(metrics.PartitionStartOffset, float64(p.Start), cl.Name, p.Topic, part)
		s.value(metrics.PartitionEndOffset, float64(p.End), cl.Name, p.Topic, part)
		if p.Stable >= 0 {
			s.value(metrics.PartitionStableOffset, float64(p.Stable), cl.Name, p.Topic, part)
		}
	}
}

// groupLines renders a group's per-group series.
func (r *Renderer) groupLines(s *sink, cluster string, g *snapshot.Group) {
	if r.on(metrics.GroupState) {
		state := metrics.NormalizeGroupState(g.State)
		for _, st := range metrics.GroupStates {
			s.value(metrics.GroupState, boolf(st == state), cluster, g.Name, st)
		}
	}
	if r.on(metrics.GroupInfo) {
		s.value(metrics.GroupInfo, 1, cluster, g.Name, g.Kind)
	}
	if r.on(metrics.GroupStatus) {
		st := g.Status
		if st == "" || !g.HasData {
			st = status.Unknown
		}
		for _, v := range status.All {
			s.value(metrics.GroupStatus, boolf(v == st), cluster, g.Name, v.String())
		}
	}
	s.value(metrics.GroupPollErrors, float64(g.PollErrors), cluster, g.Name)
	if !g.HasData {
		return
	}
	s.value(metrics.GroupLastPollSuccess, unix(g.ObservedAt), cluster, g.Name)
	s.value(metrics.GroupMembers, float64(g.Members), cluster, g.Name)
	s.value(metrics.GroupStaticMembers, float64(g.StaticMembers), cluster, g.Name)
	s.value(metrics.GroupLag, float64(g.Lag), cluster, g.Name)
	s.value(metrics.GroupPartitionsWithoutCommit, float64(g.PartitionsWithoutCommit), cluster, g.Name)
	if g.LagSecondsKnown {
		s.value(metrics.GroupLagSeconds, g.LagSeconds, cluster, g.Name)
	}
	s.value(metrics.GroupTimeLagError, g.TimeLagError, cluster, g.Name)
	for _, m := range g.TimeLagMethods {
		s.value(metrics.GroupTimeLagPartitions, float64(m.Value), cluster, g.Name, m.Name)
	}
	s.value(metrics.GroupCommitGap, g.CommitGap, cluster, g.Name)
	s.value(metrics.GroupCommitGaps, float64(g.CommitGaps), cluster, g.Name)
	s.value(metrics.GroupRewinds, float64(g.Rewinds), cluster, g.Name)
	s.value(metrics.GroupMessagesLost, float64(g.MessagesLost), cluster, g.Name)
	if g.HeadroomKnown {
		s.value(metrics.GroupRetentionHeadroom, float64(g.RetentionHeadroom), cluster, g.Name)
	}
	if g.HeadroomSecondsKnown {
		s.value(metrics.GroupRetentionHeadroomSeconds, g.RetentionHeadroomSeconds, cluster, g.Name)
	}
	if g.CatchUpKnown {
		s.value(metrics.GroupCatchUpSeconds, g.CatchUpSeconds, cluster, g.Name)
	}
	s.histogram(metrics.GroupCommitLatency, g.CommitLatency, cluster, g.Name)
	s.value(metrics.GroupRebalances, float64(g.Rebalances), cluster, g.Name)
	s.value(metrics.GroupRebalanceInProgress, boolf(g.RebalanceInProgress), cluster, g.Name)
	s.value(metrics.GroupMemberJoins, float64(g.MemberJoins), cluster, g.Name)
	s.value(metrics.GroupMemberLeaves, float64(g.MemberLeaves), cluster, g.Name)
	s.value(metrics.GroupPartitionsMoved, float64(g.PartitionsMoved), cluster, g.Name)
	s.value(metrics.GroupUnownedPartitions, float64(g.UnownedPartitions), cluster, g.Name)
	r.memberLines(s, cluster, g)
	if !g.LastRebalance.IsZero() {
		s.value(metrics.GroupLastRebalance, unix(g.LastRebalance), cluster, g.Name)
	}
	s.histogram(metrics.GroupRebalanceDuration, g.RebalanceDuration, cluster, g.Name)
	r.thresholds(s, cluster, g)
}

// memberLines renders a group's per-member series: with the per-group
// lines (on every group tick too), since members change between offset
// cycles. A member assigned nothing has lag 0 and no lag_seconds.
func (r *Renderer) memberLines(s *sink, cluster string, g *snapshot.Group) {
	if !r.on(metrics.GroupMemberLag) && !r.on(metrics.GroupMemberLagSeconds) {
		return
	}
	for i := range g.MemberLags {
		m := &g.MemberLags[i]
		s.value(metrics.GroupMemberLag, float64(m.Lag), cluster, g.Name, m.ID, m.ClientID, m.Host)
		if m.LagSecondsKnown {
			s.value(metrics.GroupMemberLagSeconds, m.LagSeconds, cluster, g.Name, m.ID, m.ClientID, m.Host)
		}
	}
}

// chunkedLines renders a group's per-topic and per-partition series.
func (r *Renderer) chunkedLines(s *sink, cluster string, g *snapshot.Group) {
	if r.on(metrics.GroupTopicLag) || r.on(metrics.GroupTopicLagSeconds) {
		for _, t := range g.Topics {
			s.value(metrics.GroupTopicLag, float64(t.Lag), cluster, g.Name, t.Topic)
			if t.LagSecondsKnown {
				s.value(metrics.GroupTopicLagSeconds, t.LagSeconds, cluster, g.Name, t.Topic)
			}
		}
	}
	for _, p := range g.Partitions {
		part := partitionLabel(p.Partition)
		if p.HasCommit {
			s.value(metrics.GroupPartitionCommittedOffset, float64(p.Committed), cluster, g.Name, p.Topic, part)
		}
		if p.LagKnown {
			s.value(metrics.GroupPartitionLag, float64(p.Lag), cluster, g.Name, p.Topic, part)
		}
		if p.TimeLagMethod != "" && p.TimeLagMethod != timelag.Unknown {
			s.value(metrics.GroupPartitionLagSeconds, p.LagSeconds, cluster, g.Name, p.Topic, part)
		}
		if p.HasCommit && !p.LastCommitAt.IsZero() {
			s.value(metrics.GroupPartitionLastCommit, unix(p.LastCommitAt), cluster, g.Name, p.Topic, part)
		}
		s.value(metrics.GroupPartitionMessagesLost, float64(p.LostTotal), cluster, g.Name, p.Topic, part)
	}
}

// thresholds exports the group's status thresholds, so that alert rules
// compare each group against its own (per-group overrides included).
func (r *Renderer) thresholds(s *sink, cluster string, g *snapshot.Group) {
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
			s.value(metrics.GroupLagThresholdSeconds, t.secs, cluster, g.Name, t.sev)
		}
		if t.msgs > 0 {
			s.value(metrics.GroupLagThreshold, float64(t.msgs), cluster, g.Name, t.sev)
		}
	}
	if th.StallAfter > 0 {
		s.value(metrics.GroupStallThresholdSeconds, th.StallAfter.Seconds(), cluster, g.Name)
	}
}
