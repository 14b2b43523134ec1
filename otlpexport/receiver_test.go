package otlpexport_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricpb "go.opentelemetry.io/proto/otlp/metrics/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/klagx/klagx/internal/kfaketest"
)

// receiver is an in-test OTLP collector: OTLP/HTTP (protobuf) on an
// httptest server and OTLP/gRPC on a grpc server, both on 127.0.0.1:0.
type receiver struct {
	mu      sync.Mutex
	metrics []*colmetricpb.ExportMetricsServiceRequest
	traces  []*coltracepb.ExportTraceServiceRequest
	headers []http.Header
}

// newHTTPReceiver returns the receiver and its base URL.
func newHTTPReceiver(t *testing.T) (*receiver, string) {
	r := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	t.Cleanup(srv.Close)
	return r, srv.URL
}

func (r *receiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var resp proto.Message
	r.mu.Lock()
	r.headers = append(r.headers, req.Header.Clone())
	switch req.URL.Path {
	case "/v1/metrics":
		m := &colmetricpb.ExportMetricsServiceRequest{}
		err = proto.Unmarshal(b, m)
		r.metrics = append(r.metrics, m)
		resp = &colmetricpb.ExportMetricsServiceResponse{}
	case "/v1/traces":
		m := &coltracepb.ExportTraceServiceRequest{}
		err = proto.Unmarshal(b, m)
		r.traces = append(r.traces, m)
		resp = &coltracepb.ExportTraceServiceResponse{}
	default:
		err = fmt.Errorf("unexpected path %s", req.URL.Path)
	}
	r.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

type grpcMetrics struct {
	colmetricpb.UnimplementedMetricsServiceServer
	r *receiver
}

func (g grpcMetrics) Export(_ context.Context, req *colmetricpb.ExportMetricsServiceRequest) (*colmetricpb.ExportMetricsServiceResponse, error) {
	g.r.mu.Lock()
	g.r.metrics = append(g.r.metrics, req)
	g.r.mu.Unlock()
	return &colmetricpb.ExportMetricsServiceResponse{}, nil
}

type grpcTraces struct {
	coltracepb.UnimplementedTraceServiceServer
	r *receiver
}

func (g grpcTraces) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	g.r.mu.Lock()
	g.r.traces = append(g.r.traces, req)
	g.r.mu.Unlock()
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// newGRPCReceiver returns the receiver and its grpc:// endpoint.
func newGRPCReceiver(t *testing.T) (*receiver, string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{}
	s := grpc.NewServer()
	colmetricpb.RegisterMetricsServiceServer(s, grpcMetrics{r: r})
	coltracepb.RegisterTraceServiceServer(s, grpcTraces{r: r})
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
	return r, "grpc://" + l.Addr().String()
}

// lastMetrics returns the data of the last metric export as a
// kfaketest.Series (histograms as NAME_count, as kfaketest.Parse does),
// and its resource attributes.
func (r *receiver) lastMetrics(t *testing.T) (kfaketest.Series, map[string]string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.metrics) == 0 {
		t.Fatal("no OTLP metric export received")
	}
	req := r.metrics[len(r.metrics)-1]
	out := kfaketest.Series{}
	res := map[string]string{}
	for _, rm := range req.GetResourceMetrics() {
		for k, v := range attrs(rm.GetResource().GetAttributes()) {
			res[k] = v
		}
		for _, sm := range rm.GetScopeMetrics() {
			for _, m := range sm.GetMetrics() {
				add := func(name string, kv []*commonpb.KeyValue, v float64) {
					key := seriesKey(name, attrs(kv))
					if _, dup := out[key]; dup {
						t.Fatalf("duplicate OTLP series %s", key)
					}
					out[key] = v
				}
				switch d := m.GetData().(type) {
				case *metricpb.Metric_Gauge:
					for _, p := range d.Gauge.GetDataPoints() {
						add(m.GetName(), p.GetAttributes(), number(p))
					}
				case *metricpb.Metric_Sum:
					if !d.Sum.GetIsMonotonic() || d.Sum.GetAggregationTemporality() != metricpb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE {
						t.Errorf("%s: sum is not a cumulative monotonic counter", m.GetName())
					}
					for _, p := range d.Sum.GetDataPoints() {
						add(m.GetName(), p.GetAttributes(), number(p))
					}
				case *metricpb.Metric_Histogram:
					for _, p := range d.Histogram.GetDataPoints() {
						add(m.GetName()+"_count", p.GetAttributes(), float64(p.GetCount()))
					}
				default:
					t.Errorf("%s: unexpected OTLP type %T", m.GetName(), d)
				}
			}
		}
	}
	return out, res
}

func number(p *metricpb.NumberDataPoint) float64 {
	if v, ok := p.GetValue().(*metricpb.NumberDataPoint_AsInt); ok {
		return float64(v.AsInt)
	}
	return p.GetAsDouble()
}

// spans returns every span received so far.
func (r *receiver) spans() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, req := range r.traces {
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				out = append(out, ss.GetSpans()...)
			}
		}
	}
	return out
}

// attrs renders OTLP attributes as strings (ints and bools in Go syntax,
// string lists joined with commas).
func attrs(kv []*commonpb.KeyValue) map[string]string {
	out := map[string]string{}
	for _, a := range kv {
		v := a.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			out[a.GetKey()] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			out[a.GetKey()] = fmt.Sprint(x.IntValue)
		case *commonpb.AnyValue_BoolValue:
			out[a.GetKey()] = fmt.Sprint(x.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			out[a.GetKey()] = fmt.Sprint(x.DoubleValue)
		case *commonpb.AnyValue_ArrayValue:
			var parts []string
			for _, e := range x.ArrayValue.GetValues() {
				parts = append(parts, e.GetStringValue())
			}
			out[a.GetKey()] = strings.Join(parts, ",")
		}
	}
	return out
}

func seriesKey(name string, labels map[string]string) string {
	var b bytes.Buffer
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		kv = append(kv, k, labels[k])
	}
	b.WriteString(kfaketest.Key(name, kv...))
	return b.String()
}
