package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/otlpexport"
	"github.com/klagx/klagx/server"
)

// serveCmd runs the exporter until SIGINT/SIGTERM.
type serveCmd struct {
	configFileFlag `embed:""`
	configFlags    `embed:""`
	pollFlags      `embed:"" group:"polling"`
	Metrics        metricFlags `embed:"" group:"metrics"`
	Web            webFlags    `embed:"" prefix:"web." group:"web"`
	OTLP           otlpFlags   `embed:"" prefix:"otlp." group:"otlp"`
}

// toConfig is configFlags.toConfig with serve's polling and metric family
// flags.
func (s *serveCmd) toConfig(file *config.File) (*config.Config, error) {
	return s.configFlags.toConfig(file, s.pollFlags, s.Metrics)
}

// otlpFlags configure the optional OTLP push of metrics and traces.
type otlpFlags struct {
	Endpoint           string        `name:"endpoint" placeholder:"URL" help:"OpenTelemetry collector to push the same metrics as /metrics (and, with --otlp.traces, poll-cycle and rebalance spans) to. The scheme selects the protocol: http:// or https:// for OTLP/HTTP (a path is a base path: PATH/v1/metrics, PATH/v1/traces), grpc:// or grpcs:// for OTLP/gRPC; https and grpcs use TLS. Examples: http://127.0.0.1:4318, grpc://127.0.0.1:4317. The SDK's OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression, certificates) and OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES apply; see docs/otlp.md. Default: none (OTLP off)."`
	Headers            []string      `name:"header" sep:";" placeholder:"KEY=VALUE" help:"Header sent with every OTLP request; repeatable (in KLAGX_OTLP_HEADER, separate headers with ';'). Replaces OTEL_EXPORTER_OTLP_HEADERS when given. Put secrets (API keys, Authorization) in OTEL_EXPORTER_OTLP_HEADERS or KLAGX_OTLP_HEADER, never on the command line. Default: none."`
	InsecureSkipVerify bool          `name:"insecure-skip-verify" help:"Do not verify the OTLP collector's certificate (https, grpcs; insecure; logged as a warning). Default: false."`
	Interval           time.Duration `name:"interval" default:"15s" placeholder:"DURATION" help:"Time between two OTLP metric exports; at least 1s. Default: 15s."`
	Traces             bool          `name:"traces" default:"true" negatable:"" help:"With --otlp.endpoint, also export spans: one per poll cycle (klagx.poll_cycle, with a child per stage) and one per rebalance (klagx.rebalance). --no-otlp.traces turns them off. Default: true."`
}

// config returns the otlpexport view of the flags, nil when OTLP is off.
func (o *otlpFlags) config() (*otlpexport.Config, error) {
	if strings.TrimSpace(o.Endpoint) == "" {
		return nil, nil
	}
	if o.Interval < time.Second {
		return nil, fmt.Errorf("--otlp.interval: %s is below the minimum of 1s", o.Interval)
	}
	c := &otlpexport.Config{
		Endpoint:           strings.TrimSpace(o.Endpoint),
		Headers:            o.Headers,
		InsecureSkipVerify: o.InsecureSkipVerify,
		Interval:           o.Interval,
		Traces:             o.Traces,
		ServiceVersion:     version,
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	return c, nil
}

// webFlags are the HTTP listener flags, named as in exporter-toolkit.
type webFlags struct {
	ListenAddresses        []string `name:"listen-address" default:":9308" placeholder:"ADDRESS" help:"Address to serve metrics on; repeatable (comma-separated in the environment variable). Examples: :9308, 127.0.0.1:9308, [::1]:9308. Default: :9308."`
	ConfigFile             string   `name:"config.file" placeholder:"PATH" help:"exporter-toolkit web configuration file enabling TLS and/or basic auth, see https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md. Default: none (plain HTTP)."`
	TelemetryPath          string   `name:"telemetry-path" default:"/metrics" placeholder:"PATH" help:"Path under which to expose metrics. Default: /metrics."`
	DisableExporterMetrics bool     `name:"disable-exporter-metrics" help:"Exclude the exporter's own go_*, process_* and promhttp_* metrics. Default: false."`
	EnablePprof            bool     `name:"enable-pprof" help:"Serve the Go runtime profiles (net/http/pprof) under /debug/pprof/, linked from the landing page, behind the same TLS and basic auth as /metrics. A CPU profile costs CPU while it runs. Default: false."`
}

// Help is the detailed help of klagx serve.
func (s *serveCmd) Help() string {
	return `Settings are taken, highest precedence first, from command-line flags, KLAGX_* environment variables (--a.b-c is KLAGX_A_B_C), the YAML --config.file (--a.b-c is a: {b_c: ...}), and the defaults.

Clusters come from the first of these that is set: --cluster (repeatable), --brokers (one cluster, configured by --cluster-name, --isolation, --kafka.tls.* and --kafka.sasl.*), the clusters: list of --config.file.

Group status thresholds: --warn-lag-seconds, --crit-lag-seconds, --warn-lag, --crit-lag, --stall-after and --growth-window apply to every group; --threshold (repeatable, first match wins) or else the thresholds: list of --config.file overrides them for the groups whose name fully matches a regex.`
}

// flagConfig returns the exporter-toolkit view of the web flags.
func (w *webFlags) flagConfig() (*web.FlagConfig, error) {
	addrs := splitList(w.ListenAddresses)
	if len(addrs) == 0 {
		return nil, fmt.Errorf("--web.listen-address: at least one address is required")
	}
	for _, a := range addrs {
		if err := checkListenAddress(a); err != nil {
			return nil, fmt.Errorf("--web.listen-address: %w", err)
		}
	}
	if !strings.HasPrefix(w.TelemetryPath, "/") {
		return nil, fmt.Errorf("--web.telemetry-path: %q must start with /", w.TelemetryPath)
	}
	systemdSocket := false
	configFile := w.ConfigFile
	return &web.FlagConfig{
		WebListenAddresses: &addrs,
		WebSystemdSocket:   &systemdSocket,
		WebConfigFile:      &configFile,
	}, nil
}

// Run builds the configuration and hands it to server.Run.
func (s *serveCmd) Run(g *globals) error {
	if !g.Sources.user["group-poll-interval"] {
		// The default follows a shorter --poll-interval.
		s.GroupPollInterval = min(s.GroupPollInterval, s.PollInterval)
	}
	cfg, err := s.toConfig(g.ConfigFile)
	if err != nil {
		return usageError{g.Sources.describe(err)}
	}
	if err := checkClusterFiles(cfg); err != nil {
		return usageError{err}
	}
	webCfg, err := s.Web.flagConfig()
	if err != nil {
		return usageError{err}
	}
	otlpCfg, err := s.OTLP.config()
	if err != nil {
		return usageError{err}
	}
	names := make([]string, len(cfg.Clusters))
	for i, c := range cfg.Clusters {
		names[i] = c.Name
	}
	g.Logger.Info("starting klagx", "version", version, "clusters", names,
		"poll_interval", cfg.PollInterval.String(), "granularity", string(cfg.Granularity),
		"time_lag", string(cfg.TimeLag.Mode), "threshold_overrides", len(cfg.Thresholds.Overrides))
	rev := buildRevision()
	err = server.Run(g.Context, server.Options{
		Config:                 cfg,
		Web:                    webCfg,
		TelemetryPath:          s.Web.TelemetryPath,
		DisableExporterMetrics: s.Web.DisableExporterMetrics,
		EnablePprof:            s.Web.EnablePprof,
		Logger:                 g.Logger,
		Version:                version,
		Revision:               rev,
		OTLP:                   otlpCfg,
	})
	// server.Run checks the web config file before it starts anything.
	var webErr *server.WebConfigError
	if errors.As(err, &webErr) {
		return usageError{err}
	}
	return err
}
