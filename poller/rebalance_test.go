package poller

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/snapshot"
)

// rebalanceRig runs a poller in the background (offset cycle 1s, group
// state every 100ms) against a kfake cluster with a 2-partition topic.
type rebalanceRig struct {
	t     *testing.T
	env   *kfaketest.Env
	store *snapshot.Store
}

func newRebalanceRig(t *testing.T) *rebalanceRig {
	env := kfaketest.New(t, 3, kfake.BrokerConfigs(map[string]string{
		// KIP-848 session timeouts are the broker's: make a crash cost
		// 1.5 s, like the classic members' session timeout below.
		"group.consumer.heartbeat.interval.ms": "200",
		"group.consumer.session.timeout.ms":    "1500",
	}))
	env.CreateTopic("work", 4)
	cfg := env.Config(func(c *config.Config) {
		c.PollInterval = time.Second
		c.GroupPollInterval = 100 * time.Millisecond
	})
	store := snapshot.NewStore("test")
	p, err := New(cfg, cfg.Clusters[0], store, kfaketest.Logger(t, slog.LevelWarn))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait(); p.Close() })
	return &rebalanceRig{t: t, env: env, store: store}
}

// member is a real franz-go consumer whose connections can be cut to
// simulate a crash.
type member struct {
	cl    *kgo.Client
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (r *rebalanceRig) join(group string, opts ...kgo.Opt) *member {
	r.t.Helper()
	m := &member{}
	dial := func(ctx context.Context, network, host string) (net.Conn, error) {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.dead {
			return nil, fmt.Errorf("crashed")
		}
		c, err := (&net.Dialer{}).DialContext(ctx, network, host)
		if err == nil {
			m.conns = append(m.conns, c)
		}
		return c, err
	}
	base := []kgo.Opt{kgo.Dialer(dial), kgo.SessionTimeout(1500 * time.Millisecond), kgo.RebalanceTimeout(3 * time.Second)}
	m.cl = r.env.Consumer(group, []string{"work"}, append(base, opts...)...)
	// Poll in the background so the member takes part in rebalances.
	go func() {
		for {
			fs := m.cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
		}
	}()
	return m
}

// leave closes the member cleanly (LeaveGroup).
func (m *member) leave() { m.cl.Close() }

// crash cuts the member's connections: it stops heartbeating without
// leaving, and the coordinator removes it after the session timeout.
func (m *member) crash() {
	m.mu.Lock()
	m.dead = true
	for _, c := range m.conns {
		c.Close()
	}
	m.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m.cl.LeaveGroupContext(ctx)
	go m.cl.Close()
}

// settle waits until kfake says the group is Stable (or Empty) with n
// members that all have assignments, then until the exporter has seen
// that generation, and returns the true generation. The exporter has seen
// it once a cycle that started after kfake settled is published: a cycle
// ending after that moment may have described the group before it (a
// cooperative group's revoking generation is Stable with n members too),
// and cycles and group ticks run one after the other, so everything
// observed up to that cycle is folded in by then. A momentary settled
// state is not the end either (a member's late rejoin starts another
// generation, more often on a loaded machine): the group must still be
// settled at the same generation once the exporter has caught up, else
// both waits start again.
func (r *rebalanceRig) settle(group string, n int) int32 {
	r.t.Helper()
	settled := func() (int32, bool) {
		gi := r.env.Cluster.GroupInfo(group)
		if gi == nil || len(gi.Members) != n {
			return 0, false
		}
		if n > 0 && (gi.State != "Stable" || gi.NumAssigned() != 4) {
			return 0, false
		}
		return gi.Epoch, true
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var gen int32
		kfaketest.WaitFor(r.t, 30*time.Second, fmt.Sprintf("%s settled with %d members", group, n), func() bool {
			g, ok := settled()
			gen = g
			return ok
		})
		since := time.Now()
		var ended time.Time // the end of the first cycle ending after since
		kfaketest.WaitFor(r.t, 30*time.Second, "the exporter to see the settled group", func() bool {
			c := r.store.Load().Cluster("test")
			if c == nil || !c.TakenAt.After(since) {
				return false
			}
			if ended.IsZero() {
				ended = c.TakenAt
			}
			g := c.Group(group)
			return c.TakenAt.After(ended) && g != nil && g.Members == n && !g.RebalanceInProgress &&
				(n == 0 || g.State == "Stable")
		})
		if g, ok := settled(); ok && g == gen {
			return gen
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s never stayed settled with %d members while the exporter caught up", group, n)
		}
	}
}

func (r *rebalanceRig) counted(group string) (rebalances, joins, leaves uint64) {
	g := r.store.Load().Cluster("test").Group(group)
	if g == nil {
		return 0, 0, 0
	}
	return g.Rebalances, g.MemberJoins, g.MemberLeaves
}

// TestRebalanceScenarios: joins, a clean leave, a crash, scaling out, for
// eager and cooperative classic groups and a KIP-848 group; each step's
// count must equal the true generation/epoch delta.
func TestRebalanceScenarios(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []kgo.Opt
		// inferred: the first step has no generation to count from.
		inferred bool
	}{
		{"classic-cooperative", []kgo.Opt{kgo.Balancers(kgo.CooperativeStickyBalancer())}, true},
		{"classic-eager-range", []kgo.Opt{kgo.Balancers(kgo.RangeBalancer())}, false},
		{"kip848", []kgo.Opt{kgo.ServerSideBalancer()}, false},
	} {
		inferred := tc.inferred
		t.Run(tc.name, func(t *testing.T) {
			r := newRebalanceRig(t)
			group := "g-" + tc.name
			quiet := r.join("quiet-"+tc.name, tc.opts...) // never rebalances after joining
			_ = quiet
			first := r.join(group, tc.opts...)
			gen0 := r.settle(group, 1)
			// The quiet group joined at the same time but may settle
			// later (a loaded machine): its base must be its settled
			// count.
			r.settle("quiet-"+tc.name, 1)
			quietBase, _, _ := r.counted("quiet-" + tc.name)
			base, _, _ := r.counted(group)
			step := func(name string, n int, wantJoins, wantLeaves uint64, do func()) {
				t.Helper()
				_, j0, l0 := r.counted(group)
				c0, _, _ := r.counted(group)
				g0 := r.env.Cluster.GroupInfo(group).Epoch
				do()
				g1 := r.settle(group, n)
				c1, j1, l1 := r.counted(group)
				switch {
				case inferred && name == "member joins":
					// The only member was new (its join metadata
					// carries no generation): a cooperative join's two
					// back-to-back generations are inferred as one
					// unless a poll lands between them.
					if c1-c0 < 1 || int64(c1-c0) > int64(g1-g0) {
						t.Errorf("%s: counted %d rebalances, true generation delta %d", name, c1-c0, g1-g0)
					}
				case int64(c1-c0) != int64(g1-g0):
					t.Errorf("%s: counted %d rebalances, true generation delta %d (%d→%d)", name, c1-c0, g1-g0, g0, g1)
				}
				if tc.name != "kip848" && (j1-j0 != wantJoins || l1-l0 != wantLeaves) {
					t.Errorf("%s: joins %d leaves %d, want %d and %d", name, j1-j0, l1-l0, wantJoins, wantLeaves)
				}
				t.Logf("%s: %d rebalances (generation %d→%d)", name, c1-c0, g0, g1)
			}
			var second *member
			step("member joins", 2, 1, 0, func() { second = r.join(group, tc.opts...) })
			step("clean leave", 1, 0, 1, func() { second.leave() })
			var crashing *member
			step("another joins", 2, 1, 0, func() { crashing = r.join(group, tc.opts...) })
			step("crash, removed after the session timeout", 1, 0, 1, func() { crashing.crash() })
			var more []*member
			step("scale out 1→4", 4, 3, 0, func() {
				for range 3 {
					more = append(more, r.join(group, tc.opts...))
				}
			})
			total, _, _ := r.counted(group)
			genN := r.env.Cluster.GroupInfo(group).Epoch
			t.Logf("total: counted %d, true %d", total-base, genN-gen0)
			if int64(total-base) > int64(genN-gen0) || (!inferred && int64(total-base) != int64(genN-gen0)) {
				t.Errorf("total: counted %d, true %d", total-base, genN-gen0)
			}
			if q, _, _ := r.counted("quiet-" + tc.name); q != quietBase {
				t.Errorf("a group that did not rebalance was counted %d times", q-quietBase)
			}
			g := r.store.Load().Cluster("test").Group(group)
			if g.RebalanceDuration.Count == 0 || g.PartitionsMoved == 0 {
				t.Errorf("no durations (%d) or moved partitions (%d) recorded", g.RebalanceDuration.Count, g.PartitionsMoved)
			}
			_ = first
			_ = more
		})
	}
}

// TestStaticRestartWithinSessionTimeout: a static member that restarts
// before its session times out is not a rebalance (Kafka keeps its
// assignment), and klagx must not count one.
func TestStaticRestartWithinSessionTimeout(t *testing.T) {
	r := newRebalanceRig(t)
	static := func(id string) []kgo.Opt {
		// Eager range: the restarted member's join metadata (topics,
		// generation -1) is byte-identical to its first join, which is
		// what lets the broker skip the rebalance (KIP-345). A member
		// that took part in a later rebalance carries a generation and
		// owned partitions, and its restart does rebalance.
		return []kgo.Opt{kgo.InstanceID(id), kgo.SessionTimeout(20 * time.Second), kgo.Balancers(kgo.RangeBalancer())}
	}
	r.join("static", static("pod-0")...)
	r.settle("static", 1)
	b := r.join("static", static("pod-1")...)
	gen := r.settle("static", 2)
	before, _, _ := r.counted("static")
	// Restart the member that is not the leader (franz-go makes a
	// restarted static leader force a rebalance, to pick up topic
	// changes). Close sends no LeaveGroup for a static member.
	b.leave()
	r.join("static", static("pod-1")...)
	kfaketest.WaitFor(t, 30*time.Second, "the restarted static member to be back", func() bool {
		gi := r.env.Cluster.GroupInfo("static")
		return gi != nil && gi.State == "Stable" && len(gi.Members) == 2 && gi.NumAssigned() == 4
	})
	r.settle("static", 2)
	after, _, _ := r.counted("static")
	if g := r.env.Cluster.GroupInfo("static").Epoch; g != gen {
		t.Fatalf("kfake rebalanced the static group (%d→%d): the scenario is not what it should test", gen, g)
	}
	if after != before {
		t.Fatalf("counted %d rebalances for a static restart", after-before)
	}
}

// TestRandomizedRebalances: at least 50 random membership changes (joins,
// clean leaves, crashes) on a classic group; recall and precision of the
// count against kfake's true generation.
func TestRandomizedRebalances(t *testing.T) {
	if testing.Short() {
		t.Skip("long: 50 rebalances")
	}
	r := newRebalanceRig(t)
	rng := rand.New(rand.NewPCG(42, 7))
	group := "random"
	members := []*member{r.join(group)}
	gen0 := r.settle(group, 1)
	base, _, _ := r.counted(group)
	var over int
	for i := 0; ; i++ {
		g := r.env.Cluster.GroupInfo(group).Epoch
		if g-gen0 >= 50 {
			break
		}
		c0, _, _ := r.counted(group)
		switch op := rng.IntN(3); {
		case len(members) < 2 || (op == 0 && len(members) < 5):
			members = append(members, r.join(group))
		case op == 1:
			k := rng.IntN(len(members))
			members[k].leave()
			members = append(members[:k], members[k+1:]...)
		default:
			k := rng.IntN(len(members))
			members[k].crash()
			members = append(members[:k], members[k+1:]...)
		}
		g1 := r.settle(group, len(members))
		c1, _, _ := r.counted(group)
		if int64(c1-c0) > int64(g1-g) {
			over += int(int64(c1-c0) - int64(g1-g))
		}
	}
	total, _, _ := r.counted(group)
	truth := r.env.Cluster.GroupInfo(group).Epoch - gen0
	recall := float64(total-base) / float64(truth)
	t.Logf("randomized: %d true rebalances, %d counted, recall %.1f%%, overcounted %d", truth, total-base, 100*recall, over)
	if over > 0 {
		t.Errorf("precision: %d rebalances counted that did not happen", over)
	}
	if recall < 0.95 {
		t.Errorf("recall %.1f%% below 95%%", 100*recall)
	}
}
