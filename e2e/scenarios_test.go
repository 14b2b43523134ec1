package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/report"
)

// pyConsumer is a python3-kafka group consumer that commits every message
// after sleeping, so its speed is known.
const pyConsumer = `import sys, time
from kafka import KafkaConsumer
c = KafkaConsumer(sys.argv[2], bootstrap_servers=sys.argv[1].split(','), group_id=sys.argv[3],
                  auto_offset_reset='earliest', enable_auto_commit=False, session_timeout_ms=6000,
                  heartbeat_interval_ms=500, max_poll_records=1, api_version=(2, 5, 0))
for msg in c:
    time.sleep(float(sys.argv[4]))
    c.commit()
`

// producer writes uncompressed records (python3-kafka has no snappy here)
// and remembers each record's timestamp: the truth for time lag.
type producer struct {
	cl *kgo.Client
	mu sync.Mutex
	ts map[string][]time.Time // topic → timestamps of partition 0, by offset
}

func newProducer(t *testing.T, brokers []string) *producer {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &producer{cl: cl, ts: map[string][]time.Time{}}
}

// produce writes n records to topic/partition now, synchronously.
func (p *producer) produce(t *testing.T, topic string, partition int32, n int) {
	now := time.Now().Truncate(time.Millisecond)
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: []byte("e2e"), Timestamp: now}
	}
	if err := p.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Errorf("produce %s: %v", topic, err)
		return
	}
	if partition == 0 {
		p.mu.Lock()
		for range n {
			p.ts[topic] = append(p.ts[topic], now)
		}
		p.mu.Unlock()
	}
}

func (p *producer) timestamp(topic string, offset int64) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := p.ts[topic]
	if offset < 0 || offset >= int64(len(ts)) {
		return time.Time{}, false
	}
	return ts[offset], true
}

// klagxStatus reads one group from klagx's /status.
func klagxStatus(t *testing.T, addr, group string) (report.Group, bool) {
	resp, err := http.Get("http://" + addr + "/status?group=" + group)
	if err != nil {
		return report.Group{}, false
	}
	defer resp.Body.Close()
	var r report.Report
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Clusters) == 0 || len(r.Clusters[0].Groups) == 0 {
		return report.Group{}, false
	}
	return r.Clusters[0].Groups[0], true
}

// abandonedGroup is a group emptied before Prometheus started.
const abandonedGroup = "console-consumer-4242"

// Share groups of the run: one consuming all along, one stopped.
const (
	shareRunning = "jobs-share"
	shareStopped = "jobs-stopped"
)

func TestEndToEnd(t *testing.T) {
	kcat := tool(t, "kcat")
	python := tool(t, "python3")
	// Not "import kafka": run from e2e/, that imports the directory
	// e2e/kafka (the real-Kafka Maven project) as a namespace package.
	const probe = "from kafka import KafkaConsumer"
	if out, err := exec.Command(python, "-c", probe).CombinedOutput(); err != nil {
		if strings.Contains(t.Name(), "") && (strings.Contains(string(out), "No module") || err != nil) {
			python = "/usr/bin/python3" // Debian's python3-kafka lives with Debian's python
			if out, err := exec.Command(python, "-c", probe).CombinedOutput(); err != nil {
				t.Fatalf("python3-kafka is required (apt-get install python3-kafka): %v %s", err, out)
			}
		}
	}
	started := time.Now()
	env := kfaketest.New(t, 3)
	for topic, parts := range map[string]int32{"orders": 4, "idle": 1, "slow": 1, "stop": 2, "storm": 4, "retention": 1, "abandoned": 1, "jobs": 1} {
		env.CreateTopic(topic, parts)
	}
	brokers := env.Addrs()
	prod := newProducer(t, brokers)

	// The idle topic: ten records, a member that consumed them all, then
	// nothing for the whole run.
	prod.produce(t, "idle", 0, 10)
	idle := env.Consumer("idle-group", []string{"idle"})
	env.ConsumeAndCommit(idle, 10)

	// An abandoned group, as kafka-console-consumer.sh leaves them: a
	// member consumed and committed 5 records and left, and 5 more were
	// written since. It was emptied before Prometheus started, so in
	// Prometheus's history it never had members.
	prod.produce(t, "abandoned", 0, 5)
	console := env.Consumer(abandonedGroup, []string{"abandoned"})
	env.ConsumeAndCommit(console, 5)
	console.Close() // LeaveGroup: empty at once
	waitFor(t, 30*time.Second, "the console consumer's group to be empty", func() bool {
		gi := env.Cluster.GroupInfo(abandonedGroup)
		return gi != nil && len(gi.Members) == 0
	})
	prod.produce(t, "abandoned", 0, 5)

	// Share groups (KIP-932) on the jobs topic: one that acknowledged 5
	// records and left with 5 more waiting (stopped), and one that keeps
	// consuming (below).
	prod.produce(t, "jobs", 0, 5)
	env.ShareConsume(shareStopped, "jobs", 5).Close()
	prod.produce(t, "jobs", 0, 5)
	jobs := env.ShareConsume(shareRunning, "jobs", 10)

	// Steady traffic for the healthy, slow and stopping groups.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			<-tick.C
			prod.produce(t, "orders", int32(time.Now().UnixMilli()%4), 2)
			prod.produce(t, "slow", 0, 1)
			prod.produce(t, "stop", int32(time.Now().UnixMilli()%2), 1)
			prod.produce(t, "jobs", 0, 1)
		}
	}()
	go func() {
		for ctx.Err() == nil {
			jobs.PollFetches(ctx) // the next poll accepts these records
		}
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	healthy := env.Consumer("healthy", []string{"orders"}, kgo.AutoCommitInterval(200*time.Millisecond))
	_ = healthy
	go func() {
		for ctx.Err() == nil {
			healthy.PollFetches(ctx)
			healthy.CommitUncommittedOffsets(ctx)
		}
	}()

	s := newStack(t, brokers)

	t.Run("healthy group: no alert, check exits 0", func(t *testing.T) {
		waitFor(t, 60*time.Second, "the healthy group to be ok", func() bool {
			g, ok := klagxStatus(t, s.klagxAddr, "healthy")
			return ok && g.Status == "ok" && g.Members == 1
		})
		code, out := runCheck(t, brokers, "--group", "healthy", "--window=2s", "--warn-lag-seconds=5s", "--crit-lag-seconds=8s")
		if code != 0 {
			t.Fatalf("klagx check exited %d:\n%s", code, out)
		}
	})

	t.Run("kcat group stops: pages, check 2, resolves after restart", func(t *testing.T) {
		kargs := []string{"-b", strings.Join(brokers, ","), "-G", "stop-group", "-q", "-X", "session.timeout.ms=6000",
			"-X", "heartbeat.interval.ms=500", "-X", "auto.commit.interval.ms=200", "-o", "beginning", "stop"}
		k := start(t, "kcat-1", kcat, kargs...)
		waitFor(t, 60*time.Second, "kcat to consume and commit", func() bool {
			g, ok := klagxStatus(t, s.klagxAddr, "stop-group")
			return ok && g.Members == 1 && g.Status == "ok"
		})
		k.stop(syscall.SIGKILL) // killed: no LeaveGroup, removed after the session timeout
		waitFor(t, 90*time.Second, "KlagxGroupStopped to page through Alertmanager", func() bool {
			_, _, ok := s.webhook.alert("firing", "KlagxGroupStopped", map[string]string{"group": "stop-group"})
			return ok
		})
		labels, ann, _ := s.webhook.alert("firing", "KlagxGroupStopped", map[string]string{"group": "stop-group"})
		if labels["severity"] != "critical" || labels["cluster"] != "e2e" || !strings.HasSuffix(ann["runbook_url"], "runbooks.md#klagxgroupstopped") {
			t.Errorf("notification labels %v annotations %v", labels, ann)
		}
		if code, out := runCheck(t, brokers, "--group", "stop-group", "--window=0"); code != 2 {
			t.Errorf("klagx check exited %d, want 2:\n%s", code, out)
		}
		start(t, "kcat-2", kcat, kargs...)
		waitFor(t, 90*time.Second, "the resolved notification", func() bool {
			_, _, ok := s.webhook.alert("resolved", "KlagxGroupStopped", map[string]string{"group": "stop-group"})
			return ok
		})
	})

	// Runs after the kcat group paged KlagxGroupStopped: the rule works,
	// and the abandoned group has been stopped far longer than its for:.
	t.Run("abandoned group: stopped on dashboards and in check, raises no alert", func(t *testing.T) {
		waitFor(t, 30*time.Second, "klagx to call the abandoned group stopped", func() bool {
			g, ok := klagxStatus(t, s.klagxAddr, abandonedGroup)
			return ok && g.Status == "stopped" && g.Members == 0 && g.Lag == 5
		})
		if v, ok := s.queryScalar(fmt.Sprintf(`klagx_group_status{job="klagx",group=%q,status="stopped"}`, abandonedGroup)); !ok || v != 1 {
			t.Errorf("Prometheus: klagx_group_status stopped = %v (found %v), want 1", v, ok)
		}
		if code, out := runCheck(t, brokers, "--group", abandonedGroup, "--window=0"); code != 2 {
			t.Errorf("klagx check exited %d, want 2 (stopped):\n%s", code, out)
		}
		// No alert (KlagxGroupStopped, nor KlagxGroupLagCritical for its
		// growing time lag) pending or firing over the whole run.
		r, err := s.query(fmt.Sprintf(`count_over_time(ALERTS{group=%q}[1h])`, abandonedGroup))
		if err != nil || len(r) > 0 {
			t.Errorf("alerts pending or firing for the abandoned group: %v %v", r, err)
		}
		if got := s.webhook.anyFor(abandonedGroup); len(got) > 0 {
			t.Errorf("notifications for the abandoned group: %v", got)
		}
	})

	t.Run("share groups: running one ok, abandoned stopped one raises no alert", func(t *testing.T) {
		waitFor(t, 30*time.Second, "Prometheus to have both share groups", func() bool {
			ok1, _ := s.queryScalar(fmt.Sprintf(`klagx_share_group_status{job="klagx",group=%q,status="ok"}`, shareRunning))
			ok2, _ := s.queryScalar(fmt.Sprintf(`klagx_share_group_status{job="klagx",group=%q,status="stopped"}`, shareStopped))
			return ok1 == 1 && ok2 == 1
		})
		if v, ok := s.queryScalar(fmt.Sprintf(`klagx_share_group_members{job="klagx",group=%q}`, shareRunning)); !ok || v != 1 {
			t.Errorf("klagx_share_group_members of %s = %v (found %v), want 1", shareRunning, v, ok)
		}
		// It acknowledged the first 5 records; everything after waits.
		if v, ok := s.queryScalar(fmt.Sprintf(`klagx_share_group_partition_start_offset{job="klagx",group=%q}`, shareStopped)); !ok || v != 5 {
			t.Errorf("start offset of %s = %v (found %v), want 5", shareStopped, v, ok)
		}
		q := fmt.Sprintf(`klagx_share_group_lag{job="klagx",group=%[1]q} - on () (klagx_partition_end_offset{job="klagx",topic="jobs"} - on () klagx_share_group_partition_start_offset{job="klagx",group=%[1]q})`, shareStopped)
		if v, ok := s.queryScalar(q); !ok || v != 0 {
			t.Errorf("lag of %s minus (end - start offset) = %v (found %v), want 0", shareStopped, v, ok)
		}
		if r, err := s.query(fmt.Sprintf(`count_over_time(ALERTS{group=%q}[1h])`, shareStopped)); err != nil || len(r) > 0 {
			t.Errorf("alerts pending or firing for the abandoned share group: %v %v", r, err)
		}
	})

	t.Run("slow python consumer: time lag true within bound, lag alert fires", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "consumer.py")
		writeFile(t, script, pyConsumer)
		start(t, "python-consumer", python, script, strings.Join(brokers, ","), "slow", "py-slow", "0.5")
		var checked int
		var worst float64
		seen := map[time.Time]bool{}
		compareUntil := time.Now().Add(8 * time.Second)
		waitFor(t, 120*time.Second, "eight seconds of comparisons and a time lag past the critical threshold", func() bool {
			g, ok := klagxStatus(t, s.klagxAddr, "py-slow")
			if !ok || g.LagSeconds == nil || len(g.Topics) == 0 || len(g.Topics[0].Partitions) == 0 {
				return false
			}
			p := g.Topics[0].Partitions[0]
			if p.Committed != nil && p.LagSeconds != nil && p.Lag > 0 {
				if ts, ok := prod.timestamp("slow", *p.Committed); ok {
					truth := g.ObservedAt.Sub(ts).Seconds()
					bound := math.Max(0.05*truth, 1.0) + 0.01
					if math.Abs(*p.LagSeconds-truth) > bound {
						t.Errorf("time lag %.2fs (%s), truth %.2fs: error above %.2fs", *p.LagSeconds, p.TimeLagMethod, truth, bound)
					}
					if !seen[g.ObservedAt] {
						seen[g.ObservedAt] = true
						checked++
						worst = math.Max(worst, math.Abs(*p.LagSeconds-truth))
					}
				}
			}
			return *g.LagSeconds > 10 && time.Now().After(compareUntil)
		})
		if checked == 0 {
			t.Fatal("no time-lag value was compared with the truth")
		}
		waitFor(t, 60*time.Second, "KlagxGroupLagCritical to fire", func() bool {
			_, _, ok := s.webhook.alert("firing", "KlagxGroupLagCritical", map[string]string{"group": "py-slow"})
			return ok
		})
		t.Logf("time lag compared with the producer's truth in %d cycles; largest error %.3fs", checked, worst)
	})

	t.Run("rebalance storm: count matches the true generation, alert fires", func(t *testing.T) {
		join := func() *kgo.Client {
			return env.Consumer("stormy", []string{"storm"}, kgo.Balancers(kgo.RangeBalancer()),
				kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
		}
		settled := func(n int) int32 {
			var gen int32
			waitFor(t, 60*time.Second, fmt.Sprintf("stormy settled with %d members", n), func() bool {
				gi := env.Cluster.GroupInfo("stormy")
				if gi == nil || gi.State != "Stable" || len(gi.Members) != n || gi.NumAssigned() != 4 {
					return false
				}
				gen = gi.Epoch
				return true
			})
			return gen
		}
		promCount := func(want float64) {
			var last float64
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				v, ok := s.queryScalar(`klagx_group_rebalances_total{job="klagx",group="stormy"}`)
				if ok && v == want {
					return
				}
				last = v
				time.Sleep(250 * time.Millisecond)
			}
			for _, l := range strings.Split(s.klagx.out.String(), "\n") {
				if strings.Contains(l, "group=stormy") {
					t.Log(l)
				}
			}
			t.Fatalf("Prometheus counts %v rebalances, want %v (true generations)", last, want)
		}
		// Two members first: once a member has rejoined, the join
		// metadata carries generations and every count is exact (a lone
		// new member carries none; see docs/rebalances.md).
		join()
		settled(1)
		join()
		gen0 := settled(2)
		time.Sleep(2 * time.Second) // let klagx and Prometheus see the settled group
		base, _ := s.queryScalar(`klagx_group_rebalances_total{job="klagx",group="stormy"}`)
		var extra []*kgo.Client
		for i := 0; i < 4; i++ {
			extra = append(extra, join())
			settled(3)
			extra[len(extra)-1].Close()
			settled(2)
		}
		gen1 := settled(2)
		want := base + float64(gen1-gen0)
		promCount(want)
		waitFor(t, 60*time.Second, "KlagxGroupRebalanceStorm to fire", func() bool {
			_, _, ok := s.webhook.alert("firing", "KlagxGroupRebalanceStorm", map[string]string{"group": "stormy"})
			return ok
		})
		t.Logf("storm: %d true generations, Prometheus counted %v", gen1-gen0, want-base)
	})

	t.Run("retention overtakes a group: lost counted, alert fires", func(t *testing.T) {
		// A member consumes and commits 5 and leaves once Prometheus has
		// seen it: a group that stopped recently, which still alerts (one
		// that never had members would be abandoned).
		prod.produce(t, "retention", 0, 50)
		archiver := env.Consumer("archiver", []string{"retention"})
		env.ConsumeAndCommit(archiver, 5)
		waitFor(t, 30*time.Second, "Prometheus to see the archiver's member", func() bool {
			v, ok := s.queryScalar(`max_over_time(klagx_group_members{job="klagx",group="archiver"}[1m])`)
			return ok && v == 1
		})
		archiver.Close()
		waitFor(t, 30*time.Second, "klagx to see the archiver group", func() bool {
			g, ok := klagxStatus(t, s.klagxAddr, "archiver")
			return ok && g.Lag == 45
		})
		resp, err := env.Admin.DeleteRecords(context.Background(), kadm.Offsets{"retention": {0: {Topic: "retention", Partition: 0, At: 30}}})
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "Prometheus to count 25 lost messages", func() bool {
			v, ok := s.queryScalar(`klagx_group_messages_lost_total{job="klagx",group="archiver"}`)
			return ok && v == 25
		})
		waitFor(t, 60*time.Second, "KlagxGroupMessagesLost to fire", func() bool {
			_, _, ok := s.webhook.alert("firing", "KlagxGroupMessagesLost", map[string]string{"group": "archiver"})
			return ok
		})
	})

	t.Run("every dashboard panel query returns data", func(t *testing.T) {
		dashboardQueries(t, s, started)
	})

	t.Run("idle topic and abandoned group never alerted", func(t *testing.T) {
		if got := s.webhook.anyFor("idle-group"); len(got) > 0 {
			t.Fatalf("notifications for the idle group: %v", got)
		}
		if got := s.webhook.anyFor(abandonedGroup); len(got) > 0 {
			t.Fatalf("notifications for the abandoned group: %v", got)
		}
		if got := s.webhook.anyFor("healthy"); len(got) > 0 {
			t.Fatalf("notifications for the healthy group: %v", got)
		}
		r, err := s.query(`ALERTS{group=~"idle-group|healthy|` + abandonedGroup + `"}`)
		if err != nil || len(r) > 0 {
			t.Fatalf("alerts pending or firing for idle/healthy/abandoned groups: %v %v", r, err)
		}
	})
	names := map[string]bool{}
	s.webhook.mu.Lock()
	for _, n := range s.webhook.msgs {
		for _, a := range n.Alerts {
			names[a.Labels["alertname"]+"/"+a.Status] = true
		}
	}
	s.webhook.mu.Unlock()
	var list []string
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	t.Logf("end-to-end run took %s; notifications received: %v", time.Since(started).Round(time.Second), list)
}
