package server

import (
	"bytes"
	"compress/gzip"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/klagx/klagx/snapshot"
)

// metricsEndpoint serves the text exposition format: the exporter's own
// go_/process_/promhttp_ metrics (small, encoded per request) followed by
// the klagx metrics, which are encoded (and gzipped) once per snapshot and
// then served from that cache. Any number of scrapes of one snapshot, at
// once or in a row, cost one rendering; none of them talks to Kafka.
type metricsEndpoint struct {
	klagx  prometheus.Gatherer
	self   prometheus.Gatherer // nil with --web.disable-exporter-metrics
	logger *slog.Logger

	mu       sync.Mutex
	key      any // what the cached rendering was made from
	text, gz []byte
}

// textRenderer is implemented by promexport.Gatherer: it renders the text
// exposition directly, without metric families.
type textRenderer interface {
	Render() ([]byte, *snapshot.Snapshot)
}

var textFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

func encodeFamilies(fams []*dto.MetricFamily) ([]byte, error) {
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, textFormat)
	for _, f := range fams {
		if err := enc.Encode(f); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}

func gzipBytes(p []byte) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return b.Bytes()
}

// klagxBody returns the encoded klagx metrics of the current snapshot,
// plain or gzipped.
func (m *metricsEndpoint) klagxBody(gz bool) ([]byte, error) {
	var (
		key    any
		text   []byte
		encode func() ([]byte, error)
	)
	if r, ok := m.klagx.(textRenderer); ok {
		text, key = r.Render()
		encode = func() ([]byte, error) { return text, nil }
	} else {
		fams, err := m.klagx.Gather()
		if err != nil {
			return nil, err
		}
		if len(fams) > 0 {
			key = fams[0]
		}
		encode = func() ([]byte, error) { return encodeFamilies(fams) }
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if key == nil || key != m.key {
		text, err := encode()
		if err != nil {
			return nil, err
		}
		m.key, m.text, m.gz = key, text, nil
	}
	if !gz {
		return m.text, nil
	}
	if m.gz == nil {
		// A gzip stream may hold several members; readers (Go's, as in
		// Prometheus, and browsers) concatenate them, so the cached
		// member follows the per-request one.
		m.gz = gzipBytes(m.text)
	}
	return m.gz, nil
}

func (m *metricsEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gz := strings.Contains(r.Header.Get("Accept-Encoding"), "gzip")
	body, err := m.klagxBody(gz)
	if err != nil {
		m.logger.Error("rendering metrics", "err", err)
		http.Error(w, "rendering metrics: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var selfText []byte
	if m.self != nil {
		fams, err := m.self.Gather()
		if err != nil {
			m.logger.Warn("gathering exporter metrics", "err", err)
		}
		if selfText, err = encodeFamilies(fams); err != nil {
			m.logger.Warn("encoding exporter metrics", "err", err)
			selfText = nil
		}
	}
	w.Header().Set("Content-Type", string(textFormat))
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
		if len(selfText) > 0 {
			_, _ = w.Write(gzipBytes(selfText))
		}
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write(selfText)
	_, _ = w.Write(body)
}
