// Package metrics is the klagx metric contract written down as data: one
// table of every family the exporter serves, with its name, type, labels,
// help text and stability.
//
// The Prometheus exporter (promexport), the OTLP bridge, the generated
// docs/metrics.md, the alert rules and the dashboards all read this table or
// its name constants, so a rename breaks the build instead of a user's
// dashboard. Nothing here talks to Kafka or to a registry.
package metrics

import (
	"sort"

	"github.com/klagx/klagx/observation"
)

// Label names shared by every family. Member identity (member, client_id,
// host) labels only the per-member families, never a partition or group
// series: it would churn those on every rebalance.
const (
	LabelCluster   = "cluster"
	LabelGroup     = "group"
	LabelTopic     = "topic"
	LabelPartition = "partition"
	LabelState     = "state"
	LabelStatus    = "status"
	LabelAPI       = "api"
	LabelStage     = "stage"
	LabelMethod    = "method"
	LabelSeverity  = "severity"
	LabelMember    = "member"
	LabelClientID  = "client_id"
	LabelHost      = "host"
	LabelKind      = "kind"
)

// Family names.
const (
	PartitionStartOffset  = "klagx_partition_start_offset"
	PartitionEndOffset    = "klagx_partition_end_offset"
	PartitionStableOffset = "klagx_partition_last_stable_offset"

	GroupPartitionCommittedOffset = "klagx_group_partition_committed_offset"
	GroupPartitionLag             = "klagx_group_partition_lag"
	GroupPartitionMessagesLost    = "klagx_group_partition_messages_lost_total"
	GroupTopicLag                 = "klagx_group_topic_lag"
	GroupLag                      = "klagx_group_lag"
	GroupPartitionsWithoutCommit  = "klagx_group_partitions_without_commit"

	GroupPartitionLagSeconds      = "klagx_group_partition_lag_seconds"
	GroupTopicLagSeconds          = "klagx_group_topic_lag_seconds"
	GroupLagSeconds               = "klagx_group_lag_seconds"
	GroupTimeLagError             = "klagx_group_time_lag_error_seconds"
	GroupTimeLagPartitions        = "klagx_group_time_lag_partitions"
	GroupPartitionLastCommit      = "klagx_group_partition_last_commit_timestamp_seconds"
	GroupCommitLatency            = "klagx_group_commit_latency_seconds"
	GroupCommitGap                = "klagx_group_commit_gap_seconds"
	GroupCommitGaps               = "klagx_group_commit_gaps_total"
	GroupRewinds                  = "klagx_group_rewinds_total"
	GroupPollErrors               = "klagx_group_poll_errors_total"
	GroupMessagesLost             = "klagx_group_messages_lost_total"
	GroupRetentionHeadroom        = "klagx_group_retention_headroom"
	GroupRetentionHeadroomSeconds = "klagx_group_retention_headroom_seconds"
	GroupStatus                   = "klagx_group_status"
	GroupLagThreshold             = "klagx_group_lag_threshold"
	GroupLagThresholdSeconds      = "klagx_group_lag_threshold_seconds"
	GroupStallThresholdSeconds    = "klagx_group_stall_threshold_seconds"
	GroupCatchUpSeconds           = "klagx_group_catchup_seconds"

	GroupRebalances          = "klagx_group_rebalances_total"
	GroupRebalanceDuration   = "klagx_group_rebalance_duration_seconds"
	GroupRebalanceInProgress = "klagx_group_rebalance_in_progress"
	GroupMemberJoins         = "klagx_group_member_joins_total"
	GroupMemberLeaves        = "klagx_group_member_leaves_total"
	GroupPartitionsMoved     = "klagx_group_partitions_moved_total"
	GroupLastRebalance       = "klagx_group_last_rebalance_timestamp_seconds"
	GroupUnownedPartitions   = "klagx_group_unowned_partitions"

	GroupMemberLag                = "klagx_group_member_lag"
	GroupMemberLagSeconds         = "klagx_group_member_lag_seconds"
	ShareGroupState               = "klagx_share_group_state"
	ShareGroupMembers             = "klagx_share_group_members"
	ShareGroupLag                 = "klagx_share_group_lag"
	ShareGroupStatus              = "klagx_share_group_status"
	ShareGroupProgressGap         = "klagx_share_group_progress_gap_seconds"
	ShareGroupEstimatedPartitions = "klagx_share_group_lag_estimated_partitions"
	ShareGroupLastPollSuccess     = "klagx_share_group_last_poll_success_timestamp_seconds"
	ShareGroupPollErrors          = "klagx_share_group_poll_errors_total"
	ShareGroupTopicLag            = "klagx_share_group_topic_lag"
	ShareGroupPartitionLag        = "klagx_share_group_partition_lag"
	ShareGroupPartitionStart      = "klagx_share_group_partition_start_offset"

	GroupState           = "klagx_group_state"
	GroupMembers         = "klagx_group_members"
	GroupStaticMembers   = "klagx_group_static_members"
	GroupLastPollSuccess = "klagx_group_last_poll_success_timestamp_seconds"
	GroupInfo            = "klagx_group_info"

	Up              = "klagx_up"
	PollDuration    = "klagx_poll_duration_seconds"
	LastPollSuccess = "klagx_last_poll_success_timestamp_seconds"
	KafkaRequests   = "klagx_kafka_requests_total"
	PollErrors      = "klagx_poll_errors_total"
	BuildInfo       = "klagx_build_info"
	ShardOrdinal    = "klagx_shard_ordinal"
	ShardTotal      = "klagx_total_shards"
)

// Type is the Prometheus metric type of a family.
type Type string

// The metric types klagx uses.
const (
	Gauge     Type = "gauge"
	Counter   Type = "counter"
	Histogram Type = "histogram"
)

// Stability says how much users may rely on a family. Stable families are
// renamed only through a documented deprecation; experimental ones may change.
type Stability string

// Stability levels.
const (
	Stable       Stability = "stable"
	Experimental Stability = "experimental"
)

// Level is the finest granularity at which a family is emitted. The
// --granularity flag drops families finer than the chosen level so that very
// large clusters can bound their series count.
type Level int

// Granularity levels, coarsest first.
const (
	LevelCluster Level = iota
	LevelGroup
	LevelTopic
	LevelPartition
)

// Family describes one metric family of the contract.
type Family struct {
	Name      string
	Type      Type
	Help      string
	Labels    []string
	Stability Stability
	// Level is the granularity a family belongs to; see Level.
	Level Level
	// GroupScoped families carry the group label: their series count
	// grows with the number of groups (the cardinality that matters).
	GroupScoped bool
	// OptIn families are not served unless --metric-opt-in-list selects
	// them: they are the ones beyond the cardinality budget of the default
	// set (see Budget), or redundant with a default family.
	OptIn bool
	// Buckets are the upper bounds of a histogram family.
	Buckets []float64
}

// CommitLatencyBuckets are the histogram buckets of
// klagx_group_commit_latency_seconds: from sub-second stream processors to
// hourly batch jobs.
var CommitLatencyBuckets = []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 10800}

// RebalanceDurationBuckets are the histogram buckets of
// klagx_group_rebalance_duration_seconds: from a quick cooperative rebalance
// to one stuck on max.poll.interval.ms.
var RebalanceDurationBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

// PollDurationBuckets are the histogram buckets of klagx_poll_duration_seconds.
var PollDurationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// GroupStates are the values of the state label of klagx_group_state. They
// are Kafka's own names for classic, consumer (KIP-848) and streams
// (KIP-1071: Empty, NotReady, Assigning, Reconciling, Stable, Dead) group
// states; any other value reported by a broker is exported as "Unknown", so
// the label can never grow without bound.
var GroupStates = []string{
	"Stable", "PreparingRebalance", "CompletingRebalance", // classic
	"Assigning", "Reconciling", "NotReady", // KIP-848 consumer and KIP-1071 streams groups
	"Empty", "Dead", "Unknown",
}

// GroupKinds are the values of the kind label of klagx_group_info: the
// group protocols klagx reads (observation.Kind*).
var GroupKinds = []string{observation.KindClassic, observation.KindConsumer, observation.KindStreams}

// NormalizeGroupState maps a broker-reported state onto GroupStates.
func NormalizeGroupState(s string) string {
	for _, k := range GroupStates {
		if k == s {
			return s
		}
	}
	return "Unknown"
}

var (
	cl    = []string{LabelCluster}
	clg   = []string{LabelCluster, LabelGroup}
	cltp  = []string{LabelCluster, LabelTopic, LabelPartition}
	clgt  = []string{LabelCluster, LabelGroup, LabelTopic}
	clgtp = []string{LabelCluster, LabelGroup, LabelTopic, LabelPartition}
	clgm  = []string{LabelCluster, LabelGroup, LabelMember, LabelClientID, LabelHost}
)

// Families is the whole contract, in the order the docs list it.
var Families = []Family{
	{Name: PartitionStartOffset, Type: Gauge, Labels: cltp, Level: LevelPartition, Stability: Stable,
		Help: "Log start offset of the partition: the oldest offset still retained."},
	{Name: PartitionEndOffset, Type: Gauge, Labels: cltp, Level: LevelPartition, Stability: Stable,
		Help: "High-water mark of the partition: the offset the next produced message will get."},
	{Name: PartitionStableOffset, Type: Gauge, Labels: cltp, Level: LevelPartition, OptIn: true, Stability: Experimental,
		Help: "Last stable offset of the partition (end of committed transactions); only for clusters configured read_committed."},

	{Name: GroupPartitionCommittedOffset, Type: Gauge, Labels: clgtp, Level: LevelPartition, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Offset the group last committed for the partition. Absent when the group has no commit for it."},
	{Name: GroupPartitionLag, Type: Gauge, Labels: clgtp, Level: LevelPartition, GroupScoped: true, Stability: Stable,
		Help: "Messages the group has not consumed from the partition: end offset minus committed offset, never negative. Without a commit it counts from the log start offset; with a commit below the log start offset it counts only retained messages."},
	{Name: GroupPartitionMessagesLost, Type: Counter, Labels: clgtp, Level: LevelPartition, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Messages deleted by retention before the group committed past them, as observed by this exporter."},
	{Name: GroupTopicLag, Type: Gauge, Labels: clgt, Level: LevelTopic, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Sum of klagx_group_partition_lag over the topic's partitions."},
	{Name: GroupLag, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Sum of klagx_group_partition_lag over all partitions the group consumes."},
	{Name: GroupPartitionsWithoutCommit, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Partitions of the group's topics for which the group has no committed offset; their lag is counted from the log start offset."},

	{Name: GroupPartitionLagSeconds, Type: Gauge, Labels: clgtp, Level: LevelPartition, GroupScoped: true, Stability: Stable,
		Help: "Time lag: age in seconds of the oldest message the group has not consumed from the partition (now minus the timestamp of the record at the committed offset); 0 when caught up, never negative. See klagx_group_time_lag_partitions for how it was obtained."},
	{Name: GroupTopicLagSeconds, Type: Gauge, Labels: clgt, Level: LevelTopic, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Largest klagx_group_partition_lag_seconds over the topic's partitions."},
	{Name: GroupLagSeconds, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Largest klagx_group_partition_lag_seconds over all partitions the group consumes."},
	{Name: GroupTimeLagError, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Largest error bound, in seconds, of the group's time-lag estimates: each true value lies within this distance of the exported one (0 when every value is exact or caught up)."},
	{Name: GroupTimeLagPartitions, Type: Gauge, Labels: []string{LabelCluster, LabelGroup, LabelMethod}, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Partitions of the group by how their time lag was obtained: caught_up, exact, interpolated, lower_bound (older than every known point: the value is a lower bound), unknown."},
	{Name: GroupPartitionLastCommit, Type: Gauge, Labels: clgtp, Level: LevelPartition, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Unix time the committed offset was first seen at its current value: the last observed advance, or the first poll after klagx started. Absent without a commit."},
	{Name: GroupCommitLatency, Type: Histogram, Buckets: CommitLatencyBuckets, Labels: clg, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Age of the newest message a commit covered, observed when a partition's committed offset advances: the produce-to-commit latency of the group's pipeline."},
	{Name: GroupCommitGap, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Longest time, in seconds, any partition with lag has gone without commit progress (0 when none has lag). A partition with nothing to consume is never in a gap."},
	{Name: GroupCommitGaps, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Times the group entered a commit gap longer than its stall threshold (became stalled)."},
	{Name: GroupRewinds, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Committed offsets seen moving backwards (offset resets, reprocessing)."},
	{Name: GroupMessagesLost, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Sum of klagx_group_partition_messages_lost_total over the group's partitions."},
	{Name: GroupRetentionHeadroom, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Smallest distance, in messages, between the log start offset and the committed offset over partitions with lag: how many more messages retention can delete before the group loses data. Absent when no partition has lag."},
	{Name: GroupRetentionHeadroomSeconds, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Smallest distance, in record time, between the oldest retained message and the oldest unconsumed one over partitions with lag. Absent when no partition has lag or the times are not known."},
	{Name: GroupStatus, Type: Gauge, Labels: []string{LabelCluster, LabelGroup, LabelStatus}, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Group health: 1 for the current status (ok, warning, stalled, stopped, rewind, lost, rebalancing, unknown), 0 for the others. The reason is in /status and klagx check."},
	{Name: GroupLagThreshold, Type: Gauge, Labels: []string{LabelCluster, LabelGroup, LabelSeverity}, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Offset-lag threshold of the group, by severity (warning, critical); absent when disabled."},
	{Name: GroupLagThresholdSeconds, Type: Gauge, Labels: []string{LabelCluster, LabelGroup, LabelSeverity}, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Time-lag threshold of the group in seconds, by severity (warning, critical); absent when disabled. Alert rules compare klagx_group_lag_seconds against it."},
	{Name: GroupStallThresholdSeconds, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Time without commit progress, with lag, after which the group is stalled."},
	{Name: GroupCatchUpSeconds, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Estimated seconds until the group's lag reaches zero at its current rates: over its topics with lag, the largest lag / (consume rate - produce rate), the rates taken from commits and end offsets over the growth window; 0 without lag. Absent when the group is not catching up: a topic with lag is consumed no faster than it is produced to or has no rates yet (first cycle, new partition), or the group is stopped or stalled. Never negative or infinite."},

	{Name: GroupState, Type: Gauge, Labels: []string{LabelCluster, LabelGroup, LabelState}, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Group state reported by the coordinator: 1 for the current state, 0 for the others."},
	{Name: GroupMembers, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Members of the group."},
	{Name: GroupInfo, Type: Gauge, Labels: []string{LabelCluster, LabelGroup, LabelKind}, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Always 1; kind is the group's protocol: classic, consumer (KIP-848) or streams (KIP-1071, Kafka Streams on group.protocol=streams). Join on cluster and group to select groups by kind."},
	{Name: GroupStaticMembers, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Members of the group with a static group.instance.id."},
	{Name: GroupLastPollSuccess, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Unix time when this group's description and offsets were last read successfully; older than the last cycle means the values are the last good ones."},

	{Name: GroupPollErrors, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Poll cycles in which the group's description or committed offsets could not be read (its values are then the last good ones, see klagx_group_last_poll_success_timestamp_seconds). Counted from when klagx first listed the group."},

	{Name: GroupRebalances, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Rebalances observed: classic groups by state, membership and assignment changes between polls (exact where members send KIP-792 generations), or by recorded generations with --rebalance.source=consumer-offsets; KIP-848 and streams groups by group epoch advances."},
	{Name: GroupRebalanceDuration, Type: Histogram, Buckets: RebalanceDurationBuckets, Labels: clg, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Time from the first poll that saw a rebalance in progress to the first that saw the group settled again. Rebalances that start and end between two polls are counted but not timed."},
	{Name: GroupRebalanceInProgress, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "1 while a rebalance is in progress (classic PreparingRebalance/CompletingRebalance, KIP-848 and streams epochs not yet reconciled)."},
	{Name: GroupMemberJoins, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Members that joined the group in observed rebalances (static members counted by group.instance.id)."},
	{Name: GroupMemberLeaves, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Members that left the group in observed rebalances."},
	{Name: GroupPartitionsMoved, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Partitions whose owner changed from one member to another in observed rebalances."},
	{Name: GroupLastRebalance, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Stable,
		Help: "Unix time the last observed rebalance ended. Absent before the first."},
	{Name: GroupUnownedPartitions, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Stable,
		Help: "Partitions the group has committed offsets for but no member owns, while the group is Stable with members: nobody will consume them."},
	{Name: GroupMemberLag, Type: Gauge, Labels: clgm, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Sum of klagx_group_partition_lag over the partitions assigned to the member (member ID, client.id and client host, as kafka-consumer-groups --describe shows CONSUMER-ID, CLIENT-ID and HOST); 0 for a member assigned none. One series per member of the group's latest description: a member that leaves loses its series."},
	{Name: GroupMemberLagSeconds, Type: Gauge, Labels: clgm, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Largest klagx_group_partition_lag_seconds over the partitions assigned to the member. Absent when the member is assigned none, or no time lag of them is known."},

	{Name: ShareGroupState, Type: Gauge, Labels: []string{LabelCluster, LabelGroup, LabelState}, Level: LevelGroup, GroupScoped: true, OptIn: true, Stability: Experimental,
		Help: "Share group (KIP-932) state reported by the coordinator (Empty, Stable, Dead, ...): 1 for the current state, 0 for the others."},
	{Name: ShareGroupMembers, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Members of the share group."},
	{Name: ShareGroupLag, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Sum of klagx_share_group_partition_lag over the share group's partitions: records not yet acknowledged or archived."},
	{Name: ShareGroupStatus, Type: Gauge, Labels: []string{LabelCluster, LabelGroup, LabelStatus}, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Share group health: 1 for the current status, 0 for the others. Share groups are ok, warning, stalled (lag, members, and no share-partition made progress, its start offset up or its lag down, for the stall threshold), stopped (lag and no members) or unknown."},
	{Name: ShareGroupProgressGap, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Longest time, in seconds, any share-partition with lag has gone without progress: its start offset advancing or its lag falling (0 when none has lag)."},
	{Name: ShareGroupEstimatedPartitions, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Share-partitions whose lag klagx computed as high-water mark minus start offset because the broker does not report share-partition lag (before Kafka 4.2, KIP-1226): their lag is an upper bound."},
	{Name: ShareGroupLastPollSuccess, Type: Gauge, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Unix time when this share group's description and start offsets were last read successfully."},
	{Name: ShareGroupPollErrors, Type: Counter, Labels: clg, Level: LevelGroup, GroupScoped: true, Stability: Experimental,
		Help: "Poll cycles in which the share group's description or start offsets could not be read (its values are then the last good ones)."},
	{Name: ShareGroupTopicLag, Type: Gauge, Labels: clgt, Level: LevelTopic, GroupScoped: true, OptIn: true, Stability: Experimental,
		Help: "Sum of klagx_share_group_partition_lag over the topic's partitions."},
	{Name: ShareGroupPartitionLag, Type: Gauge, Labels: clgtp, Level: LevelPartition, GroupScoped: true, Stability: Experimental,
		Help: "Records of the share-partition not yet acknowledged or archived: from Kafka 4.2 the broker's share-partition lag (high-water mark minus start offset minus records already acknowledged above it); before, high-water mark minus start offset (an upper bound)."},
	{Name: ShareGroupPartitionStart, Type: Gauge, Labels: clgtp, Level: LevelPartition, GroupScoped: true, Stability: Experimental,
		Help: "Share-partition start offset: every record below it is acknowledged, archived or deleted."},

	{Name: Up, Type: Gauge, Labels: cl, Level: LevelCluster, Stability: Stable,
		Help: "1 if the last poll cycle reached the cluster, 0 if it failed as a whole."},
	{Name: PollDuration, Type: Histogram, Buckets: PollDurationBuckets, Labels: cl, Level: LevelCluster, Stability: Stable,
		Help: "Wall time of one poll cycle against the cluster."},
	{Name: LastPollSuccess, Type: Gauge, Labels: cl, Level: LevelCluster, Stability: Stable,
		Help: "Unix time of the end of the last poll cycle that reached the cluster."},
	{Name: KafkaRequests, Type: Counter, Labels: []string{LabelCluster, LabelAPI}, Level: LevelCluster, Stability: Stable,
		Help: "Kafka requests sent by the exporter, by API name: the cost of klagx to the cluster it watches."},
	{Name: PollErrors, Type: Counter, Labels: []string{LabelCluster, LabelStage}, Level: LevelCluster, Stability: Stable,
		Help: "Errors met while polling, by stage (list_groups, describe_groups, describe_consumer_groups, offset_fetch, metadata, list_offsets, time_lookup, record_fetch, describe_share_groups, share_group_offsets); one per failed request shard, group or partition."},
	{Name: ShardOrdinal, Type: Gauge, Labels: []string{}, Level: LevelCluster, Stability: Stable,
		Help: "This replica's shard (--shard), 0 when sharding is off."},
	{Name: ShardTotal, Type: Gauge, Labels: []string{}, Level: LevelCluster, Stability: Stable,
		Help: "Number of shards sharing the groups (--total-shards); replicas that disagree on it export overlapping or missing groups."},
	{Name: BuildInfo, Type: Gauge, Labels: []string{"version", "revision", "goversion"}, Level: LevelCluster, Stability: Stable,
		Help: "Always 1; labels carry the klagx version, git revision and Go version."},
}

// Statuses are the values of the status label of klagx_group_status
// (status.All; repeated here so the contract has no dependencies).
var Statuses = []string{"ok", "warning", "stalled", "stopped", "rewind", "lost", "rebalancing", "unknown"}

// TimeLagMethods are the values of the method label of
// klagx_group_time_lag_partitions (timelag.Methods).
var TimeLagMethods = []string{"caught_up", "exact", "interpolated", "lower_bound", "unknown"}

// Values of the stage label of klagx_poll_errors_total: the stages of a poll
// cycle (collector.Stage* are these).
const (
	StageListGroups             = "list_groups"
	StageDescribeGroups         = "describe_groups"
	StageDescribeConsumerGroups = "describe_consumer_groups"
	StageDescribeStreamsGroups  = "describe_streams_groups"
	StageOffsetFetch            = "offset_fetch"
	StageMetadata               = "metadata"
	StageListOffsets            = "list_offsets"
	StageTimeLookup             = "time_lookup"
	StageRecordFetch            = "record_fetch"
	StageDescribeShareGroups    = "describe_share_groups"
	StageShareGroupOffsets      = "share_group_offsets"
)

// PollStages are the values of the stage label of klagx_poll_errors_total.
var PollStages = []string{StageListGroups, StageDescribeGroups, StageDescribeConsumerGroups, StageOffsetFetch, StageMetadata, StageListOffsets, StageTimeLookup, StageRecordFetch, StageDescribeStreamsGroups,
	StageDescribeShareGroups, StageShareGroupOffsets}

// Lookup returns the family with the given name.
func Lookup(name string) (Family, bool) {
	for _, f := range Families {
		if f.Name == name {
			return f, true
		}
	}
	return Family{}, false
}

// Names returns every family name, sorted.
func Names() []string {
	out := make([]string, 0, len(Families))
	for _, f := range Families {
		out = append(out, f.Name)
	}
	sort.Strings(out)
	return out
}
