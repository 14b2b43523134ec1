package metrics

import (
	"fmt"
	"regexp"
	"strings"
)

// Selection chooses the families served, as kube-state-metrics does: the
// default set, plus the opt-in families matched by OptIn, then restricted to
// Allow or cut by Deny (Allow and Deny are exclusive), and never finer than
// Level (--granularity).
//
// At LevelTopic the topic-level families stand in for the partition-level
// ones --granularity drops, so they are on without being opted in.
type Selection struct {
	Level Level
	// OptIn, Allow and Deny match whole family names (anchored); empty
	// means none, everything and nothing respectively.
	OptIn, Allow, Deny []*regexp.Regexp
}

// DefaultSelection is what klagx serves with no selection flags.
var DefaultSelection = Selection{Level: LevelPartition}

// AllSelection serves every family: --metric-opt-in-list='.*'.
var AllSelection = Selection{Level: LevelPartition, OptIn: []*regexp.Regexp{regexp.MustCompile(".*")}}

// CompileNames compiles family-name patterns, anchored at both ends. flag
// names the option in the error.
func CompileNames(flag string, patterns []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a valid regular expression: %v", flag, p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func matchAny(res []*regexp.Regexp, name string) bool {
	for _, re := range res {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// Enabled reports whether f is served under s.
func (s Selection) Enabled(f Family) bool {
	if f.Level > s.Level {
		return false
	}
	if f.OptIn && !matchAny(s.OptIn, f.Name) && !(f.Level == LevelTopic && s.Level == LevelTopic) {
		return false
	}
	if len(s.Allow) > 0 && !matchAny(s.Allow, f.Name) {
		return false
	}
	return !matchAny(s.Deny, f.Name)
}

// Unit is what a family's series count grows with.
type Unit int

// Units, in the order of the cardinality table.
const (
	PerCluster Unit = iota
	PerPartition
	PerGroup
	PerGroupTopic
	PerGroupPartition
	// PerMember families carry the member label: one series per member of
	// a group, never per partition.
	PerMember
	// Share groups (KIP-932) are counted apart: a cluster's share groups
	// are not its consumer groups.
	PerShareGroup
	PerShareGroupTopic
	PerShareGroupPartition
)

// Units lists every Unit in table order.
var Units = []Unit{PerCluster, PerPartition, PerGroup, PerGroupTopic, PerGroupPartition, PerMember, PerShareGroup, PerShareGroupTopic, PerShareGroupPartition}

func (u Unit) String() string {
	return [...]string{"cluster", "partition", "group", "group-topic", "group-partition", "member", "share-group", "share-group-topic", "share-group-partition"}[u]
}

// shareGroupPrefix starts the name of every share-group family.
const shareGroupPrefix = "klagx_share_group_"

// UnitOf returns what f's series count grows with, from its labels.
func UnitOf(f Family) Unit {
	has := map[string]bool{}
	for _, l := range f.Labels {
		has[l] = true
	}
	share := strings.HasPrefix(f.Name, shareGroupPrefix)
	switch {
	case has[LabelMember]:
		return PerMember
	case share && has[LabelPartition]:
		return PerShareGroupPartition
	case share && has[LabelTopic]:
		return PerShareGroupTopic
	case share:
		return PerShareGroup
	case has[LabelGroup] && has[LabelPartition]:
		return PerGroupPartition
	case has[LabelGroup] && has[LabelTopic]:
		return PerGroupTopic
	case has[LabelGroup]:
		return PerGroup
	case has[LabelPartition]:
		return PerPartition
	}
	return PerCluster
}

// KafkaAPIs bounds the api label of klagx_kafka_requests_total: the Kafka
// APIs a cycle can send (connection set-up and SASL included).
var KafkaAPIs = []string{"ApiVersions", "SASLHandshake", "SASLAuthenticate", "Metadata", "FindCoordinator",
	"ListGroups", "DescribeGroups", "ConsumerGroupDescribe", "OffsetFetch", "ListOffsets", "Fetch", "StreamsGroupDescribe",
	"ShareGroupDescribe", "DescribeShareGroupOffsets"}

// labelValues bounds the values of the non-identity labels.
var labelValues = map[string]int{
	LabelState:    len(GroupStates),
	LabelStatus:   len(Statuses),
	LabelMethod:   len(TimeLagMethods),
	LabelSeverity: 2,
	LabelStage:    len(PollStages),
	LabelAPI:      len(KafkaAPIs),
}

// Series returns the most series f has per unit of UnitOf(f): one per
// value of each bounded label, and a histogram's buckets, +Inf, _sum and
// _count.
func Series(f Family) int {
	n := 1
	for _, l := range f.Labels {
		if v, ok := labelValues[l]; ok {
			n *= v
		}
	}
	if f.Type == Histogram {
		n *= len(f.Buckets) + 3
	}
	return n
}

// Cardinality returns, per unit, the most series the families selected by
// s serve.
func (s Selection) Cardinality() map[Unit]int {
	out := map[Unit]int{}
	for _, f := range Families {
		if s.Enabled(f) {
			out[UnitOf(f)] += Series(f)
		}
	}
	return out
}

// Budget is the most series the default selection may serve per unit
// (cluster-level series are a constant and not budgeted): what a Prometheus
// user pays for at the defaults. TestDefaultsWithinBudget enforces it.
var Budget = map[Unit]int{PerPartition: 2, PerGroup: 30, PerGroupTopic: 2, PerGroupPartition: 2, PerMember: 2,
	PerShareGroup: 14, PerShareGroupTopic: 1, PerShareGroupPartition: 2}
