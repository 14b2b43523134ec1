package collector

import (
	"context"
	"errors"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/observation"
)

// Stage names of the share-group requests (KIP-932).
const (
	StageDescribeShareGroups = metrics.StageDescribeShareGroups
	StageShareGroupOffsets   = metrics.StageShareGroupOffsets
)

// splitShares separates the share groups from the groups that have
// committed offsets: they share the ListGroups request, nothing after it.
func splitShares(listed []listedGroup) (groups, shares []listedGroup) {
	for _, l := range listed {
		if l.kind == observation.KindShare {
			shares = append(shares, l)
		} else {
			groups = append(groups, l)
		}
	}
	return groups, shares
}

// describeShares describes the listed share groups with ShareGroupDescribe,
// one request per coordinator (kgo shards it as describeSharded's requests).
// Groups the coordinator no longer knows, or reports Dead, were deleted
// since the listing and are dropped.
func (c *Collector) describeShares(ctx context.Context, obs *observation.Observation, listed []listedGroup) {
	req := kmsg.NewPtrShareGroupDescribeRequest()
	for _, l := range listed {
		obs.ShareGroups[l.name] = &observation.ShareGroup{Name: l.name, State: l.state, Coordinator: l.coordinator}
		req.GroupIDs = append(req.GroupIDs, l.name)
	}
	for _, sh := range c.cl.RequestSharded(ctx, req) {
		if sh.Err != nil {
			for _, name := range sh.Req.(*kmsg.ShareGroupDescribeRequest).GroupIDs {
				c.shareErr(obs, StageDescribeShareGroups, name, sh.Meta.NodeID, sh.Err, true)
			}
			continue
		}
		for _, rg := range sh.Resp.(*kmsg.ShareGroupDescribeResponse).Groups {
			g := c.shareAnswered(obs, StageDescribeShareGroups, rg.GroupID, sh.Meta.NodeID, rg.ErrorCode, true)
			if g == nil {
				continue
			}
			if rg.GroupState == "Dead" {
				delete(obs.ShareGroups, rg.GroupID)
				continue
			}
			g.State, g.Coordinator = rg.GroupState, sh.Meta.NodeID
			for _, rm := range rg.Members {
				m := observation.Member{
					ID: rm.MemberID, ClientID: rm.ClientID, ClientHost: rm.ClientHost,
					Subscribed: rm.SubscribedTopicNames, Generation: rm.MemberEpoch,
					Assigned: map[string][]int32{},
				}
				for _, tp := range rm.Assignment.TopicPartitions {
					m.Assigned[tp.Topic] = append(m.Assigned[tp.Topic], tp.Partitions...)
				}
				g.Members = append(g.Members, m)
			}
			sort.Slice(g.Members, func(i, j int) bool { return g.Members[i].ID < g.Members[j].ID })
		}
	}
}

// fetchShareOffsets reads the share-partition start offsets (and, from
// Kafka 4.2, their lag) of every described share group: one
// DescribeShareGroupOffsets per coordinator, all topics of each group.
func (c *Collector) fetchShareOffsets(ctx context.Context, obs *observation.Observation) {
	req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	for _, name := range obs.SortedShareGroups() {
		if obs.ShareGroups[name].DescribeErr != nil {
			continue
		}
		rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		rg.GroupID = name // Topics nil: every topic the group has state for
		req.Groups = append(req.Groups, rg)
	}
	if len(req.Groups) == 0 {
		return
	}
	for _, sh := range c.cl.RequestSharded(ctx, req) {
		if sh.Err != nil {
			for _, rg := range sh.Req.(*kmsg.DescribeShareGroupOffsetsRequest).Groups {
				c.shareErr(obs, StageShareGroupOffsets, rg.GroupID, sh.Meta.NodeID, sh.Err, false)
			}
			continue
		}
		for _, rg := range sh.Resp.(*kmsg.DescribeShareGroupOffsetsResponse).Groups {
			g := c.shareAnswered(obs, StageShareGroupOffsets, rg.GroupID, sh.Meta.NodeID, rg.ErrorCode, false)
			if g == nil {
				continue
			}
			g.Offsets = map[string]map[int32]observation.ShareOffset{}
			for _, rt := range rg.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
						obs.AddError(observation.Error{Stage: StageShareGroupOffsets, Group: rg.GroupID, Topic: rt.Topic,
							Partition: rp.Partition, Broker: sh.Meta.NodeID, Err: err})
						continue
					}
					if rp.StartOffset < 0 {
						continue // no share state yet (not initialised)
					}
					lag := rp.Lag
					if sh.Req.GetVersion() < 1 || lag < 0 {
						lag = -1 // v0 has no lag (before Kafka 4.2)
					}
					if g.Offsets[rt.Topic] == nil {
						g.Offsets[rt.Topic] = map[int32]observation.ShareOffset{}
					}
					g.Offsets[rt.Topic][rp.Partition] = observation.ShareOffset{Start: rp.StartOffset, Lag: lag}
				}
			}
		}
	}
}

func (c *Collector) shareErr(obs *observation.Observation, stage, group string, broker int32, err error, describe bool) {
	if g, ok := obs.ShareGroups[group]; ok {
		if describe {
			g.DescribeErr = err
		} else {
			g.FetchErr = err
		}
	}
	obs.AddError(observation.Error{Stage: stage, Group: group, Partition: -1, Broker: broker, Err: err})
}

// shareAnswered returns the share group an answer of stage is for, or nil
// when there is nothing to fill in: it was not asked for, it failed (the
// error is recorded, as a describe or an offsets error), or its
// coordinator no longer knows it (GROUP_ID_NOT_FOUND: deleted since the
// listing, so it is dropped). The share-group twin of described.
func (c *Collector) shareAnswered(obs *observation.Observation, stage, name string, broker int32, code int16, describe bool) *observation.ShareGroup {
	g, ok := obs.ShareGroups[name]
	if !ok {
		return nil
	}
	if err := kerr.ErrorForCode(code); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			delete(obs.ShareGroups, name)
			return nil
		}
		c.shareErr(obs, stage, name, broker, err, describe)
		return nil
	}
	return g
}
