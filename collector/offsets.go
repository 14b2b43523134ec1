package collector

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
)

// Special ListOffsets timestamps.
const (
	timestampEarliest = -2 // log start offset
	timestampLatest   = -1 // high-water mark (or LSO with read_committed isolation)
)

// listPartitions reads the topic list with one Metadata request, keeps the
// topics that pass the topic filter, and lists the start and end offsets of
// all their partitions with ListOffsets requests that kgo splits by
// partition leader.
//
// Every topic that passes the filter is listed, not only those some group
// consumes: partition offsets are per topic, not per group, and they give
// the produce rate of topics nobody reads.
func (c *Collector) listPartitions(ctx context.Context, obs *observation.Observation) error {
	topics, err := c.topicMetadata(ctx)
	if err != nil {
		obs.AddError(observation.Error{Stage: StageMetadata, Partition: -1, Broker: -1, Err: err})
		return fmt.Errorf("metadata: %w", err)
	}
	obs.MetadataOK = true
	c.forgetDeletedTopics(topics.Names())
	for name, td := range topics {
		if td.IsInternal && !c.cfg.IncludeInternalTopics {
			continue
		}
		if !c.cfg.TopicAllowed(name) {
			continue
		}
		if td.Err != nil {
			obs.AddError(observation.Error{Stage: StageMetadata, Topic: name, Partition: -1, Broker: -1, Err: td.Err})
			continue
		}
		t := &observation.Topic{Name: name, ID: td.ID, Partitions: make(map[int32]*observation.Partition, len(td.Partitions))}
		for p, pd := range td.Partitions {
			t.Partitions[p] = &observation.Partition{Leader: pd.Leader, Start: -1, End: -1, Stable: -1}
		}
		obs.Topics[name] = t
	}
	if len(obs.Topics) == 0 {
		return nil
	}
	c.listOffsets(ctx, obs, timestampEarliest, 0, func(p *observation.Partition, o int64) { p.Start = o })
	c.listOffsets(ctx, obs, timestampLatest, 0, func(p *observation.Partition, o int64) { p.End = o })
	if c.cluster.Isolation == config.IsolationReadCommitted {
		c.listOffsets(ctx, obs, timestampLatest, 1, func(p *observation.Partition, o int64) { p.Stable = o })
	}
	return nil
}

// topicMetadata reads every topic the principal may Describe (one Metadata
// request for all topics, through kgo's metadata cache as kadm.Metadata
// does). Unlike kadm.Metadata, a topic answered with an authorization error
// (TOPIC_AUTHORIZATION_FAILED) is returned with its Err set, to be recorded
// against that topic, instead of failing the whole answer: one topic klagx
// may not Describe must not cost the offsets of all the others.
func (c *Collector) topicMetadata(ctx context.Context) (kadm.TopicDetails, error) {
	resp, err := c.cl.RequestCachedMetadata(ctx, kmsg.NewPtrMetadataRequest(), 0)
	if err != nil {
		return nil, err
	}
	tds := make(kadm.TopicDetails, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.Topic == nil {
			continue
		}
		td := kadm.TopicDetail{
			Topic:      *t.Topic,
			ID:         t.TopicID,
			IsInternal: t.IsInternal,
			Partitions: make(kadm.PartitionDetails, len(t.Partitions)),
			Err:        kerr.ErrorForCode(t.ErrorCode),
		}
		for _, p := range t.Partitions {
			td.Partitions[p.Partition] = kadm.PartitionDetail{
				Topic: td.Topic, Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
				Err: kerr.ErrorForCode(p.ErrorCode),
			}
		}
		tds[td.Topic] = td
	}
	return tds, nil
}

// listOffsets sends one ListOffsets request for every partition of
// obs.Topics; kgo shards it into one request per partition leader. Errors
// are recorded on the partition (whose offsets are then not valid).
func (c *Collector) listOffsets(ctx context.Context, obs *observation.Observation, timestamp int64, isolation int8, set func(*observation.Partition, int64)) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.IsolationLevel = isolation
	for _, name := range obs.SortedTopics() {
		t := obs.Topics[name]
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = name
		for p := range t.Partitions {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.CurrentLeaderEpoch = -1
			rp.Timestamp = timestamp
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	partErr := func(topic string, p int32, broker int32, err error) {
		if t, ok := obs.Topics[topic]; ok {
			if part, ok := t.Partitions[p]; ok && part.Err == nil {
				part.Err = err
				part.Gone = errors.Is(err, kerr.UnknownTopicOrPartition)
			}
		}
		obs.AddError(observation.Error{Stage: StageListOffsets, Topic: topic, Partition: p, Broker: broker, Err: err})
	}
	for _, sh := range c.cl.RequestSharded(ctx, req) {
		if sh.Err != nil {
			for _, rt := range sh.Req.(*kmsg.ListOffsetsRequest).Topics {
				for _, rp := range rt.Partitions {
					partErr(rt.Topic, rp.Partition, sh.Meta.NodeID, sh.Err)
				}
			}
			continue
		}
		for _, rt := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			t, ok := obs.Topics[rt.Topic]
			if !ok {
				continue
			}
			for _, rp := range rt.Partitions {
				part, ok := t.Partitions[rp.Partition]
				if !ok {
					continue
				}
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					partErr(rt.Topic, rp.Partition, sh.Meta.NodeID, err)
					continue
				}
				if rp.Offset < 0 {
					partErr(rt.Topic, rp.Partition, sh.Meta.NodeID, fmt.Errorf("broker returned offset %d", rp.Offset))
					continue
				}
				set(part, rp.Offset)
			}
		}
	}
}

// forgetDeletedTopics drops topics that no longer exist from the kgo
// client's own metadata: kgo keeps every topic a request ever named, so
// without this a cluster that creates and deletes topics would grow the
// exporter's memory forever.
func (c *Collector) forgetDeletedTopics(current []string) {
	now := make(map[string]bool, len(current))
	for _, t := range current {
		now[t] = true
	}
	var gone []string
	for t := range c.topics {
		if !now[t] {
			gone = append(gone, t)
		}
	}
	if len(gone) > 0 {
		c.cl.PurgeTopicsFromClient(gone...)
	}
	c.topics = now
}
