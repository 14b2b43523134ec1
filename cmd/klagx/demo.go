package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/demo"
	"github.com/klagx/klagx/server"
)

// demoCmd runs an in-process kfake cluster with a realistic workload and
// the exporter against it.
type demoCmd struct {
	ListenAddress     string        `name:"web.listen-address" group:"demo" env:"KLAGX_DEMO_WEB_LISTEN_ADDRESS" default:"127.0.0.1:9308" placeholder:"ADDRESS" help:"Address to serve metrics on. If it is taken, a free port on 127.0.0.1 is used instead and printed. Default: 127.0.0.1:9308."`
	PollInterval      time.Duration `name:"poll-interval" group:"demo" env:"KLAGX_DEMO_POLL_INTERVAL" default:"5s" placeholder:"DURATION" help:"Time between two polls of the demo cluster. Default: 5s."`
	GroupPollInterval time.Duration `name:"group-poll-interval" group:"demo" env:"KLAGX_DEMO_GROUP_POLL_INTERVAL" default:"100ms" placeholder:"DURATION" help:"Time between two reads of group state. The in-process cluster finishes a rebalance in a fraction of a second, so the demo looks ten times a second to time them. Default: 100ms."`
	RebalanceEvery    time.Duration `name:"rebalance-every" group:"demo" env:"KLAGX_DEMO_REBALANCE_EVERY" default:"1m" placeholder:"DURATION" help:"How often the inventory-sync group changes membership (and rebalances). Default: 1m."`
	Warmup            time.Duration `name:"warmup" group:"demo" env:"KLAGX_DEMO_WARMUP" default:"15s" placeholder:"DURATION" help:"How long fraud-detector and email-sender work before one stalls and the other stops. Default: 15s."`
	BrokerCount       int           `name:"broker-count" group:"demo" env:"KLAGX_DEMO_BROKER_COUNT" default:"3" placeholder:"N" help:"Number of in-process brokers. Default: 3."`
	// BrokersCount is the old spelling of --broker-count: everywhere else
	// --brokers is a list of addresses.
	BrokersCount *int `name:"brokers" hidden:"" env:"KLAGX_DEMO_BROKERS" placeholder:"N" help:"Deprecated: use --broker-count (KLAGX_DEMO_BROKER_COUNT)."`
}

// Help is the detailed help of klagx demo.
func (d *demoCmd) Help() string {
	return `Starts an in-process Kafka cluster (franz-go kfake) on free 127.0.0.1 ports, producers on five topics, seven consumer groups of real franz-go consumers (healthy, lagging, stalled, stopped, idle, and one that rebalances), and the exporter polling it. It prints the metrics URL, what to look for, and a klagx check command that judges the groups with the demo's thresholds, and runs until interrupted (Ctrl-C).

Environment variables are KLAGX_DEMO_<FLAG> (--poll-interval is KLAGX_DEMO_POLL_INTERVAL), so that an environment set up for klagx serve does not change the demo.`
}

// Run starts the demo and serves until the context ends.
func (d *demoCmd) Run(g *globals) error {
	if d.PollInterval < config.MinPollInterval {
		return usageError{fmt.Errorf("--poll-interval: %s is below the minimum of %s", d.PollInterval, config.MinPollInterval)}
	}
	switch {
	case d.GroupPollInterval < config.MinGroupPollInterval:
		return usageError{fmt.Errorf("--group-poll-interval: %s is below the minimum of %s", d.GroupPollInterval, config.MinGroupPollInterval)}
	case d.GroupPollInterval > d.PollInterval:
		return usageError{fmt.Errorf("--group-poll-interval: %s is above --poll-interval (%s)", d.GroupPollInterval, d.PollInterval)}
	case d.RebalanceEvery <= 0:
		return usageError{fmt.Errorf("--rebalance-every: %s must be positive", d.RebalanceEvery)}
	case d.Warmup <= 0:
		return usageError{fmt.Errorf("--warmup: %s must be positive", d.Warmup)}
	case d.BrokerCount < 1:
		return usageError{fmt.Errorf("--broker-count: %d must be at least 1", d.BrokerCount)}
	case d.BrokersCount != nil && *d.BrokersCount < 1:
		return usageError{fmt.Errorf("--brokers (now --broker-count): %d must be at least 1", *d.BrokersCount)}
	}
	brokers := d.BrokerCount
	if d.BrokersCount != nil {
		g.Logger.Warn("demo: --brokers (KLAGX_DEMO_BROKERS) is deprecated; use --broker-count (KLAGX_DEMO_BROKER_COUNT)")
		brokers = *d.BrokersCount
	}
	addr := d.ListenAddress
	if l, err := net.Listen("tcp", addr); err != nil {
		g.Logger.Warn("demo: listen address taken, using a free port instead", "address", addr, "err", err)
		addr = "127.0.0.1:0"
	} else {
		l.Close()
	}

	fmt.Fprintln(g.Stdout, "Starting an in-process Kafka cluster and its workload...")
	env, err := demo.Start(g.Context, demo.Options{
		Logger:         g.Logger,
		Brokers:        brokers,
		RebalanceEvery: d.RebalanceEvery,
		Warmup:         d.Warmup,
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer env.Close()

	cfg := config.Default()
	cfg.Clusters = []config.Cluster{config.DefaultCluster("demo", env.Brokers()...)}
	cfg.PollInterval, cfg.GroupPollInterval = d.PollInterval, d.GroupPollInterval
	cfg.Thresholds.Default = demoThresholds(d.PollInterval)
	// The demo shows every family, the opt-in ones included: its cluster is
	// small.
	cfg.Metrics.OptIn = []string{".*"}
	if err := cfg.Validate(); err != nil {
		return err
	}
	addrs := []string{addr}
	rev := buildRevision()
	return server.Run(g.Context, server.Options{
		Config: cfg,
		Web:    &web.FlagConfig{WebListenAddresses: &addrs},
		OnListen: func(bound string) {
			url := "http://" + bound + "/metrics"
			env.WriteGuide(g.Stdout, url)
			fmt.Fprintf(g.Stdout, "\nBrokers: %s (cluster label \"demo\"). Poll interval %s. Press Ctrl-C to stop.\n",
				strings.Join(env.Brokers(), ","), d.PollInterval)
			fmt.Fprintf(g.Stdout, "In another terminal, the same groups judged by klagx check (with the demo's thresholds):\n  %s\n",
				strings.Join(demoCheckCommand(programName(), env.Brokers(), cfg.Thresholds.Default), " "))
		},
		Logger:   g.Logger,
		Version:  version,
		Revision: rev,
	})
}

// demoThresholds are the status thresholds of the demo: scaled so that it
// shows every status within a minute or two, instead of the production
// defaults.
func demoThresholds(poll time.Duration) config.GroupThresholds {
	return config.GroupThresholds{
		WarnLagSeconds: 30 * time.Second,
		CritLagSeconds: 2 * time.Minute,
		StallAfter:     max(30*time.Second, 2*poll),
		GrowthWindow:   max(time.Minute, 3*poll),
	}
}

// demoCheckCommand is the klagx check command line that judges the demo's
// groups as its /metrics does: its brokers and its thresholds. The window
// covers a few commits of the slowest healthy group.
func demoCheckCommand(program string, brokers []string, t config.GroupThresholds) []string {
	return []string{program, "check",
		"--brokers=" + strings.Join(brokers, ","),
		"--warn-lag-seconds=" + t.WarnLagSeconds.String(),
		"--crit-lag-seconds=" + t.CritLagSeconds.String(),
		"--stall-after=" + t.StallAfter.String(),
		"--growth-window=" + t.GrowthWindow.String(),
	}
}

// programName is how to run this binary again from the same directory:
// the path it was started with (./bin/klagx from make demo), or klagx
// when it was found on PATH.
func programName() string {
	if p := os.Args[0]; strings.ContainsRune(p, filepath.Separator) {
		return p
	}
	return "klagx"
}
