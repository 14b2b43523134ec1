package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/collector"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/snapshot"
)

// pipeline is one cluster's poller plus the HTTP handler over its store.
type pipeline struct {
	t       *testing.T
	env     *kfaketest.Env
	store   *snapshot.Store
	poller  *poller.Poller
	handler http.Handler
}

func newPipeline(t *testing.T, env *kfaketest.Env, mod ...func(*config.Config)) *pipeline {
	t.Helper()
	// These tests check every family of the contract: serve them all.
	everything := func(c *config.Config) { c.Metrics.OptIn = []string{".*"} }
	cfg := env.Config(append([]func(*config.Config){everything}, mod...)...)
	store := snapshot.NewStore(cfg.Clusters[0].Name)
	p, err := poller.New(cfg, cfg.Clusters[0], store, kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return &pipeline{t: t, env: env, store: store, poller: p,
		handler: Handler(store, Options{Config: cfg, DisableExporterMetrics: true, Version: "test"})}
}

// cycle runs one poll cycle and scrapes /metrics.
func (p *pipeline) cycle() kfaketest.Series {
	p.t.Helper()
	p.poller.Cycle(context.Background())
	return kfaketest.Scrape(p.t, p.handler, "/metrics")
}

func gp(name, group, topic, partition string) string {
	return kfaketest.Key(name, "cluster", "test", "group", group, "topic", topic, "partition", partition)
}

func g(name, group string) string {
	return kfaketest.Key(name, "cluster", "test", "group", group)
}

func expect(t *testing.T, s kfaketest.Series, want map[string]float64) {
	t.Helper()
	for k, v := range want {
		got, ok := s[k]
		if !ok {
			t.Errorf("missing series %s (want %v)", k, v)
			continue
		}
		if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
}

func absent(t *testing.T, s kfaketest.Series, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := s[k]; ok {
			t.Errorf("series %s = %v should be absent", k, v)
		}
	}
}

// TestExactLagRealConsumers drives a classic and a KIP-848 group of real
// franz-go consumers through a known produce/commit sequence and checks
// every lag series exactly.
func TestExactLagRealConsumers(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("orders", 3)
	env.Produce("orders", 0, 10, time.Time{})
	env.Produce("orders", 1, 20, time.Time{})

	classic := env.Consumer("classic-group", []string{"orders"})
	env.ConsumeAndCommit(classic, 30)
	kip848 := env.Consumer("kip848-group", []string{"orders"}, kgo.ServerSideBalancer())
	env.ConsumeAndCommit(kip848, 30)
	env.Produce("orders", 0, 5, time.Time{})

	p := newPipeline(t, env)
	var s kfaketest.Series
	kfaketest.WaitFor(t, 30*time.Second, "both groups stable with one member", func() bool {
		s = p.cycle()
		return s[kfaketest.Key("klagx_group_state", "cluster", "test", "group", "classic-group", "state", "Stable")] == 1 &&
			s[kfaketest.Key("klagx_group_state", "cluster", "test", "group", "kip848-group", "state", "Stable")] == 1
	})
	for _, group := range []string{"classic-group", "kip848-group"} {
		expect(t, s, map[string]float64{
			gp("klagx_group_partition_committed_offset", group, "orders", "0"):                           10,
			gp("klagx_group_partition_committed_offset", group, "orders", "1"):                           20,
			gp("klagx_group_partition_lag", group, "orders", "0"):                                        5,
			gp("klagx_group_partition_lag", group, "orders", "1"):                                        0,
			gp("klagx_group_partition_lag", group, "orders", "2"):                                        0,
			kfaketest.Key("klagx_group_topic_lag", "cluster", "test", "group", group, "topic", "orders"): 5,
			g("klagx_group_lag", group):                                                                  5,
			g("klagx_group_members", group):                                                              1,
			g("klagx_group_static_members", group):                                                       0,
			g("klagx_group_partitions_without_commit", group):                                            1,
		})
		// Partition 2 never had a record: no commit, and no "-1".
		absent(t, s, gp("klagx_group_partition_committed_offset", group, "orders", "2"))
		// The one member owns all three partitions (kfake's GroupInfo
		// says who it is): its lag is the group's.
		expect(t, s, map[string]float64{memberKey(t, env, group, "orders", 3): 5})
	}
	expect(t, s, map[string]float64{
		kfaketest.Key("klagx_partition_end_offset", "cluster", "test", "topic", "orders", "partition", "0"):   15,
		kfaketest.Key("klagx_partition_start_offset", "cluster", "test", "topic", "orders", "partition", "0"): 0,
		kfaketest.Key("klagx_up", "cluster", "test"):                                                          1,
	})

	// The groups consume the 5 new records and commit: lag returns to 0.
	env.ConsumeAndCommit(classic, 5)
	env.ConsumeAndCommit(kip848, 5)
	s = p.cycle()
	for _, group := range []string{"classic-group", "kip848-group"} {
		expect(t, s, map[string]float64{
			gp("klagx_group_partition_committed_offset", group, "orders", "0"): 15,
			g("klagx_group_lag", group):                                        0,
			memberKey(t, env, group, "orders", 3):                              0,
		})
	}
}

// memberKey is the klagx_group_member_lag series of the group's only
// member, named from kfake's GroupInfo, which must show it assigned
// partitions partitions of topic.
func memberKey(t *testing.T, env *kfaketest.Env, group, topic string, partitions int) string {
	t.Helper()
	gi := env.Cluster.GroupInfo(group)
	if gi == nil || len(gi.Members) != 1 || len(gi.Members[0].Assignment[topic]) != partitions {
		t.Fatalf("%s: GroupInfo %+v, want one member assigned %d partitions of %s", group, gi, partitions, topic)
	}
	m := gi.Members[0]
	return kfaketest.Key("klagx_group_member_lag", "cluster", "test", "group", group, "member", m.MemberID, "client_id", m.ClientID, "host", m.ClientHost)
}

// TestNoCommitAndRetention covers a group without commits on some
// partitions (lag from the log start offset, not from 0) and DeleteRecords
// past a committed offset (lost messages counted once, lag clamped).
func TestNoCommitAndRetention(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("events", 2)
	env.Produce("events", 0, 10, time.Time{})
	env.Produce("events", 1, 20, time.Time{})
	env.Commit("partial", "events", map[int32]int64{0: 4})
	env.Commit("stuck", "events", map[int32]int64{0: 2, 1: 20})

	p := newPipeline(t, env)
	s := p.cycle()
	expect(t, s, map[string]float64{
		gp("klagx_group_partition_lag", "partial", "events", "0"):                                   6,
		gp("klagx_group_partition_lag", "partial", "events", "1"):                                   20,
		g("klagx_group_partitions_without_commit", "partial"):                                       1,
		gp("klagx_group_partition_messages_lost_total", "stuck", "events", "0"):                     0,
		kfaketest.Key("klagx_group_state", "cluster", "test", "group", "partial", "state", "Empty"): 1,
		g("klagx_group_members", "partial"):                                                         0,
	})
	absent(t, s, gp("klagx_group_partition_committed_offset", "partial", "events", "1"))

	// Retention deletes records 0..6 of partition 0 and 0..4 of partition 1.
	resp, err := env.Admin.DeleteRecords(env.Ctx(10*time.Second), kadm.Offsets{"events": {
		0: {Topic: "events", Partition: 0, At: 7},
		1: {Topic: "events", Partition: 1, At: 5},
	}})
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second cycle must not count the same loss again
		s = p.cycle()
		expect(t, s, map[string]float64{
			kfaketest.Key("klagx_partition_start_offset", "cluster", "test", "topic", "events", "partition", "0"): 7,
			// stuck committed 2, start is now 7: 5 messages lost, lag
			// clamped to the 3 retained ones.
			gp("klagx_group_partition_committed_offset", "stuck", "events", "0"):    2,
			gp("klagx_group_partition_messages_lost_total", "stuck", "events", "0"): 5,
			gp("klagx_group_partition_lag", "stuck", "events", "0"):                 3,
			// partial committed 4 on p0: 3 lost; no commit on p1: lag
			// counts from the new log start (20-5), nothing "lost".
			gp("klagx_group_partition_messages_lost_total", "partial", "events", "0"): 3,
			gp("klagx_group_partition_lag", "partial", "events", "1"):                 15,
			gp("klagx_group_partition_messages_lost_total", "partial", "events", "1"): 0,
			g("klagx_group_lag", "partial"):                                           18,
		})
	}
}

// TestDeletedTopicAndGroupVanish: no ghost series one cycle after a delete.
func TestDeletedTopicAndGroupVanish(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("keep", 1)
	env.CreateTopic("temp", 2)
	env.Produce("keep", 0, 3, time.Time{})
	env.Produce("temp", 0, 3, time.Time{})
	env.Commit("stays", "keep", map[int32]int64{0: 1})
	env.Commit("goes", "keep", map[int32]int64{0: 1})
	env.Commit("stays", "temp", map[int32]int64{0: 1})

	p := newPipeline(t, env)
	s := p.cycle()
	if !s.Has("klagx_partition_end_offset", "topic", "temp") || !s.Has("klagx_group_lag", "group", "goes") ||
		!s.Has("klagx_group_partition_lag", "topic", "temp") {
		t.Fatalf("setup: expected series for topic temp and group goes")
	}

	if _, err := env.Admin.DeleteTopics(env.Ctx(10*time.Second), "temp"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Admin.DeleteGroups(env.Ctx(10*time.Second), "goes"); err != nil {
		t.Fatal(err)
	}
	s = p.cycle()
	for name := range s {
		if containsLabel(name, "topic", "temp") || containsLabel(name, "group", "goes") {
			t.Errorf("ghost series after delete: %s", name)
		}
	}
	expect(t, s, map[string]float64{gp("klagx_group_partition_lag", "stays", "keep", "0"): 2})
}

func containsLabel(key, label, value string) bool {
	return strings.Contains(key, label+"="+strconv.Quote(value))
}

// TestCoordinatorFaultIsolated: a coordinator failing its DescribeGroups
// and OffsetFetch answers leaves the other coordinators' groups fresh; the
// affected group keeps its last good values with their age, and the errors
// are counted.
func TestCoordinatorFaultIsolated(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("t", 1)
	env.Produce("t", 0, 10, time.Time{})
	// Pick two groups with different coordinators.
	var a, b string
	for i := 0; a == "" || b == ""; i++ {
		name := "group-" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if a == "" {
			a = name
		} else if env.Cluster.CoordinatorFor(name) != env.Cluster.CoordinatorFor(a) {
			b = name
		}
	}
	env.Commit(a, "t", map[int32]int64{0: 1})
	env.Commit(b, "t", map[int32]int64{0: 1})

	p := newPipeline(t, env)
	s := p.cycle()
	expect(t, s, map[string]float64{g("klagx_group_lag", a): 9, g("klagx_group_lag", b): 9})
	firstSeen := s[g("klagx_group_last_poll_success_timestamp_seconds", a)]

	bad := env.Cluster.CoordinatorFor(a)
	h := env.Cluster.Fault(kfake.Fault{
		Keys:  []kmsg.Key{kmsg.DescribeGroups, kmsg.OffsetFetch},
		Nodes: []int32{bad},
		Err:   kerr.UnknownServerError,
		Count: -1,
	})
	env.Produce("t", 0, 5, time.Time{})
	time.Sleep(1100 * time.Millisecond) // make the age difference visible at 1s resolution of the assertion below
	s = p.cycle()
	h.Remove()
	expect(t, s, map[string]float64{
		g("klagx_group_lag", b): 14, // fresh
		g("klagx_group_lag", a): 9,  // last good value kept
	})
	if got := s[g("klagx_group_last_poll_success_timestamp_seconds", a)]; got != firstSeen {
		t.Errorf("faulted group's last success moved: %v → %v", firstSeen, got)
	}
	if s[g("klagx_group_last_poll_success_timestamp_seconds", b)] <= firstSeen {
		t.Errorf("healthy group's last success did not advance")
	}
	if s[kfaketest.Key("klagx_poll_errors_total", "cluster", "test", "stage", "describe_groups")]+
		s[kfaketest.Key("klagx_poll_errors_total", "cluster", "test", "stage", "offset_fetch")] < 1 {
		t.Errorf("errors not counted: %v", s.With("klagx_poll_errors_total"))
	}
	// After the fault clears, the group recovers within one cycle.
	s = p.cycle()
	expect(t, s, map[string]float64{g("klagx_group_lag", a): 14})
}

// TestFiltersApplyBeforeRequests: excluded groups and topics never appear,
// and internal topics are excluded by default.
func TestFilters(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("app", 1)
	env.CreateTopic("secret", 1)
	env.CreateTopic("__internal", 1)
	env.Produce("app", 0, 2, time.Time{})
	env.Commit("keep-me", "app", map[int32]int64{0: 1})
	env.Commit("drop-me", "app", map[int32]int64{0: 1})
	env.Commit("keep-me", "secret", map[int32]int64{0: 0})

	p := newPipeline(t, env, func(c *config.Config) {
		var err error
		c.Groups, err = config.NewFilter("group", []string{"keep-.*"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Topics, err = config.NewFilter("topic", nil, []string{"secret"})
		if err != nil {
			t.Fatal(err)
		}
	})
	s := p.cycle()
	if s.Has("klagx_group_lag", "group", "drop-me") {
		t.Error("excluded group exported")
	}
	for _, topic := range []string{"secret", "__internal"} {
		if s.Has("klagx_partition_end_offset", "topic", topic) || s.Has("klagx_group_topic_lag", "topic", topic) {
			t.Errorf("excluded topic %s exported", topic)
		}
	}
	expect(t, s, map[string]float64{g("klagx_group_lag", "keep-me"): 1})
}

// TestGranularity bounds the series count.
func TestGranularity(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("x", 4)
	env.Commit("grp", "x", map[int32]int64{0: 0})
	for _, tc := range []struct {
		gran             config.Granularity
		optIn            []string
		partition, topic bool
	}{
		{config.GranularityPartition, nil, true, false},
		{config.GranularityPartition, []string{"klagx_group_topic_.*"}, true, true},
		{config.GranularityTopic, nil, false, true},
		{config.GranularityGroup, nil, false, false},
		{config.GranularityGroup, []string{".*"}, false, false},
	} {
		p := newPipeline(t, env, func(c *config.Config) { c.Granularity, c.Metrics.OptIn = tc.gran, tc.optIn })
		s := p.cycle()
		if got := len(s.With("klagx_group_partition_lag{")) > 0; got != tc.partition {
			t.Errorf("%s %v: partition series present=%v", tc.gran, tc.optIn, got)
		}
		if got := len(s.With("klagx_group_topic_lag{")) > 0; got != tc.topic {
			t.Errorf("%s %v: topic series present=%v", tc.gran, tc.optIn, got)
		}
		if len(s.With("klagx_group_lag{")) != 1 {
			t.Errorf("%s: group series missing", tc.gran)
		}
	}
}

// TestRequestsPerCycleIndependentOfGroups is the cost contract: one cycle
// over 1,000 groups on 3 brokers sends as many requests as one over 10
// groups, bounded by brokers × APIs.
func TestRequestsPerCycleIndependentOfGroups(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("t", 6)
	for p := range int32(6) {
		env.Produce("t", p, 2, time.Time{})
	}
	p := newPipeline(t, env)
	created := 0
	perCycle := func(groups int) map[string]uint64 {
		for ; created < groups; created++ {
			env.Commit("g"+strconv.Itoa(created), "t", map[int32]int64{int32(created % 6): 1})
		}
		p.cycle() // warms kgo's coordinator and metadata caches for new groups
		before := requestMap(p.poller.Collector().Requests())
		s := p.cycle()
		if got := len(s.With("klagx_group_lag{")); got != groups {
			t.Fatalf("%d groups created, %d exported", groups, got)
		}
		d := map[string]uint64{}
		for k, v := range requestMap(p.poller.Collector().Requests()) {
			if v > before[k] {
				d[k] = v - before[k]
			}
		}
		return d
	}
	small, large := perCycle(10), perCycle(1000)
	t.Logf("requests per cycle: 10 groups %v; 1000 groups %v", small, large)
	const brokers = 3
	bounds := map[string]uint64{
		"ListGroups":      brokers,
		"DescribeGroups":  brokers,
		"OffsetFetch":     brokers,
		"Metadata":        brokers,
		"ListOffsets":     2 * brokers,
		"FindCoordinator": brokers,
	}
	var total uint64
	for api, n := range large {
		total += n
		if b, ok := bounds[api]; !ok || n > b {
			t.Errorf("1000 groups: %s sent %d requests (bound %d)", api, n, b)
		}
	}
	if total > 6*brokers {
		t.Errorf("1000 groups: %d requests per cycle", total)
	}
	// kgo refreshes metadata on its own timer, so one extra Metadata (or
	// a coordinator lookup) can land in either cycle; growth with the
	// number of groups would be in the hundreds.
	for api := range bounds {
		if large[api] > small[api]+1 {
			t.Errorf("%s grows with groups: %d for 10, %d for 1000", api, small[api], large[api])
		}
	}
}

func requestMap(rs []collector.RequestCount) map[string]uint64 {
	m := map[string]uint64{}
	for _, r := range rs {
		m[r.API] = r.Count
	}
	return m
}

// TestShardsPartitionTheGroups: three shards over the same cluster export
// every group exactly once between them (the union equals the unsharded
// output, with no overlap), and only shard 0 exports the partition series.
func TestShardsPartitionTheGroups(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("t", 3)
	for i := range 120 {
		env.Commit("group-"+strconv.Itoa(i), "t", map[int32]int64{int32(i % 3): 0})
	}
	groupsOf := func(s kfaketest.Series) map[string]bool {
		out := map[string]bool{}
		for k := range s.With("klagx_group_lag{") {
			i := strings.Index(k, `group="`)
			out[k[i+7:i+7+strings.Index(k[i+7:], `"`)]] = true
		}
		return out
	}
	all := groupsOf(newPipeline(t, env).cycle())
	if len(all) != 120 {
		t.Fatalf("unsharded: %d groups", len(all))
	}
	const total = 3
	seen := map[string]int{}
	for shard := range total {
		s := newPipeline(t, env, func(c *config.Config) { c.Shard, c.TotalShards = shard, total }).cycle()
		mine := groupsOf(s)
		if len(mine) < 120/total/2 {
			t.Errorf("shard %d owns only %d groups", shard, len(mine))
		}
		for g := range mine {
			seen[g]++
		}
		hasPartitions := len(s.With("klagx_partition_end_offset{")) > 0
		if hasPartitions != (shard == 0) {
			t.Errorf("shard %d exports partition series: %v", shard, hasPartitions)
		}
		if s[kfaketest.Key("klagx_shard_ordinal")] != float64(shard) || s[kfaketest.Key("klagx_total_shards")] != total {
			t.Errorf("shard %d: ordinal/total series wrong", shard)
		}
	}
	for g := range all {
		if seen[g] != 1 {
			t.Errorf("group %s exported by %d shards", g, seen[g])
		}
	}
	if len(seen) != len(all) {
		t.Errorf("shards export %d groups, unsharded %d", len(seen), len(all))
	}
}
