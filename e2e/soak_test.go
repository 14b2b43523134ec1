package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/internal/kfaketest"
)

// DefaultSoak is how long TestSoak churns in `make test`; KLAGX_SOAK (a Go
// duration, e.g. 1h) overrides it: `make soak SOAK=1h`.
const DefaultSoak = 5 * time.Minute

// TestSoak runs the klagx binary against a kfake cluster that keeps
// changing under it for a bounded time: groups and topics created and
// deleted, consumers (classic and KIP-848) joining and leaving, records
// produced, and faults (brokers removed and added back, coordinators moved,
// leaders shuffled, stalled requests, dropped connections, retriable errors
// forever on one broker). Throughout, klagx must keep serving and never
// panic; afterwards, with the churn stopped and the cluster back to the
// same shape as at the first checkpoint, its goroutines, heap and series
// must be back where they were: nothing grows without bound.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: make test runs it; make test-short (-short) is the quick loop")
	}
	dur := DefaultSoak
	if v := os.Getenv("KLAGX_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("KLAGX_SOAK=%q: want a positive Go duration such as 10m", v)
		}
		dur = d
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("soak for %v, seed %d", dur, seed)
	rng := rand.New(rand.NewPCG(seed, seed>>7))

	env := kfaketest.New(t, 3, kfake.SeedTopics(4, "base"),
		kfake.BrokerConfigs(map[string]string{"group.consumer.session.timeout.ms": "3000"}))
	seeds := env.Addrs()
	env.Produce("base", 0, 100, time.Time{})
	env.Commit("base-group", "base", map[int32]int64{0: 50})

	p := start(t, "klagx", klagxBinary(t), "serve", "--brokers", strings.Join(seeds, ","),
		"--cluster-name=soak", "--web.listen-address=127.0.0.1:0",
		"--poll-interval=1s", "--group-poll-interval=200ms", "--log.level=info")
	addrRE := regexp.MustCompile(`address=([0-9.:]+)`)
	var base string
	waitFor(t, 30*time.Second, "klagx to listen", func() bool {
		if m := addrRE.FindStringSubmatch(p.out.String()); m != nil {
			base = "http://" + m[1]
		}
		return base != ""
	})
	client := &http.Client{Timeout: 10 * time.Second}
	scrape := func() (kfaketest.Series, error) {
		resp, err := client.Get(base + "/metrics")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("/metrics: %s", resp.Status)
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		return kfaketest.Parse(t, body), nil
	}
	up := func() bool {
		s, err := scrape()
		return err == nil && s[kfaketest.Key("klagx_up", "cluster", "soak")] == 1
	}
	waitFor(t, 30*time.Second, "klagx_up 1", up)

	ch := &churn{t: t, env: env, rng: rng, members: map[string]*kgo.Client{}}
	defer ch.stop()

	// Checkpoint 1: after a warm-up with the whole workload, settled.
	warm := min(dur/5, time.Minute)
	ch.run(warm)
	ch.settle()
	first := measure(t, scrape)
	t.Logf("checkpoint 1: %s", first)

	ch.run(dur - warm)
	ch.settle()
	last := measure(t, scrape)
	t.Logf("checkpoint 2: %s", last)
	t.Logf("churn: %s", ch.summary())

	if strings.Contains(p.out.String(), "panic:") || p.cmd.ProcessState != nil {
		t.Fatalf("klagx died or panicked")
	}
	if last.goroutines > first.goroutines+10 {
		t.Errorf("goroutines grew from %d to %d", first.goroutines, last.goroutines)
	}
	if last.heap > first.heap*3/2+8<<20 {
		t.Errorf("heap in use grew from %.1f MiB to %.1f MiB", mib(first.heap), mib(last.heap))
	}
	if extra := slices.DeleteFunc(slices.Clone(last.keys), func(k string) bool { return slices.Contains(first.keys, k) }); len(extra) > 0 {
		t.Errorf("group and topic series grew from %d to %d with the same groups and topics: %v", first.series, last.series, extra)
	}
	if last.groups != 1 || last.topics != 1 {
		t.Errorf("after the churn klagx exports %d groups and %d topics, want base-group and base only", last.groups, last.topics)
	}
}

// churn is the workload: one goroutine (the test's) that acts on the
// cluster at random.
type churn struct {
	t       *testing.T
	env     *kfaketest.Env
	rng     *rand.Rand
	next    int
	topics  []string
	groups  []string
	members map[string]*kgo.Client
	removed []int32
	clear   []func()
	// settling makes every control function drop itself.
	settling atomic.Bool
	// stalling is set while a stall control is installed.
	stalling atomic.Bool
	counts   map[string]int
}

const (
	maxTopics  = 6
	maxGroups  = 12
	maxMembers = 4
)

func (c *churn) count(what string) {
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[what]++
}

func (c *churn) summary() string {
	keys := make([]string, 0, len(c.counts))
	for k := range c.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, c.counts[k])
	}
	return b.String()
}

func (c *churn) ctx() context.Context { return c.env.Ctx(15 * time.Second) }

// run acts every 100-400ms for d.
func (c *churn) run(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		c.act()
		time.Sleep(time.Duration(100+c.rng.IntN(300)) * time.Millisecond)
	}
}

func (c *churn) act() {
	adm := c.env.Admin
	switch n := c.rng.IntN(100); {
	case n < 12: // create a topic
		if len(c.topics) >= maxTopics {
			c.deleteTopic()
			return
		}
		name := fmt.Sprintf("churn-topic-%d", c.next)
		c.next++
		if _, err := adm.CreateTopic(c.ctx(), int32(1+c.rng.IntN(4)), 1, nil, name); err == nil {
			c.topics = append(c.topics, name)
			c.count("topic_created")
		}
	case n < 18:
		c.deleteTopic()
	case n < 40: // produce
		if len(c.topics) == 0 {
			return
		}
		topic := c.topics[c.rng.IntN(len(c.topics))]
		recs := make([]*kgo.Record, 1+c.rng.IntN(50))
		for i := range recs {
			recs[i] = &kgo.Record{Topic: topic, Partition: 0, Value: []byte("x")}
		}
		if c.env.Client.ProduceSync(c.ctx(), recs...).FirstErr() == nil {
			c.count("produced")
		}
	case n < 55: // a group commits (created if new)
		if len(c.topics) == 0 {
			return
		}
		if len(c.groups) >= maxGroups {
			c.deleteGroup()
			return
		}
		name := fmt.Sprintf("churn-group-%d", c.next)
		c.next++
		os := make(kadm.Offsets)
		os.AddOffset(c.topics[c.rng.IntN(len(c.topics))], 0, int64(c.rng.IntN(10)), -1)
		if r, err := adm.CommitOffsets(c.ctx(), name, os); err == nil && r.Error() == nil {
			c.groups = append(c.groups, name)
			c.count("group_created")
		}
	case n < 62:
		c.deleteGroup()
	case n < 74: // a member joins or leaves
		if len(c.members) >= maxMembers || (len(c.members) > 0 && c.rng.IntN(2) == 0) {
			c.leave()
			return
		}
		if len(c.topics) == 0 {
			return
		}
		protocol := "classic"
		if c.rng.IntN(2) == 0 {
			protocol = "consumer"
		}
		name := fmt.Sprintf("churn-members-%s-%d", protocol, c.rng.IntN(2))
		opts := []kgo.Opt{kgo.SeedBrokers(c.env.Addrs()...), kgo.ConsumerGroup(name),
			kgo.ConsumeTopics(c.topics[c.rng.IntN(len(c.topics))]), kgo.WithLogger(nil),
			kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond)}
		if protocol == "consumer" {
			opts = append(opts, kgo.ServerSideBalancer())
		}
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			return
		}
		go func() {
			for {
				fs := cl.PollFetches(context.Background())
				if fs.IsClientClosed() {
					return
				}
			}
		}()
		c.members[fmt.Sprintf("%s-%d", name, c.next)] = cl
		c.next++
		c.count("member_joined")
	default:
		c.fault()
	}
}

func (c *churn) deleteTopic() {
	if len(c.topics) == 0 {
		return
	}
	i := c.rng.IntN(len(c.topics))
	start := time.Now()
	r, err := c.env.Admin.DeleteTopic(c.ctx(), c.topics[i])
	if err == nil {
		err = r.Err
	}
	if err == nil {
		c.topics = slices.Delete(c.topics, i, i+1)
		c.count("topic_deleted")
		return
	}
	c.t.Logf("delete topic %s: %v after %v", c.topics[i], err, time.Since(start))
}

func (c *churn) deleteGroup() {
	if len(c.groups) == 0 {
		return
	}
	i := c.rng.IntN(len(c.groups))
	if _, err := c.env.Admin.DeleteGroup(c.ctx(), c.groups[i]); err == nil {
		c.groups = slices.Delete(c.groups, i, i+1)
		c.count("group_deleted")
	}
}

func (c *churn) leave() {
	for k, cl := range c.members {
		go cl.Close() // a clean leave can take a moment; do not block the churn
		delete(c.members, k)
		c.count("member_left")
		return
	}
}

// fault injects one fault, cleared at the next settle or, for the
// short-lived ones, by itself.
func (c *churn) fault() {
	cl := c.env.Cluster
	node := int32(c.rng.IntN(3))
	switch c.rng.IntN(7) {
	case 0: // broker 1 leaves (node 0 stays so that the seed list keeps a live broker; node 2 is kfake's
		// controller, which kfake does not move, so without it no topic could be created or deleted)...
		if len(c.removed) == 0 && cl.RemoveNode(1) == nil {
			c.removed = append(c.removed, 1)
			c.count("broker_removed")
		}
	case 1: // ...and comes back
		if len(c.removed) > 0 {
			c.addBack()
		}
	case 2:
		cl.RehashCoordinators()
		c.count("coordinators_moved")
	case 3:
		cl.ShufflePartitionLeaders()
		c.count("leaders_shuffled")
	case 4: // requests to one broker stall for up to 3s
		// One stall at a time: a request put to sleep by a second
		// control after the first woke it trips a data race inside
		// kfake (bsleep.enqueue vs waitQueue).
		if !c.stalling.CompareAndSwap(false, true) {
			return
		}
		until := time.Now().Add(3 * time.Second)
		cl.ControlKey(int16(kmsg.OffsetFetch), func(kmsg.Request) (kmsg.Response, error, bool) {
			cl.KeepControl() // KeepControl sticks: DropControl ends it
			if time.Now().After(until) || c.settling.Load() {
				cl.DropControl()
				c.stalling.Store(false)
				return nil, nil, false
			}
			if cl.CurrentNode() == node {
				cl.SleepControl(func() { time.Sleep(time.Until(until)) })
			}
			return nil, nil, false
		})
		c.count("stall")
	case 5: // connections dropped mid-request, 20 times
		left := 20
		cl.ControlKey(int16(kmsg.ListOffsets), func(kmsg.Request) (kmsg.Response, error, bool) {
			cl.KeepControl() // KeepControl sticks: DropControl ends it
			if left--; left < 0 || c.settling.Load() {
				cl.DropControl()
				return nil, nil, false
			}
			return nil, errors.New("dropped by the soak"), true
		})
		c.count("connections_dropped")
	case 6: // retriable errors forever on one broker, until the next settle
		h := cl.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeGroups, kmsg.OffsetFetch, kmsg.ConsumerGroupDescribe},
			Nodes: []int32{node}, Err: kerr.CoordinatorNotAvailable, Count: -1})
		c.clear = append(c.clear, h.Remove)
		c.count("retriable_forever")
	}
}

func (c *churn) addBack() {
	node := c.removed[0]
	if _, _, err := c.env.Cluster.AddNode(node, 0); err == nil {
		c.removed = c.removed[1:]
		c.count("broker_added")
	}
}

// settle stops every fault and member and deletes every churned topic and
// group, so that the cluster has the same shape at each checkpoint.
func (c *churn) settle() {
	c.settling.Store(true)
	defer c.settling.Store(false)
	for _, f := range c.clear {
		f()
	}
	c.clear = nil
	for len(c.removed) > 0 {
		c.addBack()
	}
	var wg sync.WaitGroup
	for k, cl := range c.members {
		wg.Add(1)
		go func() { defer wg.Done(); cl.Close() }()
		delete(c.members, k)
	}
	wg.Wait()
	// Member groups are deleted once their members are gone.
	waitFor(c.t, 60*time.Second, "churned groups and topics deleted", func() bool {
		for len(c.topics) > 0 {
			before := len(c.topics)
			c.deleteTopic()
			if len(c.topics) == before {
				c.t.Logf("topics left: %v", c.topics)
				return false
			}
		}
		listed, err := c.env.Admin.ListGroups(c.ctx())
		if err != nil {
			return false
		}
		left := listed.Groups()
		left = slices.DeleteFunc(left, func(g string) bool { return g == "base-group" })
		if len(left) == 0 {
			c.groups = nil
			return true
		}
		for _, g := range left {
			if r, err := c.env.Admin.DeleteGroup(c.ctx(), g); err != nil || r.Err != nil {
				c.t.Logf("delete group %s: %v %v", g, err, r.Err)
			}
		}
		return false
	})
}

type checkpoint struct {
	goroutines, series, groups, topics int
	heap                               uint64
	// keys are the group- and topic-scoped series.
	keys []string
}

func (c checkpoint) String() string {
	return fmt.Sprintf("goroutines %d, heap in use %.1f MiB, series %d, groups %d, topics %d",
		c.goroutines, mib(c.heap), c.series, c.groups, c.topics)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// measure waits until klagx exports only the base group and topic and is
// up, then takes the smallest of ten samples of its goroutines and heap in
// use (the smallest is the closest to the live heap, whatever the GC's
// timing).
func measure(t *testing.T, scrape func() (kfaketest.Series, error)) checkpoint {
	t.Helper()
	var (
		cp   checkpoint
		last kfaketest.Series
	)
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := scrape()
		if err == nil && s[kfaketest.Key("klagx_up", "cluster", "soak")] == 1 {
			last, cp = s, shape(s)
			if cp.groups == 1 && cp.topics == 1 {
				break
			}
		}
		if time.Now().After(deadline) {
			var keys []string
			for k := range last.With("klagx_group_poll_errors_total") {
				keys = append(keys, k)
			}
			for k := range last.With("klagx_partition_end_offset") {
				keys = append(keys, k)
			}
			t.Fatalf("klagx still exports %d groups and %d topics a minute after the churn stopped (err %v): %v", cp.groups, cp.topics, err, keys)
		}
		time.Sleep(500 * time.Millisecond)
	}
	cp.goroutines, cp.heap = 1<<30, 1<<62
	for range 10 {
		time.Sleep(time.Second)
		s, err := scrape()
		if err != nil {
			t.Fatalf("scrape: %v", err)
		}
		cp.goroutines = min(cp.goroutines, int(s["go_goroutines{}"]))
		cp.heap = min(cp.heap, uint64(s["go_memstats_heap_inuse_bytes{}"]))
		cp.keys = cp.keys[:0]
		for k := range s {
			if strings.Contains(k, `group="`) || strings.Contains(k, `topic="`) {
				cp.keys = append(cp.keys, k)
			}
		}
		cp.series = len(cp.keys)
	}
	return cp
}

func shape(s kfaketest.Series) checkpoint {
	groups, topics := map[string]bool{}, map[string]bool{}
	groupRE := regexp.MustCompile(`group="([^"]*)"`)
	topicRE := regexp.MustCompile(`topic="([^"]*)"`)
	for k := range s.With("klagx_group_poll_errors_total{") {
		if m := groupRE.FindStringSubmatch(k); m != nil {
			groups[m[1]] = true
		}
	}
	for k := range s.With("klagx_partition_end_offset{") {
		if m := topicRE.FindStringSubmatch(k); m != nil {
			topics[m[1]] = true
		}
	}
	return checkpoint{groups: len(groups), topics: len(topics)}
}

// stop ends the workload when the test does.
func (c *churn) stop() {
	for _, f := range c.clear {
		f()
	}
	for k, cl := range c.members {
		cl.Close()
		delete(c.members, k)
	}
}
