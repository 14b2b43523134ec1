package otlpexport

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Config is the OTLP export configuration (the --otlp.* flags). The zero
// value with an empty Endpoint means OTLP is off.
type Config struct {
	// Endpoint is the collector's URL; its scheme selects the protocol:
	// http or https for OTLP/HTTP (protobuf), grpc or grpcs for OTLP/gRPC;
	// https and grpcs use TLS. An OTLP/HTTP path is a base path: the
	// exporters post to PATH/v1/metrics and PATH/v1/traces.
	Endpoint string
	// Headers are KEY=VALUE pairs sent with every export request. When
	// set they replace OTEL_EXPORTER_OTLP_HEADERS (which the SDK reads
	// otherwise); secrets belong in that variable, not on a command line.
	Headers []string
	// InsecureSkipVerify turns off verification of the collector's
	// certificate (https and grpcs only).
	InsecureSkipVerify bool
	// Interval is the metric export period (default 15s).
	Interval time.Duration
	// Traces enables the span exporter (poll cycles and rebalances).
	Traces bool
	// ServiceVersion is the service.version resource attribute.
	ServiceVersion string
}

// Enabled reports whether an endpoint is configured.
func (c Config) Enabled() bool { return c.Endpoint != "" }

// Validate checks the endpoint, the headers and the interval.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	if _, err := parseEndpoint(c.Endpoint); err != nil {
		return err
	}
	if _, err := ParseHeaders(c.Headers); err != nil {
		return err
	}
	if c.Interval < 0 || (c.Interval > 0 && c.Interval < time.Second) {
		return fmt.Errorf("otlp.interval: %s is below the minimum of 1s", c.Interval)
	}
	return nil
}

// endpoint is a parsed --otlp.endpoint.
type endpoint struct {
	grpc bool
	tls  bool
	host string // host[:port]
	base string // OTLP/HTTP base path without trailing slash, "" for none
}

func parseEndpoint(s string) (endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return endpoint{}, fmt.Errorf("otlp.endpoint: %q is not a URL such as http://127.0.0.1:4318 or grpc://127.0.0.1:4317", s)
	}
	if u.User != nil {
		// Never echo the value: it holds credentials.
		return endpoint{}, errors.New("otlp.endpoint: credentials in the URL are not accepted; send them as a header (OTEL_EXPORTER_OTLP_HEADERS or --otlp.header)")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("otlp.endpoint: %q: a query or fragment is not accepted", s)
	}
	e := endpoint{host: u.Host}
	switch strings.ToLower(u.Scheme) {
	case "http":
	case "https":
		e.tls = true
	case "grpc":
		e.grpc = true
	case "grpcs":
		e.grpc, e.tls = true, true
	default:
		return endpoint{}, fmt.Errorf("otlp.endpoint: scheme %q is not one of http, https (OTLP/HTTP), grpc, grpcs (OTLP/gRPC)", u.Scheme)
	}
	path := strings.TrimSuffix(u.Path, "/")
	if e.grpc && path != "" {
		return endpoint{}, fmt.Errorf("otlp.endpoint: %q: an OTLP/gRPC endpoint has no path", s)
	}
	e.base = path
	return e, nil
}

// ParseHeaders parses KEY=VALUE pairs. Errors never quote values, which
// are usually secrets.
func ParseHeaders(pairs []string) (map[string]string, error) {
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(pairs))
	for i, p := range pairs {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("otlp.header[%d]: want KEY=VALUE", i)
		}
		if strings.ContainsAny(k, " \t\r\n:") {
			return nil, fmt.Errorf("otlp.header[%d]: %q is not a valid header name", i, k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("otlp.header[%d] (%s): the value must not contain a line break", i, k)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}
