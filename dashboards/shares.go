package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/units"

	m "github.com/klagx/klagx/metrics"
)

// shareGroups is the share-group (KIP-932) view: status, members, lag and
// the share-partition start offsets, whose progress is what a share group
// has instead of commits.
func shareGroups() (dashboard.Dashboard, error) {
	g := sel(`cluster=~"$cluster"`, `group=~"$group"`)
	return build(newDashboard(ShareGroupsUID, "klagx / Share groups",
		"Share groups (KIP-932): status, members, lag (records not yet acknowledged) and share-partition start offsets. See docs/design.md, Share groups.").
		Link(dashboard.NewDashboardLinkBuilder("klagx").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"klagx"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true)).
		WithVariable(queryVar("cluster", "Cluster", fmt.Sprintf("label_values(%s, cluster)", m.Up), true)).
		WithVariable(queryVar("group", "Share group", fmt.Sprintf(`label_values(%s{cluster=~"$cluster"}, group)`, m.ShareGroupStatus), true)).
		WithRow(row(1, "Now")).
		WithPanel(tablePanel(panel{
			id: 2, title: "Share groups not ok", unit: units.Short, w: 12, h: 6,
			desc: "Share groups whose klagx_share_group_status is not ok: stopped (lag, no members), stalled (lag, members, no start offset advanced for the stall threshold), warning or unknown.",
			queries: []*prometheus.DataqueryBuilder{
				instant("A", fmt.Sprintf(`%s%s == 1 unless %s{status="ok"}`, m.ShareGroupStatus, g, m.ShareGroupStatus), ""),
			},
		}).WithTransformation(organize(map[string]any{"Time": true, "job": true, "instance": true, "Value": true}, nil))).
		WithPanel(statPanel(panel{
			id: 3, title: "Lag, selected share groups", unit: units.Short, w: 6, h: 6,
			desc: "klagx_share_group_lag summed: records not yet acknowledged or archived.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(%s%s) or vector(0)`, m.ShareGroupLag, g), ""),
			},
		})).
		WithPanel(statPanel(panel{
			id: 4, title: "Estimated partitions", unit: units.Short, w: 6, h: 6,
			desc: "klagx_share_group_lag_estimated_partitions summed: partitions whose lag is end minus start offset, an upper bound, because the broker predates Kafka 4.2.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(%s%s) or vector(0)`, m.ShareGroupEstimatedPartitions, g), ""),
			},
		})).
		WithRow(row(10, "History")).
		WithPanel(timeseriesPanel(panel{
			id: 11, title: "Lag per share group", unit: units.Short, w: 12, h: 8,
			desc: "klagx_share_group_lag: records not yet acknowledged or archived.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.ShareGroupLag, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 12, title: "Members per share group", unit: units.Short, w: 12, h: 8,
			desc: "klagx_share_group_members.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.ShareGroupMembers, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 13, title: "Acknowledged per second", unit: units.Short, w: 12, h: 8,
			desc: "How fast each share group's start offsets advance (klagx_share_group_partition_start_offset), summed over its partitions: records acknowledged or archived per second, from the oldest one on.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (cluster, group) (rate(%s%s[$__rate_interval]))`, m.ShareGroupPartitionStart, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 14, title: "Progress gap", unit: units.Seconds, w: 12, h: 8,
			desc: "klagx_share_group_progress_gap_seconds: the longest time a share-partition with lag has gone without its start offset advancing; stalled past the stall threshold.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.ShareGroupProgressGap, g), "{{cluster}} / {{group}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 15, title: "Read errors and data age", unit: units.Seconds, w: 12, h: 8,
			desc: "Seconds since each share group was last read successfully (klagx_share_group_last_poll_success_timestamp_seconds), and failed reads per minute (klagx_share_group_poll_errors_total).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`time() - %s%s`, m.ShareGroupLastPollSuccess, g), "{{cluster}} / {{group}} age"),
				q("B", fmt.Sprintf(`rate(%s%s[$__rate_interval]) * 60`, m.ShareGroupPollErrors, g), "{{cluster}} / {{group}} errors/min"),
			},
		})).
		WithPanel(stateTimelinePanel(panel{
			id: 16, title: "State", unit: units.Short, w: 12, h: 8,
			desc: "klagx_share_group_state: the coordinator's state of each share group (Empty, Stable, ...).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s == 1`, m.ShareGroupState, g), "{{group}} {{state}}"),
			},
		})).
		WithRow(row(20, "Topics and partitions")).
		WithPanel(timeseriesPanel(panel{
			id: 22, title: "Lag per topic", unit: units.Short, w: 24, h: 8,
			desc: "klagx_share_group_topic_lag.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.ShareGroupTopicLag, g), "{{group}} {{topic}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 21, title: "Lag per share-partition", unit: units.Short, w: 24, h: 8,
			desc: "klagx_share_group_partition_lag.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.ShareGroupPartitionLag, g), "{{group}} {{topic}}/{{partition}}"),
			},
		})))
}
