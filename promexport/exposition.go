package promexport

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"sync"

	"github.com/klagx/klagx/snapshot"
)

// Exposition is one rendered snapshot, ready to be written in either format,
// plain or gzipped. It is immutable.
type Exposition struct {
	// Snapshot is what was rendered.
	Snapshot *snapshot.Snapshot
	fams     []famBody
	eofGz    []byte

	gatherOnce sync.Once
	gathered   gathered
}

// famBody is one non-empty family of an exposition: its lines, as chunks
// to be written in order, and the gzip member of their concatenation; or,
// for a family rendered per group, one gzip member per group.
type famBody struct {
	f       *family
	chunks  [][]byte
	gz      []byte
	members [][]byte
	size    int // of the plain lines
}

var eof = []byte("# EOF\n")

// Size returns the length of the plain exposition in format.
func (e *Exposition) Size(format Format) int {
	n := 0
	for _, fb := range e.fams {
		n += len(fb.f.head[format]) + fb.size
	}
	if format == OpenMetrics {
		n += len(eof)
	}
	return n
}

// Write writes the exposition in format. For OpenMetrics it ends with the
// "# EOF" line: write other families before it.
func (e *Exposition) Write(w io.Writer, format Format) error {
	var zr *gzip.Reader
	for _, fb := range e.fams {
		nb := net.Buffers(append([][]byte{fb.f.head[format]}, fb.chunks...))
		if _, err := nb.WriteTo(w); err != nil {
			return err
		}
		if len(fb.members) == 0 {
			continue
		}
		// Kept compressed: a plain scrape (Prometheus always accepts
		// gzip) decompresses them.
		readers := make([]io.Reader, len(fb.members))
		for i, m := range fb.members {
			readers[i] = bytes.NewReader(m)
		}
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(io.MultiReader(readers...))
		} else {
			err = zr.Reset(io.MultiReader(readers...))
		}
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, zr); err != nil {
			return err
		}
	}
	if format == OpenMetrics {
		_, err := w.Write(eof)
		return err
	}
	return nil
}

// WriteGzip writes the exposition in format as a sequence of gzip members
// (one stream to any gzip reader). Nothing is compressed here.
func (e *Exposition) WriteGzip(w io.Writer, format Format) error {
	bufs := make([][]byte, 0, 2*len(e.fams)+1)
	for _, fb := range e.fams {
		bufs = append(bufs, fb.f.headGz[format])
		if fb.gz != nil {
			bufs = append(bufs, fb.gz)
		}
		bufs = append(bufs, fb.members...)
	}
	if format == OpenMetrics {
		bufs = append(bufs, e.eofGz)
	}
	nb := net.Buffers(bufs)
	_, err := nb.WriteTo(w)
	return err
}

// GzipSize returns the length of WriteGzip's output.
func (e *Exposition) GzipSize(format Format) int {
	n := 0
	for _, fb := range e.fams {
		n += len(fb.f.headGz[format]) + len(fb.gz)
		for _, m := range fb.members {
			n += len(m)
		}
	}
	if format == OpenMetrics {
		n += len(e.eofGz)
	}
	return n
}

// assemble builds the exposition of snap from the cluster caches, reusing
// the previous exposition's gzip member of every family whose bytes did
// not change.
func (r *Renderer) assemble(snap *snapshot.Snapshot) *Exposition {
	e := &Exposition{Snapshot: snap, eofGz: r.eofGz}
	prev := map[*family]*famBody{}
	if r.last != nil {
		for i := range r.last.fams {
			prev[r.last.fams[i].f] = &r.last.fams[i]
		}
	}
	for _, f := range r.fams {
		if !f.on {
			continue
		}
		fb := famBody{f: f}
		add := func(b []byte) {
			if len(b) > 0 {
				fb.chunks = append(fb.chunks, b)
				fb.size += len(b)
			}
		}
		add(r.process[f.idx])
		for _, cl := range snap.Clusters {
			cc := r.clusters[cl.Name]
			add(cc.lines[f.idx])
			add(cc.partLines[f.idx])
			if f.chunked {
				for _, gc := range cc.groups {
					if gc.lines != nil && gc.lines[f.slot].n > 0 {
						fb.members = append(fb.members, gc.lines[f.slot].gz)
						fb.size += gc.lines[f.slot].n
					}
				}
			}
		}
		if fb.size == 0 {
			continue
		}
		switch p := prev[f]; {
		case len(fb.chunks) == 0:
		case p != nil && sameChunks(p.chunks, fb.chunks):
			fb.gz = p.gz
		default:
			fb.gz = r.gzip(fb.chunks)
		}
		e.fams = append(e.fams, fb)
	}
	return e
}

// sameChunks reports whether two chunk lists hold the same bytes (chunks
// reused from a cache are the same slices, which compare at once).
func sameChunks(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// gzip compresses chunks into one gzip member.
func (r *Renderer) gzip(chunks [][]byte) []byte {
	n := 0
	for _, c := range chunks {
		n += len(c)
	}
	b := bytes.NewBuffer(make([]byte, 0, n/6+64))
	r.zw.Reset(b)
	for _, c := range chunks {
		_, _ = r.zw.Write(c)
	}
	_ = r.zw.Close()
	return b.Bytes()
}
