package server

import (
	"bytes"
	"compress/gzip"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/klagx/klagx/promexport"
)

// offeredFormats are the exposition formats /metrics serves, by
// preference when the Accept header allows several (as promhttp with
// EnableOpenMetrics): OpenMetrics, then the text format 0.0.4 (also the
// answer to a missing or unmatched Accept header).
var offeredFormats = []expfmt.Format{expfmt.FmtOpenMetrics_1_0_0, expfmt.FmtOpenMetrics_0_0_1, expfmt.FmtText}

// metricsEndpoint serves /metrics: the exporter's own go_/process_/promhttp_
// metrics (small, encoded per request with expfmt), then the klagx metrics,
// which the renderer has already rendered and gzipped when their snapshot
// was published. A scrape writes ready bytes: it never renders, never
// waits for a rendering and never talks to Kafka.
type metricsEndpoint struct {
	klagx  *promexport.Renderer
	self   prometheus.Gatherer // nil with --web.disable-exporter-metrics
	logger *slog.Logger
}

func (m *metricsEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	format := expfmt.NegotiateAccept(r.Header, offeredFormats...)
	kind := promexport.Text
	if format.FormatType() == expfmt.TypeOpenMetrics {
		kind = promexport.OpenMetrics
	}
	exp := m.klagx.Current()
	selfText := m.selfMetrics(format)

	h := w.Header()
	h.Set("Content-Type", string(format))
	h.Add("Vary", "Accept-Encoding")
	var err error
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		if len(selfText) > 0 {
			_, _ = w.Write(gzipBytes(selfText))
		}
		err = exp.WriteGzip(w, kind)
	} else {
		h.Set("Content-Length", strconv.Itoa(len(selfText)+exp.Size(kind)))
		_, _ = w.Write(selfText)
		err = exp.Write(w, kind)
	}
	if err != nil {
		m.logger.Debug("writing /metrics", "err", err)
	}
}

// selfMetrics encodes the exporter's own metrics in format (without the
// OpenMetrics "# EOF", which the klagx part ends with).
func (m *metricsEndpoint) selfMetrics(format expfmt.Format) []byte {
	if m.self == nil {
		return nil
	}
	fams, err := m.self.Gather()
	if err != nil {
		m.logger.Warn("gathering exporter metrics", "err", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, format)
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			m.logger.Warn("encoding exporter metrics", "err", err)
			return nil
		}
	}
	return b.Bytes()
}

// gzipWriters are reused: a flate writer allocates about 1 MB.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

func gzipBytes(p []byte) []byte {
	var b bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&b)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return b.Bytes()
}

// acceptsGzip reports whether an Accept-Encoding header (RFC 9110 12.5.3)
// accepts gzip: listed as gzip, x-gzip or *, with a q-value above 0, and
// not refused by a more specific entry.
func acceptsGzip(header string) bool {
	gz, star := -1.0, -1.0
	for _, entry := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(entry, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		switch coding {
		case "gzip", "x-gzip":
			gz = max(gz, q)
		case "*":
			star = max(star, q)
		}
	}
	if gz >= 0 {
		return gz > 0
	}
	return star > 0
}
