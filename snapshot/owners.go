package snapshot

import (
	"slices"
	"strings"

	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/timelag"
)

// owners folds who owns a group's partitions: one MemberLag per member of
// the group's description, and per partition the index of its owner. The
// group fold feeds it each partition as it folds it (no pass of its own);
// RefreshGroups feeds it the partitions of the last offset cycle when a
// new description arrives between cycles.
type owners struct {
	// members is sorted by member ID; its length never changes, so that
	// partitions can point at its elements.
	members []MemberLag
	// byTopic maps topic → partition → index in members of its owner.
	byTopic map[string]map[int32]int
}

// newOwners indexes og's assignment. Members are taken in member ID order,
// and a partition two members claim (never in a settled assignment) goes
// to the first, so that the result does not depend on the order Kafka
// listed them in. scratch is the index of the group's previous fold (or
// nil), reused: a tick re-folds every group's owners, and the maps would
// otherwise be rebuilt each time.
func newOwners(og *observation.Group, scratch map[string]map[int32]int) owners {
	if scratch == nil {
		scratch = map[string]map[int32]int{}
	}
	for topic, owned := range scratch {
		if len(owned) == 0 { // unused by the previous fold: forget it
			delete(scratch, topic)
		} else {
			clear(owned)
		}
	}
	o := owners{byTopic: scratch}
	if len(og.Members) == 0 {
		return o
	}
	byID := func(a, b *observation.Member) int { return strings.Compare(a.ID, b.ID) }
	ms := og.Members
	if !slices.IsSortedFunc(ms, func(a, b observation.Member) int { return byID(&a, &b) }) {
		ms = slices.Clone(ms)
		slices.SortStableFunc(ms, func(a, b observation.Member) int { return byID(&a, &b) })
	}
	o.members = make([]MemberLag, len(ms))
	for k := range ms {
		m := &ms[k]
		o.members[k].Member = Member{ID: m.ID, InstanceID: m.InstanceID, ClientID: m.ClientID, Host: m.ClientHost}
		for topic, ps := range m.Assigned {
			owned := o.byTopic[topic]
			if owned == nil {
				owned = make(map[int32]int, len(ps))
				o.byTopic[topic] = owned
			}
			for _, p := range ps {
				if _, taken := owned[p]; !taken {
					owned[p] = k
				}
			}
		}
	}
	return o
}

// topic returns the owners of one topic's partitions (nil when no member
// is assigned any).
func (o *owners) topic(topic string) map[int32]int { return o.byTopic[topic] }

// own sets gp's owner from owned (o.topic of gp's topic) and adds gp's
// lags to that member's.
func (o *owners) own(gp *GroupPartition, owned map[int32]int) {
	k, ok := owned[gp.Partition]
	if !ok {
		gp.Owner = nil
		return
	}
	m := &o.members[k]
	gp.Owner = &m.Member
	m.Partitions++
	if gp.LagKnown {
		m.Lag += gp.Lag
	}
	if gp.TimeLagMethod != "" && gp.TimeLagMethod != timelag.Unknown && (!m.LagSecondsKnown || gp.LagSeconds > m.LagSeconds) {
		m.LagSeconds, m.LagSecondsKnown = gp.LagSeconds, true
	}
}

// reown folds a description read between offset cycles over ps, the
// group's partitions from the last one (scratch as for newOwners): it
// returns the new member lags, and ps with the new owners. ps is copied
// only when an owner changed (a published slice is never modified), so
// that the renderer, which keys a group's partition lines by their slice,
// re-renders nothing on a tick that moved no partition. A member that left
// is gone from both.
func reown(og *observation.Group, ps []GroupPartition, scratch map[string]map[int32]int) ([]MemberLag, []GroupPartition) {
	o := newOwners(og, scratch)
	out := ps
	var owned map[int32]int
	for i := range ps {
		if i == 0 || ps[i].Topic != ps[i-1].Topic {
			owned = o.topic(ps[i].Topic)
		}
		gp := ps[i]
		o.own(&gp, owned)
		if &out[0] == &ps[0] && !sameMember(gp.Owner, ps[i].Owner) {
			out = append([]GroupPartition(nil), ps...)
			for j := range i { // point the unchanged ones at the new members too
				if k, ok := o.topic(out[j].Topic)[out[j].Partition]; ok {
					out[j].Owner = &o.members[k].Member
				}
			}
		}
		if &out[0] != &ps[0] {
			out[i].Owner = gp.Owner
		}
	}
	return o.members, out
}

func sameMember(a, b *Member) bool {
	return a == b || (a != nil && b != nil && *a == *b)
}
