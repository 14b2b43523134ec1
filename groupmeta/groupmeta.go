package groupmeta

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic is the internal topic the group coordinator writes to.
const Topic = "__consumer_offsets"

// Type is what a __consumer_offsets record holds, from its key version.
type Type int8

// Record types.
const (
	// TypeOther is a record this package does not decode: KIP-848 consumer
	// group, share group and other coordinator records (key version 3+).
	TypeOther Type = iota
	// TypeOffsetCommit is an offset commit (key version 0 or 1).
	TypeOffsetCommit
	// TypeGroupMetadata is the metadata of a classic group as of one
	// generation (key version 2).
	TypeGroupMetadata
)

// String names the type for logs and test failures.
func (t Type) String() string {
	switch t {
	case TypeOffsetCommit:
		return "offset_commit"
	case TypeGroupMetadata:
		return "group_metadata"
	default:
		return "other"
	}
}

// Record is one decoded __consumer_offsets record.
type Record struct {
	Type Type
	// Group is the group the record is about; empty for TypeOther.
	Group string
	// Tombstone is true when the record has no value: the commit
	// (TypeOffsetCommit) or the whole group (TypeGroupMetadata) was
	// deleted. Commit and Meta are then zero.
	Tombstone bool
	// Commit is set for TypeOffsetCommit.
	Commit Commit
	// Meta is set for TypeGroupMetadata.
	Meta Metadata
}

// Commit is one committed offset.
type Commit struct {
	Topic     string
	Partition int32
	Offset    int64
	// Time is the commit timestamp the coordinator recorded (broker clock).
	Time time.Time
}

// Metadata is a classic group as of one generation.
type Metadata struct {
	// Generation is the group's generation id: 0 for a group that never
	// completed a join, then one more for every rebalance, including the
	// one that leaves the group Empty.
	Generation int32
	// ProtocolType is "consumer" for consumer groups ("connect" for Kafka
	// Connect workers, ...); Protocol is the chosen assignor, e.g.
	// "range", "cooperative-sticky"; both empty for an Empty group.
	ProtocolType, Protocol string
	// Leader is the member id of the group leader, empty if none.
	Leader string
	// StateTime is when the group entered this state (value v2+), zero if
	// not recorded.
	StateTime time.Time
	// Members of this generation; none when the group is Empty.
	Members []Member
}

// Member is one member of a generation.
type Member struct {
	ID string
	// InstanceID is the group.instance.id of a static member, else "".
	InstanceID string
	ClientID   string
	ClientHost string
}

// ErrShortKey is returned for a key too short to hold its version.
var ErrShortKey = errors.New("groupmeta: key shorter than its version")

// Decode decodes one record of __consumer_offsets from its key and value (nil
// for a tombstone). It never panics on malformed input; a record it cannot
// decode is an error naming the part that failed. Key versions it does not
// know (3 and above) are TypeOther without error: newer coordinators write
// record types that a reader of classic generations can skip.
func Decode(key, value []byte) (Record, error) {
	if len(key) < 2 {
		return Record{}, ErrShortKey
	}
	switch v := int16(binary.BigEndian.Uint16(key)); {
	case v == 0 || v == 1:
		return decodeCommit(key, value)
	case v == 2:
		return decodeGroup(key, value)
	case v < 0:
		return Record{}, fmt.Errorf("groupmeta: negative key version %d", v)
	default:
		return Record{Type: TypeOther}, nil
	}
}

func decodeCommit(key, value []byte) (Record, error) {
	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(key); err != nil {
		return Record{}, fmt.Errorf("groupmeta: offset commit key: %w", err)
	}
	r := Record{Type: TypeOffsetCommit, Group: k.Group, Commit: Commit{Topic: k.Topic, Partition: k.Partition}}
	if value == nil {
		r.Tombstone = true
		return r, nil
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(value); err != nil {
		return Record{}, fmt.Errorf("groupmeta: offset commit value of group %q: %w", k.Group, err)
	}
	r.Commit.Offset = v.Offset
	r.Commit.Time = time.UnixMilli(v.CommitTimestamp)
	return r, nil
}

func decodeGroup(key, value []byte) (Record, error) {
	var k kmsg.GroupMetadataKey
	if err := k.ReadFrom(key); err != nil {
		return Record{}, fmt.Errorf("groupmeta: group metadata key: %w", err)
	}
	r := Record{Type: TypeGroupMetadata, Group: k.Group}
	if value == nil {
		r.Tombstone = true
		return r, nil
	}
	var v kmsg.GroupMetadataValue
	if err := v.ReadFrom(value); err != nil {
		return Record{}, fmt.Errorf("groupmeta: group metadata value of group %q: %w", k.Group, err)
	}
	r.Meta = Metadata{Generation: v.Generation, ProtocolType: v.ProtocolType, Protocol: deref(v.Protocol), Leader: deref(v.Leader)}
	if v.CurrentStateTimestamp >= 0 && v.Version >= 2 {
		r.Meta.StateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	for _, m := range v.Members {
		r.Meta.Members = append(r.Meta.Members, Member{ID: m.MemberID, InstanceID: deref(m.InstanceID), ClientID: m.ClientID, ClientHost: m.ClientHost})
	}
	return r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Generation is the latest recorded generation of one classic group.
type Generation struct {
	Generation   int32
	ProtocolType string
	Protocol     string
	Members      int
	// Records counts the group metadata records folded for this group
	// since it was (re)created: one per generation written, so Records can
	// be smaller than the generations advanced when a rebalance restarted
	// before its assignment was stored.
	Records uint64
}

// Table holds the latest recorded generation of every classic group, folded
// from records in log order. All records of one group are in one partition
// of __consumer_offsets, so per-partition order is all it needs. It is not
// safe for concurrent use.
type Table struct {
	groups map[string]Generation
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{groups: map[string]Generation{}} }

// Apply folds one record: group metadata replaces the group's entry, a group
// tombstone removes it (the group was deleted; a group created again under
// the same name starts again from generation 0), and anything else is
// ignored.
func (t *Table) Apply(r Record) {
	if r.Type != TypeGroupMetadata {
		return
	}
	if r.Tombstone {
		delete(t.groups, r.Group)
		return
	}
	g := t.groups[r.Group]
	if r.Meta.Generation < g.Generation {
		g.Records = 0 // written again from scratch: a new group of the same name
	}
	t.groups[r.Group] = Generation{
		Generation:   r.Meta.Generation,
		ProtocolType: r.Meta.ProtocolType,
		Protocol:     r.Meta.Protocol,
		Members:      len(r.Meta.Members),
		Records:      g.Records + 1,
	}
}

// Get returns the latest recorded generation of group.
func (t *Table) Get(group string) (Generation, bool) {
	g, ok := t.groups[group]
	return g, ok
}

// Len returns the number of groups in the table.
func (t *Table) Len() int { return len(t.groups) }
