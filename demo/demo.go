package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Options configures [Start]. The zero value (with a Logger) is a good demo.
type Options struct {
	// Logger receives the demo's own logs and the warnings and errors of
	// kfake and the kgo clients. It must not be nil.
	Logger *slog.Logger

	// Brokers is how many kfake brokers to run; default 3.
	Brokers int

	// RebalanceEvery is the period of the rebalancing group
	// (inventory-sync): its second member joins, stays RebalanceEvery,
	// leaves, and rejoins RebalanceEvery later, so the group rebalances
	// once every RebalanceEvery. Default 1 minute.
	RebalanceEvery time.Duration

	// Speed multiplies every produce rate and the lagging group's
	// processing rate; default 1 (about 140 msg/s in total).
	Speed float64

	// Warmup is how long fraud-detector and email-sender consume and
	// commit, counted from their first records, before the first stalls
	// and the second stops. Default 15 seconds.
	Warmup time.Duration
}

// Behaviour is what a demo group is built to look like.
type Behaviour string

// The behaviours of the demo groups.
const (
	Healthy     Behaviour = "healthy"
	Lagging     Behaviour = "lagging"
	Stalled     Behaviour = "stalled"
	Stopped     Behaviour = "stopped"
	Idle        Behaviour = "idle"
	Rebalancing Behaviour = "rebalancing"
)

// Group protocols.
const (
	ProtocolClassic  = "classic"
	ProtocolConsumer = "consumer" // KIP-848
)

// GroupSpec describes one demo consumer group.
type GroupSpec struct {
	Name      string
	Topic     string
	Behaviour Behaviour
	Protocol  string // ProtocolClassic or ProtocolConsumer
	Assignor  string // client-side balancer, or the server assignor for KIP-848
	LookFor   string // one line: what to look for in /metrics
}

// Topic names and partition counts.
const (
	TopicOrders        = "orders"
	TopicPayments      = "payments"
	TopicClickstream   = "clickstream"
	TopicAuditLog      = "audit-log"
	TopicNotifications = "notifications"
)

var topicPartitions = map[string]int32{
	TopicOrders:        6,
	TopicPayments:      3,
	TopicClickstream:   12,
	TopicAuditLog:      3,
	TopicNotifications: 3,
}

// auditBurst is how many records audit-log receives at start, and never more.
const auditBurst = 300

// Group names.
const (
	GroupOrdersProcessor = "orders-processor"
	GroupPaymentsLedger  = "payments-ledger"
	GroupAnalyticsBatch  = "analytics-batch"
	GroupFraudDetector   = "fraud-detector"
	GroupEmailSender     = "email-sender"
	GroupAuditArchiver   = "audit-archiver"
	GroupInventorySync   = "inventory-sync"
)

func groupSpecs(o Options) []GroupSpec {
	return []GroupSpec{
		{GroupOrdersProcessor, TopicOrders, Healthy, ProtocolClassic, "cooperative-sticky",
			`klagx_group_status{group="orders-processor",status="ok"} is 1; lag and lag_seconds stay small`},
		{GroupPaymentsLedger, TopicPayments, Healthy, ProtocolConsumer, "uniform (server side)",
			`KIP-848 group: klagx_group_state{group="payments-ledger",state="Stable"} is 1; lag stays small`},
		{GroupAnalyticsBatch, TopicClickstream, Lagging, ProtocolClassic, "cooperative-sticky",
			`klagx_group_lag_seconds{group="analytics-batch"} grows while commits keep advancing; status warning`},
		{GroupFraudDetector, TopicPayments, Stalled, ProtocolClassic, "cooperative-sticky",
			fmt.Sprintf(`after ~%s commits freeze while members stay: klagx_group_commit_gap_seconds grows, then status stalled`, o.Warmup)},
		{GroupEmailSender, TopicNotifications, Stopped, ProtocolClassic, "cooperative-sticky",
			fmt.Sprintf(`after ~%s klagx_group_members{group="email-sender"} is 0 while lag grows: status stopped`, o.Warmup)},
		{GroupAuditArchiver, TopicAuditLog, Idle, ProtocolClassic, "cooperative-sticky",
			`idle topic: lag 0 and status ok although it never commits again (never stalled)`},
		{GroupInventorySync, TopicOrders, Rebalancing, ProtocolClassic, "range (eager)",
			fmt.Sprintf(`klagx_group_rebalances_total{group="inventory-sync"} rises by one every %s; see klagx_group_rebalance_duration_seconds`, o.RebalanceEvery)},
	}
}

// Env is a running demo: a kfake cluster with producers and consumer groups.
type Env struct {
	o       Options
	log     *slog.Logger
	cluster *kfake.Cluster
	brokers []string
	groups  []GroupSpec

	start time.Time

	// work stops producers and poll loops (Close, or the ctx given to
	// Start); clients is the kgo clients' own context, canceled only as a
	// last resort when a clean leave takes too long.
	work          context.Context
	cancelWork    context.CancelFunc
	clients       context.Context
	cancelClients context.CancelFunc

	wg        sync.WaitGroup
	producer  *kgo.Client
	closeOnce sync.Once

	seenMu sync.Mutex
	seen   map[string]bool // groups that have had members at least once
}

// Start starts kfake, creates the topics, and starts the producers and the
// consumer groups. It returns once every group has had members, or an error
// (after cleaning up) if ctx ends first or that takes longer than 30s.
// Canceling ctx later stops the workload; Close must still be called.
func Start(ctx context.Context, o Options) (*Env, error) {
	if o.Logger == nil {
		return nil, errors.New("demo: Options.Logger is nil")
	}
	if o.Brokers <= 0 {
		o.Brokers = 3
	}
	if o.RebalanceEvery <= 0 {
		o.RebalanceEvery = time.Minute
	}
	if o.Speed <= 0 {
		o.Speed = 1
	}
	if o.Warmup <= 0 {
		o.Warmup = 15 * time.Second
	}

	kopts := []kfake.Opt{
		kfake.NumBrokers(o.Brokers),
		kfake.ClusterID("klagx-demo"),
		kfake.GroupMinSessionTimeout(time.Second),
		kfake.BrokerConfigs(map[string]string{
			"group.consumer.heartbeat.interval.ms": "1000",
			"group.consumer.session.timeout.ms":    "10000",
		}),
		kfake.WithLogger(kfakeLogger{o.Logger.With("component", "kfake")}),
	}
	for t, p := range topicPartitions {
		kopts = append(kopts, kfake.SeedTopics(p, t))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("demo: starting kfake: %w", err)
	}

	e := &Env{
		o:       o,
		log:     o.Logger,
		cluster: c,
		brokers: c.ListenAddrs(),
		groups:  groupSpecs(o),
		start:   time.Now(),
		seen:    make(map[string]bool),
	}
	e.work, e.cancelWork = context.WithCancel(ctx)
	e.clients, e.cancelClients = context.WithCancel(context.Background())

	if err := e.startWorkload(); err != nil {
		e.Close()
		return nil, err
	}
	if err := e.waitReady(ctx, 30*time.Second); err != nil {
		e.Close()
		return nil, err
	}
	e.log.Info("demo workload running", "brokers", e.brokers, "groups", len(e.groups))
	return e, nil
}

// waitReady waits until every group has been seen with members.
func (e *Env) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		var missing []string
		for _, g := range e.groups {
			if e.markSeen(g.Name) {
				continue
			}
			missing = append(missing, g.Name)
		}
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("demo: waiting for groups %v: %w", missing, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("demo: groups %v had no members after %s", missing, timeout)
		case <-tick.C:
		}
	}
}

// markSeen reports whether group has had members, checking kfake now if not
// seen yet.
func (e *Env) markSeen(group string) bool {
	e.seenMu.Lock()
	defer e.seenMu.Unlock()
	if e.seen[group] {
		return true
	}
	if gi := e.cluster.GroupInfo(group); gi != nil && len(gi.Members) > 0 {
		e.seen[group] = true
	}
	return e.seen[group]
}

// Brokers returns the seed addresses of the cluster, "127.0.0.1:port".
func (e *Env) Brokers() []string { return slices.Clone(e.brokers) }

// Cluster returns the kfake cluster.
func (e *Env) Cluster() *kfake.Cluster { return e.cluster }

// Groups describes the demo's consumer groups.
func (e *Env) Groups() []GroupSpec { return slices.Clone(e.groups) }

// WriteGuide writes a short table for humans: where the metrics are, and
// for every group its behaviour and what to look for.
func (e *Env) WriteGuide(w io.Writer, metricsURL string) {
	fmt.Fprintf(w, "klagx demo: Kafka (kfake) at %v\n", e.brokers)
	fmt.Fprintf(w, "metrics: %s\n\n", metricsURL)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPROTOCOL\tBEHAVIOUR\tWHAT TO LOOK FOR")
	for _, g := range e.groups {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", g.Name, g.Topic, g.Protocol, g.Behaviour, g.LookFor)
	}
	tw.Flush()
}

// Close stops every goroutine and client, then closes the cluster. Group
// members leave cleanly when they can; Close gives up waiting after about
// 15 seconds in all. It is idempotent.
func (e *Env) Close() {
	e.closeOnce.Do(e.close)
}

func (e *Env) close() {
	e.cancelWork()
	if !waitTimeout(&e.wg, 8*time.Second) {
		e.log.Warn("demo: clients slow to leave their groups; aborting them")
		e.cancelClients()
		if !waitTimeout(&e.wg, 4*time.Second) {
			e.log.Warn("demo: some goroutines are still running; closing the cluster anyway")
		}
	}
	if e.producer != nil {
		closeBounded(e.producer, 2*time.Second)
	}
	e.cancelClients()
	e.cluster.Close()
	// With the cluster and every client context gone, anything left exits.
	if !waitTimeout(&e.wg, 3*time.Second) {
		e.log.Warn("demo: goroutines did not exit after the cluster closed")
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// closeBounded leaves the group (if any) within d, then closes the client.
func closeBounded(cl *kgo.Client, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_ = cl.LeaveGroupContext(ctx)
	cl.Close()
}
