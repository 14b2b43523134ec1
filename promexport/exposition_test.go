package promexport

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

// weird adds a group whose name needs escaping (a Kafka group id can be
// any string) to the fixture.
func weird() *snapshot.Store {
	store := fixture()
	at := time.Unix(1_700_000_000, 0)
	store.Publish(&snapshot.Cluster{Name: "staging", Up: true, Ready: true, LastSuccess: at,
		Groups: []snapshot.Group{{Name: "we\"ird\\group\nname", Kind: "classic", State: "Stable", HasData: true, ObservedAt: at, Lag: 2}}})
	return store
}

func decode(t *testing.T, body []byte, format expfmt.Format) []*dto.MetricFamily {
	t.Helper()
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	var out []*dto.MetricFamily
	for {
		f := &dto.MetricFamily{}
		err := dec.Decode(f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("decoding %s: %v\n%s", format, err, body)
		}
		out = append(out, f)
	}
	return out
}

// canonical renders families as sorted text lines, in a form independent
// of the format they were read from.
func canonical(t *testing.T, fams []*dto.MetricFamily) string {
	t.Helper()
	var b strings.Builder
	for _, f := range fams {
		for _, m := range f.Metric {
			if m.Counter != nil {
				m.Counter.CreatedTimestamp = nil
			}
			if h := m.Histogram; h != nil {
				h.CreatedTimestamp = nil
				// The +Inf bucket is the count; decoders differ on
				// whether they keep it.
				if n := len(h.Bucket); n > 0 && h.Bucket[n-1].GetUpperBound() > 1e300 {
					h.Bucket = h.Bucket[:n-1]
				}
			}
		}
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestFormatsAgree: the OpenMetrics exposition decodes (with expfmt's
// OpenMetrics parser) to the same families as the text one, and to the
// same as client_golang's own OpenMetrics encoding of those families.
func TestFormatsAgree(t *testing.T) {
	for _, sel := range []metrics.Selection{metrics.DefaultSelection, metrics.AllSelection} {
		r := New(weird(), Options{Selection: sel, Version: "1", Revision: "r", GoVersion: "go", TotalShards: 1})
		txt, om := text(t, r, Text), text(t, r, OpenMetrics)
		if !bytes.HasSuffix(om, []byte("\n# EOF\n")) {
			t.Fatal("OpenMetrics exposition does not end with # EOF")
		}
		want := canonical(t, decode(t, txt, expfmt.NewFormat(expfmt.TypeTextPlain)))
		if got := canonical(t, decode(t, om, expfmt.FmtOpenMetrics_1_0_0)); got != want {
			t.Fatalf("OpenMetrics differs from text:\n--- openmetrics\n%s\n--- text\n%s", got, want)
		}
		var theirs bytes.Buffer
		enc := expfmt.NewEncoder(&theirs, expfmt.FmtOpenMetrics_1_0_0)
		for _, f := range decode(t, txt, expfmt.NewFormat(expfmt.TypeTextPlain)) {
			if err := enc.Encode(f); err != nil {
				t.Fatal(err)
			}
		}
		_ = enc.(expfmt.Closer).Close()
		if got := canonical(t, decode(t, theirs.Bytes(), expfmt.FmtOpenMetrics_1_0_0)); got != want {
			t.Fatalf("client_golang's OpenMetrics differs:\n%s\n---\n%s", got, want)
		}
		gathered, err := r.Gather()
		if err != nil {
			t.Fatal(err)
		}
		if got := canonical(t, gathered); got != want {
			t.Fatalf("Gather differs from the text exposition:\n%s\n---\n%s", got, want)
		}
	}
}

func gunzip(t *testing.T, p []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(p)) // multistream by default
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGzipMembers: the concatenated gzip members are one stream holding
// exactly the plain exposition.
func TestGzipMembers(t *testing.T) {
	r := New(weird(), Options{Selection: metrics.AllSelection})
	for _, format := range []Format{Text, OpenMetrics} {
		var gz bytes.Buffer
		if err := r.Current().WriteGzip(&gz, format); err != nil {
			t.Fatal(err)
		}
		if gz.Len() != r.Current().GzipSize(format) {
			t.Errorf("GzipSize() = %d, wrote %d", r.Current().GzipSize(format), gz.Len())
		}
		if got, want := gunzip(t, gz.Bytes()), text(t, r, format); !bytes.Equal(got, want) {
			t.Fatalf("format %d: gunzipped exposition differs from the plain one", format)
		}
	}
}

// tick returns what a group-state tick publishes: a new cluster whose
// groups are copies of cl's (their partitions and topics shared), with
// group name's members changed.
func tick(cl *snapshot.Cluster, name string, members int) *snapshot.Cluster {
	c := *cl
	c.Groups = append([]snapshot.Group(nil), cl.Groups...)
	for i := range c.Groups {
		if c.Groups[i].Name == name {
			c.Groups[i].Members = members
		}
	}
	return &c
}

func famOf(e *Exposition, name string) *famBody {
	for i := range e.fams {
		if e.fams[i].f.name == name {
			return &e.fams[i]
		}
	}
	return nil
}

// TestIncremental: after a group-state tick the exposition equals a fresh
// rendering of the new snapshot, the per-partition lines are not rendered
// again and their gzip member is reused; after a full cycle they are.
func TestIncremental(t *testing.T) {
	store := fixture()
	r := New(store, Options{Selection: metrics.AllSelection})
	before := r.Current()

	store.Publish(tick(store.Load().Cluster("prod"), "billing", 7))
	after := r.Current()
	fresh := NewRenderer(Options{Selection: metrics.AllSelection})
	fresh.Render(store.Load())
	if got, want := text(t, r, Text), text(t, fresh, Text); !bytes.Equal(got, want) {
		t.Fatalf("incremental rendering differs from a fresh one:\n%s\n---\n%s", got, want)
	}
	if !strings.Contains(string(text(t, r, Text)), `klagx_group_members{cluster="prod",group="billing"} 7`) {
		t.Fatal("the tick's change is not rendered")
	}
	lag0, lag1 := famOf(before, metrics.GroupPartitionLag), famOf(after, metrics.GroupPartitionLag)
	if len(lag0.members) == 0 || &lag0.members[0][0] != &lag1.members[0][0] {
		t.Error("a tick rendered (and compressed) the per-partition lines again")
	}
	if m0, m1 := famOf(before, metrics.GroupMembers), famOf(after, metrics.GroupMembers); &m0.gz[0] == &m1.gz[0] {
		t.Error("a changed family kept its old gzip member")
	}

	// A poll cycle: new partition slices, one lag changed.
	cl := *store.Load().Cluster("prod")
	cl.Groups = append([]snapshot.Group(nil), cl.Groups...)
	g := &cl.Groups[0]
	g.Partitions = append([]snapshot.GroupPartition(nil), g.Partitions...)
	g.Partitions[0].Lag = 99
	store.Publish(&cl)
	if !strings.Contains(string(text(t, r, Text)), `klagx_group_partition_lag{cluster="prod",group="billing",partition="0",topic="orders"} 99`) {
		t.Fatal("a cycle's new partition lag is not rendered")
	}
	fresh.Render(store.Load())
	if got, want := text(t, r, Text), text(t, fresh, Text); !bytes.Equal(got, want) {
		t.Fatalf("incremental rendering differs from a fresh one after a cycle")
	}
}

// TestGroupsLeave: a group gone from the snapshot is gone from the
// exposition.
func TestGroupsLeave(t *testing.T) {
	store := fixture()
	r := New(store, Options{Selection: metrics.AllSelection})
	cl := *store.Load().Cluster("prod")
	cl.Groups = cl.Groups[1:]
	store.Publish(&cl)
	if bytes.Contains(text(t, r, Text), []byte(`group="billing"`)) {
		t.Fatal("a deleted group is still exported")
	}
}

// TestMembersLeave: a member gone from the group's description (a tick
// publishes the new member list) is gone from the exposition, the
// remaining one is still there.
func TestMembersLeave(t *testing.T) {
	store := fixture()
	r := New(store, Options{Selection: metrics.DefaultSelection})
	if !bytes.Contains(text(t, r, Text), []byte(`member="billing-2-77c1"`)) {
		t.Fatal("the member is not exported")
	}
	cl := tick(store.Load().Cluster("prod"), "billing", 1)
	g := &cl.Groups[0]
	g.MemberLags = g.MemberLags[:1]
	store.Publish(cl)
	got := string(text(t, r, Text))
	if strings.Contains(got, `member="billing-2-77c1"`) {
		t.Fatal("a member that left is still exported")
	}
	if !strings.Contains(got, `klagx_group_member_lag{client_id="billing-1",cluster="prod",group="billing",host="/10.0.0.1",member="billing-1-3f2a"} 20`) {
		t.Fatalf("the remaining member is not exported:\n%s", got)
	}
}
