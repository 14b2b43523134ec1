package collector

import (
	"context"
	"errors"
	"fmt"

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
//
// The metadata is read with one Metadata request for all topics (through
// kgo's metadata cache, as kadm.Metadata does), but not through
// kadm.Metadata: that fails the whole answer when one topic carries an
// error, and one topic klagx may not Describe (TOPIC_AUTHORIZATION_FAILED)
// must not cost the offsets of all the others. Such a topic is recorded as
// a metadata error of its own and skipped.
func (c *Collector) listPartitions(ctx context.Context, obs *observation.Observation) error {
	resp, err := c.cl.RequestCachedMetadata(ctx, kmsg.NewPtrMetadataRequest(), 0)
	if err != nil {
		obs.AddError(observation.Error{Stage: StageMetadata, Partition: -1, Broker: -1, Err: err})
		return fmt.Errorf("metadata: %w", err)
	}
	obs.MetadataOK = true
	c.brokers = c.brokers[:0]
	for _, b := range resp.Brokers {
		c.brokers = append(c.brokers, b.NodeID)
	}
	names := make([]string, 0, len(resp.Topics))
	c.topicNames = make(map[[16]byte]string, len(resp.Topics))
	for _, td := range resp.Topics {
		if td.Topic != nil {
			names = append(names, *td.Topic)
			if td.TopicID != ([16]byte{}) {
				c.topicNames[td.TopicID] = *td.Topic
			}
		}
	}
	c.forgetDeletedTopics(names)
	for _, td := range resp.Topics {
		if td.Topic == nil {
			continue
		}
		name := *td.Topic
		if td.IsInternal && !c.cfg.IncludeInternalTopics {
			continue
		}
		if !c.cfg.TopicAllowed(name) {
			continue
		}
		if err := kerr.ErrorForCode(td.ErrorCode); err != nil {
			obs.AddError(observation.Error{Stage: StageMetadata, Topic: name, Partition: -1, Broker: -1, Err: err})
			continue
		}
		t := &observation.Topic{Name: name, ID: td.TopicID, Partitions: make(map[int32]*observation.Partition, len(td.Partitions))}
		for _, pd := range td.Partitions {
			t.Partitions[pd.Partition] = &observation.Partition{Leader: pd.Leader, Start: -1, End: -1, Stable: -1}
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
