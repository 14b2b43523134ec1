package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/units"

	m "github.com/klagx/klagx/metrics"
)

// rebalances is rebalances across groups: how often, how long, what moved.
func rebalances() (dashboard.Dashboard, error) {
	g := sel(`cluster=~"$cluster"`, `group=~"$group"`)
	byGroup := "sum by (cluster, group)"

	return build(newDashboard(RebalancesUID, "klagx / Rebalances",
		"Consumer-group rebalances: rate, duration, membership churn, partitions moved, groups rebalancing now and partitions nobody owns. See docs/rebalances.md.").
		Link(dashboard.NewDashboardLinkBuilder("klagx").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"klagx"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true)).
		WithVariable(queryVar("cluster", "Cluster", fmt.Sprintf("label_values(%s, cluster)", m.Up), true)).
		WithVariable(queryVar("group", "Group", fmt.Sprintf(`label_values(%s{cluster=~"$cluster"}, group)`, m.GroupRebalances), true)).
		WithRow(row(1, "Now")).
		WithPanel(statPanel(panel{
			id: 2, title: "Groups rebalancing now", unit: units.Short, w: 6, h: 5,
			desc: "Groups with klagx_group_rebalance_in_progress == 1.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`count(%s%s == 1) or vector(0)`, m.GroupRebalanceInProgress, g), ""),
			},
		})).
		WithPanel(statPanel(panel{
			id: 3, title: "Unowned partitions", unit: units.Short, w: 6, h: 5,
			desc: "klagx_group_unowned_partitions summed over the selected groups: partitions with committed offsets that no member owns while the group is Stable with members.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(%s%s) or vector(0)`, m.GroupUnownedPartitions, g), ""),
			},
		})).
		WithPanel(tablePanel(panel{
			id: 4, title: "Last rebalance per group", unit: units.DatetimeISO, w: 12, h: 5,
			desc: "When each group's last observed rebalance ended (klagx_group_last_rebalance_timestamp_seconds), most recent first.",
			queries: []*prometheus.DataqueryBuilder{
				instant("A", fmt.Sprintf(`sort_desc(%s%s * 1000)`, m.GroupLastRebalance, g), ""),
			},
		}).WithTransformation(organize(map[string]any{"Time": true, "job": true, "instance": true}, map[string]any{"Value": "last rebalance"}))).
		WithPanel(stateTimelinePanel(panel{
			id: 5, title: "Rebalancing", unit: units.Short, w: 12, h: 8,
			desc: "klagx_group_rebalance_in_progress per group: 1 while a rebalance is under way.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.GroupRebalanceInProgress, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 6, title: "Unowned partitions per group", unit: units.Short, w: 12, h: 8,
			desc: "klagx_group_unowned_partitions: committed partitions no member owns while the group is Stable.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.GroupUnownedPartitions, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithRow(row(10, "Rate and duration")).
		WithPanel(timeseriesPanel(panel{
			id: 11, title: "Rebalance rate per group", unit: units.CountsPerMinute, w: 12, h: 8,
			desc: "Rebalances per minute (klagx_group_rebalances_total), groups without rebalances hidden.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s (rate(%s%s[$__rate_interval])) * 60 > 0`, byGroup, m.GroupRebalances, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 12, title: "Rebalance duration p99 per group", unit: units.Seconds, w: 12, h: 8,
			desc: "99th percentile of klagx_group_rebalance_duration_seconds. Rebalances that start and end between two polls are counted but not timed.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`histogram_quantile(0.99, sum by (cluster, group, le) (rate(%s_bucket%s[$__rate_interval])))`, m.GroupRebalanceDuration, g), "{{cluster}} / {{group}} p99"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 13, title: "Average rebalance duration per group", unit: units.Seconds, w: 12, h: 8,
			desc: "klagx_group_rebalance_duration_seconds: _sum over _count, per group.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s (rate(%s_sum%s[$__rate_interval])) / %s (rate(%s_count%s[$__rate_interval]))`, byGroup, m.GroupRebalanceDuration, g, byGroup, m.GroupRebalanceDuration, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 14, title: "Rebalance duration, all selected groups", unit: units.Seconds, w: 12, h: 8,
			desc: "p50, p90 and p99 of klagx_group_rebalance_duration_seconds over the selected groups.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`histogram_quantile(0.5, sum by (le) (rate(%s_bucket%s[$__rate_interval])))`, m.GroupRebalanceDuration, g), "p50"),
				q("B", fmt.Sprintf(`histogram_quantile(0.9, sum by (le) (rate(%s_bucket%s[$__rate_interval])))`, m.GroupRebalanceDuration, g), "p90"),
				q("C", fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(%s_bucket%s[$__rate_interval])))`, m.GroupRebalanceDuration, g), "p99"),
			},
		})).
		WithRow(row(20, "What changed")).
		WithPanel(timeseriesPanel(panel{
			id: 21, title: "Member joins and leaves", unit: units.Short, w: 12, h: 8,
			desc: "Members that joined (above the axis, klagx_group_member_joins_total) and left (below, klagx_group_member_leaves_total) in observed rebalances, per rate interval.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s (increase(%s%s[$__rate_interval])) > 0`, byGroup, m.GroupMemberJoins, g), "{{cluster}} / {{group}} joined"),
				q("B", fmt.Sprintf(`-(%s (increase(%s%s[$__rate_interval])) > 0)`, byGroup, m.GroupMemberLeaves, g), "{{cluster}} / {{group}} left"),
			},
		}).DrawStyle(common.GraphDrawStyleBars).FillOpacity(60)).
		WithPanel(timeseriesPanel(panel{
			id: 22, title: "Partitions moved", unit: units.Short, w: 12, h: 8,
			desc: "Partitions whose owner changed from one member to another (klagx_group_partitions_moved_total), per rate interval.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s (increase(%s%s[$__rate_interval]))`, byGroup, m.GroupPartitionsMoved, g), "{{cluster}} / {{group}}"),
			},
		}).DrawStyle(common.GraphDrawStyleBars).FillOpacity(60)))
}
