// Package kfaketest holds shared test fixtures on franz-go's kfake: an
// in-process Kafka cluster on free 127.0.0.1 ports, an admin client, and
// helpers to produce, commit and wait on conditions. Test code only.
package kfaketest

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/config"
)

// Env is a running kfake cluster with an admin client.
type Env struct {
	T       testing.TB
	Cluster *kfake.Cluster
	Client  *kgo.Client
	Admin   *kadm.Client
}

// New starts a kfake cluster with the given number of brokers (ports chosen
// by the OS) and closes it when the test ends.
func New(t testing.TB, brokers int, opts ...kfake.Opt) *Env {
	t.Helper()
	opts = append([]kfake.Opt{kfake.NumBrokers(brokers), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}, opts...)
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return Attach(t, c)
}

// Attach returns an Env over a cluster the caller started, with a client
// built with opts (kgo.SASL, kgo.DialTLSConfig, ...) for the setup.
func Attach(t testing.TB, c *kfake.Cluster, opts ...kgo.Opt) *Env {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic(""), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo: %v", err)
	}
	t.Cleanup(cl.Close)
	return &Env{T: t, Cluster: c, Client: cl, Admin: kadm.NewClient(cl)}
}

// Addrs returns the brokers' addresses.
func (e *Env) Addrs() []string { return e.Cluster.ListenAddrs() }

// Config returns a validated klagx config for this cluster named "test":
// the defaults, a 10s poll interval, then mod. The group poll interval is
// kept within the poll interval a mod sets.
func (e *Env) Config(mod ...func(*config.Config)) *config.Config {
	e.T.Helper()
	cfg := Config(config.DefaultCluster("test", e.Addrs()...), 10*time.Second, mod...)
	if err := cfg.Validate(); err != nil {
		e.T.Fatalf("config: %v", err)
	}
	return cfg
}

// Config returns the defaults with cluster, poll interval and mod applied,
// not validated; the group poll interval is kept within the poll interval.
func Config(cluster config.Cluster, poll time.Duration, mod ...func(*config.Config)) *config.Config {
	cfg := config.Default()
	cfg.Clusters, cfg.PollInterval = []config.Cluster{cluster}, poll
	for _, m := range mod {
		m(cfg)
	}
	cfg.GroupPollInterval = min(cfg.GroupPollInterval, cfg.PollInterval)
	return cfg
}

// Ctx returns a context bounded by d that ends with the test.
func (e *Env) Ctx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	e.T.Cleanup(cancel)
	return ctx
}

// CreateTopic creates a topic with n partitions.
func (e *Env) CreateTopic(name string, partitions int32) {
	e.T.Helper()
	resp, err := e.Admin.CreateTopic(e.Ctx(10*time.Second), partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		e.T.Fatalf("create topic %s: %v", name, err)
	}
}

// Produce writes n records to topic/partition with the given timestamps
// (zero means now) and waits for them to be acknowledged.
func (e *Env) Produce(topic string, partition int32, n int, ts time.Time) {
	e.T.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: partition, Value: fmt.Appendf(nil, "v%d", i), Timestamp: ts}
	}
	if err := e.Client.ProduceSync(e.Ctx(20*time.Second), recs...).FirstErr(); err != nil {
		e.T.Fatalf("produce %s/%d: %v", topic, partition, err)
	}
}

// Commit commits offsets for group (creating it as an Empty group if new).
func (e *Env) Commit(group, topic string, offsets map[int32]int64) {
	e.T.Helper()
	os := make(kadm.Offsets)
	for p, o := range offsets {
		os.AddOffset(topic, p, o, -1)
	}
	resp, err := e.Admin.CommitOffsets(e.Ctx(10*time.Second), group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		e.T.Fatalf("commit %s: %v", group, err)
	}
}

// Consumer starts a real franz-go group consumer with autocommit off. Close
// it with the returned client's Close (it is also closed when the test ends).
func (e *Env) Consumer(group string, topics []string, opts ...kgo.Opt) *kgo.Client {
	e.T.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(e.Addrs()...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
		kgo.SessionTimeout(6 * time.Second),
		kgo.HeartbeatInterval(200 * time.Millisecond),
		kgo.WithLogger(nil),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		e.T.Fatalf("consumer: %v", err)
	}
	e.T.Cleanup(cl.Close)
	return cl
}

// ConsumeAndCommit polls cl until it has consumed n records, then commits
// what it consumed synchronously.
func (e *Env) ConsumeAndCommit(cl *kgo.Client, n int) {
	e.T.Helper()
	ctx := e.Ctx(30 * time.Second)
	got := 0
	for got < n {
		fs := cl.PollRecords(ctx, n-got)
		if ctx.Err() != nil {
			e.T.Fatalf("consumed %d of %d records before timeout", got, n)
		}
		fs.EachError(func(t string, p int32, err error) { e.T.Logf("fetch error %s/%d: %v", t, p, err) })
		got += fs.NumRecords()
	}
	if err := cl.CommitUncommittedOffsets(ctx); err != nil {
		e.T.Fatalf("commit: %v", err)
	}
}

// WaitFor polls cond every 50ms until it is true or d passes.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Logger returns a slog logger writing to the test log at the given level.
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// ShareConsume joins share group (starting at the log start offset) with
// franz-go's share consumer, acknowledges (accepts) n records of topic,
// flushes the acknowledgements and returns the still-joined client; Close
// it to leave (it is also closed when the test ends).
func (e *Env) ShareConsume(group, topic string, n int) *kgo.Client {
	e.T.Helper()
	e.Cluster.SetGroupConfigs(group, map[string]string{"share.auto.offset.reset": "earliest"})
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...), kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.ClientID(group+"-client"))
	if err != nil {
		e.T.Fatal(err)
	}
	e.T.Cleanup(cl.Close)
	ctx := e.Ctx(30 * time.Second)
	for got := 0; got < n; {
		fs := cl.PollRecords(ctx, n-got)
		if ctx.Err() != nil {
			e.T.Fatalf("share group %s: consumed %d of %d records: %v", group, got, n, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { r.Ack(kgo.AckAccept); got++ })
	}
	if err := cl.FlushAcks(ctx); err != nil {
		e.T.Fatalf("share group %s: flush acks: %v", group, err)
	}
	return cl
}
