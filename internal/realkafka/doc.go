// Package realkafka starts a real Apache Kafka cluster for tests and for
// `make kafka`: KRaft brokers (each a combined broker and controller) as
// child JVM processes on free 127.0.0.1 ports, from the jars `make
// kafka-jars` copies out of Maven Central (e2e/kafka/pom.xml). Test code and
// the cmd/kafka helper only; klagx itself never imports it.
//
// Read Start (or StartT in a test) and Cluster first. Every broker has
//
//   - a PLAINTEXT listener (Cluster.Bootstrap) whose clients are the
//     principal User:ANONYMOUS, a super user, so plain tests need no ACLs;
//   - a SASL_SSL listener (Cluster.SASLBootstrap) with SCRAM-SHA-512 and a
//     certificate from a CA generated at start (Cluster.CAFile); the user
//     Cluster.Admin is created at format time (kafka-storage format
//     --add-scram) and is a super user; users added with AddSCRAMUser are
//     not, so ACL tests run there;
//   - the StandardAuthorizer with allow.everyone.if.no.acl.found=false;
//   - any Options.ExtraListeners.
//
// Settings are tuned for tests, not production: small heaps, a consumer-group
// initial rebalance delay of 0, retention checked every second (so
// time-based retention deletes segments within seconds of topic configs such
// as segment.ms and retention.ms allowing it), a short broker session timeout
// (a killed broker is fenced in seconds), few partitions for
// __consumer_offsets and __transaction_state, and replication factors of
// min(3, brokers).
//
// Processes: each broker and each StartClass child runs in its own process
// group and is stopped by its PID (SIGTERM, then SIGKILL), by Close, by the
// test's cleanup, and by the kernel if the test binary dies (Pdeathsig).
// Broker logs are kept in the cluster's directory and printed when a test
// fails or Start returns an error.
//
// Versions: Options.Version, else $KLAGX_KAFKA_VERSION, else DefaultVersion;
// the jars are read from $KLAGX_KAFKA_JARS, else
// ~/.cache/klagx/kafka/<version> (where `make kafka-jars` puts them).
package realkafka
