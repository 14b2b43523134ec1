// Package observation holds what one poll cycle saw of one Kafka cluster,
// as plain data: groups with their state, members, assignments and
// commits, and partitions with their log start and end offsets, plus the
// errors met on the way.
//
// The collector package fills an Observation; the snapshot builder turns a
// sequence of them into immutable snapshots. An Observation carries no kgo
// or kadm types so that everything downstream can be tested with literals.
package observation

import (
	"sort"
	"time"
)

// Group kinds, from ListGroups' group type.
const (
	KindClassic  = "classic"  // the classic JoinGroup/SyncGroup protocol
	KindConsumer = "consumer" // KIP-848 consumer groups (ConsumerGroupHeartbeat)
	KindStreams  = "streams"  // KIP-1071 Kafka Streams groups (StreamsGroupHeartbeat)
	KindShare    = "share"    // KIP-932 share groups (ShareGroupHeartbeat); see ShareGroup
)

// Observation is one cycle over one cluster. It is built by one goroutine
// and never modified after it is handed on.
type Observation struct {
	Cluster string
	// Start and End bound the cycle in wall-clock time.
	Start, End time.Time
	// Err is set when the cycle failed as a whole (no broker reachable,
	// authentication failed, every request failed). Groups and Topics are
	// then empty and the previous values are kept downstream.
	Err error

	// Groups holds every listed group that passed the group filter, by
	// name. A group whose description or offsets could not be read is
	// present with DescribeErr or FetchErr set.
	Groups map[string]*Group
	// ShareGroups holds every listed share group (KIP-932) that passed the
	// group filter, by name. Share groups have no committed offsets and
	// are kept apart from Groups.
	ShareGroups map[string]*ShareGroup
	// UnlistedBrokers are brokers whose ListGroups failed: groups last seen
	// on them are kept (not treated as deleted) until they answer again.
	UnlistedBrokers map[int32]bool

	// Topics holds every topic that passed the topic filter, by name.
	// MetadataOK is false when the topic list could not be read this
	// cycle; then Topics is empty and previous partitions are kept.
	Topics     map[string]*Topic
	MetadataOK bool

	// Errors lists every error met in this cycle, by stage.
	Errors []Error
}

// Error is one failure within a cycle.
type Error struct {
	Stage string // one of metrics.PollStages
	Group string // the affected group, if any
	Topic string // the affected topic, if any
	// Partition is the affected partition, or -1.
	Partition int32
	Broker    int32 // the broker the request went to, or -1
	Err       error
}

// Group is what one cycle saw of one consumer group.
type Group struct {
	Name string
	// Kind is KindClassic, KindConsumer or KindStreams.
	Kind         string
	ProtocolType string
	// Protocol is the assignor (classic) or server assignor (KIP-848).
	Protocol    string
	State       string
	Coordinator int32

	Members []Member
	// Epoch and AssignmentEpoch are set for KIP-848 and streams groups only.
	Epoch, AssignmentEpoch int32
	// Generation is a classic group's generation as its coordinator last
	// recorded it in __consumer_offsets, valid when GenerationKnown: only
	// with --rebalance.source=consumer-offsets, once that topic was read to
	// its end.
	Generation      int32
	GenerationKnown bool

	// Commits maps topic → partition → committed offset (>= 0) as returned
	// by OffsetFetch. Partitions without a commit are absent.
	Commits map[string]map[int32]int64

	DescribeErr error // the group could not be described this cycle
	FetchErr    error // its committed offsets could not be read this cycle
}

// Member is one member of a group. Member identity is used for member counts
// and rebalance analysis, never as a label on lag series.
type Member struct {
	ID         string
	InstanceID string // group.instance.id for static members, else ""
	ClientID   string
	ClientHost string
	// Subscribed topics, from the member's join metadata; for a streams
	// member, the source topics of its group's topology.
	Subscribed []string
	// Assigned maps topic → partitions currently owned by the member; for a
	// streams member, the source partitions of its active tasks (standby
	// and warm-up tasks consume no offsets of the group).
	Assigned map[string][]int32
	// AssignedIDs holds, by topic ID, the assigned partitions of topics a
	// KIP-848 description named by ID only (kfake leaves the name empty;
	// Kafka fills it). The collector moves them into Assigned once it
	// knows the names from metadata; downstream it is empty.
	AssignedIDs map[[16]byte][]int32
	// Generation is the generation the member last joined in, from
	// ConsumerMemberMetadata v2+ (KIP-792), or -1 when the client does not
	// send it. For KIP-848 and streams members it is the member epoch.
	Generation int32
}

// Static reports whether the member has a group.instance.id.
func (m Member) Static() bool { return m.InstanceID != "" }

// Topics returns the topics the group is known to consume: those it has
// commits on, those assigned to its members, and those its members
// subscribe to, sorted.
func (g *Group) Topics() []string {
	set := map[string]struct{}{}
	for t := range g.Commits {
		set[t] = struct{}{}
	}
	for _, m := range g.Members {
		for t := range m.Assigned {
			set[t] = struct{}{}
		}
		for _, t := range m.Subscribed {
			set[t] = struct{}{}
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// StaticMembers counts members with a group.instance.id.
func (g *Group) StaticMembers() int {
	n := 0
	for _, m := range g.Members {
		if m.Static() {
			n++
		}
	}
	return n
}

// Topic is one topic's partitions as seen in one cycle.
type Topic struct {
	Name string
	// ID is the topic ID (all zero when the broker predates topic IDs).
	ID         [16]byte
	Partitions map[int32]*Partition
}

// Partition holds the log offsets of one partition. A partition whose
// offsets could not be listed has Err set and its offsets are not valid.
type Partition struct {
	Leader int32
	// Start is the log start offset, End the high-water mark, and Stable
	// the last stable offset (only listed for read_committed clusters;
	// -1 otherwise).
	Start, End, Stable int64
	Err                error
	// Gone is set when the broker answered that the topic or partition
	// does not exist (deleted between the metadata read and the offset
	// read): its previous values must not be kept.
	Gone bool
}

// ShareGroup is what one cycle saw of one share group (KIP-932). Its
// members acquire records from share-partitions and acknowledge them; the
// broker keeps, per partition, the share-partition start offset (SPSO):
// every record below it is acknowledged, archived or gone.
type ShareGroup struct {
	Name        string
	State       string
	Coordinator int32
	// Members carry ID, ClientID, ClientHost, Subscribed and Assigned
	// (InstanceID and Generation do not apply; Generation is the member
	// epoch).
	Members []Member
	// Offsets maps topic → partition → the share-partition's state, for
	// the partitions the group has state for (DescribeShareGroupOffsets).
	Offsets map[string]map[int32]ShareOffset

	DescribeErr error // ShareGroupDescribe failed for the group this cycle
	FetchErr    error // DescribeShareGroupOffsets failed for it this cycle
}

// ShareOffset is one share-partition of a share group.
type ShareOffset struct {
	// Start is the share-partition start offset.
	Start int64
	// Lag is the broker's share-partition lag (DescribeShareGroupOffsets
	// v1, KIP-1226, Kafka 4.2+): records from Start to the high-water mark
	// not yet acknowledged or archived. -1 when the broker does not report
	// it.
	Lag int64
}

// SortedShareGroups returns the share group names, sorted.
func (o *Observation) SortedShareGroups() []string {
	out := make([]string, 0, len(o.ShareGroups))
	for g := range o.ShareGroups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// SortedTopics returns the topic names, sorted.
func (o *Observation) SortedTopics() []string {
	out := make([]string, 0, len(o.Topics))
	for t := range o.Topics {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// SortedGroups returns the group names, sorted.
func (o *Observation) SortedGroups() []string {
	out := make([]string, 0, len(o.Groups))
	for g := range o.Groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// AddError records an error of the given stage.
func (o *Observation) AddError(e Error) { o.Errors = append(o.Errors, e) }
