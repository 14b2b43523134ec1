package collector

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/observation"
	"github.com/klagx/klagx/timelag"
)

// Stages of the time-lag requests.
const (
	StageTimeLookup  = metrics.StageTimeLookup
	StageRecordFetch = metrics.StageRecordFetch
)

// LookupTimes sends one ListOffsets request per partition leader asking, for
// every partition in at, the first offset at or after the given time. It
// costs one request per leader whatever the number of partitions.
func (c *Collector) LookupTimes(ctx context.Context, obs *observation.Observation, at map[timelag.TP]time.Time) map[timelag.TP]timelag.Lookup {
	out := make(map[timelag.TP]timelag.Lookup, len(at))
	if len(at) == 0 {
		return out
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	req.Topics = buildLookupTopics(at)
	for _, sh := range c.cl.RequestSharded(ctx, req) {
		if sh.Err != nil {
			for _, rt := range sh.Req.(*kmsg.ListOffsetsRequest).Topics {
				for _, rp := range rt.Partitions {
					obs.AddError(observation.Error{Stage: StageTimeLookup, Topic: rt.Topic, Partition: rp.Partition, Broker: sh.Meta.NodeID, Err: sh.Err})
				}
			}
			continue
		}
		for _, rt := range sh.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				tp := timelag.TP{Topic: rt.Topic, Partition: rp.Partition}
				asked, ok := at[tp]
				if !ok {
					continue
				}
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					obs.AddError(observation.Error{Stage: StageTimeLookup, Topic: rt.Topic, Partition: rp.Partition, Broker: sh.Meta.NodeID, Err: err})
					continue
				}
				l := timelag.Lookup{Asked: asked, Offset: rp.Offset}
				if rp.Offset >= 0 && rp.Timestamp >= 0 {
					l.Found = true
					l.RecordTime = time.UnixMilli(rp.Timestamp)
				}
				out[tp] = l
			}
		}
	}
	return out
}

func buildLookupTopics(at map[timelag.TP]time.Time) []kmsg.ListOffsetsRequestTopic {
	var topics []kmsg.ListOffsetsRequestTopic
	idx := map[string]int{}
	for _, tp := range timelag.SortedTPs(at) {
		i, ok := idx[tp.Topic]
		if !ok {
			t := kmsg.NewListOffsetsRequestTopic()
			t.Topic = tp.Topic
			topics = append(topics, t)
			i = len(topics) - 1
			idx[tp.Topic] = i
		}
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = tp.Partition
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = at[tp].UnixMilli()
		topics[i].Partitions = append(topics[i].Partitions, rp)
	}
	return topics
}

// FetchTimestamps reads the timestamps of the given records with Fetch
// requests sent straight to each partition's leader, asking for as few bytes
// as the broker allows (it always returns at least the batch holding the
// offset). A partition appears once per request, so records on the same
// partition take one round each; at most budget records are fetched. The
// result maps each record read to its timestamp.
func (c *Collector) FetchTimestamps(ctx context.Context, obs *observation.Observation, records []timelag.RecordAt, budget int) map[timelag.RecordAt]time.Time {
	out := map[timelag.RecordAt]time.Time{}
	records = append([]timelag.RecordAt(nil), records...)
	sortRecords(records)
	if len(records) > budget {
		records = records[:budget]
	}
	// Rounds: the i-th distinct offset of every partition goes in round i.
	perTP := map[timelag.TP][]int64{}
	for _, r := range records {
		perTP[r.TP] = append(perTP[r.TP], r.Offset)
	}
	for {
		round := map[int32]map[timelag.TP]int64{} // leader → partition → offset
		for tp, offs := range perTP {
			if len(offs) == 0 {
				delete(perTP, tp)
				continue
			}
			leader := int32(-1)
			if t, ok := obs.Topics[tp.Topic]; ok {
				if p, ok := t.Partitions[tp.Partition]; ok {
					leader = p.Leader
				}
			}
			if leader < 0 {
				delete(perTP, tp)
				continue
			}
			if round[leader] == nil {
				round[leader] = map[timelag.TP]int64{}
			}
			round[leader][tp] = offs[0]
			perTP[tp] = offs[1:]
		}
		if len(round) == 0 {
			return out
		}
		for leader, parts := range round {
			missing := c.fetchFrom(ctx, obs, leader, parts, out, batchedPartitionBytes)
			// A batch larger than the per-partition limit is only
			// returned for the first partition of a request: ask for
			// those alone.
			for _, tp := range timelag.SortedTPs(missing) {
				c.fetchFrom(ctx, obs, leader, map[timelag.TP]int64{tp: missing[tp]}, out, 1)
			}
		}
	}
}

// batchedPartitionBytes is the per-partition byte limit of batched record
// fetches: enough for the batch holding a record in most topics, small
// enough that a fetch of many partitions stays cheap.
const batchedPartitionBytes = 64 << 10

// fetchFrom fetches the records at parts from one leader and returns the
// partitions whose record was not in what the broker returned.
func (c *Collector) fetchFrom(ctx context.Context, obs *observation.Observation, leader int32, parts map[timelag.TP]int64, out map[timelag.RecordAt]time.Time, partitionBytes int32) map[timelag.TP]int64 {
	missing := map[timelag.TP]int64{}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = min(int32(len(parts))*max(partitionBytes, 1<<10), 16<<20)
	req.SessionID = 0
	req.SessionEpoch = -1
	idx := map[string]int{}
	ids := map[[16]byte]string{}
	for _, tp := range timelag.SortedTPs(parts) {
		i, ok := idx[tp.Topic]
		if !ok {
			t := kmsg.NewFetchRequestTopic()
			t.Topic = tp.Topic
			if ot, ok := obs.Topics[tp.Topic]; ok {
				t.TopicID = ot.ID
				ids[ot.ID] = tp.Topic
			}
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			idx[tp.Topic] = i
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = tp.Partition
		p.CurrentLeaderEpoch = -1
		p.FetchOffset = parts[tp]
		p.LastFetchedEpoch = -1
		p.LogStartOffset = -1
		p.PartitionMaxBytes = partitionBytes
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
	}
	kresp, err := req.RequestWith(ctx, c.cl.Broker(int(leader)))
	if err != nil {
		for tp := range parts {
			obs.AddError(observation.Error{Stage: StageRecordFetch, Topic: tp.Topic, Partition: tp.Partition, Broker: leader, Err: err})
		}
		return nil
	}
	if err := kerr.ErrorForCode(kresp.ErrorCode); err != nil {
		for tp := range parts {
			obs.AddError(observation.Error{Stage: StageRecordFetch, Topic: tp.Topic, Partition: tp.Partition, Broker: leader, Err: err})
		}
		return nil
	}
	for _, rt := range kresp.Topics {
		topic := rt.Topic
		if topic == "" {
			topic = ids[rt.TopicID]
		}
		for _, rp := range rt.Partitions {
			tp := timelag.TP{Topic: topic, Partition: rp.Partition}
			off, ok := parts[tp]
			if !ok {
				continue
			}
			if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
				obs.AddError(observation.Error{Stage: StageRecordFetch, Topic: topic, Partition: rp.Partition, Broker: leader, Err: err})
				continue
			}
			ts, err := recordTimestamp(rp.RecordBatches, off, c.decompressor)
			if errors.Is(err, errNotInBatches) && partitionBytes > 1 {
				missing[tp] = off
				continue
			}
			if err != nil {
				obs.AddError(observation.Error{Stage: StageRecordFetch, Topic: topic, Partition: rp.Partition, Broker: leader, Err: err})
				continue
			}
			out[timelag.RecordAt{TP: tp, Offset: off}] = ts
		}
	}
	return missing
}

var errNotInBatches = errors.New("record not in the fetched batches")

// recordTimestamp finds the timestamp of the record at offset in a Fetch
// response's record batches (magic v2). Compressed batches are
// decompressed; a LogAppendTime batch gives every record its MaxTimestamp.
// Malformed input returns an error, never panics.
func recordTimestamp(batches []byte, offset int64, dec kgo.Decompressor) (time.Time, error) {
	for len(batches) >= 12 {
		length := int64(binary.BigEndian.Uint32(batches[8:12]))
		size := 12 + length
		if length <= 0 || size > int64(len(batches)) {
			break // a partial batch at the end of the response
		}
		raw := batches[:size]
		batches = batches[size:]
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			return time.Time{}, fmt.Errorf("decode record batch: %w", err)
		}
		if b.Magic != 2 {
			return time.Time{}, fmt.Errorf("record batch magic %d is not supported", b.Magic)
		}
		last := b.FirstOffset + int64(b.LastOffsetDelta)
		if offset < b.FirstOffset || offset > last {
			continue
		}
		if b.Attributes&0x08 != 0 { // LogAppendTime
			return time.UnixMilli(b.MaxTimestamp), nil
		}
		records := b.Records
		if codec := kgo.CompressionCodecType(b.Attributes & 0x07); codec != kgo.CodecNone {
			if dec == nil {
				return time.UnixMilli(b.FirstTimestamp), nil
			}
			d, err := dec.Decompress(records, codec)
			if err != nil {
				return time.Time{}, fmt.Errorf("decompress record batch: %w", err)
			}
			records = d
		}
		for n := int32(0); n < b.NumRecords && len(records) > 0; n++ {
			l, w := binary.Varint(records)
			if w <= 0 || l < 0 || int64(w)+l > int64(len(records)) {
				return time.Time{}, errors.New("malformed record length")
			}
			var r kmsg.Record
			if err := r.ReadFrom(records[:int64(w)+l]); err != nil {
				return time.Time{}, fmt.Errorf("decode record: %w", err)
			}
			records = records[int64(w)+l:]
			if b.FirstOffset+int64(r.OffsetDelta) == offset {
				return time.UnixMilli(b.FirstTimestamp + r.TimestampDelta64), nil
			}
		}
		// The offset is inside the batch but its record was compacted
		// away: the batch's first timestamp bounds it.
		return time.UnixMilli(b.FirstTimestamp), nil
	}
	return time.Time{}, errNotInBatches
}

// sortRecords orders records for deterministic rounds.
func sortRecords(rs []timelag.RecordAt) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].TP != rs[j].TP {
			if rs[i].TP.Topic != rs[j].TP.Topic {
				return rs[i].TP.Topic < rs[j].TP.Topic
			}
			return rs[i].TP.Partition < rs[j].TP.Partition
		}
		return rs[i].Offset < rs[j].Offset
	})
}
