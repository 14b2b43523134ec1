package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/groupmeta"
	"github.com/klagx/klagx/observation"
)

// generationReader follows __consumer_offsets from its start with a consumer
// that joins no group, and keeps the latest recorded generation of every
// classic group (--rebalance.source=consumer-offsets). It runs in its own
// goroutine, for the life of the collector; the collector reads its table
// under the mutex when it describes groups.
//
// Its generations are offered only once it has read every partition up to
// the end offsets it found at start (before that, the recorded generation of
// a group may be an old one), and not while fetching fails (an ACL removed,
// the topic unreachable): the rebalance tracker then infers classic
// rebalances from DescribeGroups, as with the admin source.
type generationReader struct {
	cl     *kgo.Client
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	table *groupmeta.Table
	// behind holds the partitions not yet read up to their end offset at
	// start (the offset of the last record to reach); nil until the end
	// offsets are listed.
	behind   map[int32]int64
	caughtUp bool
	// seen is the offset of the last record read per partition.
	seen map[int32]int64
	// failing is the last fetch error, cleared by the next records.
	failing error
	// skipped counts records that could not be decoded.
	skipped uint64
}

// listRetry is the longest wait between two attempts to list the end
// offsets of __consumer_offsets (the first retry is after a second, then
// doubling: the topic is created with the first group of a new cluster), and
// between two log lines about a fetch error.
const listRetry = 30 * time.Second

func newGenerationReader(cluster config.Cluster, rc *requestCounter, logger *slog.Logger) (*generationReader, error) {
	logger = logger.With("component", "consumer_offsets")
	opts, err := cluster.ClientOpts(logger)
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.ClientID("klagx-consumer-offsets"),
		kgo.WithHooks(rc),
		kgo.WithLogger(kslog.New(logger.With("component", "kgo"))),
		kgo.ConsumeTopics(groupmeta.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Control records (markers of transactional offset commits) are
		// kept so that the offset of every record is seen: reaching the
		// end offset at start is how catching up is told.
		kgo.KeepControlRecords(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &generationReader{cl: cl, logger: logger, cancel: cancel, done: make(chan struct{}), table: groupmeta.NewTable(), seen: map[int32]int64{}}
	go r.run(ctx)
	return r, nil
}

// close stops the reader and waits for it.
func (r *generationReader) close() {
	r.cancel()
	<-r.done
	r.cl.Close()
}

func (r *generationReader) run(ctx context.Context) {
	listed := make(chan struct{})
	defer func() { <-listed; close(r.done) }()
	go func() { defer close(listed); r.listEnds(ctx) }()
	var loggedAt time.Time
	for {
		fs := r.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		fs.EachError(func(_ string, _ int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			r.failing = err
			if time.Since(loggedAt) >= listRetry {
				loggedAt = time.Now()
				r.logger.Warn("cannot read "+groupmeta.Topic+"; counting classic rebalances from DescribeGroups until it can be read (needs ACL Read on Topic "+groupmeta.Topic+")", "err", err)
			}
		})
		fs.EachRecord(r.apply)
		r.mu.Unlock()
	}
}

// apply folds one record; r.mu is held.
func (r *generationReader) apply(rec *kgo.Record) {
	r.failing = nil
	r.seen[rec.Partition] = rec.Offset
	if r.behind != nil {
		if last, ok := r.behind[rec.Partition]; ok && rec.Offset >= last {
			delete(r.behind, rec.Partition)
			r.checkCaughtUp()
		}
	}
	if rec.Attrs.IsControl() {
		return
	}
	d, err := groupmeta.Decode(rec.Key, rec.Value)
	if err != nil {
		r.skipped++
		if r.skipped == 1 {
			r.logger.Warn("cannot decode a record of "+groupmeta.Topic+"; skipping it (logged once)", "partition", rec.Partition, "offset", rec.Offset, "err", err)
		}
		return
	}
	r.table.Apply(d)
}

// checkCaughtUp marks the reader caught up once no partition is behind; r.mu
// is held.
func (r *generationReader) checkCaughtUp() {
	if len(r.behind) == 0 && !r.caughtUp {
		r.caughtUp = true
		r.logger.Info("read "+groupmeta.Topic+" to its end; classic rebalances are counted from recorded generations", "groups", r.table.Len())
	}
}

// listEnds lists the end offsets of the topic once, retrying until it can,
// and sets what the reader must reach to be caught up.
func (r *generationReader) listEnds(ctx context.Context) {
	adm := kadm.NewClient(r.cl)
	for wait := time.Second; ; wait = min(2*wait, listRetry) {
		ends, err := r.ends(ctx, adm)
		if err == nil {
			r.mu.Lock()
			for p, last := range ends {
				if off, ok := r.seen[p]; ok && off >= last {
					delete(ends, p) // read already while listing
				}
			}
			r.behind = ends
			r.checkCaughtUp()
			r.mu.Unlock()
			return
		}
		msg := "cannot list the end offsets of " + groupmeta.Topic + "; retrying (needs ACL Describe on Topic " + groupmeta.Topic + ")"
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			msg = groupmeta.Topic + " does not exist yet (Kafka creates it for the first group); retrying"
		}
		r.logger.Warn(msg, "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// ends returns, for each non-empty partition, the offset of its last record
// at start.
func (r *generationReader) ends(ctx context.Context, adm *kadm.Client) (map[int32]int64, error) {
	starts, err := adm.ListStartOffsets(ctx, groupmeta.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, err
	}
	ends, err := adm.ListEndOffsets(ctx, groupmeta.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, err
	}
	if len(ends[groupmeta.Topic]) == 0 {
		return nil, fmt.Errorf("topic %s not found", groupmeta.Topic)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && o.Offset > s.Offset {
			out[o.Partition] = o.Offset - 1
		}
	})
	return out, nil
}

// generation returns the recorded generation of a classic group, false when
// the reader cannot vouch for it (not caught up, fetch failing, no record).
func (r *generationReader) generation(group string) (int32, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.caughtUp || r.failing != nil {
		return 0, false
	}
	g, ok := r.table.Get(group)
	return g.Generation, ok
}

// attachGenerations sets the recorded generation on the classic groups of
// obs, when the consumer-offsets source is on. It is read before the groups
// are described, as commits are read before end offsets: the description
// can then only be newer than the generation, never older, so a change it
// shows is counted when its record arrives (the tracker waits for it),
// while a generation read after a stale description would be taken as the
// baseline of the old members and its rebalance lost.
func (c *Collector) attachGenerations(obs *observation.Observation) {
	if c.generations == nil {
		return
	}
	for name, g := range obs.Groups {
		if g.Kind != observation.KindClassic {
			continue
		}
		g.Generation, g.GenerationKnown = c.generations.generation(name)
	}
}
