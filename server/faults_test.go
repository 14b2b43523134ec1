package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"

	"github.com/klagx/klagx/collector"
	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/snapshot"
)

// The fault tests drive a kfake cluster through broker, coordinator and
// request faults and check, after every cycle, what /metrics shows: each
// value is either fresh and exact, or the last good one kept with its age
// and a counted error; never a wrong value, never a gap in the unaffected
// groups.

const faultTopic = "t"

// faultRig is a 3-broker cluster with one 3-partition topic and two
// groups per coordinator, each committed at its own offset, polled by a
// pipeline whose cycles the test runs one at a time.
type faultRig struct {
	t      *testing.T
	env    *kfaketest.Env
	p      *pipeline
	groups []string
	commit map[string]int64
	end    map[int32]int64 // true end offsets

	// What the previous cycle exported.
	prevEnd  map[int32]float64
	prevLag  map[string]float64
	prevSeen map[string]float64
	prevErrs map[string]float64
}

// newFaultRig builds the rig. Partition leaders are moved off avoid (when
// it is ≥ 0) so that faults on that broker hit only its groups.
func newFaultRig(t *testing.T, interval time.Duration, avoid int32) *faultRig {
	t.Helper()
	env := kfaketest.New(t, 3)
	env.CreateTopic(faultTopic, 3)
	r := &faultRig{t: t, env: env, commit: map[string]int64{}, end: map[int32]int64{},
		prevEnd: map[int32]float64{}, prevLag: map[string]float64{}, prevSeen: map[string]float64{}, prevErrs: map[string]float64{}}
	if avoid >= 0 {
		for p := range int32(3) {
			if env.Cluster.LeaderFor(faultTopic, p) == avoid {
				if err := env.Cluster.MoveTopicPartition(faultTopic, p, (avoid+1+p%2)%3); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for p := range int32(3) {
		env.Produce(faultTopic, p, 10, time.Time{})
		r.end[p] = 10
	}
	perNode := map[int32]int{}
	for i := 0; len(r.groups) < 6; i++ {
		name := fmt.Sprintf("group-%02d", i)
		n := env.Cluster.CoordinatorFor(name)
		if perNode[n] == 2 {
			continue
		}
		perNode[n]++
		r.groups = append(r.groups, name)
		r.commit[name] = int64(1 + len(r.groups))
		env.Commit(name, faultTopic, map[int32]int64{0: r.commit[name], 1: r.commit[name], 2: r.commit[name]})
	}
	slices.Sort(r.groups)
	r.p = newPipeline(t, env, func(c *config.Config) { c.PollInterval = interval })
	if fresh, _ := r.step(); len(fresh) != len(r.groups) {
		t.Fatalf("healthy cluster: only %v fresh", fresh)
	}
	return r
}

// onNode returns the rig's groups coordinated by node.
func (r *faultRig) onNode(node int32) []string {
	var out []string
	for _, g := range r.groups {
		if r.env.Cluster.CoordinatorFor(g) == node {
			out = append(out, g)
		}
	}
	return out
}

// step produces one record to every partition (so that a fresh value and a
// kept one differ), runs one cycle, checks the invariants and returns the
// groups read fresh this cycle and the scrape.
func (r *faultRig) step() ([]string, kfaketest.Series) {
	r.t.Helper()
	for p := range int32(3) {
		r.env.Produce(faultTopic, p, 1, time.Time{})
		r.end[p]++
	}
	s := r.p.cycle()
	if s[kfaketest.Key("klagx_up", "cluster", "test")] != 1 {
		r.t.Fatalf("klagx_up = %v during a partial fault", s[kfaketest.Key("klagx_up", "cluster", "test")])
	}
	ready := httptest.NewRecorder()
	r.p.handler.ServeHTTP(ready, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if ready.Code != http.StatusOK {
		r.t.Errorf("/readyz during a partial fault: %d %s", ready.Code, ready.Body.String())
	}
	ends := map[int32]float64{}
	for p := range int32(3) {
		k := kfaketest.Key("klagx_partition_end_offset", "cluster", "test", "topic", faultTopic, "partition", strconv.Itoa(int(p)))
		got, ok := s[k]
		switch {
		case !ok:
			r.t.Errorf("%s missing", k)
		case got != float64(r.end[p]) && got != r.prevEnd[p]:
			r.t.Errorf("%s = %v: neither the true end %d nor the last good %v", k, got, r.end[p], r.prevEnd[p])
		}
		ends[p] = got
	}
	cycleAt := s[kfaketest.Key("klagx_last_poll_success_timestamp_seconds", "cluster", "test")]
	var fresh []string
	for _, grp := range r.groups {
		seen, ok := s[g("klagx_group_last_poll_success_timestamp_seconds", grp)]
		if !ok {
			r.t.Errorf("group %s has no values", grp)
			continue
		}
		lag := s[g("klagx_group_lag", grp)]
		errs := s[g("klagx_group_poll_errors_total", grp)]
		if seen == cycleAt {
			fresh = append(fresh, grp)
			var want float64
			for p := range int32(3) {
				pl := s[gp("klagx_group_partition_lag", grp, faultTopic, strconv.Itoa(int(p)))]
				if pl != ends[p]-float64(r.commit[grp]) {
					r.t.Errorf("%s/%d: lag %v with end %v and commit %d", grp, p, pl, ends[p], r.commit[grp])
				}
				want += pl
			}
			if lag != want {
				r.t.Errorf("%s: group lag %v, partitions sum to %v", grp, lag, want)
			}
			if errs != r.prevErrs[grp] {
				r.t.Errorf("%s read fresh but its error count moved %v → %v", grp, r.prevErrs[grp], errs)
			}
		} else {
			if seen != r.prevSeen[grp] || lag != r.prevLag[grp] {
				r.t.Errorf("%s kept: seen %v lag %v, want the last good %v, %v", grp, seen, lag, r.prevSeen[grp], r.prevLag[grp])
			}
			if errs != r.prevErrs[grp]+1 {
				r.t.Errorf("%s kept without counting an error: %v → %v", grp, r.prevErrs[grp], errs)
			}
		}
		for p := range int32(3) {
			k := gp("klagx_group_partition_committed_offset", grp, faultTopic, strconv.Itoa(int(p)))
			if s[k] != float64(r.commit[grp]) {
				r.t.Errorf("%s = %v, want %d", k, s[k], r.commit[grp])
			}
		}
		r.prevLag[grp], r.prevSeen[grp], r.prevErrs[grp] = lag, seen, errs
	}
	r.prevEnd = ends
	return fresh, s
}

// requireAllFresh checks that every group was read this cycle with exact
// values: the recovery after a fault.
func (r *faultRig) requireAllFresh(what string) {
	r.t.Helper()
	fresh, s := r.step()
	if len(fresh) != len(r.groups) {
		r.t.Fatalf("%s: only %v of %v fresh", what, fresh, r.groups)
	}
	for _, grp := range r.groups {
		want := float64(3 * (r.end[0] - r.commit[grp]))
		if got := s[g("klagx_group_lag", grp)]; got != want {
			r.t.Errorf("%s: %s lag %v, want %v", what, grp, got, want)
		}
	}
}

// TestFaultsOnOneCoordinator: a coordinator that stalls every request past
// the timeout, closes every connection mid-request, or answers a retriable
// error forever costs its own groups (kept, with their age and an error
// count) and nothing else; the cycle after the fault clears is fresh.
func TestFaultsOnOneCoordinator(t *testing.T) {
	groupKeys := []kmsg.Key{kmsg.DescribeGroups, kmsg.ConsumerGroupDescribe, kmsg.OffsetFetch}
	for _, tc := range []struct {
		name    string
		install func(c *kfake.Cluster, node int32) (clear func())
	}{
		{"stalled beyond the timeout", func(c *kfake.Cluster, node int32) func() {
			release := make(chan struct{})
			for _, k := range groupKeys {
				c.ControlKey(int16(k), func(kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					select {
					case <-release:
						c.DropControl()
						return nil, nil, false
					default:
					}
					if c.CurrentNode() == node {
						c.SleepControl(func() { <-release })
					}
					return nil, nil, false
				})
			}
			var once sync.Once
			return func() { once.Do(func() { close(release) }) }
		}},
		{"connections closed mid-request", func(c *kfake.Cluster, node int32) func() {
			var mu sync.Mutex
			on := true
			for _, k := range groupKeys {
				c.ControlKey(int16(k), func(kmsg.Request) (kmsg.Response, error, bool) {
					c.KeepControl()
					mu.Lock()
					defer mu.Unlock()
					if !on {
						c.DropControl()
						return nil, nil, false
					}
					if c.CurrentNode() == node {
						return nil, errors.New("connection closed by the test"), true
					}
					return nil, nil, false
				})
			}
			return func() { mu.Lock(); on = false; mu.Unlock() }
		}},
		{"retriable error forever", func(c *kfake.Cluster, node int32) func() {
			h := c.Fault(kfake.Fault{Keys: groupKeys, Nodes: []int32{node}, Err: kerr.CoordinatorLoadInProgress, Count: -1})
			return h.Remove
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noLeaks(t)
			const victim = int32(0)
			// 8s: four 2s request timeouts fit in one cycle.
			r := newFaultRig(t, 8*time.Second, victim)
			affected := r.onNode(victim)
			if len(affected) != 2 {
				t.Fatalf("groups on node %d: %v", victim, affected)
			}
			clear := tc.install(r.env.Cluster, victim)
			t.Cleanup(clear)
			for i := range 2 {
				fresh, s := r.step()
				for _, grp := range r.groups {
					if slices.Contains(affected, grp) == slices.Contains(fresh, grp) {
						t.Errorf("cycle %d: %s fresh=%v, on the faulted coordinator=%v", i, grp, slices.Contains(fresh, grp), slices.Contains(affected, grp))
					}
				}
				if s[kfaketest.Key("klagx_poll_errors_total", "cluster", "test", "stage", "offset_fetch")]+
					s[kfaketest.Key("klagx_poll_errors_total", "cluster", "test", "stage", "describe_groups")] == 0 {
					t.Errorf("cycle %d: no poll error counted", i)
				}
			}
			st := r.p.store.Load().Clusters[0]
			for _, grp := range affected {
				if e := groupOf(st, grp).Error; e == "" {
					t.Errorf("%s kept without an error in /status", grp)
				}
			}
			clear()
			r.requireAllFresh("first cycle after the fault cleared")
		})
	}
}

// noLeaks fails the test if, once everything it started is closed (its
// cleanups run before this one), a goroutine it started is still running.
// Call it first.
func noLeaks(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		// Closed connections and clients wind down on their own
		// goroutines: give them time on a loaded machine.
		deadline := time.Now().Add(20 * time.Second)
		for {
			err := goleak.Find(before)
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutines left after the test closed everything it started: %v", err)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

func groupOf(c *snapshot.Cluster, name string) snapshot.Group {
	for _, g := range c.Groups {
		if g.Name == name {
			return g
		}
	}
	return snapshot.Group{}
}

// TestFaultsOnBrokers: a broker removed and added back, coordinators moved
// and partition leaders shuffled. Every cycle shows exact or kept values
// with klagx_up 1, and the cycle after each change settles is fresh.
func TestFaultsOnBrokers(t *testing.T) {
	noLeaks(t)
	r := newFaultRig(t, 8*time.Second, -1)
	c := r.env.Cluster

	// Broker 1: kfake's controller (node 2) does not move when removed.
	if err := c.RemoveNode(1); err != nil {
		t.Fatal(err)
	}
	r.step()
	r.requireAllFresh("after broker 1 was removed")

	if _, _, err := c.AddNode(1, 0); err != nil {
		t.Fatal(err)
	}
	r.step()
	r.requireAllFresh("after broker 1 came back")

	c.RehashCoordinators()
	r.step()
	r.requireAllFresh("after the coordinators moved")

	c.ShufflePartitionLeaders()
	r.step()
	r.requireAllFresh("after the leaders were shuffled")
}

// TestAuthorizationErrorForOneGroup: a group the coordinator refuses
// (GROUP_AUTHORIZATION_FAILED) keeps its last values, with the reason, while
// the group next to it on the same coordinator stays fresh; after
// poller.StaleCycles intervals its values are dropped from /metrics rather
// than frozen, and they come back exact once the group is readable again.
func TestAuthorizationErrorForOneGroup(t *testing.T) {
	noLeaks(t)
	interval := time.Second
	r := newFaultRig(t, interval, -1)
	victim := r.groups[0]
	neighbour := ""
	for _, grp := range r.groups[1:] {
		if r.env.Cluster.CoordinatorFor(grp) == r.env.Cluster.CoordinatorFor(victim) {
			neighbour = grp
		}
	}
	// As for a principal allowed to list every group (Describe on the
	// cluster) but denied Describe on this one. (Without Describe on the
	// cluster, ListGroups hides the group, and it vanishes as if deleted.)
	h := r.env.Cluster.Fault(kfake.Fault{Group: victim, Err: kerr.GroupAuthorizationFailed, Count: -1,
		Keys: []kmsg.Key{kmsg.FindCoordinator, kmsg.DescribeGroups, kmsg.ConsumerGroupDescribe, kmsg.OffsetFetch}})
	t.Cleanup(h.Remove)

	fresh, _ := r.step()
	if slices.Contains(fresh, victim) || !slices.Contains(fresh, neighbour) {
		t.Fatalf("fresh %v: want %s kept and its coordinator neighbour %s fresh", fresh, victim, neighbour)
	}
	lastGood := r.prevSeen[victim]
	if e := groupOf(r.p.store.Load().Clusters[0], victim).Error; !strings.Contains(e, "GROUP_AUTHORIZATION_FAILED") {
		t.Errorf("/status error of %s = %q, want the authorization failure", victim, e)
	}

	// Keep failing until the kept values age out.
	var s kfaketest.Series
	kfaketest.WaitFor(t, 60*time.Second, "the victim's values to be dropped", func() bool {
		time.Sleep(interval / 2)
		s = r.p.cycle()
		_, has := s[g("klagx_group_lag", victim)]
		return !has
	})
	age := s[kfaketest.Key("klagx_last_poll_success_timestamp_seconds", "cluster", "test")] - lastGood
	if limit := (poller.StaleCycles * interval).Seconds(); age <= limit {
		t.Errorf("values dropped %.1fs after the last success, before the %.0fs staleness limit", age, limit)
	}
	expect(t, s, map[string]float64{
		kfaketest.Key("klagx_group_status", "cluster", "test", "group", victim, "status", "unknown"): 1,
		g("klagx_group_lag", neighbour): float64(3 * (r.end[0] - r.commit[neighbour])),
	})
	if s[g("klagx_group_poll_errors_total", victim)] < poller.StaleCycles {
		t.Errorf("errors counted for %s: %v", victim, s[g("klagx_group_poll_errors_total", victim)])
	}
	absent(t, s, gp("klagx_group_partition_lag", victim, faultTopic, "0"), g("klagx_group_last_poll_success_timestamp_seconds", victim))

	h.Remove()
	s = r.p.cycle()
	expect(t, s, map[string]float64{g("klagx_group_lag", victim): float64(3 * (r.end[0] - r.commit[victim]))})
}

// TestStalledClusterCyclesNeverOverlap runs the real scheduler against a
// cluster whose every OffsetFetch stalls forever: each cycle ends at its
// deadline, the next starts after it (the cycles' durations never add up to
// more than the time that passed), and once stopped nothing is left running.
func TestStalledClusterCyclesNeverOverlap(t *testing.T) {
	noLeaks(t)
	env := kfaketest.New(t, 3)
	env.CreateTopic("t", 3)
	env.Produce("t", 0, 5, time.Time{})
	env.Commit("stuck", "t", map[int32]int64{0: 1})
	release := make(chan struct{})
	var once sync.Once
	unstall := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unstall)
	env.Cluster.ControlKey(int16(kmsg.OffsetFetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		env.Cluster.KeepControl()
		env.Cluster.SleepControl(func() { <-release })
		return nil, nil, false
	})

	cfg := env.Config(func(c *config.Config) { c.PollInterval = time.Second })
	store := snapshot.NewStore("test")
	p, err := poller.New(cfg, cfg.Clusters[0], store, kfaketest.Logger(t, slog.LevelError))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); p.Run(ctx) }()
	kfaketest.WaitFor(t, 60*time.Second, "6 stalled cycles", func() bool {
		return store.Load().Clusters[0].PollDuration.Count >= 6
	})
	cancel()
	<-done
	elapsed := time.Since(start).Seconds()
	p.Close()
	hist := store.Load().Clusters[0].PollDuration
	if hist.Sum > elapsed {
		t.Errorf("%d cycles took %.2fs in all within %.2fs: cycles overlapped", hist.Count, hist.Sum, elapsed)
	}
	if hist.Sum < float64(hist.Count-1)*0.9 {
		t.Errorf("%d cycles took only %.2fs: the stall did not reach the deadline", hist.Count, hist.Sum)
	}
	unstall()
}

// TestClusterDownAtStartThenUp: the process serves klagx_up 0 and an
// unready /readyz that says why, logs one line per backoff step, and turns
// ready once the cluster appears on its address.
func TestClusterDownAtStartThenUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	interval := 4 * time.Second
	cfg := kfaketest.Config(config.DefaultCluster("late", addr), interval)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs kfaketest.SyncBuffer
	base, _ := runServer(t, cfg, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})

	code, body := get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "late") {
		t.Fatalf("/readyz before any cycle: %d %q", code, body)
	}
	s := kfaketest.Parse(t, []byte(mustGet(t, base+"/metrics")))
	expect(t, s, map[string]float64{kfaketest.Key("klagx_up", "cluster", "late"): 0})

	kfaketest.WaitFor(t, 60*time.Second, "three failed attempts logged", func() bool {
		return strings.Count(logs.String(), "cluster unreachable") >= 3
	})
	var lines []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "cluster unreachable") {
			lines = append(lines, line)
		}
	}
	for i, want := range []string{"attempt=1 ", "attempt=2 ", "attempt=3 "} {
		if !strings.Contains(lines[i], want) || !strings.Contains(lines[i], "retry_in="+poller.RetryBackoff(i+1, interval).String()) ||
			!strings.Contains(lines[i], "not ready until a poll cycle succeeds") || !strings.Contains(lines[i], addr) {
			t.Errorf("log line %d: %s", i, lines[i])
		}
	}
	code, body = get(t, base+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "last error") {
		t.Errorf("/readyz while down: %d %q", code, body)
	}
	s = kfaketest.Parse(t, []byte(mustGet(t, base+"/metrics")))
	expect(t, s, map[string]float64{kfaketest.Key("klagx_up", "cluster", "late"): 0})

	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatalf("kfake on port %d, which this test reserved and released: %v", port, err)
	}
	t.Cleanup(c.Close)
	appeared := time.Now()
	kfaketest.WaitFor(t, 3*interval+collector.RequestTimeout(interval), "/readyz to turn ready", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusOK
	})
	t.Logf("ready %.1fs after the cluster appeared (poll interval %s)", time.Since(appeared).Seconds(), interval)
	s = kfaketest.Parse(t, []byte(mustGet(t, base+"/metrics")))
	expect(t, s, map[string]float64{kfaketest.Key("klagx_up", "cluster", "late"): 1})
	if !strings.Contains(logs.String(), "cluster reachable again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

func mustGet(t *testing.T, url string) string {
	t.Helper()
	code, body := get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	return body
}
