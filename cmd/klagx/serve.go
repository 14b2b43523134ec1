package main

import (
	"fmt"
	"strings"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/klagx/klagx/server"
)

// serveCmd runs the exporter until SIGINT/SIGTERM.
type serveCmd struct {
	configFlags `embed:""`
	Web         webFlags `embed:"" prefix:"web."`
}

// webFlags are the HTTP listener flags, named as in exporter-toolkit.
type webFlags struct {
	ListenAddresses        []string `name:"listen-address" default:":9308" placeholder:"ADDRESS" help:"Address to serve metrics on; repeatable (comma-separated in the environment variable). Examples: :9308, 127.0.0.1:9308, [::1]:9308. Default: :9308."`
	ConfigFile             string   `name:"config.file" placeholder:"PATH" help:"exporter-toolkit web configuration file enabling TLS and/or basic auth, see https://github.com/prometheus/exporter-toolkit/blob/master/docs/web-configuration.md. Default: none (plain HTTP)."`
	TelemetryPath          string   `name:"telemetry-path" default:"/metrics" placeholder:"PATH" help:"Path under which to expose metrics. Default: /metrics."`
	DisableExporterMetrics bool     `name:"disable-exporter-metrics" help:"Exclude the exporter's own go_*, process_* and promhttp_* metrics. Default: false."`
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
	cfg, err := s.toConfig(g.ConfigFile)
	if err != nil {
		return usageError{err}
	}
	webCfg, err := s.Web.flagConfig()
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
	return server.Run(g.Context, server.Options{
		Config:                 cfg,
		Web:                    webCfg,
		TelemetryPath:          s.Web.TelemetryPath,
		DisableExporterMetrics: s.Web.DisableExporterMetrics,
		Logger:                 g.Logger,
		Version:                version,
	})
}
