// Package demo runs an in-process Kafka cluster (franz-go's kfake) with a
// small, realistic workload, so that `klagx demo` can show every consumer
// group status the exporter knows about without a real broker.
//
// [Start] brings up a kfake cluster on 127.0.0.1 (ports chosen by the OS),
// creates five topics, starts kgo producers writing small JSON records with
// record timestamps of "now" at about 140 messages per second in total, and
// starts seven real kgo consumer groups, each built to behave in one way:
//
//	group              topic          protocol  behaviour
//	orders-processor   orders         classic   healthy (cooperative-sticky)
//	payments-ledger    payments       consumer  healthy (KIP-848)
//	analytics-batch    clickstream    classic   lagging: capped below the produce rate
//	fraud-detector     payments       classic   stalled: member, never commits after warm-up
//	email-sender       notifications  classic   stopped: left the group after warm-up
//	audit-archiver     audit-log      classic   idle: topic written once, lag 0
//	inventory-sync     orders         classic   rebalancing: a second member joins and leaves
//
// [Env.Groups] describes each group and what to look for in /metrics, and
// [Env.WriteGuide] prints that as a short table for the terminal.
//
// The workload is meant to sit next to the exporter on a small machine: a
// few percent of one core. kfake keeps every record in memory and the demo
// applies no retention, so memory grows slowly (tens of MB per hour) for as
// long as the demo runs.
//
// [Env.Close] stops every goroutine and client and then the cluster, within
// a bounded time; it is safe to call more than once.
package demo
