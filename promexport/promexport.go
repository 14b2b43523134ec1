// Package promexport renders snapshots in the Prometheus exposition formats.
//
// Renderer is the one renderer of a snapshot. It subscribes to a
// snapshot.Store and renders every snapshot when it is published, on the
// publisher's goroutine, into an Exposition: per family, its series lines
// (shared by the text 0.0.4 and OpenMetrics 1.0 formats, which differ only
// in their HELP/TYPE headers and the final "# EOF") and one gzip member of
// them. A scrape therefore serves ready bytes and never waits for rendering;
// any number of concurrent scrapes costs nothing more, and none talks to
// Kafka. A group or topic gone from the snapshot is gone from the next
// exposition: there is no registry state that could keep a ghost series.
//
// Rendering is incremental: the per-partition lines of a group (the bulk of
// an exposition) are kept per group and re-rendered only when the group's
// partitions changed (a poll cycle), not on a group-state tick, which only
// re-renders the per-group lines; a family whose lines did not change keeps
// its gzip member. Concatenated gzip members are one valid gzip stream.
//
// Gather derives metric families from the same bytes (for the OTLP bridge
// and tests), so every output has one source.
//
// This is not the collector package (which polls Kafka); it only renders.
package promexport

import (
	"compress/gzip"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/snapshot"
)

// Options configures a Renderer.
type Options struct {
	// Selection chooses the families rendered; the zero value renders the
	// cluster level only. Use metrics.DefaultSelection for the defaults.
	Selection metrics.Selection
	// Shard and TotalShards are exported as klagx_shard_ordinal and
	// klagx_total_shards; only shard 0 emits the klagx_partition_* series,
	// which every shard reads but which do not depend on groups.
	Shard, TotalShards int
	// Version, Revision and GoVersion label klagx_build_info.
	Version, Revision, GoVersion string
}

// Renderer renders the snapshots of one store. Current is safe for
// concurrent use; rendering is serialised by the store's Publish.
type Renderer struct {
	o Options
	// fams is every family of the contract, sorted by name (the order of
	// an exposition); byName indexes it.
	fams   []*family
	byName map[string]*family
	// chunked counts the enabled families rendered per group (group-topic
	// and group-partition series); family.slot indexes groupCache.lines.
	chunked int
	// process holds, per family index, the lines of processLines.
	process [][]byte

	mu       sync.Mutex // guards what follows (Render)
	clusters map[string]*clusterCache
	last     *Exposition
	zw       *gzip.Writer
	scratch  [][]byte // per slot, for renderChunks
	eofGz    []byte   // "# EOF" as a gzip member

	cur atomic.Pointer[Exposition]
}

// New returns a Renderer over store: it renders the current snapshot now,
// and every snapshot the store publishes from now on.
func New(store *snapshot.Store, o Options) *Renderer {
	r := NewRenderer(o)
	store.Subscribe(func(s *snapshot.Snapshot) { r.Render(s) })
	return r
}

// NewRenderer returns a Renderer fed by explicit calls to Render.
func NewRenderer(o Options) *Renderer {
	r := &Renderer{o: o, byName: map[string]*family{}, clusters: map[string]*clusterCache{}}
	for _, f := range metrics.Families {
		fam := newFamily(f, o.Selection.Enabled(f))
		if fam.on && (metrics.UnitOf(f) == metrics.PerGroupPartition || metrics.UnitOf(f) == metrics.PerGroupTopic) {
			fam.chunked, fam.slot = true, r.chunked
			r.chunked++
		}
		r.fams = append(r.fams, fam)
		r.byName[f.Name] = fam
	}
	sort.Slice(r.fams, func(i, j int) bool { return r.fams[i].name < r.fams[j].name })
	for i, f := range r.fams {
		f.idx = i
	}
	r.zw, _ = gzip.NewWriterLevel(nil, gzip.BestSpeed)
	for _, f := range r.fams {
		for i, h := range f.head {
			f.headGz[i] = r.gzip([][]byte{h})
		}
	}
	r.eofGz = r.gzip([][]byte{eof})
	r.process = make([][]byte, len(r.fams))
	r.processLines(&sink{r: r, dst: r.process})
	r.cur.Store(&Exposition{Snapshot: &snapshot.Snapshot{}, eofGz: r.eofGz})
	return r
}

// Current returns the exposition of the last rendered snapshot. It never
// blocks on rendering.
func (r *Renderer) Current() *Exposition { return r.cur.Load() }

// Render renders snap (reusing what did not change since the last call)
// and makes it current.
func (r *Renderer) Render(snap *snapshot.Snapshot) *Exposition {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := make(map[string]*clusterCache, len(snap.Clusters))
	for _, cl := range snap.Clusters {
		cc := r.clusters[cl.Name]
		if cc == nil || cc.cl != cl {
			cc = r.renderCluster(cl, cc)
		}
		next[cl.Name] = cc
	}
	r.clusters = next
	e := r.assemble(snap)
	r.last = e
	r.cur.Store(e)
	return e
}
