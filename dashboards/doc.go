// Package dashboards generates klagx's Grafana dashboards with the Grafana
// foundation SDK (github.com/grafana/grafana-foundation-sdk/go).
//
// There are three, each with a stable UID and the tags "klagx" and "kafka":
//
//   - klagx-overview: every consumer group at a glance (status counts, the
//     groups furthest behind in seconds and in messages, rebalances, commit
//     latency) and the exporter's own health (klagx_up, poll duration, data
//     age, Kafka requests, poll errors, build info);
//   - klagx-group: one consumer group in detail (lag per topic and partition
//     in messages and seconds against the group's thresholds, produce vs
//     commit rate, commit latency heatmap, commit age and gaps, members,
//     state and status over time with rebalance annotations, retention
//     headroom and lost messages, time-lag quality);
//   - klagx-rebalances: rebalance rate, duration, membership churn,
//     partitions moved, groups rebalancing now and unowned partitions.
//
// Every panel and query uses the data source chosen in the dashboard's
// "datasource" variable (${datasource}); "cluster" and "group" (and "topic"
// on klagx-group) are query variables over label_values(...). Metric names
// come from the constants of package metrics, so renaming a family breaks
// this package's build, and the tests check every expression against the
// metric contract and with promtool.
//
// The generated JSON is committed under dashboards/json; `go test
// ./dashboards -run TestGenerated -update` (part of `make generate`)
// refreshes it and a test fails when it drifts. `klagx dashboards --out DIR`
// writes the same files.
package dashboards
