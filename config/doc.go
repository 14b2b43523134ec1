// Package config holds the validated, defaulted runtime configuration of
// klagx: which Kafka clusters to poll and how to reach them (brokers, TLS,
// SASL), how often to poll, at which label granularity lag is exported,
// which groups and topics are kept, how time lag is estimated and which
// thresholds decide the status of a group.
//
// Read first:
//
//   - [Default], [DefaultCluster], [Config] and [Config.Validate]: the whole
//     configuration. Decoding starts from the defaults (a zero is never
//     replaced by one later); Validate checks every field and changes
//     nothing; its errors name the field (clusters[1].brokers,
//     group.include, ...) and what is wrong.
//   - [Cluster.ClientOpts]: turns one cluster into franz-go client options.
//     Secrets (SASL passwords, OAUTHBEARER tokens, AWS credentials) are only
//     ever read there, from files or environment variables, never from plain
//     configuration values, and never appear in logs or error messages.
//   - [LoadFile]: the strict YAML configuration file (--config.file). Unknown
//     keys are errors; a "password" key is rejected with a pointer to
//     password_file / password_env.
//   - [Filter]: fully anchored include/exclude regexes (exclude wins).
//   - [Thresholds] and [TimeLag]: the group status thresholds (defaults plus
//     per-group overrides built with [NewThresholdOverride], [Thresholds.For]
//     picks the first matching one) and
//     how the time lag is estimated (interpolate or exact).
//
// The package does no Kafka I/O and does not parse command-line flags: the
// flag layer lives in cmd/klagx and produces a [Config].
package config
