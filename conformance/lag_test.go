package conformance

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/report"
)

// TestLagMatchesKafkaTool: offset lag per partition equals the LAG column of
// Kafka's kafka-consumer-groups, for a group with commits on some
// partitions, for a live member that has committed nothing, and after
// DeleteRecords moved the log start past a commit (the deleted messages
// counted once as lost, the lag clamped).
func TestLagMatchesKafkaTool(t *testing.T) {
	e := env(t, kafka)
	const topic = "lag-orders"
	createTopic(t, e, topic, 3, -1, nil)
	for p, n := range []int{10, 20, 30} {
		e.Produce(topic, int32(p), n, time.Time{})
	}
	e.Commit("lag-committed", topic, map[int32]int64{0: 4, 1: 20})
	member := consumer(t, kafka, "lag-member", []string{topic})
	joined := ctx(t, 30*time.Second)
	for member.PollRecords(joined, 1).NumRecords() == 0 && joined.Err() == nil {
	}

	k := startKlagx(t, kafka, "--group.include=lag-.*")
	rows := matchTool(t, kafka, k, "lag-committed")
	if len(rows) != 2 {
		t.Errorf("the tool lists %d partitions of a group that committed 2 (it shows committed partitions only)", len(rows))
	}
	rows = matchTool(t, kafka, k, "lag-member")
	for _, r := range rows {
		if r.Current != nil || r.Lag != nil || r.ConsumerID == "" {
			t.Errorf("tool row %+v: want no commit (\"-\") and an owner", r)
		}
	}
	g, _ := k.group("lag-member")
	if g.Members != 1 || g.State != "Stable" {
		t.Errorf("lag-member: %d members, state %s; want 1, Stable", g.Members, g.State)
	}

	// DeleteRecords past the commit on partition 0: 3 messages lost.
	del := kadm.Offsets{}
	del.AddOffset(topic, 0, 7, -1)
	res, err := e.Admin.DeleteRecords(ctx(t, 30*time.Second), del)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	matchTool(t, kafka, k, "lag-committed")
	since := time.Now()
	for range 3 {
		g := k.waitGroup("lag-committed", since, 30*time.Second, func(g report.Group) (bool, string) { return true, "" })
		since = g.ObservedAt
		p := partitions(g)[topic+"/0"]
		if p.MessagesLost != 3 || g.MessagesLost != 3 || p.Lag != 3 {
			t.Fatalf("after DeleteRecords to 7 with a commit at 4: lost %d (group %d), lag %d; want 3, 3, 3", p.MessagesLost, g.MessagesLost, p.Lag)
		}
	}
}

// TestTimeRetentionDeletesSegments: a topic whose segments roll after 1 s
// and are deleted 5 s after their newest record. Once Kafka has deleted the
// segment holding the group's commit, klagx counts the deleted messages
// once as lost and clamps the lag; Kafka's tool shows end − commit.
func TestTimeRetentionDeletesSegments(t *testing.T) {
	e := env(t, kafka)
	const topic = "retention-events"
	createTopic(t, e, topic, 1, -1, map[string]string{"segment.ms": "1000", "retention.ms": "5000"})
	e.Produce(topic, 0, 10, time.Time{})
	e.Commit("retention-group", topic, map[int32]int64{0: 3})
	k := startKlagx(t, kafka, "--group.include=retention-.*")
	matchTool(t, kafka, k, "retention-group")

	// A record more than segment.ms after the first rolls the segment; a
	// segment is deleted when its newest record is retention.ms old, and
	// the active one is rolled and deleted too once it is that old: in the
	// end every record is gone and the log start is the end offset, 11.
	time.Sleep(1100 * time.Millisecond) // segment.ms must pass in real time before the roll
	e.Produce(topic, 0, 1, time.Time{})
	waitFor(t, 60*time.Second, "retention to delete every segment", func() (bool, string) {
		s := startOffsets(t, e, topic)[0]
		return s == 11, fmt.Sprintf("log start %d", s)
	})
	rows := matchTool(t, kafka, k, "retention-group")
	since := time.Now()
	for range 3 {
		g := k.waitGroup("retention-group", since, 30*time.Second, func(report.Group) (bool, string) { return true, "" })
		since = g.ObservedAt
		p := partitions(g)[topic+"/0"]
		if p.MessagesLost != 8 || p.Lag != 0 || p.Start != 11 || *rows[0].Lag != 8 {
			t.Fatalf("after retention deleted offsets 0-10 with a commit at 3: klagx lost %d lag %d start %d, tool LAG %s; want 8, 0, 11, 8",
				p.MessagesLost, p.Lag, p.Start, fmtp(rows[0].Lag))
		}
	}
}

// TestCompactedTopic: on a compacted topic the offsets of removed records
// stay counted: lag is end − commit, as in Kafka's tool.
func TestCompactedTopic(t *testing.T) {
	e := env(t, kafka)
	const topic = "compacted-state"
	createTopic(t, e, topic, 1, -1, map[string]string{
		"cleanup.policy": "compact", "segment.ms": "500", "min.cleanable.dirty.ratio": "0.01",
		"min.compaction.lag.ms": "0", "delete.retention.ms": "0",
	})
	produceKeys := func(n int) {
		var recs []*kgo.Record
		for i := range n {
			recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "v%d", i)})
		}
		if err := e.Client.ProduceSync(ctx(t, 30*time.Second), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produceKeys(50)
	time.Sleep(600 * time.Millisecond) // segment.ms must pass in real time before the roll
	produceKeys(5)
	waitFor(t, 90*time.Second, "the log cleaner to compact the first segment", func() (bool, string) {
		r := recordAt(t, kafka, topic, 0, 0)
		return r.Offset > 0, fmt.Sprintf("first record at offset %d", r.Offset)
	})
	e.Commit("compacted-group", topic, map[int32]int64{0: 20})
	k := startKlagx(t, kafka, "--group.include=compacted-.*")
	rows := matchTool(t, kafka, k, "compacted-group")
	if *rows[0].Lag != 35 {
		t.Errorf("tool LAG %d, want 35 (offsets, not records)", *rows[0].Lag)
	}
}

// TestReadCommitted: with --isolation=read_committed klagx measures lag to
// the last stable offset: an open transaction's records are not lag yet,
// and the offsets of aborted records and of transaction markers are lag
// until the group commits past them (lag counts offsets, as Kafka's tool
// does, not records).
func TestReadCommitted(t *testing.T) {
	e := env(t, kafka)
	const topic = "txn-payments"
	createTopic(t, e, topic, 1, -1, nil)
	txn, err := kafka.Client(kgo.TransactionalID("klagx-conformance-txn"), kgo.DefaultProduceTopic(topic), kgo.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	inTxn := func(n int, commit kgo.TransactionEndTry) {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if err := txn.ProduceSync(ctx(t, 30*time.Second), &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := txn.EndTransaction(ctx(t, 30*time.Second), commit); err != nil {
			t.Fatal(err)
		}
	}
	// Offsets 0-4 committed records, 5 marker; 6-8 aborted, 9 marker; 10-11
	// an open transaction.
	inTxn(5, kgo.TryCommit)
	inTxn(3, kgo.TryAbort)
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(ctx(t, 30*time.Second), &kgo.Record{Value: []byte("o1")}, &kgo.Record{Value: []byte("o2")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e.Commit("txn-group", topic, map[int32]int64{0: 0})

	// klagx_partition_last_stable_offset is an opt-in family (beyond the
	// default cardinality budget, docs/metrics.md).
	rc := startKlagx(t, kafka, "--group.include=txn-.*", "--isolation=read_committed", "--metric-opt-in-list=klagx_partition_last_stable_offset")
	ru := startKlagx(t, kafka, "--group.include=txn-.*")
	check := func(what string, committed, hwm, lso int64) {
		t.Helper()
		// EndTransaction returns before the coordinator has written the
		// markers: wait for the brokers' LSO.
		waitFor(t, 30*time.Second, what+": Kafka's last stable offset", func() (bool, string) {
			got := stableOffsets(t, e, topic, 1)[0]
			return got == lso, fmt.Sprintf("%d, want %d", got, lso)
		})
		rows := matchTool(t, kafka, ru, "txn-group") // read_uncommitted: the high-water mark, as the tool
		if *rows[0].End != hwm || *rows[0].Lag != hwm-committed {
			t.Fatalf("%s: tool LOG-END-OFFSET %s LAG %s, want %d, %d", what, fmtp(rows[0].End), fmtp(rows[0].Lag), hwm, hwm-committed)
		}
		g := rc.waitGroup("txn-group", time.Now(), 30*time.Second, func(g report.Group) (bool, string) {
			p := partitions(g)[topic+"/0"]
			ok := p.Committed != nil && *p.Committed == committed && p.End == lso && p.Lag == lso-committed
			return ok, fmt.Sprintf("committed %s end %d lag %d; want %d, LSO %d, lag %d", fmtp(p.Committed), p.End, p.Lag, committed, lso, lso-committed)
		})
		t.Logf("%s: Kafka HWM %d LSO %d, tool LAG %d; klagx read_committed end %d lag %d", what, hwm, lso, *rows[0].Lag, partitions(g)[topic+"/0"].End, g.Lag)
		s := rc.metrics()
		if v := s[`klagx_partition_last_stable_offset{cluster="real",partition="0",topic="`+topic+`"}`]; v != float64(lso) {
			t.Errorf("%s: klagx_partition_last_stable_offset %v, want %d", what, v, lso)
		}
	}
	check("transaction open", 0, 12, 10)

	// A read_committed consumer catches up to the LSO and commits.
	cons := consumer(t, kafka, "txn-group", []string{topic}, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	consumed := consumeAndCommit(t, cons, 5)
	check(fmt.Sprintf("consumer caught up (%d records)", consumed), committedOffset(t, e, "txn-group", topic), 12, 10)

	if err := txn.EndTransaction(ctx(t, 30*time.Second), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	check("transaction committed, consumer behind", committedOffset(t, e, "txn-group", topic), 13, 13)
	consumeAndCommit(t, cons, 2)
	check("consumer caught up again", committedOffset(t, e, "txn-group", topic), 13, 13)
}

// consumeAndCommit polls cl until it has n records, commits, and returns n.
func consumeAndCommit(t *testing.T, cl *kgo.Client, n int) int {
	t.Helper()
	c := ctx(t, 60*time.Second)
	got := 0
	for got < n {
		fs := cl.PollRecords(c, n-got)
		if c.Err() != nil {
			t.Fatalf("consumed %d of %d records", got, n)
		}
		got += fs.NumRecords()
	}
	// Let the client move past control records after the last one.
	poll, cancel := context.WithTimeout(c, time.Second)
	cl.PollFetches(poll)
	cancel()
	if err := cl.CommitUncommittedOffsets(c); err != nil {
		t.Fatal(err)
	}
	return got
}

// committedOffset is the group's committed offset on partition 0, from Kafka.
func committedOffset(t *testing.T, e *kfaketest.Env, group, topic string) int64 {
	t.Helper()
	offs, err := e.Admin.FetchOffsets(ctx(t, 30*time.Second), group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok {
		t.Fatalf("group %s has no commit on %s/0", group, topic)
	}
	return o.At
}
