// Package alerts generates the Prometheus alert rules that ship with klagx:
// a plain rules file for Prometheus, or a PrometheusRule manifest for the
// Prometheus Operator. The generated files are committed (alerts/*.yaml)
// and checked by promtool, including unit tests of the rules
// (alerts/tests/*.yaml) with input series and expected alerts.
//
// Conventions follow the monitoring mixins: CamelCase names with a Klagx
// prefix, a severity label (critical pages, warning does not), summary and
// templated description annotations, and a runbook_url pointing at the
// alert's section of docs/runbooks.md. Time-lag alerts compare each group
// with its own thresholds, which the exporter publishes as
// klagx_group_lag_threshold_seconds, so per-group overrides are honoured
// without touching the rules.
package alerts

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/klagx/klagx/metrics"
)

// Options configure the generated rules. The zero value is not valid; use
// DefaultOptions.
type Options struct {
	// Selector is added to every metric selector, e.g. `job="klagx"`, so
	// the rules only see this exporter's series. Empty adds nothing.
	Selector string
	// RunbookBaseURL is the page the runbook_url annotations point into;
	// each alert appends "#<alert name in lower case>".
	RunbookBaseURL string
	// StormRebalances rebalances within StormWindow make a rebalance storm.
	StormRebalances int
	StormWindow     time.Duration
	// StuckAfter is how long a rebalance may be in progress.
	StuckAfter time.Duration
	// StaleAfter is how old the data may get before KlagxDataStale.
	StaleAfter time.Duration
	// RetentionHorizon: KlagxGroupRetentionRisk fires when retention is
	// predicted to overtake the group within this time.
	RetentionHorizon time.Duration
	// GrowthWindow is the window of KlagxGroupLagGrowing.
	GrowthWindow time.Duration
	// ForOverride, when non-zero, replaces every for and keep_firing_for
	// duration: end-to-end tests use it to see alerts within seconds.
	ForOverride time.Duration
	// Name, Namespace and Labels of the PrometheusRule manifest.
	Name      string
	Namespace string
	Labels    map[string]string
}

// DefaultRunbookBaseURL is where the runbooks live by default.
const DefaultRunbookBaseURL = "https://github.com/klagx/klagx/blob/main/docs/runbooks.md"

// DefaultOptions are the options of the committed rule files.
func DefaultOptions() Options {
	return Options{
		Selector:         `job="klagx"`,
		RunbookBaseURL:   DefaultRunbookBaseURL,
		StormRebalances:  5,
		StormWindow:      15 * time.Minute,
		StuckAfter:       10 * time.Minute,
		StaleAfter:       5 * time.Minute,
		RetentionHorizon: 4 * time.Hour,
		GrowthWindow:     30 * time.Minute,
		Name:             "klagx",
		Labels:           map[string]string{"app.kubernetes.io/name": "klagx"},
	}
}

// Validate checks the options.
func (o Options) Validate() error {
	switch {
	case o.StormRebalances < 1:
		return fmt.Errorf("storm rebalances: %d must be at least 1", o.StormRebalances)
	case o.StormWindow < time.Second || o.StuckAfter < time.Second || o.StaleAfter < time.Second ||
		o.RetentionHorizon < time.Second || o.GrowthWindow < time.Second:
		return fmt.Errorf("storm window, stuck-after, stale-after, retention horizon and growth window must each be at least 1s")
	case o.RunbookBaseURL == "":
		return fmt.Errorf("runbook base URL is empty")
	case strings.ContainsAny(o.Selector, "{}"):
		return fmt.Errorf("selector %q: give the matchers without braces, e.g. job=\"klagx\"", o.Selector)
	}
	return nil
}

// Rule is one alerting rule.
type Rule struct {
	Alert         string            `yaml:"alert"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels"`
	Annotations   map[string]string `yaml:"annotations"`
}

// Group is a rule group.
type Group struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// RuleFile is a Prometheus rules file.
type RuleFile struct {
	Groups []Group `yaml:"groups"`
}

// sel renders a metric selector with the options' selector and extra
// matchers.
func (o Options) sel(name string, matchers ...string) string {
	if o.Selector != "" {
		matchers = append(matchers, o.Selector)
	}
	if len(matchers) == 0 {
		return name
	}
	return name + "{" + strings.Join(matchers, ",") + "}"
}

// growth is how much the time lag must grow within the growth window (and
// exceed) for KlagxGroupLagGrowing: a sixth of the window, 5 minutes for
// the default 30.
func growth(window time.Duration) int {
	return max(1, int(window.Seconds()/6))
}

func dur(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return fmt.Sprintf("%ds", d/time.Second)
	}
}

// Rules returns the rule groups.
func Rules(o Options) (RuleFile, error) {
	if err := o.Validate(); err != nil {
		return RuleFile{}, err
	}
	rb := func(alert string) string { return o.RunbookBaseURL + "#" + strings.ToLower(alert) }
	rule := func(alert, severity, expr, forDur, keep, summary, description string) Rule {
		if o.ForOverride > 0 {
			if forDur != "" {
				forDur = dur(o.ForOverride)
			}
			if keep != "" {
				keep = dur(o.ForOverride)
			}
		}
		return Rule{
			Alert: alert, Expr: expr, For: forDur, KeepFiringFor: keep,
			Labels: map[string]string{"severity": severity},
			Annotations: map[string]string{
				"summary":     summary,
				"description": description,
				"runbook_url": rb(alert),
			},
		}
	}
	lagVsThreshold := func(sev string) string {
		return fmt.Sprintf("%s\n  > ignoring (severity)\n%s",
			o.sel(metrics.GroupLagSeconds), o.sel(metrics.GroupLagThresholdSeconds, fmt.Sprintf(`severity=%q`, sev)))
	}
	groups := []Group{
		{Name: "klagx-consumer-groups", Rules: []Rule{
			rule("KlagxGroupLagCritical", "critical", lagVsThreshold("critical"), "5m", "5m",
				"Consumer group {{ $labels.group }} is far behind in time.",
				"The oldest message consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has not consumed is {{ $value | humanizeDuration }} old, above its critical threshold."),
			rule("KlagxGroupLagWarning", "warning", lagVsThreshold("warning"), "10m", "5m",
				"Consumer group {{ $labels.group }} is behind in time.",
				"The oldest message consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has not consumed is {{ $value | humanizeDuration }} old, above its warning threshold."),
			rule("KlagxGroupLagGrowing", "warning",
				fmt.Sprintf("(%s - %s offset %s) > %d\nand\n%s > %d", o.sel(metrics.GroupLagSeconds), o.sel(metrics.GroupLagSeconds), dur(o.GrowthWindow),
					growth(o.GrowthWindow), o.sel(metrics.GroupLagSeconds), growth(o.GrowthWindow)),
				"15m", "5m",
				"Consumer group {{ $labels.group }} is falling further behind.",
				fmt.Sprintf("The time lag of consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} grew by {{ $value | humanizeDuration }} over the last %s: it consumes slower than producers write.", dur(o.GrowthWindow))),
			rule("KlagxGroupStalled", "critical", fmt.Sprintf("%s == 1", o.sel(metrics.GroupStatus, `status="stalled"`)), "5m", "5m",
				"Consumer group {{ $labels.group }} has stopped committing.",
				"Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has members and lag but has made no commit progress for longer than its stall threshold."),
			rule("KlagxGroupStopped", "critical", fmt.Sprintf("%s == 1", o.sel(metrics.GroupStatus, `status="stopped"`)), "10m", "5m",
				"Consumer group {{ $labels.group }} has no members and lag.",
				"Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has no members while messages wait to be consumed: nothing is consuming them."),
			rule("KlagxGroupMessagesLost", "critical", fmt.Sprintf("increase(%s[10m]) > 0", o.sel(metrics.GroupMessagesLost)), "", "30m",
				"Retention deleted messages consumer group {{ $labels.group }} never consumed.",
				"Retention deleted {{ $value | humanize }} messages on cluster {{ $labels.cluster }} before consumer group {{ $labels.group }} consumed them."),
			rule("KlagxGroupRetentionRisk", "warning",
				fmt.Sprintf("predict_linear(%s[1h], %d) < 0\nand\n%s > 0", o.sel(metrics.GroupRetentionHeadroom), int(o.RetentionHorizon.Seconds()), o.sel(metrics.GroupLag)),
				"15m", "15m",
				"Retention is about to delete messages consumer group {{ $labels.group }} has not consumed.",
				fmt.Sprintf("At the current pace, retention on cluster {{ $labels.cluster }} overtakes the committed offset of consumer group {{ $labels.group }} within %s.", dur(o.RetentionHorizon))),
		}},
		{Name: "klagx-rebalances", Rules: []Rule{
			rule("KlagxGroupRebalanceStorm", "critical",
				fmt.Sprintf("increase(%s[%s]) >= %d", o.sel(metrics.GroupRebalances), dur(o.StormWindow), o.StormRebalances), "10m", "10m",
				"Consumer group {{ $labels.group }} keeps rebalancing.",
				fmt.Sprintf("Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} rebalanced {{ $value | humanize }} times in %s; consumption stops during each rebalance.", dur(o.StormWindow))),
			rule("KlagxGroupRebalanceStuck", "critical",
				fmt.Sprintf("%s == 1", o.sel(metrics.GroupRebalanceInProgress)), dur(o.StuckAfter), "",
				"Consumer group {{ $labels.group }} is stuck rebalancing.",
				fmt.Sprintf("A rebalance of consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has been in progress for more than %s.", dur(o.StuckAfter))),
		}},
		{Name: "klagx-exporter", Rules: []Rule{
			rule("KlagxExporterDown", "critical", fmt.Sprintf("%s == 0", o.sel("up")), "5m", "",
				"The klagx exporter cannot be scraped.",
				"Prometheus cannot scrape klagx at {{ $labels.instance }}: consumer lag is not monitored."),
			rule("KlagxClusterUnreachable", "critical", fmt.Sprintf("%s == 0", o.sel(metrics.Up)), "5m", "",
				"klagx cannot reach Kafka cluster {{ $labels.cluster }}.",
				"The last poll cycles of klagx against cluster {{ $labels.cluster }} failed; lag values are stale."),
			rule("KlagxDataStale", "warning",
				fmt.Sprintf("time() - %s > %d", o.sel(metrics.LastPollSuccess), int(o.StaleAfter.Seconds())), "5m", "",
				"klagx data for cluster {{ $labels.cluster }} is stale.",
				"The last successful poll of cluster {{ $labels.cluster }} was {{ $value | humanizeDuration }} ago."),
			rule("KlagxShardMismatch", "critical",
				fmt.Sprintf("stdvar(%s) != 0", o.sel(metrics.ShardTotal)), "10m", "",
				"klagx replicas disagree on the number of shards.",
				"klagx replicas export different values of klagx_total_shards: some consumer groups are exported twice or not at all."),
			rule("KlagxPollErrors", "warning",
				fmt.Sprintf("sum by (cluster, stage) (increase(%s[10m])) > 0", o.sel(metrics.PollErrors)), "15m", "",
				"klagx keeps failing to read part of cluster {{ $labels.cluster }}.",
				"klagx met {{ $value | humanize }} errors in stage {{ $labels.stage }} on cluster {{ $labels.cluster }} over 10 minutes; affected groups or partitions show their last good values."),
		}},
	}
	return RuleFile{Groups: groups}, nil
}

// Format names of Render.
const (
	FormatRules          = "rules"
	FormatPrometheusRule = "prometheusrule"
)

// Render returns the rules as YAML in the given format.
func Render(o Options, format string) ([]byte, error) {
	rf, err := Rules(o)
	if err != nil {
		return nil, err
	}
	var doc any = rf
	switch format {
	case FormatRules:
	case FormatPrometheusRule:
		meta := map[string]any{"name": o.Name}
		if o.Namespace != "" {
			meta["namespace"] = o.Namespace
		}
		if len(o.Labels) > 0 {
			meta["labels"] = o.Labels
		}
		doc = map[string]any{
			"apiVersion": "monitoring.coreos.com/v1",
			"kind":       "PrometheusRule",
			"metadata":   meta,
			"spec":       rf,
		}
	default:
		return nil, fmt.Errorf("format %q is not one of %s, %s", format, FormatRules, FormatPrometheusRule)
	}
	var b bytes.Buffer
	b.WriteString("# Generated by `klagx alerts` (alerts/alerts.go). Do not edit; run `make generate`.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Names returns every alert name, for docs and tests.
func Names() []string {
	rf, _ := Rules(DefaultOptions())
	var out []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Alert)
		}
	}
	return out
}
