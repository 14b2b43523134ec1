package bench

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/snapshot"
)

// ChurnResult is a soak over many poll cycles while groups and topics are
// created and deleted: what the exporter keeps must not grow.
type ChurnResult struct {
	Cycles int `json:"cycles"`
	// LiveHeapMiB is the live heap after a forced GC at each checkpoint
	// (cycle number → MiB), and Goroutines the goroutine count there.
	LiveHeapMiB map[int]float64 `json:"live_heap_mib"`
	Goroutines  map[int]int     `json:"goroutines"`
	// GroupsExported is the number of groups in the last snapshot: the
	// stable ones plus the few churning ones still alive.
	GroupsExported int     `json:"groups_exported"`
	Seconds        float64 `json:"seconds"`
	Error          string  `json:"error,omitempty"`
}

// Churn runs cycles poll cycles against a kfake child with base stable
// groups, creating one topic and group and deleting the one created keep
// cycles earlier at every cycle, and measures the live heap at the first
// tenth, the middle and the end.
func Churn(ctx context.Context, cycles, base, keep int, o Options) *ChurnResult {
	o.defaults()
	res := &ChurnResult{Cycles: cycles, LiveHeapMiB: map[int]float64{}, Goroutines: map[int]int{}}
	start := time.Now()
	defer func() { res.Seconds = time.Since(start).Seconds() }()
	child, err := StartChild(ctx, o.Exe, o.Brokers, 1, 4)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer child.Stop()
	cl, err := kgo.NewClient(kgo.SeedBrokers(child.Addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer func() { cl.Close() }()
	adm := kadm.NewClient(cl)
	commit := func(group, topic string) error {
		os := kadm.Offsets{}
		os.AddOffset(topic, 0, 0, -1)
		_, err := adm.CommitOffsets(ctx, group, os)
		return err
	}
	for i := range base {
		if err := commit("stable-"+strconv.Itoa(i), TopicName(0)); err != nil {
			res.Error = err.Error()
			return res
		}
	}
	cfg := config.Default()
	cfg.Clusters, cfg.PollInterval = []config.Cluster{config.DefaultCluster("churn", child.Addrs...)}, 30*time.Second
	if err := cfg.Validate(); err != nil {
		res.Error = err.Error()
		return res
	}
	store := snapshot.NewStore("churn")
	p, err := poller.New(cfg, cfg.Clusters[0], store, o.Logger)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer p.Close()
	p.Quiet()
	checkpoints := map[int]bool{cycles / 10: true, cycles / 2: true, cycles: true}
	for i := 1; i <= cycles; i++ {
		name := fmt.Sprintf("churn-%06d", i)
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, name); err != nil {
			res.Error = err.Error()
			return res
		}
		// A producer per topic: a long-lived one would keep state for
		// every topic it ever wrote to, which is the load generator's
		// memory, not the exporter's.
		prod, err := kgo.NewClient(kgo.SeedBrokers(child.Addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			res.Error = err.Error()
			return res
		}
		err = prod.ProduceSync(ctx, &kgo.Record{Topic: name, Partition: 0, Value: []byte("x")}).FirstErr()
		prod.Close()
		if err != nil {
			res.Error = err.Error()
			return res
		}
		if err := commit(name, name); err != nil {
			res.Error = err.Error()
			return res
		}
		if old := i - keep; old > 0 {
			oldName := fmt.Sprintf("churn-%06d", old)
			_, _ = adm.DeleteGroups(ctx, oldName)
			_, _ = adm.DeleteTopics(ctx, oldName)
		}
		// The load generator's own client caches every group and topic
		// it touched: replace it now and then so that its memory, which
		// shares this process, does not pass for the exporter's.
		if i%50 == 0 {
			cl.Close()
			if cl, err = kgo.NewClient(kgo.SeedBrokers(child.Addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
				res.Error = err.Error()
				return res
			}
			adm = kadm.NewClient(cl)
		}
		cluster, _ := p.Cycle(ctx)
		if checkpoints[i] {
			runtime.GC()
			res.LiveHeapMiB[i] = float64(liveHeap()) / (1 << 20)
			res.Goroutines[i] = runtime.NumGoroutine()
			res.GroupsExported = len(cluster.Groups)
			fmt.Fprintf(o.Progress, "[churn] cycle %d: live heap %.1f MiB, %d goroutines, %d groups exported\n",
				i, res.LiveHeapMiB[i], res.Goroutines[i], res.GroupsExported)
		}
		if ctx.Err() != nil {
			res.Error = ctx.Err().Error()
			return res
		}
	}
	return res
}
