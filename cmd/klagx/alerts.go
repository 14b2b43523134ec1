package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/klagx/klagx/alerts"
)

// alertsCmd writes the Prometheus alert rules.
type alertsCmd struct {
	Out              string            `name:"out" group:"alerts" env:"KLAGX_ALERTS_OUT" placeholder:"FILE" help:"File to write; - for standard output. Default: -." default:"-"`
	Format           string            `name:"format" group:"alerts" env:"KLAGX_ALERTS_FORMAT" default:"rules" placeholder:"FORMAT" help:"rules (a Prometheus rules file) or prometheusrule (a Prometheus Operator PrometheusRule manifest). Default: rules."`
	Selector         string            `name:"selector" group:"alerts" env:"KLAGX_ALERTS_SELECTOR" default:"job=\"klagx\"" placeholder:"MATCHERS" help:"Label matchers added to every metric selector, without braces, so the rules only see this exporter. Default: job=\"klagx\"."`
	RunbookURL       string            `name:"runbook-url" group:"alerts" env:"KLAGX_ALERTS_RUNBOOK_URL" default:"https://github.com/klagx/klagx/blob/main/docs/runbooks.md" placeholder:"URL" help:"Base URL of the runbooks; each alert links to <URL>#<alert name in lower case>. Default: the docs/runbooks.md of the klagx repository."`
	StormRebalances  int               `name:"storm-rebalances" group:"alerts" env:"KLAGX_ALERTS_STORM_REBALANCES" default:"5" help:"Rebalances within --storm-window that make KlagxGroupRebalanceStorm. Default: 5."`
	StormWindow      time.Duration     `name:"storm-window" group:"alerts" env:"KLAGX_ALERTS_STORM_WINDOW" default:"15m" help:"Window of --storm-rebalances. Default: 15m."`
	StuckAfter       time.Duration     `name:"stuck-after" group:"alerts" env:"KLAGX_ALERTS_STUCK_AFTER" default:"10m" help:"How long a rebalance may stay in progress before KlagxGroupRebalanceStuck. Default: 10m."`
	StaleAfter       time.Duration     `name:"stale-after" group:"alerts" env:"KLAGX_ALERTS_STALE_AFTER" default:"5m" help:"How old a cluster's last successful poll may get before KlagxDataStale. Default: 5m."`
	RetentionHorizon time.Duration     `name:"retention-horizon" group:"alerts" env:"KLAGX_ALERTS_RETENTION_HORIZON" default:"4h" help:"KlagxGroupRetentionRisk fires when retention is predicted to overtake a group within this time. Default: 4h."`
	GrowthWindow     time.Duration     `name:"growth-window" group:"alerts" env:"KLAGX_ALERTS_GROWTH_WINDOW" default:"30m" help:"KlagxGroupLagGrowing fires when the time lag grew by a sixth of this window within it (5m in 30m). Default: 30m."`
	AbandonedAfter   time.Duration     `name:"abandoned-after" group:"alerts" env:"KLAGX_ALERTS_ABANDONED_AFTER" default:"24h" help:"A group with no members for this long (in Prometheus's history of klagx_group_members) is abandoned: no consumer-group alert fires for it, while one that stopped more recently pages KlagxGroupStopped. Abandoned groups still show on the dashboards and in klagx check. 0 turns this off; otherwise it must be longer than 10m, the for: duration of KlagxGroupStopped. Default: 24h."`
	Name             string            `name:"name" group:"prometheusrule" env:"KLAGX_ALERTS_NAME" default:"klagx" help:"metadata.name of the PrometheusRule. Default: klagx."`
	Namespace        string            `name:"namespace" group:"prometheusrule" env:"KLAGX_ALERTS_NAMESPACE" help:"metadata.namespace of the PrometheusRule. Default: none."`
	Labels           map[string]string `name:"label" group:"prometheusrule" env:"KLAGX_ALERTS_LABEL" placeholder:"KEY=VALUE" help:"metadata.labels of the PrometheusRule (the ruleSelector of your Prometheus); repeatable. Default: app.kubernetes.io/name=klagx."`
}

// Help is the detailed help of klagx alerts.
func (a *alertsCmd) Help() string {
	return `Writes the alert rules klagx ships: time lag above each group's own thresholds (the exporter publishes them, so per-group --threshold overrides are honoured), lag growing, stalled and stopped groups, rebalance storms and stuck rebalances, retention about to overtake a group, lost messages, and the exporter's own health. A group without members for --abandoned-after (24h) is abandoned and raises none of the consumer-group alerts. Every alert has a severity label and a runbook_url into docs/runbooks.md. The committed alerts/klagx-rules.yaml and alerts/klagx-prometheusrule.yaml are this command's output with the defaults.

Environment variables are KLAGX_ALERTS_<FLAG> (--growth-window is KLAGX_ALERTS_GROWTH_WINDOW); the generic names this command used to read (KLAGX_OUT, KLAGX_FORMAT, KLAGX_GROWTH_WINDOW, ...) are not read any more: KLAGX_GROWTH_WINDOW is the status window of serve and check.`
}

// validate checks each flag on its own, so that the message names it.
func (a *alertsCmd) validate() error {
	if a.StormRebalances < 1 {
		return fmt.Errorf("--storm-rebalances: %d must be at least 1", a.StormRebalances)
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"--storm-window", a.StormWindow}, {"--stuck-after", a.StuckAfter}, {"--stale-after", a.StaleAfter},
		{"--retention-horizon", a.RetentionHorizon}, {"--growth-window", a.GrowthWindow},
	} {
		if d.v < time.Second {
			return fmt.Errorf("%s: %s must be at least 1s", d.flag, d.v)
		}
	}
	if a.AbandonedAfter != 0 && a.AbandonedAfter <= alerts.StoppedFor {
		return fmt.Errorf("--abandoned-after: %s must be 0 (off) or longer than %s, the for: duration of KlagxGroupStopped, or a group that stops never pages", a.AbandonedAfter, alerts.StoppedFor)
	}
	if a.RunbookURL == "" {
		return fmt.Errorf("--runbook-url: must not be empty")
	}
	if strings.ContainsAny(a.Selector, "{}") {
		return fmt.Errorf("--selector: %q: give the matchers without braces, e.g. job=\"klagx\"", a.Selector)
	}
	return nil
}

// Run renders and writes the rules.
func (a *alertsCmd) Run(g *globals) error {
	if err := a.validate(); err != nil {
		return usageError{err}
	}
	o := alerts.DefaultOptions()
	o.Selector, o.RunbookBaseURL = a.Selector, a.RunbookURL
	o.StormRebalances, o.StormWindow, o.StuckAfter, o.StaleAfter, o.RetentionHorizon = a.StormRebalances, a.StormWindow, a.StuckAfter, a.StaleAfter, a.RetentionHorizon
	o.GrowthWindow, o.AbandonedAfter = a.GrowthWindow, a.AbandonedAfter
	o.Name, o.Namespace = a.Name, a.Namespace
	if len(a.Labels) > 0 {
		o.Labels = a.Labels
	}
	b, err := alerts.Render(o, strings.ToLower(a.Format))
	if err != nil {
		return usageError{err}
	}
	if a.Out == "-" {
		_, err = g.Stdout.Write(b)
		return err
	}
	if err := os.WriteFile(a.Out, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", a.Out, err)
	}
	fmt.Fprintf(g.Stdout, "wrote %s (%d alerts)\n", a.Out, len(alerts.Names()))
	return nil
}
