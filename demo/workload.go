package demo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Produce rates in messages per second at Speed 1.
const (
	ordersRate        = 40
	paymentsRate      = 10
	notificationsRate = 10
	clickBusyRate     = 140 // clickstream alternates busy and quiet seconds:
	clickQuietRate    = 20  // on average 80 msg/s
	analyticsRate     = 40  // what analytics-batch can process
)

func (e *Env) startWorkload() error {
	p, err := kgo.NewClient(
		kgo.SeedBrokers(e.brokers...),
		kgo.WithContext(e.clients),
		kgo.WithLogger(kgoLogger{e.log.With("component", "kgo", "client", "producer")}),
		kgo.ClientID("klagx-demo-producer"),
		kgo.ProducerLinger(50*time.Millisecond),
	)
	if err != nil {
		return fmt.Errorf("demo: producer: %w", err)
	}
	e.producer = p

	// audit-log: one burst at start, then nothing, ever.
	ctx, cancel := context.WithTimeout(e.work, 15*time.Second)
	defer cancel()
	r := newRand(0)
	burst := make([]*kgo.Record, 0, auditBurst)
	for i := range auditBurst {
		k, v := genAudit(r, int64(i))
		burst = append(burst, &kgo.Record{Topic: TopicAuditLog, Key: k, Value: v, Timestamp: time.Now()})
	}
	if err := p.ProduceSync(ctx, burst...).FirstErr(); err != nil {
		return fmt.Errorf("demo: producing the audit-log burst: %w", err)
	}

	s := e.o.Speed
	e.goProduce(TopicOrders, func(time.Duration) float64 { return ordersRate * s }, genOrder)
	e.goProduce(TopicPayments, func(time.Duration) float64 { return paymentsRate * s }, genPayment)
	e.goProduce(TopicNotifications, func(time.Duration) float64 { return notificationsRate * s }, genNotification)
	e.goProduce(TopicClickstream, func(d time.Duration) float64 {
		if int64(d/time.Second)%2 == 0 {
			return clickBusyRate * s
		}
		return clickQuietRate * s
	}, genClick)

	classic := func(balancer kgo.GroupBalancer) []kgo.Opt {
		return []kgo.Opt{
			kgo.Balancers(balancer),
			kgo.SessionTimeout(6 * time.Second),
			kgo.HeartbeatInterval(time.Second),
			kgo.RebalanceTimeout(10 * time.Second),
		}
	}
	coop := classic(kgo.CooperativeStickyBalancer())
	// The rebalancing group uses Kafka's default heartbeat interval (3s),
	// so that, as on a real cluster, a rebalance lasts until every member
	// has heard of it at its next heartbeat: long enough to be timed.
	churning := append(classic(kgo.RangeBalancer()), kgo.HeartbeatInterval(3*time.Second), kgo.SessionTimeout(10*time.Second))

	type consumer struct {
		group, topic string
		opts         []kgo.Opt
		run          func(ctx context.Context, cl *kgo.Client) (closed bool)
	}
	consumers := []consumer{
		{GroupOrdersProcessor, TopicOrders, coop, e.consumeAll},
		{GroupPaymentsLedger, TopicPayments, []kgo.Opt{kgo.ServerSideBalancer()}, e.consumeAll},
		{GroupAnalyticsBatch, TopicClickstream, coop, e.consumeSlowly},
		{GroupFraudDetector, TopicPayments, append(coop, kgo.DisableAutoCommit()), e.consumeThenStall},
		{GroupEmailSender, TopicNotifications, coop, e.consumeThenStop},
		{GroupAuditArchiver, TopicAuditLog, coop, e.consumeAll},
		{GroupInventorySync, TopicOrders, churning, e.consumeAll},
	}
	for _, c := range consumers {
		cl, err := e.newConsumer(c.group, c.topic, c.group+"-1", c.opts...)
		if err != nil {
			return err
		}
		e.wg.Go(func() {
			if !c.run(e.work, cl) {
				closeBounded(cl, 5*time.Second)
			}
		})
	}
	e.wg.Go(func() { e.churn(GroupInventorySync, TopicOrders, churning) })
	return nil
}

func (e *Env) newConsumer(group, topic, clientID string, extra ...kgo.Opt) (*kgo.Client, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(e.brokers...),
		kgo.WithContext(e.clients),
		kgo.WithLogger(kgoLogger{e.log.With("component", "kgo", "client", clientID)}),
		kgo.ClientID("klagx-demo-" + clientID),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.AutoCommitInterval(time.Second),
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: consumer %s: %w", clientID, err)
	}
	return cl, nil
}

// goProduce produces to topic at rate(elapsed) records per second, in small
// batches ten times a second, until the workload stops.
func (e *Env) goProduce(topic string, rate func(time.Duration) float64, gen func(*rand.Rand, int64) ([]byte, []byte)) {
	e.wg.Go(func() {
		r := newRand(int64(len(topic)))
		var seq int64
		var acc float64
		var failures atomic.Int64
		onDone := func(_ *kgo.Record, err error) {
			if err == nil || e.work.Err() != nil {
				return
			}
			if n := failures.Add(1); n == 1 || n%1000 == 0 {
				e.log.Warn("demo: produce failed", "topic", topic, "failures", n, "err", err)
			}
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-e.work.Done():
				return
			case now := <-tick.C:
				acc += rate(now.Sub(e.start)) / 10
				for ; acc >= 1; acc-- {
					k, v := gen(r, seq)
					seq++
					e.producer.Produce(e.work, &kgo.Record{Topic: topic, Key: k, Value: v, Timestamp: time.Now()}, onDone)
				}
			}
		}
	})
}

// poll returns the next records, and false when the loop should end.
func (e *Env) poll(ctx context.Context, cl *kgo.Client, max int) ([]*kgo.Record, bool) {
	fs := cl.PollRecords(ctx, max)
	if ctx.Err() != nil || fs.IsClientClosed() {
		return nil, false
	}
	fs.EachError(func(t string, p int32, err error) {
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			e.log.Debug("demo: fetch error", "topic", t, "partition", p, "err", err)
		}
	})
	return fs.Records(), true
}

// process stands in for the work a consumer does with a record.
func process(rs []*kgo.Record) (n int) {
	for _, r := range rs {
		n += len(r.Value)
	}
	return n
}

// consumeAll keeps up with its topic; autocommit commits what it polled.
func (e *Env) consumeAll(ctx context.Context, cl *kgo.Client) bool {
	for {
		rs, ok := e.poll(ctx, cl, 1000)
		if !ok {
			return false
		}
		process(rs)
	}
}

// consumeSlowly processes at most analyticsRate*Speed records per second,
// which is less than clickstream's produce rate, so lag grows.
func (e *Env) consumeSlowly(ctx context.Context, cl *kgo.Client) bool {
	rate := analyticsRate * e.o.Speed
	batch := max(1, int(rate/5))
	for {
		rs, ok := e.poll(ctx, cl, batch)
		if !ok {
			return false
		}
		process(rs)
		if !sleep(ctx, time.Duration(float64(len(rs))/rate*float64(time.Second))) {
			return false
		}
	}
}

// consumeThenStall commits manually for Warmup after its first records,
// then stops polling and committing but stays in the group: kgo keeps
// heartbeating in the background.
func (e *Env) consumeThenStall(ctx context.Context, cl *kgo.Client) bool {
	if !e.warmup(ctx, cl, true) {
		return false
	}
	cl.PauseFetchTopics(TopicPayments) // no point fetching what is never polled
	e.log.Info("demo: fraud-detector stalled: still a member, no more polls or commits")
	<-ctx.Done()
	return false
}

// consumeThenStop commits for Warmup after its first records, then commits
// and leaves the group cleanly: the group is Empty with committed offsets.
func (e *Env) consumeThenStop(ctx context.Context, cl *kgo.Client) bool {
	if !e.warmup(ctx, cl, false) {
		return false
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := cl.CommitUncommittedOffsets(cctx); err != nil && ctx.Err() == nil {
		e.log.Warn("demo: email-sender final commit", "err", err)
	}
	closeBounded(cl, 5*time.Second) // leaves the group
	if ctx.Err() == nil {
		e.log.Info("demo: email-sender stopped: left its group")
	}
	return true
}

// warmup consumes (committing each batch itself if manual) until Warmup
// has passed since the first records. It returns false if ctx ended.
func (e *Env) warmup(ctx context.Context, cl *kgo.Client, manual bool) bool {
	var until time.Time
	for until.IsZero() || time.Now().Before(until) {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if !until.IsZero() {
			pctx, cancel = context.WithDeadline(ctx, until)
		}
		rs, _ := e.poll(pctx, cl, 500)
		cancel()
		if ctx.Err() != nil {
			return false
		}
		if len(rs) == 0 {
			continue
		}
		process(rs)
		if manual {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := cl.CommitRecords(cctx, rs...)
			cancel()
			if err != nil && ctx.Err() == nil {
				e.log.Warn("demo: commit failed", "err", err)
			}
		}
		if until.IsZero() {
			until = time.Now().Add(e.o.Warmup)
		}
	}
	return true
}

// churn runs a second member of group: it joins, stays RebalanceEvery,
// leaves cleanly, waits RebalanceEvery, and joins again, so the group's
// membership changes (and it rebalances) once every RebalanceEvery.
func (e *Env) churn(group, topic string, opts []kgo.Opt) {
	half := e.o.RebalanceEvery
	for e.work.Err() == nil {
		cl, err := e.newConsumer(group, topic, group+"-2", opts...)
		if err != nil {
			e.log.Error("demo: churning member", "err", err)
			return
		}
		ctx, cancel := context.WithTimeout(e.work, half)
		e.consumeAll(ctx, cl)
		cancel()
		closeBounded(cl, 5*time.Second)
		if !sleep(e.work, half) {
			return
		}
	}
}

// sleep waits d, and returns false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(seed)))
}

var (
	currencies = []string{"EUR", "USD", "GBP", "SEK"}
	pages      = []string{"/", "/search", "/products", "/products/%d", "/cart", "/checkout", "/account"}
	events     = []string{"view", "view", "view", "click", "scroll", "add_to_cart"}
	methods    = []string{"card", "card", "sepa", "paypal", "apple_pay"}
	actors     = []string{"alice", "bob", "carol", "dave", "erin", "svc-billing", "svc-deploy"}
	actions    = []string{"login", "logout", "role.grant", "role.revoke", "config.update", "key.rotate"}
	templates  = []string{"order-confirmed", "order-shipped", "password-reset", "weekly-digest"}
)

func pick(r *rand.Rand, s []string) string { return s[r.IntN(len(s))] }

func genOrder(r *rand.Rand, seq int64) ([]byte, []byte) {
	id := fmt.Sprintf("ord-%08d", seq)
	v := fmt.Sprintf(`{"order_id":%q,"customer_id":"cust-%05d","items":%d,"total":%.2f,"currency":%q,"status":"created"}`,
		id, r.IntN(50000), 1+r.IntN(6), 5+r.Float64()*295, pick(r, currencies))
	return []byte(id), []byte(v)
}

func genPayment(r *rand.Rand, seq int64) ([]byte, []byte) {
	id := fmt.Sprintf("pay-%08d", seq)
	v := fmt.Sprintf(`{"payment_id":%q,"order_id":"ord-%08d","amount":%.2f,"currency":%q,"method":%q,"status":"authorized"}`,
		id, r.IntN(int(seq+1)*4+1), 5+r.Float64()*295, pick(r, currencies), pick(r, methods))
	return []byte(id), []byte(v)
}

func genClick(r *rand.Rand, _ int64) ([]byte, []byte) {
	session := fmt.Sprintf("sess-%06x", r.IntN(1<<24))
	page := pick(r, pages)
	if page == "/products/%d" {
		page = fmt.Sprintf(page, r.IntN(10000))
	}
	v := fmt.Sprintf(`{"session":%q,"user_id":"u-%06d","event":%q,"page":%q,"ua":"Mozilla/5.0"}`,
		session, r.IntN(1000000), pick(r, events), page)
	return []byte(session), []byte(v)
}

func genAudit(r *rand.Rand, seq int64) ([]byte, []byte) {
	actor := pick(r, actors)
	v := fmt.Sprintf(`{"seq":%d,"actor":%q,"action":%q,"source_ip":"10.%d.%d.%d"}`,
		seq, actor, pick(r, actions), r.IntN(256), r.IntN(256), 1+r.IntN(254))
	return []byte(actor), []byte(v)
}

func genNotification(r *rand.Rand, seq int64) ([]byte, []byte) {
	user := fmt.Sprintf("user-%05d@example.com", r.IntN(50000))
	v := fmt.Sprintf(`{"id":"ntf-%08d","to":%q,"channel":"email","template":%q}`,
		seq, user, pick(r, templates))
	return []byte(user), []byte(v)
}
