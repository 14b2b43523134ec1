package main

import (
	"fmt"
	"net"
	"time"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/demo"
	"github.com/klagx/klagx/server"
)

// demoCmd runs an in-process kfake cluster with a realistic workload and
// the exporter against it.
type demoCmd struct {
	ListenAddress     string        `name:"web.listen-address" default:"127.0.0.1:9308" placeholder:"ADDRESS" help:"Address to serve metrics on. If it is taken, a free port on 127.0.0.1 is used instead and printed. Default: 127.0.0.1:9308."`
	PollInterval      time.Duration `name:"poll-interval" default:"5s" placeholder:"DURATION" help:"Time between two polls of the demo cluster. Default: 5s."`
	GroupPollInterval time.Duration `name:"group-poll-interval" default:"100ms" placeholder:"DURATION" help:"Time between two reads of group state. The in-process cluster finishes a rebalance in a fraction of a second, so the demo looks ten times a second to time them. Default: 100ms."`
	RebalanceEvery    time.Duration `name:"rebalance-every" default:"1m" placeholder:"DURATION" help:"How often the inventory-sync group changes membership (and rebalances). Default: 1m."`
	Warmup            time.Duration `name:"warmup" default:"15s" placeholder:"DURATION" help:"How long fraud-detector and email-sender work before one stalls and the other stops. Default: 15s."`
	Brokers           int           `name:"brokers" env:"KLAGX_DEMO_BROKERS" default:"3" help:"Number of in-process brokers (env KLAGX_DEMO_BROKERS: KLAGX_BROKERS is serve's broker list). Default: 3."`
}

// Help is the detailed help of klagx demo.
func (d *demoCmd) Help() string {
	return `Starts an in-process Kafka cluster (franz-go kfake) on free 127.0.0.1 ports, producers on five topics, seven consumer groups of real franz-go consumers (healthy, lagging, stalled, stopped, idle, and one that rebalances), and the exporter polling it. It prints the metrics URL and what to look for, and runs until interrupted (Ctrl-C).`
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
	case d.Brokers < 1:
		return usageError{fmt.Errorf("--brokers: %d must be at least 1", d.Brokers)}
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
		Brokers:        d.Brokers,
		RebalanceEvery: d.RebalanceEvery,
		Warmup:         d.Warmup,
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer env.Close()

	// Thresholds scaled to a demo that should show every status within a
	// minute or two, instead of the production defaults.
	cfg := &config.Config{
		Clusters:          []config.Cluster{{Name: "demo", Brokers: env.Brokers()}},
		PollInterval:      d.PollInterval,
		GroupPollInterval: d.GroupPollInterval,
		// The demo shows every family, the opt-in ones included: its
		// cluster is small.
		Metrics: config.MetricFamilies{OptIn: []string{".*"}},
		Thresholds: config.Thresholds{Default: config.GroupThresholds{
			WarnLagSeconds: 30 * time.Second,
			CritLagSeconds: 2 * time.Minute,
			StallAfter:     max(30*time.Second, 2*d.PollInterval),
			GrowthWindow:   max(time.Minute, 3*d.PollInterval),
		}},
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	addrs := []string{addr}
	return server.Run(g.Context, server.Options{
		Config: cfg,
		Web:    &web.FlagConfig{WebListenAddresses: &addrs},
		OnListen: func(bound string) {
			url := "http://" + bound + "/metrics"
			env.WriteGuide(g.Stdout, url)
			fmt.Fprintf(g.Stdout, "\nBrokers: %s (cluster label \"demo\"). Poll interval %s. Press Ctrl-C to stop.\n",
				joinComma(env.Brokers()), d.PollInterval)
			fmt.Fprintf(g.Stdout, "In another terminal: klagx check --brokers %s\n", joinComma(env.Brokers()))
		},
		Logger:  g.Logger,
		Version: version,
	})
}

func joinComma(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}
