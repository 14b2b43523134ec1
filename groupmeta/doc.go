// Package groupmeta decodes the records the group coordinator writes to
// Kafka's internal __consumer_offsets topic, and folds them into the latest
// generation of each classic group.
//
// The coordinator writes one record per offset commit (key versions 0 and 1:
// group, topic, partition → offset and commit timestamp) and one per
// completed classic generation (key version 2: group → generation, protocol
// type, protocol, leader and members); a tombstone (no value) removes a
// group or a commit. KIP-848 consumer groups and share groups use key
// versions 3 and above; they are returned as [TypeOther] and not decoded:
// ConsumerGroupDescribe already gives their epochs.
//
// Classic groups carry no generation in DescribeGroups, so these records are
// the only exact record of every generation: read with a consumer that joins
// no group (package collector does so when --rebalance.source is
// consumer-offsets), each generation of each group is seen, even several
// between two polls.
//
// Read [Decode] and [Table] first. The wire format is kmsg's
// (OffsetCommitKey/Value, GroupMetadataKey/Value); the package adds the
// dispatch on key versions, the tombstones and the fold. It does no I/O and
// reads no clock.
package groupmeta
