package otlpexport

import (
	"strings"
	"testing"
	"time"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want endpoint
		err  string
	}{
		{in: "http://127.0.0.1:4318", want: endpoint{host: "127.0.0.1:4318"}},
		{in: "https://otlp.example.com/otel/", want: endpoint{tls: true, host: "otlp.example.com", base: "/otel"}},
		{in: "grpc://127.0.0.1:4317", want: endpoint{grpc: true, host: "127.0.0.1:4317"}},
		{in: "GRPCS://[::1]:4317", want: endpoint{grpc: true, tls: true, host: "[::1]:4317"}},
		{in: "grpc://h:4317/x", err: "no path"},
		{in: "ftp://h:1", err: "scheme"},
		{in: "127.0.0.1:4318", err: "not a URL"},
		{in: "https://user:s3cret@h", err: "credentials"},
		{in: "http://h?x=1", err: "query"},
	} {
		got, err := parseEndpoint(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error leaks the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseHeadersAndValidate(t *testing.T) {
	h, err := ParseHeaders([]string{"Authorization=Bearer a=b", " X-Scope = tenant-1 "})
	if err != nil || h["Authorization"] != "Bearer a=b" || h["X-Scope"] != "tenant-1" {
		t.Errorf("ParseHeaders = %v, %v", h, err)
	}
	for _, bad := range []string{"novalue-secret", "=x", "a b=c", "k=v\nX-Evil: 1"} {
		_, err := ParseHeaders([]string{bad})
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "Evil") {
			t.Errorf("%q: error quotes the value: %v", bad, err)
		}
	}
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("empty config (off) invalid: %v", err)
	}
	if err := (Config{Endpoint: "http://h:1", Interval: 10 * time.Millisecond}).Validate(); err == nil {
		t.Error("10ms interval accepted")
	}
}
