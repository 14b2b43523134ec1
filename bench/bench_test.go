package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the kfake child (Run re-executes
// os.Executable() with ChildFlag), exactly as klagx-bench does.
func TestMain(m *testing.M) {
	if IsChild(os.Args[1:]) {
		if err := RunChild(os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "kfake child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHarness runs the tiny size (20 groups × 5 partitions) through the
// whole harness: child kfake, setup, cycles, scrapes, and every report
// format.
func TestHarness(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sz := Sizes["tiny"]
	o := Options{Exe: exe, Cycles: 2, Scrapes: 3, Concurrency: 3, Timeout: 60 * time.Second, Gzip: true}
	res := Run(context.Background(), sz, o)
	if res.Error != "" {
		t.Fatalf("run: %s (stage %s)", res.Error, res.FailedAtStage)
	}
	if res.Rows != 100 || len(res.Cycles) != 2 || res.First == nil || res.Steady == nil || res.Scrape == nil {
		t.Fatalf("incomplete result: %+v", res)
	}
	for i, c := range res.Cycles {
		if c.Rows != 100 {
			t.Errorf("cycle %d: %d rows, want 100", i+1, c.Rows)
		}
		if c.Requests == 0 || c.RequestsByAPI["OffsetFetch"] == 0 || c.RequestsByAPI["ListOffsets"] == 0 {
			t.Errorf("cycle %d: requests %v", i+1, c.RequestsByAPI)
		}
		if c.WallSeconds <= 0 || c.BytesRead == 0 || c.HeapInuseBytes == 0 {
			t.Errorf("cycle %d: not measured: %+v", i+1, c)
		}
	}
	sc := res.Scrape
	if sc.KafkaRequests != 0 {
		t.Errorf("scrapes sent %d Kafka requests", sc.KafkaRequests)
	}
	if sc.RenderCycleP50Seconds <= 0 || sc.RenderTickP50Seconds <= 0 || sc.TickP50Seconds <= 0 {
		t.Errorf("the rendering on publish was not timed: %+v", sc)
	}
	// Each of the 100 rows has at least its lag series.
	if sc.Series < 100 || sc.ResponseBytes == 0 || sc.WireBytes == 0 || sc.P99Seconds <= 0 || sc.ConcurrentP99Seconds <= 0 {
		t.Errorf("scrape not measured: %+v", sc)
	}
	if res.PeakRSSBytes == 0 {
		t.Errorf("peak RSS not measured")
	}

	rep := NewReport(o)
	rep.Results = []*Result{res}
	var table, js, bf bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "tiny") || !strings.Contains(table.String(), "OffsetFetch=") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Results) != 1 || back.Results[0].Rows != 100 {
		t.Errorf("json round trip: %v %s", err, js.String())
	}
	if err := rep.WriteBenchfmt(&bf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bf.String(), "BenchmarkCycleSteady/rows=100-") || !strings.Contains(bf.String(), " ns/op") {
		t.Errorf("benchfmt:\n%s", bf.String())
	}
}

// TestTimeout checks that a size that cannot finish in time is reported as
// timed out, not hung or crashed.
func TestTimeout(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	res := Run(context.Background(), Sizes["tiny"], Options{Exe: exe, Timeout: time.Nanosecond})
	if !res.TimedOut || !strings.Contains(res.Error, "did not finish within --timeout") {
		t.Fatalf("want a timeout, got %+v", res)
	}
}

func TestParseSizes(t *testing.T) {
	got, err := ParseSizes("10k, 100k,1M,7/3/2/2")
	if err != nil {
		t.Fatal(err)
	}
	want := []int{10_000, 100_000, 1_000_000, 28}
	for i, s := range got {
		if s.Rows() != want[i] {
			t.Errorf("%s: %d rows, want %d", s.Name, s.Rows(), want[i])
		}
	}
	for _, bad := range []string{"", "2k", "1/2/3", "1/2/3/4", "0/1/1/1"} {
		if _, err := ParseSizes(bad); err == nil {
			t.Errorf("ParseSizes(%q): no error", bad)
		}
	}
	// Every group's topics are distinct.
	s := Sizes["100k"]
	for g := 0; g < s.Groups; g++ {
		seen := map[int]bool{}
		for _, tp := range s.GroupTopics(g) {
			if seen[tp] {
				t.Fatalf("group %d: topic %d twice", g, tp)
			}
			seen[tp] = true
		}
	}
}

func TestPercentile(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[99-i] = time.Duration(i+1) * time.Millisecond
	}
	if p := percentile(ds, 0.5); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(ds, 0.99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(ds[:1], 0.99); p != 100*time.Millisecond {
		t.Errorf("p99 of one = %v", p)
	}
}

// TestChurnDoesNotGrow: 300 cycles while a group and a topic are created
// and deleted every cycle: the exporter's live heap and goroutines do not
// grow, and deleted groups are gone from the snapshot.
func TestChurnDoesNotGrow(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	o := testOptions(t)
	res := Churn(context.Background(), 300, 20, 3, o)
	if res.Error != "" {
		t.Fatal(res.Error)
	}
	early, late := res.LiveHeapMiB[30], res.LiveHeapMiB[300]
	if late > early*1.25+1 {
		t.Errorf("live heap grew from %.1f MiB (cycle 30) to %.1f MiB (cycle 300)", early, late)
	}
	if res.Goroutines[300] > res.Goroutines[30]+5 {
		t.Errorf("goroutines grew from %d to %d", res.Goroutines[30], res.Goroutines[300])
	}
	if res.GroupsExported > 20+3+1 {
		t.Errorf("%d groups exported: deleted groups linger", res.GroupsExported)
	}
	t.Logf("churn: heap %.1f → %.1f → %.1f MiB, goroutines %d → %d, %.1fs",
		early, res.LiveHeapMiB[150], late, res.Goroutines[30], res.Goroutines[300], res.Seconds)
}

func testOptions(t *testing.T) Options {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Options{Exe: exe, Timeout: 2 * time.Minute}
}
