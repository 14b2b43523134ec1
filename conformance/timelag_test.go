package conformance

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/report"
)

// timeLagSlack covers the gap between the moment klagx computes an age and
// the observed_at it reports for the cycle, and millisecond timestamps.
const timeLagSlack = 1.0

// timeLagMatches says whether klagx's time lag of p, read at observedAt,
// is the true age of the record at p's committed offset (truth, from
// Kafka) within klagx's own error bound errBound plus timeLagSlack.
func timeLagMatches(p report.Partition, observedAt, truth time.Time, errBound float64) (bool, string) {
	if p.LagSeconds == nil {
		return false, fmt.Sprintf("no time lag (method %s)", p.TimeLagMethod)
	}
	want := observedAt.Sub(truth).Seconds()
	diff := math.Abs(*p.LagSeconds - want)
	return diff <= errBound+timeLagSlack, fmt.Sprintf("klagx %.2fs (±%.2fs, %s), true age %.2fs", *p.LagSeconds, errBound, p.TimeLagMethod, want)
}

// TestTimeLagAfterStart: right after klagx starts, the time lag of a group
// is the age of the record at its commit, on a CreateTime topic (record
// timestamps set by the producer, 20 minutes of history) and on a
// LogAppendTime topic (timestamps set by the broker), in both time-lag
// modes.
func TestTimeLagAfterStart(t *testing.T) {
	e := env(t, kafka)
	const create, appendTime = "timelag-create", "timelag-append"
	createTopic(t, e, create, 1, -1, nil)
	createTopic(t, e, appendTime, 1, -1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	base := time.Now().Add(-20 * time.Minute).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range 120 {
		recs = append(recs, &kgo.Record{Topic: create, Value: fmt.Appendf(nil, "v%d", i), Timestamp: base.Add(time.Duration(i) * 10 * time.Second)})
	}
	if err := e.Client.ProduceSync(ctx(t, 30*time.Second), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// LogAppendTime: five batches 400ms apart, so that ages differ.
	for i := range 5 {
		if i > 0 {
			time.Sleep(400 * time.Millisecond) // spread the broker's append times
		}
		e.Produce(appendTime, 0, 4, time.Time{})
	}
	e.Commit("timelag-create-group", create, map[int32]int64{0: 45})
	e.Commit("timelag-append-group", appendTime, map[int32]int64{0: 6})
	truth := map[string]time.Time{
		"timelag-create-group": recordAt(t, kafka, create, 0, 45).Timestamp,
		"timelag-append-group": recordAt(t, kafka, appendTime, 0, 6).Timestamp,
	}
	if got, want := truth["timelag-create-group"], base.Add(450*time.Second); !got.Equal(want) {
		t.Fatalf("Kafka returned timestamp %v for the CreateTime record, produced with %v", got, want)
	}
	for _, mode := range []string{"interpolate", "exact"} {
		t.Run(mode, func(t *testing.T) {
			k := startKlagx(t, kafka, "--group.include=timelag-.*", "--time-lag.mode="+mode)
			for group, topic := range map[string]string{"timelag-create-group": create, "timelag-append-group": appendTime} {
				g := k.waitGroup(group, time.Time{}, 60*time.Second, func(g report.Group) (bool, string) {
					return timeLagMatches(partitions(g)[topic+"/0"], g.ObservedAt, truth[group], g.TimeLagErrorSeconds)
				})
				_, why := timeLagMatches(partitions(g)[topic+"/0"], g.ObservedAt, truth[group], g.TimeLagErrorSeconds)
				t.Logf("%s, %s: %s", group, mode, why)
			}
		})
	}
}

// TestTimeLagLive: a producer writes a record every 100ms and a consumer
// commits 20 records behind the end every 500ms; klagx's time lag stays the
// age of the record at the current commit.
func TestTimeLagLive(t *testing.T) {
	e := env(t, kafka)
	const topic = "timelag-live"
	createTopic(t, e, topic, 1, -1, nil)
	e.Produce(topic, 0, 30, time.Time{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			e.Client.Produce(ctx(t, 10*time.Second), &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "live%d", n)}, nil)
			if n%5 == 0 {
				ends, err := e.Admin.ListEndOffsets(ctx(t, 10*time.Second), topic)
				if err != nil {
					continue
				}
				if o, ok := ends.Lookup(topic, 0); ok && o.Offset > 20 {
					e.Commit("timelag-live-group", topic, map[int32]int64{0: o.Offset - 20})
				}
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for _, mode := range []string{"interpolate", "exact"} {
		t.Run(mode, func(t *testing.T) {
			k := startKlagx(t, kafka, "--group.include=timelag-live-.*", "--time-lag.mode="+mode)
			since := time.Now().Add(3 * time.Second) // a few cycles of live history first
			for range 5 {
				g := k.waitGroup("timelag-live-group", since, 30*time.Second, func(report.Group) (bool, string) { return true, "" })
				since = g.ObservedAt
				p := partitions(g)[topic+"/0"]
				if p.Committed == nil {
					t.Fatal("no commit")
				}
				ok, why := timeLagMatches(p, g.ObservedAt, recordAt(t, kafka, topic, 0, *p.Committed).Timestamp, g.TimeLagErrorSeconds)
				if !ok {
					t.Fatalf("live, %s, commit %d: %s", mode, *p.Committed, why)
				}
				t.Logf("live, %s, commit %d: %s", mode, *p.Committed, why)
			}
		})
	}
}
