package conformance

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// coordinatorGeneration is the highest generation of group that the group
// coordinators logged ("Stabilized group G generation N"), Kafka's own
// record of it, read from the brokers' logs; -1 if none.
func coordinatorGeneration(t testing.TB, group string) int32 {
	t.Helper()
	re := regexp.MustCompile(`Stabilized group ` + regexp.QuoteMeta(group) + ` generation (\d+)`)
	files, _ := filepath.Glob(filepath.Join(kafka.Dir(), "broker-*", "server.log*"))
	g := int32(-1)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(data, -1) {
			n, _ := strconv.ParseInt(string(m[1]), 10, 32)
			g = max(g, int32(n))
		}
	}
	return g
}

// librdkafka (kcat) sends ConsumerProtocol metadata without generations, so
// the admin source can only infer rebalances between polls: this is the
// recall measurement of the consumer-offsets source, at the default
// --group-poll-interval.
func TestKcatRollingRestart(t *testing.T) {
	t.Parallel()
	group, topic := "kcat-rolling", "kcat-rolling"
	e := env(t, kafka)
	createTopic(t, e, topic, 6, -1, nil)
	ks := startSources(t, "--group.include="+group, "--poll-interval=10s", "--group-poll-interval=2s")
	rollingRestart(t, "classic range, kcat (librdkafka), rolling restart of 3 (default --group-poll-interval=2s)", group, 6, 3, ks,
		func(name string) *member { return startKcat(t, name, group, topic) })
}

// python3-kafka (kafka-python) sends ConsumerProtocol metadata v0: no
// generations for the admin source either.
func TestPythonKafkaJoinLeave(t *testing.T) {
	t.Parallel()
	group, topic := "python-kafka", "python-kafka"
	createTopic(t, env(t, kafka), topic, 6, -1, nil)
	joinLeave(t, "classic range, python3-kafka: ", group, 6, startSources(t, "--group.include="+group),
		func(name string) *member { return startPython(t, name, group, topic) })
}

// kafkajs sends ConsumerProtocol metadata without generations too: the
// second recall measurement.
func TestKafkajsRollingRestart(t *testing.T) {
	t.Parallel()
	group, topic := "kafkajs-rolling", "kafkajs-rolling"
	createTopic(t, env(t, kafka), topic, 6, -1, nil)
	ks := startSources(t, "--group.include="+group, "--poll-interval=10s", "--group-poll-interval=2s")
	rollingRestart(t, "classic, kafkajs 2.2.4, rolling restart of 3 (default --group-poll-interval=2s)", group, 6, 2, ks,
		func(name string) *member { return startKafkajs(t, name, group, topic) })
}
