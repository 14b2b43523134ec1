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
	b.WriteString("identity labels; member identity is never a label on lag series. Values come from the latest poll\n")
	b.WriteString("snapshot: a scrape never sends a Kafka request.\n\n")
	b.WriteString("`--granularity` drops the finer families: `topic` drops the `partition` level, `group` drops the\n")
	b.WriteString("`topic` and `partition` levels. Cluster-level families are always served.\n\n")
	b.WriteString("| metric | type | labels | level | stability | meaning |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, f := range Families {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n",
			f.Name, f.Type, "`"+strings.Join(f.Labels, "`, `")+"`", levelName(f.Level), f.Stability,
			strings.ReplaceAll(f.Help, "|", "\\|"))
	}
	b.WriteString("\n## Label values\n\n")
	fmt.Fprintf(&b, "- `state` of `%s`: %s. Any other state a broker reports is exported as `Unknown`.\n",
		GroupState, quoteList(GroupStates))
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
	b.WriteString("- **Errors**: a group or partition that cannot be read keeps its last good values, with their age in\n")
	b.WriteString("  `klagx_group_last_poll_success_timestamp_seconds`, for up to 5 poll intervals; then it is dropped rather than\n")
	b.WriteString("  frozen. Deleted groups and topics disappear at the next cycle.\n")
	return b.Bytes()
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
