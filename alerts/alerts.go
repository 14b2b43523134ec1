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
	// AbandonedAfter: a group with no members for this long, in
	// Prometheus's own history of klagx_group_members, is abandoned, and
	// no consumer-group alert fires for it; a group that stopped more
	// recently pages KlagxGroupStopped. Zero turns the policy off. When
	// set it must be longer than StoppedFor.
	AbandonedAfter time.Duration
	// ForOverride, when non-zero, replaces every for and keep_firing_for
	// duration: end-to-end tests use it to see alerts within seconds.
	ForOverride time.Duration
	// Name, Namespace and Labels of the PrometheusRule manifest.
	Name      string
	Namespace string
	Labels    map[string]string
}

// MembersMaxRule is the recording rule of the abandoned-group policy: per
// cluster and group, the most members klagx_group_members had within
// AbandonedAfter. Its rules file evaluates it before the alerts that read
// it, in the same group.
const MembersMaxRule = "cluster_group:klagx_group_members:max_over_time"

// StoppedFor is the for: duration of KlagxGroupStopped.
const StoppedFor = 10 * time.Minute

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
		AbandonedAfter:   24 * time.Hour,
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
	case o.AbandonedAfter < 0 || o.AbandonedAfter > 0 && o.AbandonedAfter <= o.effectiveFor(StoppedFor):
		return fmt.Errorf("abandoned after: %s must be 0 (off) or longer than the %s KlagxGroupStopped waits before it fires, or a group that stops never pages",
			o.AbandonedAfter, o.effectiveFor(StoppedFor))
	case o.RunbookBaseURL == "":
		return fmt.Errorf("runbook base URL is empty")
	case strings.ContainsAny(o.Selector, "{}"):
		return fmt.Errorf("selector %q: give the matchers without braces, e.g. job=\"klagx\"", o.Selector)
	}
	return nil
}

// Rule is one alerting rule, or (Record set) one recording rule.
type Rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	For           string            `yaml:"for,omitempty"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
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

// effectiveFor is the for: duration d, or ForOverride when set.
func (o Options) effectiveFor(d time.Duration) time.Duration {
	if o.ForOverride > 0 {
		return o.ForOverride
	}
	return d
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
	// notAbandoned leaves out the groups that had no member for the whole
	// of AbandonedAfter, from Prometheus's history: nobody runs them, so
	// none of the consumer-group alerts fires for them (a group that has
	// members now always passes).
	// notAbandonedBy leaves out the groups whose members family (share
	// groups: klagx_share_group_members) had no member for the whole of
	// AbandonedAfter; it reads the window itself, which suits a family
	// one alert reads.
	notAbandonedBy := func(members, expr string) string {
		if o.AbandonedAfter == 0 {
			return expr
		}
		return fmt.Sprintf("(%s)\nunless on (cluster, group)\nmax_over_time(%s[%s]) == 0", expr, o.sel(members), dur(o.AbandonedAfter))
	}
	// The window is read once per evaluation, by the recording rule
	// MembersMaxRule that leads the group, not by each of the six alerts.
	notAbandoned := func(expr string) string {
		if o.AbandonedAfter == 0 {
			return expr
		}
		return fmt.Sprintf("(%s)\nunless on (cluster, group)\n%s == 0", expr, MembersMaxRule)
	}
	var consumerRules []Rule
	if o.AbandonedAfter > 0 {
		// max by (cluster, group): a group that had members in the
		// series of any klagx replica (HA pairs, a restarted pod) was
		// not abandoned.
		consumerRules = append(consumerRules, Rule{Record: MembersMaxRule,
			Expr: fmt.Sprintf("max by (cluster, group) (max_over_time(%s[%s]))", o.sel(metrics.GroupMembers), dur(o.AbandonedAfter))})
	}
	stoppedAdvice := "Check its consumers' deployment (crashed, scaled to zero, failing to start); if the group is retired, delete it to silence this."
	if o.AbandonedAfter > 0 {
		stoppedAdvice = fmt.Sprintf("It had members within the last %[1]s, so it stopped recently: check its consumers' deployment (crashed, scaled to zero, failing to start). A group empty for longer than %[1]s counts as abandoned and stops alerting; if this one is retired, delete it.", dur(o.AbandonedAfter))
	}
	groups := []Group{
		{Name: "klagx-consumer-groups", Rules: append(consumerRules,
			rule("KlagxGroupLagCritical", "critical", notAbandoned(lagVsThreshold("critical")), "5m", "5m",
				"Consumer group {{ $labels.group }} on {{ $labels.cluster }} is {{ $value | humanizeDuration }} behind (critical).",
				"Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has not consumed a message produced {{ $value | humanizeDuration }} ago, above its critical time-lag threshold: whatever it feeds is that far out of date. Check that its consumers are running and keeping up (produce vs commit rate on the klagx consumer-group dashboard)."),
			rule("KlagxGroupLagWarning", "warning", notAbandoned(lagVsThreshold("warning")), "10m", "5m",
				"Consumer group {{ $labels.group }} on {{ $labels.cluster }} is {{ $value | humanizeDuration }} behind.",
				"Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has not consumed a message produced {{ $value | humanizeDuration }} ago, above its warning time-lag threshold. Not urgent yet; if it keeps growing it reaches the critical threshold. Check the produce and commit rates on the klagx consumer-group dashboard."),
			rule("KlagxGroupLagGrowing", "warning",
				// A group that grew behind but now consumes faster than
				// its topics are written to has a catch-up estimate: it
				// is recovering by itself, so only the others warn.
				notAbandoned(fmt.Sprintf("((%s - %s offset %s) > %d\nand\n%s > %d)\nunless on (cluster, group)\n%s", o.sel(metrics.GroupLagSeconds), o.sel(metrics.GroupLagSeconds), dur(o.GrowthWindow),
					growth(o.GrowthWindow), o.sel(metrics.GroupLagSeconds), growth(o.GrowthWindow), o.sel(metrics.GroupCatchUpSeconds))),
				"15m", "5m",
				"Consumer group {{ $labels.group }} on {{ $labels.cluster }} is falling further behind.",
				fmt.Sprintf("Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} fell {{ $value | humanizeDuration }} further behind in the last %s, and klagx sees no catch-up (no klagx_group_catchup_seconds): it consumes no faster than its topics are written to, and will not catch up by itself. Check whether production spiked or its consumers slowed down.", dur(o.GrowthWindow))),
			rule("KlagxGroupStalled", "critical", fmt.Sprintf("%s == 1", o.sel(metrics.GroupStatus, `status="stalled"`)), "5m", "5m",
				"Consumer group {{ $labels.group }} on {{ $labels.cluster }} is stuck: members but no commits.",
				"Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has members and unconsumed messages, but none of its partitions with lag has committed for longer than its stall threshold. The consumers are up but not making progress: look in their logs for a message they fail on, a blocked dependency or failing commits."),
			rule("KlagxGroupStopped", "critical", notAbandoned(fmt.Sprintf("%s == 1", o.sel(metrics.GroupStatus, `status="stopped"`))),
				dur(StoppedFor), "5m",
				"Consumer group {{ $labels.group }} on {{ $labels.cluster }} has no consumers running.",
				"Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} has no members while messages wait on its partitions: nothing is consuming them. "+stoppedAdvice),
			rule("KlagxGroupMessagesLost", "critical", notAbandoned(fmt.Sprintf("increase(%s[10m]) > 0", o.sel(metrics.GroupMessagesLost))), "", "30m",
				"Consumer group {{ $labels.group }} on {{ $labels.cluster }} lost messages to retention.",
				"Retention on cluster {{ $labels.cluster }} deleted {{ $value | humanize }} messages in the last 10 minutes before consumer group {{ $labels.group }} consumed them: that data was skipped, not processed. Get the group caught up (or raise the topic's retention) before it loses more, and find out which topic and partitions lost data (/status, klagx_group_partition_messages_lost_total)."),
			rule("KlagxGroupRetentionRisk", "warning",
				notAbandoned(fmt.Sprintf("predict_linear(%s[1h], %d) < 0\nand\n%s > 0", o.sel(metrics.GroupRetentionHeadroom), int(o.RetentionHorizon.Seconds()), o.sel(metrics.GroupLag))),
				"15m", "15m",
				fmt.Sprintf("Consumer group {{ $labels.group }} on {{ $labels.cluster }} will lose messages to retention within %s.", dur(o.RetentionHorizon)),
				fmt.Sprintf("At the current pace, retention on cluster {{ $labels.cluster }} deletes messages consumer group {{ $labels.group }} has not consumed yet within %s. Speed the group up, or raise the topic's retention to buy time, before data is skipped.", dur(o.RetentionHorizon))),
		)},
		{Name: "klagx-share-groups", Rules: []Rule{
			rule("KlagxShareGroupStalled", "critical", fmt.Sprintf("%s == 1", o.sel(metrics.ShareGroupStatus, `status="stalled"`)), "5m", "5m",
				"Share group {{ $labels.group }} on {{ $labels.cluster }} is stuck: members but no acknowledgements.",
				"Share group {{ $labels.group }} on cluster {{ $labels.cluster }} has members and records waiting, but none of its share-partitions with lag has made progress (start offset up or lag down) for longer than its stall threshold: no record is being acknowledged or archived. Look in the consumers' logs for a record they fail on (it is redelivered up to group.share.delivery.count.limit times) or a blocked dependency."),
			rule("KlagxShareGroupStopped", "critical", notAbandonedBy(metrics.ShareGroupMembers, fmt.Sprintf("%s == 1", o.sel(metrics.ShareGroupStatus, `status="stopped"`))),
				dur(StoppedFor), "5m",
				"Share group {{ $labels.group }} on {{ $labels.cluster }} has no consumers running.",
				"Share group {{ $labels.group }} on cluster {{ $labels.cluster }} has no members while records wait on its share-partitions: nothing is consuming them. "+stoppedAdvice),
		}},
		{Name: "klagx-rebalances", Rules: []Rule{
			rule("KlagxGroupRebalanceStorm", "critical",
				fmt.Sprintf("increase(%s[%s]) >= %d", o.sel(metrics.GroupRebalances), dur(o.StormWindow), o.StormRebalances), "10m", "10m",
				fmt.Sprintf("Consumer group {{ $labels.group }} on {{ $labels.cluster }} rebalanced {{ $value | humanize }} times in %s.", dur(o.StormWindow)),
				fmt.Sprintf("Consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} rebalanced {{ $value | humanize }} times in the last %s; it pauses consuming during each rebalance and redelivers records. Usually members that crash, exceed max.poll.interval.ms or miss heartbeats: klagx's \"group rebalanced\" log lines say who joins and leaves.", dur(o.StormWindow))),
			rule("KlagxGroupRebalanceStuck", "critical",
				fmt.Sprintf("%s == 1", o.sel(metrics.GroupRebalanceInProgress)), dur(o.StuckAfter), "",
				fmt.Sprintf("Consumer group {{ $labels.group }} on {{ $labels.cluster }} has been rebalancing for over %s.", dur(o.StuckAfter)),
				fmt.Sprintf("A rebalance of consumer group {{ $labels.group }} on cluster {{ $labels.cluster }} started more than %s ago and has not finished; the group consumes nothing until it does. Look for a member that joined but never completes the rebalance (kafka-consumer-groups.sh --describe --members) and restart it.", dur(o.StuckAfter))),
		}},
		{Name: "klagx-exporter", Rules: []Rule{
			rule("KlagxExporterDown", "critical", fmt.Sprintf("%s == 0", o.sel("up")), "5m", "",
				"klagx at {{ $labels.instance }} is down: consumer lag is not monitored.",
				"Prometheus has not been able to scrape klagx at {{ $labels.instance }} for 5 minutes, so no consumer-lag alert of its clusters can fire. Check the klagx pod or process, its logs and /healthz, and the scrape configuration (Service, ServiceMonitor, TLS and basic auth)."),
			rule("KlagxClusterUnreachable", "critical", fmt.Sprintf("%s == 0", o.sel(metrics.Up)), "5m", "",
				"klagx cannot reach Kafka cluster {{ $labels.cluster }}.",
				"Every poll of Kafka cluster {{ $labels.cluster }} by klagx has failed for 5 minutes: its lag values are frozen at the last good ones, and lag alerts for it may stay silent. The reason is in klagx's log and on /readyz (brokers down, network, expired credentials, ACLs)."),
			rule("KlagxDataStale", "warning",
				fmt.Sprintf("time() - %s > %d", o.sel(metrics.LastPollSuccess), int(o.StaleAfter.Seconds())), "5m", "",
				"klagx data for cluster {{ $labels.cluster }} is {{ $value | humanizeDuration }} old.",
				"The last successful poll of cluster {{ $labels.cluster }} by klagx was {{ $value | humanizeDuration }} ago: lag shown for it is that old, and lag alerts for it may stay silent. Either the cluster is unreachable (see KlagxClusterUnreachable) or poll cycles take too long (klagx_poll_duration_seconds)."),
			rule("KlagxShardMismatch", "critical",
				fmt.Sprintf("stdvar(%s) != 0", o.sel(metrics.ShardTotal)), "10m", "",
				"klagx replicas disagree on the number of shards.",
				"klagx replicas have exported different values of klagx_total_shards for 10 minutes: some consumer groups are exported twice and others not at all, so their alerts cannot fire. Give every replica the same --total-shards, with each shard 0 to N-1 run exactly once."),
			rule("KlagxPollErrors", "warning",
				fmt.Sprintf("sum by (cluster, stage) (increase(%s[10m])) > 0", o.sel(metrics.PollErrors)), "15m", "",
				"klagx cannot read part of cluster {{ $labels.cluster }} ({{ $labels.stage }}).",
				"klagx hit {{ $value | humanize }} errors in poll stage {{ $labels.stage }} on cluster {{ $labels.cluster }} in the last 10 minutes. The groups or partitions affected show their last good values, then disappear after 5 poll intervals. klagx's log names them and the error (often a missing ACL or one unhealthy broker)."),
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
			if r.Alert != "" {
				out = append(out, r.Alert)
			}
		}
	}
	return out
}
