package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/units"

	m "github.com/klagx/klagx/metrics"
)

// overview is every consumer group at a glance, and the exporter's health.
func overview() (dashboard.Dashboard, error) {
	c := sel(`cluster=~"$cluster"`)
	g := sel(`cluster=~"$cluster"`, `group=~"$group"`)
	streams := sel(`cluster=~"$cluster"`, `group=~"$group"`, `kind="streams"`)
	groupLink := dashboard.NewDashboardLinkBuilder("Consumer group").
		Type(dashboard.DashboardLinkTypeDashboards).
		Tags([]string{"klagx"}).
		AsDropdown(true).
		IncludeVars(true).
		KeepTime(true)

	statusStat := statPanel(panel{
		id: 2, title: "Groups by status", unit: units.Short, w: 8, h: 6,
		desc: "Consumer groups by their klagx_group_status now (an instant query at the end of the time range). See docs/time-lag.md for the rules.",
		queries: []*prometheus.DataqueryBuilder{
			current("A", fmt.Sprintf(`count by (status) (%s%s == 1)`, m.GroupStatus, g), "{{status}}"),
		},
	}).TextMode(common.BigValueTextModeValueAndName).GraphMode(common.BigValueGraphModeNone)
	statusTimeline := timeseriesPanel(panel{
		id: 3, title: "Groups by status over time", unit: units.Short, w: 16, h: 6,
		desc: "Consumer groups by status, stacked.",
		queries: []*prometheus.DataqueryBuilder{
			q("A", fmt.Sprintf(`count by (status) (%s%s == 1)`, m.GroupStatus, g), "{{status}}"),
		},
	}).Stacking(stackNormal()).FillOpacity(40)
	for _, s := range statusColors {
		statusStat.OverrideByName(s.status, fixedColor(s.color))
		statusTimeline.OverrideByName(s.status, fixedColor(s.color))
	}

	return build(newDashboard(OverviewUID, "klagx / Overview",
		"Every Kafka consumer group klagx watches: status, the groups furthest behind, rebalances and commit latency; and the exporter's own health.").
		Link(groupLink).
		WithVariable(queryVar("cluster", "Cluster", fmt.Sprintf("label_values(%s, cluster)", m.Up), true)).
		WithVariable(queryVar("group", "Group", fmt.Sprintf(`label_values(%s{cluster=~"$cluster"}, group)`, m.GroupStatus), true)).
		WithRow(row(1, "Consumer groups")).
		WithPanel(statusStat).
		WithPanel(statusTimeline).
		WithPanel(timeseriesPanel(panel{
			id: 4, title: "Top 10 groups by time lag", unit: units.Seconds, w: 12, h: 9,
			desc: "klagx_group_lag_seconds: age of the oldest message each group has not consumed.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`topk(10, %s%s)`, m.GroupLagSeconds, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 5, title: "Top 10 groups by lag (messages)", unit: units.Short, w: 12, h: 9,
			desc: "klagx_group_lag: messages each group has not consumed, summed over its partitions.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`topk(10, %s%s)`, m.GroupLag, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(tablePanel(panel{
			id: 6, title: "Groups furthest behind", unit: units.Seconds, w: 8, h: 9,
			desc: "The 20 groups with the largest time lag right now.",
			queries: []*prometheus.DataqueryBuilder{
				instant("A", fmt.Sprintf(`topk(20, %s%s)`, m.GroupLagSeconds, g), ""),
			},
		}).WithTransformation(organize(map[string]any{"Time": true, "__name__": true, "job": true, "instance": true}, map[string]any{"Value": "time lag"}))).
		WithPanel(timeseriesPanel(panel{
			id: 7, title: "Rebalances per group", unit: units.Short, w: 8, h: 9,
			desc: "Rebalances observed per group (klagx_group_rebalances_total), per rate interval; groups without rebalances are hidden.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (cluster, group) (increase(%s%s[$__rate_interval])) > 0`, m.GroupRebalances, g), "{{cluster}} / {{group}}"),
			},
		}).DrawStyle(common.GraphDrawStyleBars).FillOpacity(60)).
		WithPanel(timeseriesPanel(panel{
			id: 8, title: "Commit latency p99 (top 10 groups)", unit: units.Seconds, w: 8, h: 9,
			desc: "99th percentile of klagx_group_commit_latency_seconds: the produce-to-commit latency of each group's pipeline.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`topk(10, histogram_quantile(0.99, sum by (cluster, group, le) (rate(%s_bucket%s[$__rate_interval]))))`, m.GroupCommitLatency, g), "{{cluster}} / {{group}}"),
			},
		})).
		// ---- streams groups (KIP-1071) ----
		WithRow(row(30, "Streams groups (Kafka Streams, group.protocol=streams)")).
		WithPanel(timeseriesPanel(panel{
			id: 31, title: "Streams groups: lag (messages)", unit: units.Short, w: 8, h: 8,
			desc: "klagx_group_lag of the streams groups (KIP-1071): input and repartition topics alike; the group page shows one of them in full.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s * on (cluster, group) group_left () %s%s`, m.GroupLag, g, m.GroupInfo, streams), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 32, title: "Streams groups: members", unit: units.Short, w: 8, h: 8,
			desc: "klagx_group_members of the streams groups: one member per StreamThread.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s * on (cluster, group) group_left () %s%s`, m.GroupMembers, g, m.GroupInfo, streams), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 33, title: "Streams groups: rebalances", unit: units.Short, w: 8, h: 8,
			desc: "Group epoch advances of the streams groups (klagx_group_rebalances_total), per rate interval.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (cluster, group) (increase(%s%s[$__rate_interval])) * on (cluster, group) group_left () %s%s > 0`, m.GroupRebalances, g, m.GroupInfo, streams), "{{cluster}} / {{group}}"),
			},
		}).DrawStyle(common.GraphDrawStyleBars).FillOpacity(60)).
		WithRow(row(20, "Exporter")).
		WithPanel(statPanel(panel{
			id: 21, title: "Clusters up", unit: units.Short, w: 6, h: 6,
			desc: "klagx_up: 1 if the last poll cycle reached the cluster.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.Up, c), "{{cluster}}"),
			},
		}).Mappings(upMappings()).ColorMode(common.BigValueColorModeBackground).GraphMode(common.BigValueGraphModeNone).TextMode(common.BigValueTextModeValueAndName)).
		WithPanel(timeseriesPanel(panel{
			id: 22, title: "Poll duration", unit: units.Seconds, w: 9, h: 6,
			desc: "klagx_poll_duration_seconds: wall time of one poll cycle per cluster.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`histogram_quantile(0.5, sum by (cluster, le) (rate(%s_bucket%s[$__rate_interval])))`, m.PollDuration, c), "{{cluster}} p50"),
				q("B", fmt.Sprintf(`histogram_quantile(0.99, sum by (cluster, le) (rate(%s_bucket%s[$__rate_interval])))`, m.PollDuration, c), "{{cluster}} p99"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 23, title: "Data age", unit: units.Seconds, w: 9, h: 6,
			desc: "Time since the last poll cycle that reached the cluster (klagx_last_poll_success_timestamp_seconds). Normally below one poll interval.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`time() - %s%s`, m.LastPollSuccess, c), "{{cluster}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 24, title: "Kafka requests/s", unit: units.RequestsPerSecond, w: 9, h: 8,
			desc: "klagx_kafka_requests_total by API: what klagx costs the cluster it watches.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (cluster, api) (rate(%s%s[$__rate_interval]))`, m.KafkaRequests, c), "{{cluster}} {{api}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 25, title: "Poll errors/s", unit: units.CountsPerSecond, w: 9, h: 8,
			desc: "klagx_poll_errors_total by stage; details are in the exporter's log.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (cluster, stage) (rate(%s%s[$__rate_interval]))`, m.PollErrors, c), "{{cluster}} {{stage}}"),
			},
		})).
		WithPanel(tablePanel(panel{
			id: 26, title: "Exporter build", unit: units.Short, w: 6, h: 8,
			desc: "klagx_build_info: version, revision and Go version of the running exporters (Value: how many).",
			queries: []*prometheus.DataqueryBuilder{
				instant("A", fmt.Sprintf(`count by (version, revision, goversion) (%s)`, m.BuildInfo), ""),
			},
		}).WithTransformation(organize(map[string]any{"Time": true}, map[string]any{"Value": "exporters"}))))
}
