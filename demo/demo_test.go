package demo

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/metrics"
)

// waitFor polls cond every 100ms until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	kfaketest.WaitFor(t, timeout, what, cond)
}

type sample struct {
	at         time.Time
	lag, end   int64
	committed  int64
	hasCommits bool
}

// lagOf computes a group's lag on topic from its committed offsets and the
// topic's end offsets; partitions without a commit count from offset 0.
func lagOf(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string) (sample, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Logf("fetch offsets %s: %v", group, err)
		return sample{}, false
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Logf("list end offsets %s: %v %v", topic, err, ends.Error())
		return sample{}, false
	}
	s := sample{at: time.Now()}
	ends.Each(func(o kadm.ListedOffset) {
		s.end += o.Offset
		c, ok := offs.Lookup(topic, o.Partition)
		if ok && c.Err == nil && c.At >= 0 {
			s.hasCommits = true
			s.committed += c.At
			s.lag += max(0, o.Offset-c.At)
		} else {
			s.lag += o.Offset
		}
	})
	return s, true
}

func describe(ctx context.Context, t *testing.T, adm *kadm.Client, group string) (kadm.DescribedGroup, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Logf("describe %s: %v", group, err)
		return kadm.DescribedGroup{}, false
	}
	d, ok := ds[group]
	if !ok || d.Err != nil {
		return kadm.DescribedGroup{}, false
	}
	return d, true
}

func TestDemo(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx := t.Context()

	e, err := Start(ctx, Options{
		Logger:         slog.New(slog.DiscardHandler),
		RebalanceEvery: 2 * time.Second,
		Warmup:         3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			e.Close()
		}
	})

	if bs := e.Brokers(); len(bs) != 3 {
		t.Fatalf("brokers = %v, want 3", bs)
	} else {
		for _, b := range bs {
			if !strings.HasPrefix(b, "127.0.0.1:") || strings.HasSuffix(b, ":0") {
				t.Fatalf("broker address %q is not 127.0.0.1:<port>", b)
			}
		}
	}
	startEpoch := e.Cluster().GroupInfo(GroupInventorySync).Epoch

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	defer adm.Close()

	specs := e.Groups()
	if len(specs) != 7 {
		t.Fatalf("groups = %d, want 7", len(specs))
	}
	behaviours := map[Behaviour]bool{}
	for _, g := range specs {
		behaviours[g.Behaviour] = true
		if g.Name == "" || g.Topic == "" || g.LookFor == "" || (g.Protocol != ProtocolClassic && g.Protocol != ProtocolConsumer) {
			t.Errorf("incomplete spec %+v", g)
		}
	}
	for _, b := range []Behaviour{Healthy, Lagging, Stalled, Stopped, Idle, Rebalancing} {
		if !behaviours[b] {
			t.Errorf("no group is %s", b)
		}
	}

	t.Log("every group exists")
	waitFor(t, 30*time.Second, "every group to be listed and described", func() bool {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		listed, err := adm.ListGroups(lctx)
		if err != nil {
			return false
		}
		for _, g := range specs {
			if _, ok := listed[g.Name]; !ok {
				return false
			}
			if g.Protocol == ProtocolConsumer {
				dcs, err := adm.DescribeConsumerGroups(lctx, g.Name)
				if err != nil || dcs[g.Name].Err != nil || len(dcs[g.Name].Members) == 0 {
					return false
				}
				continue
			}
			if d, ok := describe(ctx, t, adm, g.Name); !ok || d.State == "Dead" {
				return false
			}
		}
		return true
	})

	t.Log("audit-archiver is caught up on its idle topic")
	waitFor(t, 30*time.Second, "audit-archiver lag 0", func() bool {
		s, ok := lagOf(ctx, t, adm, GroupAuditArchiver, TopicAuditLog)
		return ok && s.hasCommits && s.end == auditBurst && s.lag == 0
	})

	t.Log("analytics-batch lag grows")
	var first sample
	waitFor(t, 30*time.Second, "analytics-batch lag to grow", func() bool {
		s, ok := lagOf(ctx, t, adm, GroupAnalyticsBatch, TopicClickstream)
		if !ok || !s.hasCommits {
			return false
		}
		if first.at.IsZero() || s.lag <= 0 {
			first = s
			return false
		}
		if s.at.Sub(first.at) < 4*time.Second {
			return false
		}
		if s.lag > first.lag && s.committed > first.committed {
			t.Logf("analytics-batch lag %d -> %d, committed %d -> %d", first.lag, s.lag, first.committed, s.committed)
			return true
		}
		first = s
		return false
	})

	t.Log("email-sender is stopped: Empty, commits, lag")
	waitFor(t, 30*time.Second, "email-sender Empty with commits and lag", func() bool {
		d, ok := describe(ctx, t, adm, GroupEmailSender)
		if !ok || d.State != "Empty" || len(d.Members) != 0 {
			return false
		}
		s, ok := lagOf(ctx, t, adm, GroupEmailSender, TopicNotifications)
		return ok && s.hasCommits && s.committed > 0 && s.lag > 0
	})

	t.Log("fraud-detector is stalled: members, frozen commits, advancing ends")
	var prev sample
	waitFor(t, 30*time.Second, "fraud-detector commits to freeze while end offsets advance", func() bool {
		d, ok := describe(ctx, t, adm, GroupFraudDetector)
		if !ok || len(d.Members) == 0 {
			return false
		}
		s, ok := lagOf(ctx, t, adm, GroupFraudDetector, TopicPayments)
		if !ok || !s.hasCommits || s.committed == 0 {
			return false
		}
		if prev.at.IsZero() {
			prev = s
			return false
		}
		if s.at.Sub(prev.at) < 2*time.Second {
			return false
		}
		if s.committed == prev.committed && s.end > prev.end && s.lag > prev.lag {
			t.Logf("fraud-detector committed %d, end %d -> %d", s.committed, prev.end, s.end)
			return true
		}
		prev = s
		return false
	})

	t.Log("healthy groups keep up")
	waitFor(t, 30*time.Second, "orders-processor to keep up", func() bool {
		s, ok := lagOf(ctx, t, adm, GroupOrdersProcessor, TopicOrders)
		return ok && s.hasCommits && s.end > 0 && s.lag < 200
	})
	waitFor(t, 30*time.Second, "payments-ledger to keep up", func() bool {
		s, ok := lagOf(ctx, t, adm, GroupPaymentsLedger, TopicPayments)
		return ok && s.hasCommits && s.end > 0 && s.lag < 100
	})

	t.Log("inventory-sync rebalances")
	waitFor(t, 30*time.Second, "inventory-sync generation to rise by 2", func() bool {
		gi := e.Cluster().GroupInfo(GroupInventorySync)
		return gi != nil && gi.Epoch >= startEpoch+2
	})
	t.Logf("inventory-sync generation %d -> %d", startEpoch, e.Cluster().GroupInfo(GroupInventorySync).Epoch)

	var guide bytes.Buffer
	e.WriteGuide(&guide, "http://127.0.0.1:9999/metrics")
	for _, want := range append([]string{"http://127.0.0.1:9999/metrics", `klagx_group_lag_seconds{group="analytics-batch"}`}, func() []string {
		var names []string
		for _, g := range specs {
			names = append(names, g.Name)
		}
		return names
	}()...) {
		if !strings.Contains(guide.String(), want) {
			t.Errorf("guide lacks %q:\n%s", want, guide.String())
		}
	}

	// Every metric the guide tells people to look at exists.
	for _, name := range regexp.MustCompile(`klagx_[a-z_]+`).FindAllString(guide.String(), -1) {
		if _, ok := metrics.Lookup(name); !ok {
			t.Errorf("the guide names %s, which klagx does not export", name)
		}
	}

	adm.Close()
	done := make(chan struct{})
	begin := time.Now()
	go func() {
		e.Close()
		e.Close() // idempotent
		close(done)
	}()
	select {
	case <-done:
		closed = true
		t.Logf("Close took %s", time.Since(begin))
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return within 20s")
	}

	// Loose leak check: every goroutine of the workload, the clients and
	// kfake has exited.
	waitFor(t, 10*time.Second, "goroutines to exit", func() bool {
		return runtime.NumGoroutine() <= before+2
	})
}

func TestStartNeedsLogger(t *testing.T) {
	if _, err := Start(t.Context(), Options{}); err == nil {
		t.Fatal("Start without a Logger succeeded")
	}
}

func TestStartCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	begin := time.Now()
	e, err := Start(ctx, Options{Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		e.Close()
		t.Fatal("Start with a canceled context succeeded")
	}
	if d := time.Since(begin); d > 20*time.Second {
		t.Fatalf("Start took %s to give up", d)
	}
}
