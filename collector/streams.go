package collector

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/observation"
)

// describeStreams describes streams groups (KIP-1071, Kafka 4.1+) with
// StreamsGroupDescribe, one request per coordinator. A streams group is a
// consumer-style group: its commits are read with OffsetFetch like any
// other, so only its members, epochs and state come from here.
//
// kgo (v1.22) does not route StreamsGroupDescribe to group coordinators as
// it does ConsumerGroupDescribe: a request sent as is reaches any broker,
// which answers NOT_COORDINATOR for the groups it does not coordinate. The
// coordinator of each group is the broker whose ListGroups listed it, so
// the requests are sent there; between cycles (DescribeGroups) it is the
// one of the last listing, and a group never listed is looked up with one
// batched FindCoordinator.
func (c *Collector) describeStreams(ctx context.Context, obs *observation.Observation, names []string) {
	byBroker := map[int32][]string{}
	var unknown []string
	for _, name := range names {
		co := obs.Groups[name].Coordinator
		if last, ok := c.streamsCoordinators[name]; ok && co < 0 {
			co = last
		}
		if co < 0 {
			unknown = append(unknown, name)
			continue
		}
		byBroker[co] = append(byBroker[co], name)
	}
	if len(unknown) > 0 {
		found := c.adm.FindGroupCoordinators(ctx, unknown...)
		for _, name := range unknown {
			r, ok := found[name]
			err := r.Err
			if !ok {
				err = errors.New("group missing from FindCoordinator response")
			}
			if err != nil {
				c.groupErr(obs, StageDescribeStreamsGroups, name, -1, err, true)
				continue
			}
			byBroker[r.NodeID] = append(byBroker[r.NodeID], name)
		}
	}
	brokers := slices.Sorted(maps.Keys(byBroker))
	shards := make([]kgo.ResponseShard, len(brokers))
	var wg sync.WaitGroup
	for i, id := range brokers {
		wg.Go(func() {
			req := kmsg.NewPtrStreamsGroupDescribeRequest()
			req.Groups = byBroker[id]
			resp, err := c.cl.Broker(int(id)).RetriableRequest(ctx, req)
			shards[i] = kgo.ResponseShard{Meta: kgo.BrokerMetadata{NodeID: id}, Req: req, Resp: resp, Err: err}
		})
	}
	wg.Wait()
	c.describedShards(obs, StageDescribeStreamsGroups, shards,
		func(r kmsg.Request) []string { return r.(*kmsg.StreamsGroupDescribeRequest).Groups },
		func(resp kmsg.Response, _ int32) []describeAnswer {
			var out []describeAnswer
			for _, rg := range resp.(*kmsg.StreamsGroupDescribeResponse).Groups {
				out = append(out, describeAnswer{rg.Group, rg.ErrorCode, rg.State, func(g *observation.Group) {
					if rg.AssignorName != nil {
						g.Protocol = *rg.AssignorName
					}
					g.Epoch, g.AssignmentEpoch = rg.Epoch, rg.AssignmentEpoch
					sources := sourceTopics(rg.Topology)
					for _, rm := range rg.Members {
						g.Members = append(g.Members, streamsMember(rm, sources))
					}
				}})
			}
			return out
		})
}

// streamsTopology is the source topics of each subtopology of a streams
// group, by subtopology id, and all of them.
type streamsTopology struct {
	bySubtopology map[string][]string
	all           []string
}

// sourceTopics reads the topics each subtopology consumes: its source
// topics, the repartition topics among them included. A group whose
// topology is not known yet (nil: no member has sent one) has none.
func sourceTopics(t *kmsg.StreamsGroupDescribeResponseGroupTopology) streamsTopology {
	st := streamsTopology{bySubtopology: map[string][]string{}}
	if t == nil {
		return st
	}
	for _, s := range t.Subtopologies {
		topics := slices.Clone(s.SourceTopics)
		for _, r := range s.RepartitionSourceTopics {
			topics = append(topics, r.Topic)
		}
		slices.Sort(topics)
		topics = slices.Compact(topics)
		st.bySubtopology[s.SubtopologyID] = append(st.bySubtopology[s.SubtopologyID], topics...)
		st.all = append(st.all, topics...)
	}
	slices.Sort(st.all)
	st.all = slices.Compact(st.all)
	return st
}

// streamsMember converts a StreamsGroupDescribe member. It owns the
// partitions of its active tasks: task partition p of a subtopology is
// partition p of each of that subtopology's source topics. Standby and
// warm-up tasks restore state from changelogs and own no partition of the
// group; a task of a subtopology missing from the topology is skipped.
func streamsMember(rm kmsg.StreamsGroupDescribeResponseGroupMember, t streamsTopology) observation.Member {
	m := observation.Member{
		ID:         rm.MemberID,
		ClientID:   rm.ClientID,
		ClientHost: rm.ClientHost,
		Subscribed: slices.Clone(t.all),
		Generation: rm.MemberEpoch,
		Assigned:   map[string][]int32{},
	}
	if rm.InstanceID != nil {
		m.InstanceID = *rm.InstanceID
	}
	for _, task := range rm.Assignment.ActiveTasks {
		for _, topic := range t.bySubtopology[task.SubtopologyID] {
			m.Assigned[topic] = append(m.Assigned[topic], task.Partitions...)
		}
	}
	for topic, ps := range m.Assigned {
		slices.Sort(ps)
		m.Assigned[topic] = slices.Compact(ps)
	}
	return m
}
