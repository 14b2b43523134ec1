package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/units"

	m "github.com/klagx/klagx/metrics"
)

// group is one consumer group in detail.
func group() (dashboard.Dashboard, error) {
	g := sel(`cluster="$cluster"`, `group="$group"`)
	t := sel(`cluster="$cluster"`, `group="$group"`, `topic=~"$topic"`)
	// End offsets are not group-scoped: keep the partitions of the group's
	// selected topics (every one of them has a lag series, with or without
	// a commit).
	groupPartitions := fmt.Sprintf(`on (cluster, topic, partition) group by (cluster, topic, partition) (%s%s)`, m.GroupPartitionLag, t)
	rebalanceExpr := fmt.Sprintf(`increase(%s%s[$__rate_interval]) > 0`, m.GroupRebalances, g)

	status := stateTimelinePanel(panel{
		id: 43, title: "Status over time", unit: units.Short, w: 12, h: 7,
		desc: "klagx_group_status over time: one lane per status, filled while it is the current one.",
		queries: []*prometheus.DataqueryBuilder{
			q("A", fmt.Sprintf(`%s%s == 1`, m.GroupStatus, g), "{{status}}"),
		},
	})
	statusNow := statPanel(panel{
		id: 3, title: "Status", unit: units.Short, w: 4, h: 5,
		desc: "The group's status now (an instant query at the end of the time range); the reason is in /status and klagx check.",
		queries: []*prometheus.DataqueryBuilder{
			current("A", fmt.Sprintf(`%s%s == 1`, m.GroupStatus, g), "{{status}}"),
		},
	}).TextMode(common.BigValueTextModeName).GraphMode(common.BigValueGraphModeNone).ColorMode(common.BigValueColorModeBackground)
	for _, s := range statusColors {
		status.OverrideByName(s.status, fixedColor(s.color))
		statusNow.OverrideByName(s.status, fixedColor(s.color))
	}

	return build(newDashboard(GroupUID, "klagx / Consumer group",
		"One Kafka consumer group in detail: lag in messages and seconds per topic and partition, commits, membership and state, rebalances, retention and the quality of the time-lag estimates.").
		Link(dashboard.NewDashboardLinkBuilder("klagx").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"klagx"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true)).
		WithVariable(queryVar("cluster", "Cluster", fmt.Sprintf("label_values(%s, cluster)", m.Up), false)).
		WithVariable(queryVar("group", "Group", fmt.Sprintf(`label_values(%s{cluster="$cluster"}, group)`, m.GroupStatus), false)).
		// Per-partition lag at the default granularity, per-topic lag at
		// --granularity=topic.
		WithVariable(queryVar("topic", "Topic", fmt.Sprintf(`label_values({__name__=~"%s|%s", cluster="$cluster", group="$group"}, topic)`, m.GroupPartitionLag, m.GroupTopicLag), true)).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("Rebalances").
			Datasource(ds()).
			Enable(true).
			IconColor("orange").
			Expr(rebalanceExpr).
			Target(q("Anno", rebalanceExpr, ""))).
		// ---- summary ----
		WithRow(row(1, "Summary")).
		WithPanel(statPanel(panel{
			id: 2, title: "Time lag", unit: units.Seconds, w: 4, h: 5,
			desc: "klagx_group_lag_seconds: age of the oldest message the group has not consumed.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`max(%s%s)`, m.GroupLagSeconds, g), ""),
			},
		})).
		WithPanel(statusNow).
		WithPanel(statPanel(panel{
			id: 4, title: "Lag (messages)", unit: units.Short, w: 4, h: 5,
			desc: "klagx_group_lag: messages the group has not consumed.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(%s%s)`, m.GroupLag, g), ""),
			},
		})).
		WithPanel(statPanel(panel{
			id: 5, title: "Members", unit: units.Short, w: 4, h: 5,
			desc: "klagx_group_members.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(%s%s)`, m.GroupMembers, g), ""),
			},
		})).
		WithPanel(statPanel(panel{
			id: 6, title: "Partitions without commit", unit: units.Short, w: 4, h: 5,
			desc: "klagx_group_partitions_without_commit: their lag is counted from the log start offset.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(%s%s)`, m.GroupPartitionsWithoutCommit, g), ""),
			},
		})).
		WithPanel(statPanel(panel{
			id: 7, title: "Data age", unit: units.Seconds, w: 4, h: 5,
			desc: "Time since this group was last read successfully (klagx_group_last_poll_success_timestamp_seconds); older than a poll interval means the values shown are the last good ones. Below it, the poll cycles that could not read the group since klagx started (klagx_group_poll_errors_total); the reason is in /status and the exporter's log.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`time() - max(%s%s)`, m.GroupLastPollSuccess, g), "age"),
				q("B", fmt.Sprintf(`sum(%s%s)`, m.GroupPollErrors, g), "read errors"),
			},
		}).OverrideByQuery("B", []dashboard.DynamicConfigValue{{Id: "unit", Value: units.Short}, {Id: "decimals", Value: 0}})).
		// ---- lag ----
		WithRow(row(10, "Lag")).
		WithPanel(timeseriesPanel(panel{
			id: 11, title: "Time lag per topic", unit: units.Seconds, w: 12, h: 8,
			desc: "Largest klagx_group_partition_lag_seconds per topic (klagx_group_topic_lag_seconds at --granularity=topic), with the group's time-lag thresholds (klagx_group_lag_threshold_seconds).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`max by (topic) (%s%s) or max by (topic) (%s%s)`, m.GroupPartitionLagSeconds, t, m.GroupTopicLagSeconds, t), "{{topic}}"),
				q("B", fmt.Sprintf(`max by (severity) (%s%s)`, m.GroupLagThresholdSeconds, g), "{{severity}} threshold"),
			},
		}).OverrideByQuery("B", thresholdLine())).
		WithPanel(timeseriesPanel(panel{
			id: 12, title: "Lag per topic (messages)", unit: units.Short, w: 12, h: 8,
			desc: "klagx_group_partition_lag summed per topic (klagx_group_topic_lag at --granularity=topic), with the group's offset-lag thresholds (klagx_group_lag_threshold) when set.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (topic) (%s%s) or sum by (topic) (%s%s)`, m.GroupPartitionLag, t, m.GroupTopicLag, t), "{{topic}}"),
				q("B", fmt.Sprintf(`max by (severity) (%s%s)`, m.GroupLagThreshold, g), "{{severity}} threshold"),
			},
		}).OverrideByQuery("B", thresholdLine())).
		WithPanel(timeseriesPanel(panel{
			id: 13, title: "Time lag per partition", unit: units.Seconds, w: 12, h: 8,
			desc: "klagx_group_partition_lag_seconds.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.GroupPartitionLagSeconds, t), "{{topic}}/{{partition}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 14, title: "Lag per partition (messages)", unit: units.Short, w: 12, h: 8,
			desc: "klagx_group_partition_lag.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s`, m.GroupPartitionLag, t), "{{topic}}/{{partition}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 15, title: "Estimated time to catch up", unit: units.Seconds, w: 24, h: 7,
			desc: "klagx_group_catchup_seconds: at the current consume and produce rates (over the growth window), the time until the group's lag reaches zero; 0 when caught up. No value means it is not catching up: a topic with lag is consumed no faster than it is produced to, or the group is stopped or stalled (per-topic rates are in /status).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`max(%s%s)`, m.GroupCatchUpSeconds, g), "catch-up"),
			},
		})).
		// ---- commits ----
		WithRow(row(20, "Commits")).
		WithPanel(timeseriesPanel(panel{
			id: 21, title: "Produce rate vs commit rate", unit: units.MessagesPerSecond, w: 12, h: 8,
			desc: "Messages produced (rate of klagx_partition_end_offset) and committed by the group (rate of klagx_group_partition_committed_offset) per topic. A commit rate below the produce rate means growing lag. A rewind shows as a spike of the commit rate.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (topic) (rate(%s{cluster="$cluster", topic=~"$topic"}[$__rate_interval]) and %s)`, m.PartitionEndOffset, groupPartitions), "{{topic}} produced"),
				q("B", fmt.Sprintf(`sum by (topic) (rate(%s%s[$__rate_interval]))`, m.GroupPartitionCommittedOffset, t), "{{topic}} committed"),
			},
		})).
		WithPanel(heatmapPanel(panel{
			id: 22, title: "Commit latency", unit: units.Short, w: 12, h: 8,
			desc: "klagx_group_commit_latency_seconds: age of the newest message each commit covered (produce-to-commit latency), commits per bucket.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (le) (increase(%s_bucket%s[$__rate_interval]))`, m.GroupCommitLatency, g), "{{le}}").
					Format(prometheus.PromQueryFormatHeatmap),
			},
		}, units.Seconds)).
		WithPanel(timeseriesPanel(panel{
			id: 23, title: "Last commit age per partition", unit: units.Seconds, w: 8, h: 8,
			desc: "Time since each partition's committed offset last moved (klagx_group_partition_last_commit_timestamp_seconds; after a restart, since the first poll that saw it). Large on an idle topic, which is not a problem: see the commit gap.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`time() - %s%s`, m.GroupPartitionLastCommit, t), "{{topic}}/{{partition}}"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 24, title: "Commit gap", unit: units.Seconds, w: 8, h: 8,
			desc: "klagx_group_commit_gap_seconds: longest time a partition with lag has gone without commit progress; the group is stalled above klagx_group_stall_threshold_seconds.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`max(%s%s)`, m.GroupCommitGap, g), "commit gap"),
				q("B", fmt.Sprintf(`max(%s%s)`, m.GroupStallThresholdSeconds, g), "stall threshold"),
			},
		}).OverrideByQuery("B", thresholdLine())).
		WithPanel(timeseriesPanel(panel{
			id: 25, title: "Stalls and rewinds", unit: units.Short, w: 8, h: 8,
			desc: "Times the group became stalled (klagx_group_commit_gaps_total) and committed offsets seen moving backwards (klagx_group_rewinds_total), per rate interval.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(increase(%s%s[$__rate_interval]))`, m.GroupCommitGaps, g), "stalls"),
				q("B", fmt.Sprintf(`sum(increase(%s%s[$__rate_interval]))`, m.GroupRewinds, g), "rewinds"),
			},
		}).DrawStyle(common.GraphDrawStyleBars).FillOpacity(60)).
		// ---- membership, state, rebalances ----
		WithRow(row(40, "Membership, state and rebalances")).
		WithPanel(timeseriesPanel(panel{
			id: 41, title: "Members over time", unit: units.Short, w: 12, h: 7,
			desc: "klagx_group_members, and those with a static group.instance.id (klagx_group_static_members).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(%s%s)`, m.GroupMembers, g), "members"),
				q("B", fmt.Sprintf(`sum(%s%s)`, m.GroupStaticMembers, g), "static members"),
			},
		})).
		WithPanel(stateTimelinePanel(panel{
			id: 42, title: "Group state", unit: units.Short, w: 12, h: 7,
			desc: "klagx_group_state as reported by the coordinator, and klagx_group_rebalance_in_progress (1 while a rebalance is under way).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`%s%s == 1`, m.GroupState, g), "{{state}}"),
				q("B", fmt.Sprintf(`%s%s`, m.GroupRebalanceInProgress, g), "rebalancing"),
			},
		})).
		WithPanel(status).
		WithPanel(statPanel(panel{
			id: 46, title: "Last rebalance", unit: units.DatetimeISO, w: 6, h: 7,
			desc: "When the last observed rebalance ended (klagx_group_last_rebalance_timestamp_seconds).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`max(%s%s) * 1000`, m.GroupLastRebalance, g), ""),
			},
		}).GraphMode(common.BigValueGraphModeNone)).
		WithPanel(statPanel(panel{
			id: 47, title: "Unowned partitions", unit: units.Short, w: 6, h: 7,
			desc: "klagx_group_unowned_partitions: partitions with committed offsets no member owns while the group is Stable with members. Nobody will consume them.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(%s%s)`, m.GroupUnownedPartitions, g), ""),
			},
		})).
		WithPanel(tablePanel(panel{
			id: 48, title: "Who owns the lag", unit: units.Short, w: 24, h: 8,
			desc: "One row per member, as kafka-consumer-groups --describe names it (member ID, client.id, host): klagx_group_member_lag, the lag of the partitions assigned to it (0 when it owns none), and klagx_group_member_lag_seconds, their largest time lag. Which partitions each member owns is in /status and klagx check.",
			queries: []*prometheus.DataqueryBuilder{
				instant("A", fmt.Sprintf(`%s%s`, m.GroupMemberLag, g), ""),
				instant("B", fmt.Sprintf(`%s%s`, m.GroupMemberLagSeconds, g), ""),
			},
		}).
			WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
			WithTransformation(organize(
				map[string]any{"Time": true, "__name__": true, "job": true, "instance": true, "cluster": true, "group": true},
				map[string]any{"member": "member ID", "client_id": "client ID", "Value #A": "lag (messages)", "Value #B": "time lag"})).
			OverrideByName("Value #B", []dashboard.DynamicConfigValue{{Id: "unit", Value: units.Seconds}}).
			SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("lag (messages)").Desc(true)})).
		WithPanel(timeseriesPanel(panel{
			id: 44, title: "Rebalances", unit: units.Short, w: 12, h: 7,
			desc: "klagx_group_rebalances_total per rate interval, and membership churn (klagx_group_member_joins_total, klagx_group_member_leaves_total, klagx_group_partitions_moved_total).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(increase(%s%s[$__rate_interval]))`, m.GroupRebalances, g), "rebalances"),
				q("B", fmt.Sprintf(`sum(increase(%s%s[$__rate_interval]))`, m.GroupMemberJoins, g), "members joined"),
				q("C", fmt.Sprintf(`sum(increase(%s%s[$__rate_interval]))`, m.GroupMemberLeaves, g), "members left"),
				q("D", fmt.Sprintf(`sum(increase(%s%s[$__rate_interval]))`, m.GroupPartitionsMoved, g), "partitions moved"),
			},
		}).DrawStyle(common.GraphDrawStyleBars).FillOpacity(60)).
		WithPanel(timeseriesPanel(panel{
			id: 45, title: "Rebalance duration", unit: units.Seconds, w: 12, h: 7,
			desc: "klagx_group_rebalance_duration_seconds: p99 and average of the rebalances seen in progress (those that start and end between two polls are counted, not timed).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`histogram_quantile(0.99, sum by (le) (rate(%s_bucket%s[$__rate_interval])))`, m.GroupRebalanceDuration, g), "p99"),
				q("B", fmt.Sprintf(`sum(rate(%s_sum%s[$__rate_interval])) / sum(rate(%s_count%s[$__rate_interval]))`, m.GroupRebalanceDuration, g, m.GroupRebalanceDuration, g), "average"),
			},
		})).
		// ---- retention ----
		WithRow(row(50, "Retention")).
		WithPanel(timeseriesPanel(panel{
			id: 51, title: "Retention headroom (messages)", unit: units.Short, w: 8, h: 7,
			desc: "klagx_group_retention_headroom: how many more messages retention can delete before the group loses data. Absent when no partition has lag.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`min(%s%s)`, m.GroupRetentionHeadroom, g), "headroom"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 52, title: "Retention headroom (time)", unit: units.Seconds, w: 8, h: 7,
			desc: "klagx_group_retention_headroom_seconds: record time between the oldest retained message and the oldest unconsumed one.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`min(%s%s)`, m.GroupRetentionHeadroomSeconds, g), "headroom"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 53, title: "Messages lost", unit: units.Short, w: 8, h: 7,
			desc: "Messages deleted by retention before the group committed past them (klagx_group_messages_lost_total, and per partition klagx_group_partition_messages_lost_total), per rate interval.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum(increase(%s%s[$__rate_interval]))`, m.GroupMessagesLost, g), "group"),
				q("B", fmt.Sprintf(`sum by (topic, partition) (increase(%s%s[$__rate_interval]))`, m.GroupPartitionMessagesLost, t), "{{topic}}/{{partition}}"),
			},
		}).DrawStyle(common.GraphDrawStyleBars).FillOpacity(60)).
		// ---- time-lag quality ----
		WithRow(row(60, "Time-lag quality")).
		WithPanel(timeseriesPanel(panel{
			id: 61, title: "Time-lag error bound", unit: units.Seconds, w: 8, h: 7,
			desc: "klagx_group_time_lag_error_seconds: each true time lag lies within this distance of the exported one. See docs/time-lag.md.",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`max(%s%s)`, m.GroupTimeLagError, g), "error bound"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 62, title: "Relative time-lag error bound", unit: units.PercentUnit, w: 8, h: 7,
			desc: "Error bound as a fraction of the group's time lag (while it has lag).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`max(%s%s) / max(%s%s > 0)`, m.GroupTimeLagError, g, m.GroupLagSeconds, g), "relative error"),
			},
		})).
		WithPanel(timeseriesPanel(panel{
			id: 63, title: "Partitions by time-lag method", unit: units.Short, w: 8, h: 7,
			desc: "klagx_group_time_lag_partitions: how each partition's time lag was obtained (caught_up, exact, interpolated, lower_bound, unknown).",
			queries: []*prometheus.DataqueryBuilder{
				q("A", fmt.Sprintf(`sum by (method) (%s%s)`, m.GroupTimeLagPartitions, g), "{{method}}"),
			},
		}).Stacking(stackNormal()).FillOpacity(40)))
}

// thresholdLine draws a threshold series dashed and red.
func thresholdLine() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
		{Id: "color", Value: map[string]any{"mode": "fixed", "fixedColor": "red"}},
		{Id: "custom.fillOpacity", Value: 0},
	}
}
