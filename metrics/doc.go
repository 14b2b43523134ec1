package metrics

import (
	"bytes"
	"fmt"
	"strings"
)

// Markdown renders the contract as the docs/metrics.md page. The page is
// committed; a test fails when it drifts from this table (regenerate with
// `make generate`).
func Markdown() []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Generated from metrics/metrics.go by `make generate`. Do not edit. -->\n")
	b.WriteString("# klagx metrics\n\n")
	b.WriteString("Every family klagx serves on `/metrics`. Labels `cluster`, `group`, `topic` and `partition` are the\n")
	b.WriteString("identity labels; member identity (`member`, `client_id`, `host`) labels only the per-member families\n")
	b.WriteString("(one series per member), never a partition or group series. Values come from the latest poll\n")
	b.WriteString("snapshot: a scrape never sends a Kafka request.\n\n")
	b.WriteString("## Which families are served\n\n")
	b.WriteString("The **default** families fit a cardinality budget: at most 2 series per group-partition, 30 per group, 2\n")
	b.WriteString("per partition and 2 per group member, plus a constant per cluster (a test fails when the defaults exceed it). The **opt-in**\n")
	b.WriteString("families are served only when selected, in the manner of kube-state-metrics:\n\n")
	b.WriteString("- `--metric-opt-in-list=REGEX,...` (`metric_opt_in_list`) adds the opt-in families whose name matches;\n")
	b.WriteString("  `--metric-opt-in-list='.*'` serves everything.\n")
	b.WriteString("- `--metric-allowlist=REGEX,...` (`metric_allowlist`) serves only the matching families of that set;\n")
	b.WriteString("  `--metric-denylist=REGEX,...` (`metric_denylist`) drops the matching ones. The two are exclusive.\n")
	b.WriteString("  Patterns match the whole family name.\n")
	b.WriteString("- `--granularity` drops the finer families: `topic` drops the `partition` level (and serves the `topic`\n")
	b.WriteString("  families by default in its place), `group` drops the `topic` and `partition` levels.\n\n")
	b.WriteString("Why these defaults: per group-partition, the offset lag and the time lag are what lag alerts and\n")
	b.WriteString("dashboards are about; the committed offset is end offset minus lag, and the other per-partition families\n")
	b.WriteString("are detail for investigations. Per group, the status (with its thresholds) drives every alert, and one\n")
	b.WriteString("series each for lag, time lag, members, errors, data age, retention headroom, losses, rewinds, stalls and\n")
	b.WriteString("rebalances keeps every alert and the status, lag and rebalance panels working; the two histograms (32 series), the state enum (9;\n")
	b.WriteString("`status` and `klagx_group_rebalance_in_progress` carry what alerts need of it), the time-lag methods (5),\n")
	b.WriteString("membership churn detail and per-topic sums (computable from the partition series) are opt-in.\n\n")
	b.WriteString("Series per unit (the most; a histogram counts its buckets, `+Inf`, `_sum` and `_count`):\n\n")
	b.WriteString("| per | defaults | defaults, `--granularity=topic` | defaults, `--granularity=group` | everything (`--metric-opt-in-list='.*'`) | budget at the defaults |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	topic, group := DefaultSelection, DefaultSelection
	topic.Level, group.Level = LevelTopic, LevelGroup
	cards := []map[Unit]int{DefaultSelection.Cardinality(), topic.Cardinality(), group.Cardinality(), AllSelection.Cardinality()}
	for _, u := range Units {
		fmt.Fprintf(&b, "| %s |", u)
		for _, c := range cards {
			fmt.Fprintf(&b, " %d |", c[u])
		}
		if lim, ok := Budget[u]; ok {
			fmt.Fprintf(&b, " %d |\n", lim)
		} else {
			b.WriteString(" constant |\n")
		}
	}
	d, a := cards[0], cards[3]
	fmt.Fprintf(&b, "\nFor example, 500 groups × 200 partitions (100,000 rows) of 2,000 members over 10,000 partitions: %s series at the defaults,\n", thousands(example(d)))
	fmt.Fprintf(&b, "%s with everything on.\n\n", thousands(example(a)))
	b.WriteString("## Families\n\n")
	b.WriteString("| metric | type | labels | level | served | series per | stability | meaning |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, f := range Families {
		served := "default"
		if f.OptIn {
			served = "opt-in"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %d per %s | %s | %s |\n",
			f.Name, f.Type, "`"+strings.Join(f.Labels, "`, `")+"`", levelName(f.Level), served, Series(f), UnitOf(f), f.Stability,
			strings.ReplaceAll(f.Help, "|", "\\|"))
	}
	b.WriteString("\n## Label values\n\n")
	fmt.Fprintf(&b, "- `state` of `%s`: %s. Any other state a broker reports is exported as `Unknown`.\n",
		GroupState, quoteList(GroupStates))
	fmt.Fprintf(&b, "- `kind` of `%s`: %s.\n", GroupInfo, quoteList(GroupKinds))
	fmt.Fprintf(&b, "- `stage` of `%s`: %s.\n", PollErrors, quoteList(PollStages))
	fmt.Fprintf(&b, "- `status` of `%s`: %s; see [time-lag.md](time-lag.md#status).\n", GroupStatus, quoteList(Statuses))
	fmt.Fprintf(&b, "- `method` of `%s`: %s; see [time-lag.md](time-lag.md#methods---time-lagmode).\n", GroupTimeLagPartitions, quoteList(TimeLagMethods))
	fmt.Fprintf(&b, "- `severity` of `%s` and `%s`: `warning`, `critical`.\n", GroupLagThreshold, GroupLagThresholdSeconds)
	fmt.Fprintf(&b, "- `api` of `%s`: Kafka's API name (`ListGroups`, `DescribeGroups`, `ConsumerGroupDescribe`, `OffsetFetch`, `Metadata`, `ListOffsets`, `FindCoordinator`, `ApiVersions`, ...).\n", KafkaRequests)
	b.WriteString("\n## Semantics\n\n")
	b.WriteString("- **Lag** is `end − committed`, never negative. `end` is the high-water mark, or the last stable offset for\n")
	b.WriteString("  clusters configured `read_committed`.\n")
	b.WriteString("- **No commit**: `klagx_group_partition_committed_offset` is absent (never `-1`), the lag counts every retained\n")
	b.WriteString("  message (`end − log start`), and the partition is counted in `klagx_group_partitions_without_commit`.\n")
	b.WriteString("- **Retention overtook the group** (commit below the log start offset): the deleted messages are added once to\n")
	b.WriteString("  `klagx_group_partition_messages_lost_total` and the lag is clamped to the retained range.\n")
	b.WriteString("- **Time lag** is the age of the oldest unconsumed message, never negative, NaN or +Inf; how it is estimated and\n")
	b.WriteString("  its error bound are in [time-lag.md](time-lag.md).\n")
	b.WriteString("- A group's partitions are all partitions of every topic it has commits on, is assigned, or subscribes to.\n")
	b.WriteString("- **Members**: `klagx_group_member_lag` has one series per member of the group's latest description (refreshed\n")
	b.WriteString("  every `--group-poll-interval`, with the partition lags of the last poll cycle); a member assigned no partition\n")
	b.WriteString("  exports 0, and a member that leaves loses its series at the next description. `member` is the member ID,\n")
	b.WriteString("  `client_id` the client.id and `host` the client host as the coordinator saw it, as `kafka-consumer-groups\n")
	b.WriteString("  --describe` shows them; the owner of each partition is in `/status` and `klagx check`.\n")
	b.WriteString("- **Errors**: a group or partition that cannot be read keeps its last good values, with their age in\n")
	b.WriteString("  `klagx_group_last_poll_success_timestamp_seconds`, for up to 5 poll intervals; then it is dropped rather than\n")
	b.WriteString("  frozen. Deleted groups and topics disappear at the next cycle.\n")
	return b.Bytes()
}

// example is the series count of one cluster of 500 groups, each on 4
// topics of 50 partitions, out of 200 topics, with 4 members each.
func example(c map[Unit]int) int {
	return c[PerCluster] + 10_000*c[PerPartition] + 500*c[PerGroup] + 2_000*c[PerGroupTopic] + 100_000*c[PerGroupPartition] + 2_000*c[PerMember]
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func levelName(l Level) string {
	switch l {
	case LevelCluster:
		return "cluster"
	case LevelGroup:
		return "group"
	case LevelTopic:
		return "topic"
	default:
		return "partition"
	}
}

func quoteList(vs []string) string {
	return "`" + strings.Join(vs, "`, `") + "`"
}
