package report

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/klagx/klagx/snapshot"
	st "github.com/klagx/klagx/status"
)

func TestRoundTripAndOptionalFields(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	s := snapshot.NewStore("c")
	s.Publish(&snapshot.Cluster{Name: "c", Up: true, Ready: true, LastSuccess: at,
		Partitions: []snapshot.Partition{{Topic: "t", Partition: 0, Start: 2, End: 10, Stable: -1}, {Topic: "t", Partition: 1, Start: 0, End: 4, Stable: -1}},
		Groups: []snapshot.Group{{Name: "g", Kind: "classic", State: "Stable", Status: "warning", Reason: "r", HasData: true, ObservedAt: at,
			Lag: 9, LagSeconds: 12.5, LagSecondsKnown: true,
			Topics: []snapshot.GroupTopic{{Topic: "t", Lag: 9, LagSeconds: 12.5, LagSecondsKnown: true,
				ConsumeRate: 2, ProduceRate: 1, RatesKnown: true, CatchUpSeconds: 9, CatchUpKnown: true}},
			Partitions: []snapshot.GroupPartition{
				{Topic: "t", Partition: 0, Committed: 5, HasCommit: true, Lag: 5, LagKnown: true, LagSeconds: 12.5, TimeLagMethod: "exact", LastCommitAt: at},
				{Topic: "t", Partition: 1, Lag: 4, LagKnown: true, TimeLagMethod: "unknown"},
			}}}})
	r := FromSnapshot(s.Load(), at, nil)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(":-1")) || bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Inf")) {
		t.Fatalf("sentinels in JSON: %s", b)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var back Report
	if err := dec.Decode(&back); err != nil {
		t.Fatal(err)
	}
	g := back.Clusters[0].Groups[0]
	p0, p1 := g.Topics[0].Partitions[0], g.Topics[0].Partitions[1]
	if back.Schema != Schema || *p0.Committed != 5 || p0.Start != 2 || p0.End != 10 || p1.Committed != nil || p1.LagSeconds != nil {
		t.Fatalf("round trip: %+v %+v", p0, p1)
	}
	if math.Abs(*g.LagSeconds-12.5) > 1e-9 || g.Status != "warning" {
		t.Fatalf("group: %+v", g)
	}
	// The group's estimate is absent (CatchUpKnown false), the topic's
	// rates and estimate present.
	tp := g.Topics[0]
	if g.CatchUpSeconds != nil || *tp.ConsumeRate != 2 || *tp.ProduceRate != 1 || *tp.CatchUpSeconds != 9 {
		t.Fatalf("catch-up: group %v topic %+v", g.CatchUpSeconds, tp)
	}
}

// TestEndIsTheStableOffsetWhenReadCommitted: with read_committed, lag is
// measured to the last stable offset, and "end" must say so; real Kafka
// with an open transaction showed "end" at the high-water mark beside a lag
// to the LSO (conformance.TestReadCommitted).
func TestEndIsTheStableOffsetWhenReadCommitted(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	s := snapshot.NewStore("c")
	s.Publish(&snapshot.Cluster{Name: "c", Up: true, Ready: true, LastSuccess: at,
		Partitions: []snapshot.Partition{{Topic: "t", Partition: 0, Start: 0, End: 12, Stable: 10}},
		Groups: []snapshot.Group{{Name: "g", Kind: "classic", HasData: true, ObservedAt: at, Lag: 10,
			Partitions: []snapshot.GroupPartition{{Topic: "t", Partition: 0, HasCommit: true, Lag: 10, LagKnown: true}}}}})
	p := FromSnapshot(s.Load(), at, nil).Clusters[0].Groups[0].Topics[0].Partitions[0]
	if p.End != 10 || p.Lag != 10 {
		t.Fatalf("end %d lag %d, want the LSO 10 and lag 10", p.End, p.Lag)
	}
}

func FuzzJSONRoundTrip(f *testing.F) {
	f.Add("g", int64(5), 1.5, "ok")
	f.Fuzz(func(t *testing.T, name string, lag int64, secs float64, status string) {
		if math.IsNaN(secs) || math.IsInf(secs, 0) {
			t.Skip()
		}
		r := Report{Schema: Schema, Clusters: []Cluster{{Name: "c", Groups: []Group{{Name: name, Lag: lag, LagSeconds: &secs, Status: st.Status(status), Topics: []Topic{}}}}}}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Clusters[0].Groups[0].Lag != lag || *back.Clusters[0].Groups[0].LagSeconds != secs {
			t.Fatalf("round trip changed values")
		}
	})
}

// TestReadCommittedEnd: on a read_committed cluster the end is the last
// stable offset, the one lag is measured to, so End - Committed is Lag.
func TestReadCommittedEnd(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	s := snapshot.NewStore("c")
	s.Publish(&snapshot.Cluster{Name: "c", Up: true, Ready: true, LastSuccess: at,
		Partitions: []snapshot.Partition{{Topic: "t", Partition: 0, Start: 0, End: 10, Stable: 8}},
		Groups: []snapshot.Group{{Name: "g", HasData: true, ObservedAt: at, Lag: 3,
			Topics:     []snapshot.GroupTopic{{Topic: "t", Lag: 3}},
			Partitions: []snapshot.GroupPartition{{Topic: "t", Partition: 0, Committed: 5, HasCommit: true, Lag: 3, LagKnown: true}}}}})
	p := FromSnapshot(s.Load(), at, nil).Clusters[0].Groups[0].Topics[0].Partitions[0]
	if p.End != 8 || p.End-*p.Committed != p.Lag {
		t.Fatalf("end %d, committed %d, lag %d: want end 8 = committed + lag", p.End, *p.Committed, p.Lag)
	}
}
