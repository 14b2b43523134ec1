// Package report is the JSON view of a snapshot: the documented, stable
// schema served on /status and printed by `klagx check --output json`.
//
// Fields are only added, never renamed or retyped, within a schema version
// (Schema). Optional values are pointers and are omitted when unknown:
// "committed" is absent without a commit, never -1; "lag_seconds" is absent
// when it cannot be estimated, never NaN or Inf.
package report

import (
	"time"

	"github.com/klagx/klagx/snapshot"
	"github.com/klagx/klagx/status"
	"github.com/klagx/klagx/timelag"
)

// Schema names this JSON format and its version.
const Schema = "klagx.report/v1"

// Report is the whole document.
type Report struct {
	Schema      string    `json:"schema"`
	GeneratedAt time.Time `json:"generated_at"`
	// Severity and ExitCode are set by klagx check only: the overall
	// result (OK, WARNING, CRITICAL, UNKNOWN) and the exit code.
	Severity *status.Severity `json:"severity,omitempty"`
	ExitCode *int             `json:"exit_code,omitempty"`
	// Error is why a check could not judge anything (severity UNKNOWN),
	// or, on /status?group=NAME (answered with a 404), why NAME is absent.
	Error    string    `json:"error,omitempty"`
	Clusters []Cluster `json:"clusters"`
}

// Cluster is one Kafka cluster.
type Cluster struct {
	Name string `json:"name"`
	// Up is true when the last poll cycle reached the cluster.
	Up          bool       `json:"up"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	Error       string     `json:"error,omitempty"`
	Groups      []Group    `json:"groups"`
	// ShareGroups are the share groups (KIP-932), absent when none.
	ShareGroups []ShareGroup `json:"share_groups,omitempty"`
}

// ShareGroup is one share group (KIP-932). It has no commits: its members
// acquire records and acknowledge them, and the broker keeps per
// partition the share-partition start offset.
type ShareGroup struct {
	Name    string        `json:"name"`
	State   string        `json:"state"`
	Status  status.Status `json:"status"`
	Reason  string        `json:"reason,omitempty"`
	Members []ShareMember `json:"members"`
	// Lag counts records not yet acknowledged or archived;
	// EstimatedPartitions the partitions where it is the upper bound
	// end minus start offset (brokers before Kafka 4.2).
	Lag                 int64     `json:"lag"`
	EstimatedPartitions int       `json:"estimated_partitions"`
	ProgressGapSeconds  float64   `json:"progress_gap_seconds"`
	ObservedAt          time.Time `json:"observed_at"`
	Error               string    `json:"error,omitempty"`
	// Severity is set by klagx check only.
	Severity   status.Severity  `json:"severity,omitempty"`
	Partitions []SharePartition `json:"partitions"`
}

// ShareMember is one member of a share group.
type ShareMember struct {
	ID       string             `json:"id"`
	ClientID string             `json:"client_id"`
	Host     string             `json:"host"`
	Assigned map[string][]int32 `json:"assigned"`
}

// SharePartition is a share group's state on one partition.
type SharePartition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// StartOffset is the share-partition start offset; End the high-water
	// mark (absent when not read).
	StartOffset int64  `json:"start_offset"`
	End         *int64 `json:"end,omitempty"`
	Lag         *int64 `json:"lag,omitempty"`
	Estimated   bool   `json:"lag_estimated"`
}

// Group is one consumer group.
type Group struct {
	Name string `json:"name"`
	// Kind is "classic", "consumer" (KIP-848) or "streams" (KIP-1071).
	Kind          string        `json:"kind"`
	State         string        `json:"state"`
	Status        status.Status `json:"status"`
	Reason        string        `json:"reason,omitempty"`
	Members       int           `json:"members"`
	StaticMembers int           `json:"static_members"`
	// Lag is the total offset lag in messages; LagSeconds the largest time
	// lag of any partition, with its error bound.
	Lag                 int64    `json:"lag"`
	LagSeconds          *float64 `json:"lag_seconds,omitempty"`
	TimeLagErrorSeconds float64  `json:"time_lag_error_seconds"`
	CommitGapSeconds    float64  `json:"commit_gap_seconds"`
	MessagesLost        uint64   `json:"messages_lost"`
	// CatchUpSeconds is the estimated time until the lag reaches zero at
	// the current rates (klagx_group_catchup_seconds): absent when the
	// group is not catching up.
	CatchUpSeconds *float64 `json:"catchup_seconds,omitempty"`
	// ObservedAt is when these values were read; Error says why they are
	// older than the cluster's last cycle, if they are.
	ObservedAt time.Time `json:"observed_at"`
	Error      string    `json:"error,omitempty"`
	// Severity (OK, WARNING, CRITICAL, UNKNOWN) and the rates in messages
	// per second between the two samples are set by klagx check only.
	Severity    status.Severity `json:"severity,omitempty"`
	ProduceRate *float64        `json:"produce_rate,omitempty"`
	CommitRate  *float64        `json:"commit_rate,omitempty"`
	Topics      []Topic         `json:"topics"`
	// MemberLags is, per member, the lag of the partitions assigned to
	// it, sorted by member ID (empty without members).
	MemberLags []MemberLag `json:"member_lags"`
}

// Owner is the member a partition is assigned to, as kafka-consumer-groups
// --describe shows CONSUMER-ID, HOST and CLIENT-ID.
type Owner struct {
	MemberID string `json:"member_id"`
	// InstanceID is the group.instance.id of a static member.
	InstanceID string `json:"instance_id,omitempty"`
	ClientID   string `json:"client_id"`
	Host       string `json:"host"`
}

// MemberLag is one member and the lag of the partitions assigned to it: 0
// partitions and lag 0 for a member assigned none; LagSeconds, the largest
// time lag of them, is absent when none is known.
type MemberLag struct {
	Owner
	Partitions int      `json:"partitions"`
	Lag        int64    `json:"lag"`
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
}

// Topic is a group's position on one topic.
type Topic struct {
	Name       string   `json:"name"`
	Lag        int64    `json:"lag"`
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// ConsumeRate and ProduceRate are, in messages per second over the
	// group's growth window, how fast its commits and the topic's end
	// offsets advanced (absent until two cycles read them);
	// CatchUpSeconds is Lag / (ConsumeRate - ProduceRate), 0 without lag,
	// absent when the group does not catch up on this topic.
	ConsumeRate    *float64    `json:"consume_rate,omitempty"`
	ProduceRate    *float64    `json:"produce_rate,omitempty"`
	CatchUpSeconds *float64    `json:"catchup_seconds,omitempty"`
	Partitions     []Partition `json:"partitions"`
}

// Partition is a group's position on one partition.
type Partition struct {
	Partition int32  `json:"partition"`
	Committed *int64 `json:"committed,omitempty"`
	// Start is the log start offset; End the offset lag is measured to:
	// the high-water mark, or on a read_committed cluster the last stable
	// offset (so Lag is End minus Committed, as the check table shows).
	Start      int64    `json:"start"`
	End        int64    `json:"end"`
	Lag        int64    `json:"lag"`
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// TimeLagErrorSeconds bounds how far the true time lag may be from
	// LagSeconds. It explains a small lag with lag_seconds 0: records
	// written since the previous poll are interpolated up to the moment
	// the end offset was read, so the newest one is 0 s old, give or take
	// this bound (about one poll interval).
	TimeLagErrorSeconds float64        `json:"time_lag_error_seconds"`
	TimeLagMethod       timelag.Method `json:"time_lag_method"`
	// LastCommitAt is when klagx first saw the committed offset at its
	// current value (a poll time, up to one poll interval after the
	// commit; Kafka does not return the time of a commit), or, after a
	// klagx restart, the first poll that read it.
	LastCommitAt *time.Time `json:"last_commit_at,omitempty"`
	MessagesLost uint64     `json:"messages_lost"`
	// Status and Reason judge this partition alone (same values as the
	// group's status).
	Status status.Status `json:"status"`
	Reason string        `json:"reason,omitempty"`
	// Owner is the member the partition is assigned to; absent when no
	// member is.
	Owner *Owner `json:"owner,omitempty"`
}

// Filter selects groups; nil keeps all.
type Filter func(cluster, group string) bool

// FromSnapshot renders s. Groups are sorted by cluster and name, topics and
// partitions by name and number.
func FromSnapshot(s *snapshot.Snapshot, now time.Time, keep Filter) Report {
	r := Report{Schema: Schema, GeneratedAt: now.UTC(), Clusters: []Cluster{}}
	for _, c := range s.Clusters {
		rc := Cluster{Name: c.Name, Up: c.Up, Error: c.LastError, Groups: []Group{}}
		if !c.LastSuccess.IsZero() {
			t := c.LastSuccess.UTC()
			rc.LastSuccess = &t
		}
		ends := map[tpKey]snapshot.Partition{}
		for _, p := range c.Partitions {
			ends[tpKey{p.Topic, p.Partition}] = p
		}
		for _, g := range c.Groups {
			if keep != nil && !keep(c.Name, g.Name) {
				continue
			}
			rc.Groups = append(rc.Groups, group(g, ends))
		}
		for _, g := range c.ShareGroups {
			if keep != nil && !keep(c.Name, g.Name) {
				continue
			}
			rc.ShareGroups = append(rc.ShareGroups, shareGroup(g, ends))
		}
		r.Clusters = append(r.Clusters, rc)
	}
	return r
}

type tpKey struct {
	topic     string
	partition int32
}

func group(g snapshot.Group, ends map[tpKey]snapshot.Partition) Group {
	st := g.Status
	if st == "" || !g.HasData {
		st = status.Unknown
	}
	rg := Group{
		Name: g.Name, Kind: g.Kind, State: g.State, Status: st, Reason: g.Reason,
		Members: g.Members, StaticMembers: g.StaticMembers,
		Lag: g.Lag, TimeLagErrorSeconds: g.TimeLagError, CommitGapSeconds: g.CommitGap,
		MessagesLost: g.MessagesLost, ObservedAt: g.ObservedAt.UTC(), Error: g.Error, Topics: []Topic{},
		MemberLags: make([]MemberLag, 0, len(g.MemberLags)),
	}
	for _, m := range g.MemberLags {
		rm := MemberLag{Owner: owner(m.Member), Partitions: m.Partitions, Lag: m.Lag}
		if m.LagSecondsKnown {
			rm.LagSeconds = ptr(m.LagSeconds)
		}
		rg.MemberLags = append(rg.MemberLags, rm)
	}
	if !g.HasData && rg.Reason == "" {
		rg.Reason = "no successful read of this group yet"
	}
	if g.LagSecondsKnown {
		rg.LagSeconds = ptr(g.LagSeconds)
	}
	if g.CatchUpKnown {
		rg.CatchUpSeconds = ptr(g.CatchUpSeconds)
	}
	byTopic := map[string]int{}
	for _, t := range g.Topics {
		rt := Topic{Name: t.Topic, Lag: t.Lag, Partitions: []Partition{}}
		if t.LagSecondsKnown {
			rt.LagSeconds = ptr(t.LagSeconds)
		}
		if t.RatesKnown {
			rt.ConsumeRate, rt.ProduceRate = ptr(t.ConsumeRate), ptr(t.ProduceRate)
		}
		if t.CatchUpKnown {
			rt.CatchUpSeconds = ptr(t.CatchUpSeconds)
		}
		byTopic[t.Topic] = len(rg.Topics)
		rg.Topics = append(rg.Topics, rt)
	}
	for _, p := range g.Partitions {
		rp := Partition{Partition: p.Partition, Lag: p.Lag, TimeLagMethod: p.TimeLagMethod, TimeLagErrorSeconds: p.TimeLagError,
			MessagesLost: p.LostTotal, Status: p.Status, Reason: p.Reason}
		if rp.Status == "" {
			rp.Status = status.Unknown
		}
		if rp.TimeLagMethod == "" {
			rp.TimeLagMethod = timelag.Unknown
		}
		if p.HasCommit {
			rp.Committed = ptr(p.Committed)
		}
		if rp.TimeLagMethod != timelag.Unknown {
			rp.LagSeconds = ptr(p.LagSeconds)
		}
		if !p.LastCommitAt.IsZero() {
			t := p.LastCommitAt.UTC()
			rp.LastCommitAt = &t
		}
		if p.Owner != nil {
			rp.Owner = ptr(owner(*p.Owner))
		}
		if e, ok := ends[tpKey{p.Topic, p.Partition}]; ok {
			rp.Start, rp.End = e.Start, e.LagEnd()
		}
		i, ok := byTopic[p.Topic]
		if !ok {
			byTopic[p.Topic] = len(rg.Topics)
			i = len(rg.Topics)
			rg.Topics = append(rg.Topics, Topic{Name: p.Topic, Partitions: []Partition{}})
		}
		rg.Topics[i].Partitions = append(rg.Topics[i].Partitions, rp)
	}
	return rg
}

func owner(m snapshot.Member) Owner {
	return Owner{MemberID: m.ID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.Host}
}

func ptr[T any](v T) *T { return &v }

func shareGroup(g snapshot.ShareGroup, ends map[tpKey]snapshot.Partition) ShareGroup {
	st := g.Status
	if st == "" || !g.HasData {
		st = status.Unknown
	}
	out := ShareGroup{Name: g.Name, State: g.State, Status: st, Reason: g.Reason, Members: []ShareMember{},
		Lag: g.Lag, EstimatedPartitions: g.EstimatedPartitions, ProgressGapSeconds: g.ProgressGap,
		ObservedAt: g.ObservedAt.UTC(), Error: g.Error, Partitions: []SharePartition{}}
	for _, m := range g.Members {
		out.Members = append(out.Members, ShareMember{ID: m.ID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: m.Assigned})
	}
	for _, p := range g.Partitions {
		sp := SharePartition{Topic: p.Topic, Partition: p.Partition, StartOffset: p.Start, Estimated: p.Estimated}
		if e, ok := ends[tpKey{p.Topic, p.Partition}]; ok {
			sp.End = ptr(e.End)
		}
		if p.LagKnown {
			sp.Lag = ptr(p.Lag)
		}
		out.Partitions = append(out.Partitions, sp)
	}
	return out
}
