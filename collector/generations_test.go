package collector

import (
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/groupmeta"
	"github.com/klagx/klagx/internal/kfaketest"
)

// groupRecord builds the record the coordinator writes for one generation
// of a classic group (nil value: the tombstone of a deleted group).
func groupRecord(group string, gen int32, tombstone bool) *kgo.Record {
	k := kmsg.GroupMetadataKey{Version: 2, Group: group}
	r := &kgo.Record{Topic: groupmeta.Topic, Key: k.AppendTo(nil)}
	if !tombstone {
		protocol, leader := "range", "m-1"
		v := kmsg.GroupMetadataValue{Version: 3, ProtocolType: "consumer", Generation: gen, Protocol: &protocol, Leader: &leader,
			Members: []kmsg.GroupMetadataValueMember{{MemberID: leader, ClientID: "c", ClientHost: "/127.0.0.1", SessionTimeoutMillis: 45000}}}
		r.Value = v.AppendTo(nil)
	}
	return r
}

// kfake has no __consumer_offsets of its own: the test creates one and
// writes the coordinator's records itself, to check the reader end to end
// (catch-up, then live records, tombstones, undecodable records). On real
// Kafka the conformance suite checks it against true generations.
func TestRecordedGenerations(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("t", 1)
	env.CreateTopic(groupmeta.Topic, 2)
	env.Commit("g", "t", map[int32]int64{0: 0})
	env.Commit("h", "t", map[int32]int64{0: 0})
	produce := func(p int32, recs ...*kgo.Record) {
		t.Helper()
		for _, r := range recs {
			r.Partition = p
		}
		if err := env.Client.ProduceSync(env.Ctx(10*time.Second), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	// Written before klagx starts: read on catching up. The garbage record
	// is skipped.
	produce(0, groupRecord("g", 3, false), &kgo.Record{Topic: groupmeta.Topic, Key: []byte{0, 2, 0xff}}, groupRecord("g", 4, false))
	produce(1, groupRecord("h", 1, false))

	cfg := env.Config(func(c *config.Config) { c.RebalanceSource = config.RebalanceSourceConsumerOffsets })
	c, err := New(cfg, cfg.Clusters[0], kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	refs := []GroupRef{{Name: "g", Kind: "classic"}, {Name: "h", Kind: "classic"}}
	gens := func() (g, h int32, known bool) {
		obs := c.DescribeGroups(env.Ctx(10*time.Second), refs)
		og, oh := obs.Groups["g"], obs.Groups["h"]
		return og.Generation, oh.Generation, og.GenerationKnown && oh.GenerationKnown
	}
	kfaketest.WaitFor(t, 20*time.Second, "caught up", func() bool { g, h, ok := gens(); return ok && g == 4 && h == 1 })

	produce(0, groupRecord("g", 5, false), groupRecord("g", 7, false))
	kfaketest.WaitFor(t, 20*time.Second, "live generation", func() bool { g, _, ok := gens(); return ok && g == 7 })

	produce(1, groupRecord("h", 0, true))
	kfaketest.WaitFor(t, 20*time.Second, "tombstone", func() bool {
		obs := c.DescribeGroups(env.Ctx(10*time.Second), refs)
		return !obs.Groups["h"].GenerationKnown && obs.Groups["g"].GenerationKnown
	})
	if n := c.generations.skippedCount(); n != 1 {
		t.Fatalf("skipped %d undecodable records, want 1", n)
	}
}

// Without __consumer_offsets (kfake, or no ACL to read it) no generation is
// offered, and rebalances are inferred as with the admin source.
func TestRecordedGenerationsUnavailable(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("t", 1)
	env.Commit("g", "t", map[int32]int64{0: 0})
	cfg := env.Config(func(c *config.Config) { c.RebalanceSource = config.RebalanceSourceConsumerOffsets })
	c, err := New(cfg, cfg.Clusters[0], kfaketest.Logger(t, slog.LevelError))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	obs := c.Poll(env.Ctx(10 * time.Second))
	if obs.Err != nil || obs.Groups["g"] == nil || obs.Groups["g"].GenerationKnown {
		t.Fatalf("err %v, group %+v", obs.Err, obs.Groups["g"])
	}
}

// skippedCount returns the number of undecodable records skipped.
func (r *generationReader) skippedCount() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.skipped
}
