// Package snapshot holds the immutable result of polling: one Snapshot per
// moment, with one Cluster per configured Kafka cluster, and the Store that
// publishes it with an atomic pointer swap.
//
// Every reader (the Prometheus exporter, the JSON status, klagx check) calls
// Store.Load once and renders that value, so a scrape always sees one
// consistent cycle per cluster and never waits for Kafka. Nothing in a
// published Snapshot is ever modified.
//
// Builder is the stateful part: it turns a cluster's sequence of
// observations into Cluster values, keeping what spans cycles (last good
// values and their age, cumulative counters) in one groupState per group
// (group.go) and a time-lag resolver per cluster (timelag.go). Its only
// Kafka I/O is what ResolveTimes asks of a RecordTimes (the collector).
package snapshot

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/histogram"
	"github.com/klagx/klagx/lag"
	"github.com/klagx/klagx/status"
	"github.com/klagx/klagx/timelag"
)

// Snapshot is the state of every cluster at one moment. Treat it as
// read-only.
type Snapshot struct {
	// Clusters is sorted by name.
	Clusters []*Cluster
}

// Ready reports whether every cluster has completed at least one successful
// poll cycle.
func (s *Snapshot) Ready() bool {
	for _, c := range s.Clusters {
		if !c.Ready {
			return false
		}
	}
	return len(s.Clusters) > 0
}

// Cluster returns the named cluster, or nil.
func (s *Snapshot) Cluster(name string) *Cluster {
	for _, c := range s.Clusters {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Cluster is one cluster's state after its latest poll cycle.
type Cluster struct {
	Name string
	// Up is true when the latest cycle reached the cluster.
	Up bool
	// Ready is true once any cycle has reached the cluster.
	Ready bool
	// TakenAt is when the latest cycle ended (zero before the first).
	TakenAt time.Time
	// LastSuccess is when the latest cycle that reached the cluster ended.
	LastSuccess time.Time
	// LastError is why the latest cycle failed as a whole, if it did.
	LastError string

	PollDuration Histogram
	// Requests counts Kafka requests sent since start, by API.
	Requests []Count
	// PollErrors counts errors since start, by stage.
	PollErrors []Count

	// Partitions is sorted by topic and partition.
	Partitions []Partition
	// Groups is sorted by name.
	Groups []Group
	// ShareGroups (KIP-932) is sorted by name.
	ShareGroups []ShareGroup
}

// Group returns the named group, or nil.
func (c *Cluster) Group(name string) *Group {
	i := sort.Search(len(c.Groups), func(i int) bool { return c.Groups[i].Name >= name })
	if i < len(c.Groups) && c.Groups[i].Name == name {
		return &c.Groups[i]
	}
	return nil
}

// Count is a named cumulative counter.
type Count struct {
	Name  string
	Value uint64
}

// Histogram is a cumulative Prometheus-style histogram (package
// histogram).
type Histogram = histogram.Histogram

// Partition holds the log offsets of one partition.
type Partition struct {
	Topic     string
	Partition int32
	Start     int64
	End       int64
	// Stable is the last stable offset, or -1 when not listed (the
	// cluster is not configured read_committed).
	Stable int64
	// ObservedAt is when these offsets were read: older than the
	// cluster's TakenAt when the latest read failed.
	ObservedAt time.Time
}

// LagEnd is the offset lag is measured to: Stable on a read_committed
// cluster, else End (lag.End).
func (p Partition) LagEnd() int64 { return lag.End(p.End, p.Stable) }

// Group is one consumer group's lag and state.
type Group struct {
	Name string
	// Kind is "classic", "consumer" (KIP-848) or "streams" (KIP-1071).
	Kind     string
	State    string
	Protocol string
	// Coordinator is the broker coordinating the group.
	Coordinator int32

	Members       int
	StaticMembers int

	// ObservedAt is when the values were read. It is older than the
	// cluster's TakenAt when the latest read of this group failed; Error
	// then says why.
	ObservedAt time.Time
	Error      string
	// PollErrors counts the cycles since start (or since the group
	// reappeared) in which the group could not be read.
	PollErrors uint64
	// HasData is false for a group that has never been read successfully:
	// only its listed state is known.
	HasData bool

	// Lag sums Partitions[].Lag over partitions whose lag is known.
	Lag int64
	// LagSeconds is the largest time lag of any partition (valid if
	// LagSecondsKnown); TimeLagError the largest error bound among them.
	LagSeconds      float64
	LagSecondsKnown bool
	TimeLagError    float64
	// TimeLagMethods counts partitions by how their time lag was obtained
	// (timelag.Method names), sorted by name.
	TimeLagMethods []Count

	// Status and Reason are the group's health (status package).
	Status status.Status
	Reason string
	// Thresholds are the status thresholds that apply to this group.
	Thresholds config.GroupThresholds

	// CommitGap is the longest time, in seconds, without commit progress
	// on a partition with lag (0 when none); CommitGaps counts the times
	// the group entered a gap longer than its stall threshold.
	CommitGap  float64
	CommitGaps uint64
	// Rewinds counts committed offsets seen moving backwards.
	Rewinds uint64
	// MessagesLost sums the partitions' LostTotal.
	MessagesLost uint64
	// CommitLatency is the histogram of the age of the newest message a
	// commit covered, observed when commits advance.
	CommitLatency Histogram

	// Rebalances counts rebalances observed since start (rebalance
	// package); RebalanceInProgress is true while one is under way.
	Rebalances          uint64
	RebalanceInProgress bool
	MemberJoins         uint64
	MemberLeaves        uint64
	PartitionsMoved     uint64
	// LastRebalance is when the last rebalance was seen ending.
	LastRebalance time.Time
	// RebalanceDuration is the histogram of rebalance durations (those
	// seen in progress).
	RebalanceDuration Histogram
	// UnownedPartitions counts partitions the group has committed offsets
	// for but no member owns, while the group is stable with members.
	UnownedPartitions int
	// MemberLags is, per member of the group's latest description, the
	// lag of the partitions assigned to it, sorted by member ID (nil for a
	// group without members). It has Members entries.
	MemberLags []MemberLag

	// RetentionHeadroom is, over partitions with lag, the smallest
	// distance in messages from the log start offset to the committed
	// offset (valid if HeadroomKnown); RetentionHeadroomSeconds the same
	// in record time (valid if HeadroomSecondsKnown).
	RetentionHeadroom        int64
	HeadroomKnown            bool
	RetentionHeadroomSeconds float64
	HeadroomSecondsKnown     bool
	// PartitionsWithoutCommit counts partitions with no committed offset.
	PartitionsWithoutCommit int
	// CatchUpSeconds is the estimated time until the group's lag reaches
	// zero at its current consume and produce rates (package catchup):
	// the largest GroupTopic.CatchUpSeconds; 0 without lag. Valid only if
	// CatchUpKnown, which is false when the group is not catching up: a
	// topic with lag has no rates yet or is consumed no faster than it is
	// produced to, or the group is stopped or stalled.
	CatchUpSeconds float64
	CatchUpKnown   bool
	// Topics is sorted by topic.
	Topics []GroupTopic
	// Partitions is sorted by topic and partition.
	Partitions []GroupPartition
}

// GroupTopic is a group's lag summed over one topic.
type GroupTopic struct {
	Topic      string
	Lag        int64
	LagSeconds float64
	// LagSecondsKnown is false when no partition of the topic has a time
	// lag estimate.
	LagSecondsKnown bool
	// ConsumeRate is the rate, in messages per second over the group's
	// growth window, at which the group's commits advanced on the topic;
	// ProduceRate the rate at which its partitions' end offsets (lag
	// ends) advanced. Valid only if RatesKnown (false until two cycles
	// have read them). CatchUpSeconds is Lag / (ConsumeRate -
	// ProduceRate), 0 without lag, valid only if CatchUpKnown.
	ConsumeRate    float64
	ProduceRate    float64
	RatesKnown     bool
	CatchUpSeconds float64
	CatchUpKnown   bool
}

// GroupPartition is a group's position on one partition.
type GroupPartition struct {
	Topic     string
	Partition int32
	// Committed is the committed offset; valid only if HasCommit.
	Committed int64
	HasCommit bool
	// Lag is the offset lag (>= 0); valid only if LagKnown, which is false
	// when the partition's offsets have never been read.
	Lag      int64
	LagKnown bool
	// BelowStart is how far the commit is below the log start offset.
	BelowStart int64
	// LostTotal counts messages deleted by retention before the group
	// committed them, since this exporter started.
	LostTotal uint64

	// LagSeconds is the age of the oldest unconsumed message (valid if
	// TimeLagMethod is not "unknown"); TimeLagError its error bound in
	// seconds.
	LagSeconds    float64
	TimeLagMethod timelag.Method
	TimeLagError  float64
	// LastCommitAt is when the committed offset was first seen at its
	// current value: the last observed advance, or the first observation
	// after start. Zero without a commit.
	LastCommitAt time.Time
	// Status and Reason judge this partition alone (status package): a
	// partition can be stalled or lost while its group is ok overall.
	Status status.Status
	Reason string
	// Owner is the member the partition is assigned to in the group's
	// latest description (equal to one of the group's MemberLags), or nil
	// when no member is.
	Owner *Member
}

// Member identifies one member of a group, as kafka-consumer-groups
// --describe shows it (CONSUMER-ID, HOST, CLIENT-ID).
type Member struct {
	// ID is the member ID the coordinator gave it.
	ID string
	// InstanceID is its group.instance.id when it is a static member,
	// else "".
	InstanceID string
	ClientID   string
	// Host is the client host as the coordinator saw it (for the Java
	// client, "/" and an IP address).
	Host string
}

// MemberLag is one member of a group and the lag of the partitions
// assigned to it. A member that owns no partition has Partitions and Lag
// 0; it still exists, and owns nothing.
type MemberLag struct {
	Member
	// Partitions counts the group's partitions (of Group.Partitions)
	// assigned to the member; Lag sums their offset lag.
	Partitions int
	Lag        int64
	// LagSeconds is the largest time lag of those partitions, valid if
	// LagSecondsKnown (false when no partition's time lag is known).
	LagSeconds      float64
	LagSecondsKnown bool
}

// Store publishes snapshots. The zero value is not usable; use NewStore.
type Store struct {
	mu   sync.Mutex // serialises Publish and the subscribers' calls
	cur  atomic.Pointer[Snapshot]
	subs []func(*Snapshot)
}

// Subscribe calls fn with the current snapshot now, and with every
// snapshot published from now on, right after it is published and on the
// publisher's goroutine (so that a renderer renders each snapshot once, in
// the background of readers). Calls are serialised; fn must not publish.
func (s *Store) Subscribe(fn func(*Snapshot)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs = append(s.subs, fn)
	fn(s.cur.Load())
}

// NewStore returns a store holding one not-yet-polled Cluster per name.
func NewStore(clusters ...string) *Store {
	s := &Store{}
	snap := &Snapshot{}
	for _, n := range clusters {
		snap.Clusters = append(snap.Clusters, &Cluster{Name: n})
	}
	sort.Slice(snap.Clusters, func(i, j int) bool { return snap.Clusters[i].Name < snap.Clusters[j].Name })
	s.cur.Store(snap)
	return s
}

// Load returns the current snapshot. It never blocks on a poll cycle.
func (s *Store) Load() *Snapshot { return s.cur.Load() }

// Publish replaces one cluster's state. Other clusters' states are shared
// with the previous snapshot, which stays valid for readers that hold it.
func (s *Store) Publish(c *Cluster) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	next := &Snapshot{Clusters: make([]*Cluster, 0, len(old.Clusters)+1)}
	replaced := false
	for _, oc := range old.Clusters {
		if oc.Name == c.Name {
			next.Clusters = append(next.Clusters, c)
			replaced = true
			continue
		}
		next.Clusters = append(next.Clusters, oc)
	}
	if !replaced {
		next.Clusters = append(next.Clusters, c)
		sort.Slice(next.Clusters, func(i, j int) bool { return next.Clusters[i].Name < next.Clusters[j].Name })
	}
	s.cur.Store(next)
	for _, fn := range s.subs {
		fn(next)
	}
}
