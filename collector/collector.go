package collector

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/observation"
)

// Collector polls one Kafka cluster. Poll must not be called concurrently
// with itself: cycles of one cluster never overlap.
type Collector struct {
	cluster config.Cluster
	cfg     *config.Config
	logger  *slog.Logger

	cl           *kgo.Client
	adm          *kadm.Client
	requests     *requestCounter
	decompressor kgo.Decompressor
	stageFn      StageFunc
	// topics seen in the last metadata, to purge deleted ones from kgo;
	// brokers are its broker IDs (listGroupsShards).
	topics  map[string]bool
	brokers []int32
	// topicNames maps the topic IDs of the last metadata to their names
	// (resolveTopicIDs).
	topicNames map[[16]byte]string

	// opts rebuild the client; groups are the groups listed last cycle, and
	// forgotten counts groups deleted since the client was built (see
	// recycleAfter).
	opts      []kgo.Opt
	groups    map[string]bool
	forgotten int
	// streamsCoordinators are the coordinators of the streams groups as
	// last listed (see describeStreams).
	streamsCoordinators map[string]int32

	// generations reads __consumer_offsets for exact classic generations
	// (--rebalance.source=consumer-offsets); nil with the admin source.
	generations *generationReader
}

// recycleAfter is how many deleted groups the kgo client may have seen
// before it is replaced: kgo caches the coordinator of every group it ever
// asked about and offers no way to forget one, so on a cluster that keeps
// creating and deleting groups the cache would grow forever. A new client
// costs one reconnection and a coordinator lookup per live group.
const recycleAfter = 10000

// noteGroups counts the groups that disappeared since the last cycle and
// replaces the kgo client when too many accumulated.
func (c *Collector) noteGroups(obs *observation.Observation) {
	for g := range c.groups {
		_, ok := obs.Groups[g]
		_, share := obs.ShareGroups[g]
		if !ok && !share {
			c.forgotten++
		}
	}
	c.groups = make(map[string]bool, len(obs.Groups)+len(obs.ShareGroups))
	for g := range obs.Groups {
		c.groups[g] = true
	}
	for g := range obs.ShareGroups {
		c.groups[g] = true
	}
	if c.forgotten < recycleAfter {
		return
	}
	cl, err := kgo.NewClient(c.opts...)
	if err != nil {
		c.logger.Warn("cannot replace the Kafka client; keeping the old one", "err", err)
		return
	}
	old := c.cl
	c.cl, c.adm, c.forgotten, c.topics, c.brokers = cl, kadm.NewClient(cl), 0, nil, nil
	old.Close()
	c.logger.Debug("replaced the Kafka client to forget deleted groups", "deleted_groups", recycleAfter)
}

// StageFunc wraps one stage of Poll: it is called with the stage's name
// (list_groups, describe_groups, offset_fetch, list_offsets) before the
// stage's requests, and the function it returns is called after them with
// the observation and the number of errors it held before the stage.
// Tracing uses it to record a span per Kafka API batch.
type StageFunc func(ctx context.Context, stage string) (context.Context, func(obs *observation.Observation, errsBefore int))

// SetStageFunc installs f (nil removes it). Call it before polling.
func (c *Collector) SetStageFunc(f StageFunc) { c.stageFn = f }

// stage runs fn as one named stage of obs.
func (c *Collector) stage(ctx context.Context, obs *observation.Observation, name string, fn func(context.Context)) {
	if c.stageFn == nil {
		fn(ctx)
		return
	}
	sctx, end := c.stageFn(ctx, name)
	before := len(obs.Errors)
	fn(sctx)
	end(obs, before)
}

// RequestTimeout bounds one Kafka request of a cycle, retries included: a
// quarter of the poll interval, at least 2s (a loaded broker or a TLS
// handshake is not a failure) and at most 10s (franz-go's default). A cycle
// has four request stages (list, describe, offset fetch, log offsets), so a
// broker that never answers leaves the stages after it time to run.
func RequestTimeout(pollInterval time.Duration) time.Duration {
	return min(max(pollInterval/4, 2*time.Second), 10*time.Second)
}

// kgoLogger is kgo's logger with its warnings at debug. They are about one
// connection attempt or request ("unable to open connection to broker"),
// and the poller already logs the failed cycle or stage once, with the
// same error: one failure, one line.
type kgoLogger struct{ kgo.Logger }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	if level == kgo.LogLevelWarn {
		level = kgo.LogLevelDebug
	}
	l.Logger.Log(level, msg, keyvals...)
}

// New builds a Collector for cluster. It does not contact the cluster (a
// cluster that is down at start is reported by the first Poll, not here),
// except that with cfg.RebalanceSource consumer-offsets it starts reading
// __consumer_offsets in the background.
func New(cfg *config.Config, cluster config.Cluster, logger *slog.Logger) (*Collector, error) {
	logger = logger.With("cluster", cluster.Name)
	opts, err := cluster.ClientOpts(logger)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", cluster.Name, err)
	}
	rc := newRequestCounter()
	reqTimeout := RequestTimeout(cfg.PollInterval)
	opts = append(opts,
		kgo.ClientID("klagx"),
		kgo.WithHooks(rc),
		kgo.WithLogger(kgoLogger{kslog.New(logger.With("component", "kgo"))}),
		// A cycle has a deadline of one poll interval. One request (with
		// its retries) is bounded to a fraction of it, so that a broker
		// that stalls, drops connections or answers a retriable error
		// forever costs its own groups and partitions that cycle, not the
		// stages that follow: they still run on the healthy brokers.
		kgo.RequestTimeoutOverhead(reqTimeout),
		kgo.RetryTimeout(reqTimeout),
		kgo.DialTimeout(reqTimeout),
		kgo.MetadataMinAge(time.Second),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", cluster.Name, err)
	}
	var gens *generationReader
	if cfg.RebalanceSource == config.RebalanceSourceConsumerOffsets {
		if gens, err = newGenerationReader(cluster, rc, logger); err != nil {
			cl.Close()
			return nil, fmt.Errorf("cluster %q: %w", cluster.Name, err)
		}
	}
	return &Collector{
		generations: gens,
		opts:        opts,
		cluster:     cluster,
		cfg:         cfg,
		logger:      logger,
		cl:          cl,
		adm:         kadm.NewClient(cl),
		requests:    rc,
		// Bounded: a record batch claiming a huge decompressed size
		// cannot exhaust memory.
		decompressor: kgo.DefaultDecompressor(),
	}, nil
}

// Name returns the cluster name.
func (c *Collector) Name() string { return c.cluster.Name }

// Requests returns the cumulative request counts by API since New.
func (c *Collector) Requests() []RequestCount { return c.requests.snapshot() }

// BytesWritten and BytesRead return the cumulative bytes on the wire.
func (c *Collector) BytesWritten() uint64 { return c.requests.written.Load() }

// BytesRead returns the cumulative bytes read from brokers.
func (c *Collector) BytesRead() uint64 { return c.requests.read.Load() }

// Close closes the Kafka clients.
func (c *Collector) Close() {
	if c.generations != nil {
		c.generations.close()
	}
	c.cl.Close()
}

// Poll runs one cycle and returns its observation; it never returns nil.
//
// The order is deliberate, as in kadm.Client.Lag: groups are listed and
// described first, then their commits are fetched, and only then are the
// log offsets listed. A commit made during the cycle can then only make the
// lag look larger than it is for one cycle, never negative; the code does
// not need to clamp a race away.
//
// Requests per cycle, with B brokers and C coordinators of selected groups:
//
//	ListGroups             B  (all brokers; classic, consumer and share types)
//	FindCoordinator        ≤ 1 per new coordinator batch (cached by kgo)
//	DescribeGroups         ≤ C (classic groups, all in one request per coordinator)
//	ConsumerGroupDescribe  ≤ C (KIP-848 groups)
//	OffsetFetch            ≤ C (one multi-group request per coordinator, OffsetFetch v8+)
//	ShareGroupDescribe     ≤ C (share groups, KIP-932)
//	DescribeShareGroupOffsets ≤ C (share groups' start offsets and lag)
//	Metadata               1  (+ kgo's own refreshes)
//	ListOffsets            2 per partition leader (start, end), 3 when read_committed
func (c *Collector) Poll(ctx context.Context) *observation.Observation {
	obs := c.newObservation()
	defer func() { obs.End = time.Now() }()

	var (
		listed  []listedGroup
		listErr error
	)
	c.stage(ctx, obs, StageListGroups, func(ctx context.Context) {
		listed, listErr = c.listGroups(ctx, obs)
		if listErr != nil {
			obs.Err = listErr
		}
	})
	if listErr != nil {
		return obs
	}
	listed, shares := splitShares(listed)
	c.stage(ctx, obs, StageDescribeGroups, func(ctx context.Context) { c.describeGroups(ctx, obs, listed) })
	c.stage(ctx, obs, StageOffsetFetch, func(ctx context.Context) { c.fetchCommits(ctx, obs) })
	if len(shares) > 0 {
		c.stage(ctx, obs, StageDescribeShareGroups, func(ctx context.Context) { c.describeShares(ctx, obs, shares) })
		c.stage(ctx, obs, StageShareGroupOffsets, func(ctx context.Context) { c.fetchShareOffsets(ctx, obs) })
	}
	defer c.noteGroups(obs)
	c.stage(ctx, obs, StageListOffsets, func(ctx context.Context) {
		if err := c.listPartitions(ctx, obs); err != nil {
			// Groups were read but no offsets: keep what was read, the
			// snapshot keeps the previous partition offsets.
			c.logger.Warn("cannot list topic metadata", "err", err)
		}
	})
	c.resolveTopicIDs(obs)
	return obs
}

// newObservation starts an empty observation of this cluster, now.
func (c *Collector) newObservation() *observation.Observation {
	return &observation.Observation{
		Cluster:         c.cluster.Name,
		Start:           time.Now(),
		Groups:          map[string]*observation.Group{},
		ShareGroups:     map[string]*observation.ShareGroup{},
		UnlistedBrokers: map[int32]bool{},
		Topics:          map[string]*observation.Topic{},
	}
}
