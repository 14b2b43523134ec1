package collector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/observation"
)

// Stage names, the values of the stage label of klagx_poll_errors_total
// (defined with the metric contract).
const (
	StageListGroups             = metrics.StageListGroups
	StageDescribeGroups         = metrics.StageDescribeGroups
	StageDescribeConsumerGroups = metrics.StageDescribeConsumerGroups
	StageDescribeStreamsGroups  = metrics.StageDescribeStreamsGroups
	StageOffsetFetch            = metrics.StageOffsetFetch
	StageMetadata               = metrics.StageMetadata
	StageListOffsets            = metrics.StageListOffsets
)

// listGroupsShards sends ListGroups to every broker through kgo's
// RequestSharded, which first refreshes the broker list from one broker's
// metadata. When one hung broker (a SIGSTOPped or frozen process on real
// Kafka, whose connection stays open) is asked for that metadata, every
// shard fails, and with them the whole cycle; then the request is sent
// again to each broker of the last cycle's metadata on its own, so that
// only the hung broker's groups are missed.
func (c *Collector) listGroupsShards(ctx context.Context, req *kmsg.ListGroupsRequest) []kgo.ResponseShard {
	shards := c.cl.RequestSharded(ctx, req)
	for _, sh := range shards {
		if sh.Err == nil || len(c.brokers) == 0 {
			return shards
		}
	}
	shards = make([]kgo.ResponseShard, len(c.brokers))
	var wg sync.WaitGroup
	for i, id := range c.brokers {
		wg.Go(func() {
			dup := *req // kgo sets the version on the request it sends
			resp, err := c.cl.Broker(int(id)).RetriableRequest(ctx, &dup)
			shards[i] = kgo.ResponseShard{Meta: kgo.BrokerMetadata{NodeID: id}, Req: &dup, Resp: resp, Err: err}
		})
	}
	wg.Wait()
	return shards
}

// listedGroup is one group from ListGroups.
type listedGroup struct {
	name, kind, protocolType, state string
	coordinator                     int32
}

// listGroups sends one ListGroups request to every broker. It returns an
// error only when no broker answered; brokers that failed are recorded in
// obs.UnlistedBrokers so that their groups are not mistaken for deleted.
func (c *Collector) listGroups(ctx context.Context, obs *observation.Observation) ([]listedGroup, error) {
	req := kmsg.NewPtrListGroupsRequest()
	// Connect groups have no consumer offsets to lag; streams groups
	// (KIP-1071) commit theirs as consumer groups do; share groups are
	// listed by the same request and described apart (see shares.go).
	// Brokers before Kafka 3.8 ignore the filter; the protocol type check
	// below covers them.
	req.TypesFilter = []string{observation.KindClassic, observation.KindConsumer, observation.KindStreams, observation.KindShare}
	shards := c.listGroupsShards(ctx, req)

	var (
		out    []listedGroup
		seen   = map[string]bool{}
		failed int
		first  error
	)
	for _, sh := range shards {
		err := sh.Err
		if err == nil {
			err = kerr.ErrorForCode(sh.Resp.(*kmsg.ListGroupsResponse).ErrorCode)
		}
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
			obs.UnlistedBrokers[sh.Meta.NodeID] = true
			obs.AddError(observation.Error{Stage: StageListGroups, Partition: -1, Broker: sh.Meta.NodeID, Err: err})
			continue
		}
		for _, g := range sh.Resp.(*kmsg.ListGroupsResponse).Groups {
			if seen[g.Group] {
				// A group listed by two brokers (its coordinator is
				// moving) is one group.
				continue
			}
			if g.ProtocolType != "consumer" && g.ProtocolType != "" && g.GroupType != observation.KindStreams && g.GroupType != observation.KindShare {
				continue
			}
			kind := observation.KindClassic
			switch g.GroupType {
			case observation.KindConsumer:
				kind = observation.KindConsumer
			case observation.KindStreams:
				kind = observation.KindStreams
			case observation.KindShare:
				kind = observation.KindShare
			case "", observation.KindClassic:
			default:
				continue
			}
			// Filters and the shard are applied here, before any request
			// about the group is built.
			if !c.cfg.Groups.Keep(g.Group) || !c.cfg.OwnsGroup(g.Group) {
				continue
			}
			seen[g.Group] = true
			out = append(out, listedGroup{
				name: g.Group, kind: kind, protocolType: g.ProtocolType,
				state: g.GroupState, coordinator: sh.Meta.NodeID,
			})
		}
	}
	if len(shards) == 0 || failed == len(shards) {
		if first == nil {
			first = errors.New("no broker answered ListGroups")
		}
		return nil, fmt.Errorf("list groups: %w", first)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	c.streamsCoordinators = map[string]int32{}
	for _, l := range out {
		if l.kind == observation.KindStreams {
			c.streamsCoordinators[l.name] = l.coordinator
		}
	}
	return out, nil
}

// describeGroups describes classic groups with DescribeGroups, KIP-848
// groups with ConsumerGroupDescribe and streams groups with
// StreamsGroupDescribe, one request per coordinator each.
// Groups the coordinator reports as dead or unknown were deleted between
// listing and describing and are dropped.
func (c *Collector) describeGroups(ctx context.Context, obs *observation.Observation, listed []listedGroup) {
	var classic, consumer, streams []string
	for _, l := range listed {
		obs.Groups[l.name] = &observation.Group{
			Name: l.name, Kind: l.kind, ProtocolType: l.protocolType,
			State: l.state, Coordinator: l.coordinator,
		}
		switch l.kind {
		case observation.KindConsumer:
			consumer = append(consumer, l.name)
		case observation.KindStreams:
			streams = append(streams, l.name)
		default:
			classic = append(classic, l.name)
		}
	}
	c.attachGenerations(obs)
	if len(classic) > 0 {
		c.describeClassic(ctx, obs, classic)
	}
	if len(consumer) > 0 {
		c.describeConsumer(ctx, obs, consumer)
	}
	if len(streams) > 0 {
		c.describeStreams(ctx, obs, streams)
	}
}

// describeAnswer is one group of a describe response: its name, error
// code and state, and how to fill the observed group from the rest.
type describeAnswer struct {
	name  string
	code  int16
	state string
	fill  func(g *observation.Group)
}

// describeSharded sends a describe request to each coordinator of its
// groups (classic DescribeGroups and KIP-848 ConsumerGroupDescribe share
// this): every group of a request that failed records the error, and every
// group answered that still exists is filled. asked lists the groups of a
// request, answers the groups of a response from broker.
func (c *Collector) describeSharded(ctx context.Context, obs *observation.Observation, stage string, req kmsg.Request,
	asked func(kmsg.Request) []string, answers func(resp kmsg.Response, broker int32) []describeAnswer) {
	c.describedShards(obs, stage, c.cl.RequestSharded(ctx, req), asked, answers)
}

// describedShards records the answers of describe requests already sent,
// one shard per coordinator (describeSharded).
func (c *Collector) describedShards(obs *observation.Observation, stage string, shards []kgo.ResponseShard,
	asked func(kmsg.Request) []string, answers func(resp kmsg.Response, broker int32) []describeAnswer) {
	for _, sh := range shards {
		if sh.Err != nil {
			for _, name := range asked(sh.Req) {
				c.groupErr(obs, stage, name, sh.Meta.NodeID, sh.Err, true)
			}
			continue
		}
		for _, a := range answers(sh.Resp, sh.Meta.NodeID) {
			if g := c.described(obs, stage, a.name, sh.Meta.NodeID, a.code, a.state); g != nil {
				g.State, g.Coordinator = a.state, sh.Meta.NodeID
				a.fill(g)
			}
		}
	}
}

func (c *Collector) describeClassic(ctx context.Context, obs *observation.Observation, names []string) {
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = names
	c.describeSharded(ctx, obs, StageDescribeGroups, req,
		func(r kmsg.Request) []string { return r.(*kmsg.DescribeGroupsRequest).Groups },
		func(resp kmsg.Response, _ int32) []describeAnswer {
			var out []describeAnswer
			for _, rg := range resp.(*kmsg.DescribeGroupsResponse).Groups {
				out = append(out, describeAnswer{rg.Group, rg.ErrorCode, rg.State, func(g *observation.Group) {
					g.Protocol = rg.Protocol
					if rg.ProtocolType != "" {
						g.ProtocolType = rg.ProtocolType
					}
					for _, rm := range rg.Members {
						g.Members = append(g.Members, classicMember(rg.ProtocolType, rm))
					}
				}})
			}
			return out
		})
}

// classicMember decodes a DescribeGroups member. Undecodable metadata or
// assignment bytes (a non-Java client, a corrupt blob) leave the member
// with no subscription or assignment rather than failing the group.
func classicMember(protocolType string, rm kmsg.DescribeGroupsResponseGroupMember) observation.Member {
	m := observation.Member{
		ID:         rm.MemberID,
		ClientID:   rm.ClientID,
		ClientHost: rm.ClientHost,
		Generation: -1,
	}
	if rm.InstanceID != nil {
		m.InstanceID = *rm.InstanceID
	}
	if protocolType != "consumer" {
		return m
	}
	var meta kmsg.ConsumerMemberMetadata
	if len(rm.ProtocolMetadata) > 0 && meta.ReadFrom(rm.ProtocolMetadata) == nil {
		m.Subscribed = meta.Topics
		if meta.Version >= 2 {
			m.Generation = meta.Generation
		}
	}
	var asg kmsg.ConsumerMemberAssignment
	if len(rm.MemberAssignment) > 0 && asg.ReadFrom(rm.MemberAssignment) == nil {
		m.Assigned = make(map[string][]int32, len(asg.Topics))
		for _, t := range asg.Topics {
			m.Assigned[t.Topic] = append(m.Assigned[t.Topic], t.Partitions...)
		}
	}
	return m
}

func (c *Collector) describeConsumer(ctx context.Context, obs *observation.Observation, names []string) {
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = names
	c.describeSharded(ctx, obs, StageDescribeConsumerGroups, req,
		func(r kmsg.Request) []string { return r.(*kmsg.ConsumerGroupDescribeRequest).Groups },
		func(resp kmsg.Response, _ int32) []describeAnswer {
			var out []describeAnswer
			for _, rg := range resp.(*kmsg.ConsumerGroupDescribeResponse).Groups {
				out = append(out, describeAnswer{rg.Group, rg.ErrorCode, rg.State, func(g *observation.Group) {
					g.Protocol = rg.AssignorName
					g.Epoch, g.AssignmentEpoch = rg.Epoch, rg.AssignmentEpoch
					for _, rm := range rg.Members {
						g.Members = append(g.Members, consumerMember(rm))
					}
				}})
			}
			return out
		})
}

// consumerMember converts a ConsumerGroupDescribe member.
func consumerMember(rm kmsg.ConsumerGroupDescribeResponseGroupMember) observation.Member {
	m := observation.Member{
		ID:         rm.MemberID,
		ClientID:   rm.ClientID,
		ClientHost: rm.ClientHost,
		Subscribed: rm.SubscribedTopics,
		Generation: rm.MemberEpoch,
		Assigned:   map[string][]int32{},
	}
	if rm.InstanceID != nil {
		m.InstanceID = *rm.InstanceID
	}
	for _, tp := range rm.Assignment.TopicPartitions {
		if tp.Topic == "" {
			if m.AssignedIDs == nil {
				m.AssignedIDs = map[[16]byte][]int32{}
			}
			m.AssignedIDs[tp.TopicID] = append(m.AssignedIDs[tp.TopicID], tp.Partitions...)
			continue
		}
		m.Assigned[tp.Topic] = append(m.Assigned[tp.Topic], tp.Partitions...)
	}
	return m
}

// resolveTopicIDs moves the members' assignments named by topic ID only
// into Assigned, with the names of the last metadata read; those of topics
// it did not name (deleted, or filtered out by the metadata itself) are
// dropped, as a topic missing from metadata is.
func (c *Collector) resolveTopicIDs(obs *observation.Observation) {
	for _, g := range obs.Groups {
		for i := range g.Members {
			m := &g.Members[i]
			for id, ps := range m.AssignedIDs {
				if name, ok := c.topicNames[id]; ok {
					m.Assigned[name] = append(m.Assigned[name], ps...)
				}
			}
			m.AssignedIDs = nil
		}
	}
}

// fetchCommits reads the committed offsets of every described group with
// one OffsetFetch per coordinator (kadm batches groups by coordinator).
func (c *Collector) fetchCommits(ctx context.Context, obs *observation.Observation) {
	var names []string
	for name, g := range obs.Groups {
		if g.DescribeErr == nil {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return
	}
	sort.Strings(names)
	fetched := c.adm.FetchManyOffsets(ctx, names...)
	for _, name := range names {
		g := obs.Groups[name]
		r, ok := fetched[name]
		if !ok {
			c.groupErr(obs, StageOffsetFetch, name, g.Coordinator, errors.New("group missing from OffsetFetch response"), false)
			continue
		}
		if r.Err != nil {
			if errors.Is(r.Err, kerr.GroupIDNotFound) {
				delete(obs.Groups, name)
				continue
			}
			c.groupErr(obs, StageOffsetFetch, name, g.Coordinator, r.Err, false)
			continue
		}
		g.Commits = map[string]map[int32]int64{}
		for topic, ps := range r.Fetched {
			for p, o := range ps {
				if o.Err != nil {
					obs.AddError(observation.Error{Stage: StageOffsetFetch, Group: name, Topic: topic, Partition: p, Broker: g.Coordinator, Err: o.Err})
					continue
				}
				if o.At < 0 {
					continue // no commit
				}
				if g.Commits[topic] == nil {
					g.Commits[topic] = map[int32]int64{}
				}
				g.Commits[topic][p] = o.At
			}
		}
	}
}

// described returns the observed group a describe answer is for, or nil
// when there is nothing to fill in: the group was not asked for, it failed
// (recorded as a describe error), or it no longer exists (GROUP_ID_NOT_FOUND
// or Dead: deleted between listing and describing, so it is dropped).
func (c *Collector) described(obs *observation.Observation, stage, name string, broker int32, code int16, state string) *observation.Group {
	g, ok := obs.Groups[name]
	if !ok {
		return nil
	}
	if err := kerr.ErrorForCode(code); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			delete(obs.Groups, name)
			return nil
		}
		c.groupErr(obs, stage, name, broker, err, true)
		return nil
	}
	if state == "Dead" {
		delete(obs.Groups, name)
		return nil
	}
	return g
}

func (c *Collector) groupErr(obs *observation.Observation, stage, group string, broker int32, err error, describe bool) {
	if g, ok := obs.Groups[group]; ok {
		if describe {
			g.DescribeErr = err
		} else {
			g.FetchErr = err
		}
	}
	obs.AddError(observation.Error{Stage: stage, Group: group, Partition: -1, Broker: broker, Err: err})
}

// GroupRef names a group to describe: its name and kind (observation
// KindClassic, KindConsumer or KindStreams), as a previous ListGroups found
// it.
type GroupRef struct {
	Name, Kind string
}

// DescribeGroups describes the given groups only: one DescribeGroups,
// ConsumerGroupDescribe and StreamsGroupDescribe request per coordinator
// (for the kinds asked for), no listing, commits or
// offsets. It feeds rebalance detection between offset cycles. Groups that
// no longer exist are absent from the result.
func (c *Collector) DescribeGroups(ctx context.Context, refs []GroupRef) *observation.Observation {
	obs := c.newObservation()
	listed := make([]listedGroup, 0, len(refs))
	for _, r := range refs {
		listed = append(listed, listedGroup{name: r.Name, kind: r.Kind, coordinator: -1})
	}
	c.describeGroups(ctx, obs, listed)
	c.resolveTopicIDs(obs)
	obs.End = time.Now()
	return obs
}
