// Package collector is the only code in klagx that talks to Kafka. A
// Collector owns one franz-go client for one cluster and turns one poll
// cycle into an observation.Observation; it computes nothing else.
//
// One cycle sends a number of requests bounded by the number of brokers, not
// by the number of groups or partitions (see Collector.Poll for the order and
// the exact requests). Filters are applied before requests are built, and
// every request is counted by API in a kgo hook (Requests).
//
// Errors are partial by design: a failing broker, coordinator, group or
// partition is recorded in Observation.Errors and on the affected group or
// partition, and everything else is still observed. Only when nothing at all
// could be read is Observation.Err set.
//
// The package is not a Prometheus collector; the snapshots are rendered by
// promexport.Renderer, which never talks to Kafka.
package collector
