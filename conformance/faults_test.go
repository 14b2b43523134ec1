package conformance

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/internal/realkafka"
	"github.com/klagx/klagx/report"
)

// The fault scenarios break real broker processes of a cluster of their
// own: kill -9 of a group's coordinator and of a partition leader, SIGSTOP
// of a broker for longer than klagx's request timeout, and a rolling
// restart of all three. After every step they check what the kfake fault
// tests (server/faults_test.go) check: klagx stays up and ready, and each
// group's value is either fresh and exact, or the last good one, kept with
// an error and a counted poll error; once the fault heals, every group is
// fresh and exact again.

const faultTopic = "fault-t"

// faultInterval is klagx's poll interval here, as in the kfake fault
// tests: four times collector.RequestTimeout (2 s), so that stalled
// requests cannot use up a cycle's deadline, and five of them (the
// poller.StaleCycles a kept value lives) outlast Kafka's failover (the
// 20 s broker session timeout below).
const faultInterval = 8 * time.Second

type faultRig struct {
	t      *testing.T
	c      *realkafka.Cluster
	e      *kfaketest.Env
	k      *klagx
	groups []string
	commit map[string]int64
	end    map[int32]int64 // true high-water marks
	// good is each group's lag in the last step where klagx read it fresh.
	good map[string]int64
	// down is the broker broken by the current fault, 0 for none.
	down int32
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	// The controller fences a broker that stopped heartbeating after 20 s:
	// until then it stays a partition leader and group coordinator in the
	// metadata, so klagx meets the dead or hung process for a cycle or two
	// before Kafka fails over. Followers leave the ISR after 3 s, so that
	// acks=all produces to the other leaders go on meanwhile.
	c := realkafka.StartT(t, realkafka.Options{ServerProps: map[string]string{
		"broker.session.timeout.ms": "20000", "replica.lag.time.max.ms": "3000",
	}})
	r := &faultRig{t: t, c: c, e: env(t, c), commit: map[string]int64{}, end: map[int32]int64{}, good: map[string]int64{}}
	createTopic(t, r.e, faultTopic, 3, 3, nil)
	for p := range int32(3) {
		r.e.Produce(faultTopic, p, 10, time.Time{})
		r.end[p] = 10
	}
	// Two groups per coordinator, each committed at its own offset.
	perNode := map[int32]int{}
	for i := 0; len(r.groups) < 6 && i < 200; i++ {
		name := fmt.Sprintf("fault-group-%02d", i)
		n := r.coordinator(name)
		if perNode[n] == 2 {
			continue
		}
		perNode[n]++
		r.groups = append(r.groups, name)
		r.commit[name] = int64(1 + len(r.groups))
		r.e.Commit(name, faultTopic, map[int32]int64{0: r.commit[name], 1: r.commit[name], 2: r.commit[name]})
	}
	slices.Sort(r.groups)
	r.k = startKlagx(t, c, "--group.include=fault-.*", fmt.Sprintf("--poll-interval=%v", faultInterval))
	r.heal("healthy cluster")
	return r
}

func (r *faultRig) coordinator(group string) int32 {
	r.t.Helper()
	for range 50 {
		res := r.e.Admin.FindGroupCoordinators(ctx(r.t, 5*time.Second), group)
		if c, ok := res[group]; ok && c.Err == nil {
			return c.NodeID
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("no coordinator for %s", group)
	return -1
}

// leader is partition's leader in Kafka's metadata (retried: a request can
// hit a stopped broker).
func (r *faultRig) leader(partition int32) int32 {
	r.t.Helper()
	leader := int32(-1)
	waitFor(r.t, time.Minute, "metadata", func() (bool, string) {
		md, err := r.e.Admin.Metadata(ctx(r.t, 5*time.Second), faultTopic)
		if err != nil {
			return false, err.Error()
		}
		leader = md.Topics[faultTopic].Partitions[partition].Leader
		return true, ""
	})
	return leader
}

func (r *faultRig) trueLag(group string) int64 {
	var lag int64
	for p := range int32(3) {
		lag += r.end[p] - r.commit[group]
	}
	return lag
}

// produce writes one record to every partition whose leader is not the
// broken broker, so that a fresh value and a kept one differ, and waits
// until Kafka's high-water marks show it.
func (r *faultRig) produce() {
	r.t.Helper()
	var live []int32
	for p := range int32(3) {
		if r.down == 0 || r.leader(p) != r.down {
			live = append(live, p)
		}
	}
	for _, p := range live {
		if err := r.e.Client.ProduceSync(ctx(r.t, 60*time.Second), &kgo.Record{Topic: faultTopic, Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
			r.t.Fatalf("produce %s/%d: %v", faultTopic, p, err)
		}
		r.end[p]++
	}
	waitFor(r.t, 60*time.Second, "Kafka's high-water marks", func() (bool, string) {
		// The partitions led by the broken broker fail; the others answer.
		ends, _ := r.e.Admin.ListEndOffsets(ctx(r.t, 5*time.Second), faultTopic)
		for _, p := range live {
			if o, _ := ends.Lookup(faultTopic, p); o.Err != nil || o.Offset != r.end[p] {
				return false, fmt.Sprintf("partition %d at %d (%v), want %d", p, o.Offset, o.Err, r.end[p])
			}
		}
		return true, ""
	})
}

// nextCycle waits until klagx has completed a cycle that started after now
// (the second cycle to end after it) and returns its report.
func (r *faultRig) nextCycle() report.Report {
	r.t.Helper()
	var first time.Time
	var rep report.Report
	for i := range 2 {
		since := time.Now()
		if i == 1 {
			since = first
		}
		waitFor(r.t, 3*faultInterval+30*time.Second, "a klagx cycle", func() (bool, string) {
			rep = r.k.status()
			cl := rep.Clusters[0]
			if !cl.Up {
				r.t.Fatalf("klagx_up 0 during a partial fault: %s", cl.Error)
			}
			return cl.LastSuccess != nil && cl.LastSuccess.After(since), "no new cycle"
		})
		first = *rep.Clusters[0].LastSuccess
	}
	return rep
}

// step produces, waits for a cycle that read after it, and checks every
// group: fresh and exact, or kept (the last good lag) with an error and a
// counted poll error. It returns the groups read fresh.
func (r *faultRig) step(what string) []string {
	r.t.Helper()
	r.produce()
	return r.observe(what)
}

// observe is step without producing: for a hung broker, whose followers
// keep acks=all produces waiting until they leave the ISR.
func (r *faultRig) observe(what string) []string {
	r.t.Helper()
	rep := r.nextCycle()
	if code, body := r.k.get("/readyz"); code != http.StatusOK {
		r.t.Errorf("%s: /readyz %d %s", what, code, body)
	}
	s := r.k.metrics()
	var fresh []string
	var line []string
	for _, name := range r.groups {
		var g *report.Group
		for i := range rep.Clusters[0].Groups {
			if rep.Clusters[0].Groups[i].Name == name {
				g = &rep.Clusters[0].Groups[i]
			}
		}
		switch {
		case g == nil:
			r.t.Errorf("%s: group %s missing", what, name)
		case g.Error == "" && g.Lag == r.trueLag(name):
			fresh = append(fresh, name)
			r.good[name] = g.Lag
			line = append(line, fmt.Sprintf("%s fresh %d", name, g.Lag))
		case g.Error == "":
			r.t.Errorf("%s: %s lag %d without an error, true lag %d", what, name, g.Lag, r.trueLag(name))
		case g.Lag != r.good[name]:
			r.t.Errorf("%s: %s kept with error %q but lag %d, last good %d", what, name, g.Error, g.Lag, r.good[name])
		case s[kfaketest.Key("klagx_group_poll_errors_total", "cluster", "real", "group", name)] == 0:
			r.t.Errorf("%s: %s kept with error %q but no poll error counted", what, name, g.Error)
		default:
			age := rep.Clusters[0].LastSuccess.Sub(g.ObservedAt).Round(time.Second)
			line = append(line, fmt.Sprintf("%s kept %d (age %v, %s)", name, g.Lag, age, firstWords(g.Error)))
		}
	}
	r.t.Logf("%s (cycle at %s): %s", what, rep.Clusters[0].LastSuccess.Format("15:04:05"), strings.Join(line, "; "))
	return fresh
}

func firstWords(s string) string {
	if i := strings.IndexAny(s, ":"); i > 0 {
		return s[:i]
	}
	return s
}

// heal steps until every group is read fresh and exact.
func (r *faultRig) heal(what string) {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for len(r.step(what)) != len(r.groups) {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: groups not all fresh after 2 minutes", what)
		}
	}
}

// TestFaultsOnRealBrokers runs the faults one after the other on one
// cluster (a cluster start costs ~20 s).
func TestFaultsOnRealBrokers(t *testing.T) {
	r := newFaultRig(t)

	// kill -9 of the coordinator of the first group.
	victim := r.c.Broker(r.coordinator(r.groups[0]))
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	r.down = victim.ID()
	killed := time.Now()
	t.Logf("broker %d killed at %s", victim.ID(), killed.Format("15:04:05"))
	r.step(fmt.Sprintf("coordinator %d killed", victim.ID()))
	r.heal(fmt.Sprintf("coordinator %d killed %v ago", victim.ID(), time.Since(killed).Round(time.Second)))
	if err := victim.Restart(ctx(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r.down = 0
	r.heal(fmt.Sprintf("broker %d back", victim.ID()))

	// kill -9 of the leader of partition 0.
	victim = r.c.Broker(r.leader(0))
	if err := victim.Kill(); err != nil {
		t.Fatal(err)
	}
	r.down = victim.ID()
	killed = time.Now()
	r.step(fmt.Sprintf("leader %d of partition 0 killed", victim.ID()))
	r.heal(fmt.Sprintf("leader %d of partition 0 killed %v ago", victim.ID(), time.Since(killed).Round(time.Second)))
	if err := victim.Restart(ctx(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r.down = 0
	r.heal(fmt.Sprintf("broker %d back", victim.ID()))

	// SIGSTOP for longer than klagx's request timeout (2 s): requests to
	// the broker hang until Kafka fences it (20 s) and fails over. Then
	// SIGCONT.
	victim = r.c.Broker(r.coordinator(r.groups[0]))
	if err := victim.Stop(); err != nil {
		t.Fatal(err)
	}
	r.down = victim.ID()
	stopped := time.Now()
	r.observe(fmt.Sprintf("broker %d stopped", victim.ID()))
	r.observe(fmt.Sprintf("broker %d stopped %v ago", victim.ID(), time.Since(stopped).Round(time.Second)))
	if err := victim.Cont(); err != nil {
		t.Fatal(err)
	}
	r.down = 0
	r.heal(fmt.Sprintf("broker %d continued after %v", victim.ID(), time.Since(stopped).Round(time.Second)))

	// Rolling restart: each broker stopped (SIGTERM, controlled shutdown)
	// and started again, one after the other.
	for _, b := range r.c.Brokers() {
		if err := b.Restart(ctx(t, 2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		r.step(fmt.Sprintf("rolling restart: broker %d restarted", b.ID()))
	}
	r.heal("rolling restart done")
}
