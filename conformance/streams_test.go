package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klagx/klagx/internal/realkafka"
	"github.com/klagx/klagx/report"
)

// A Kafka Streams application (classic protocol, Streams' own assignor; a
// count through a repartition topic that Streams purges with DeleteRecords
// every 500ms here):
// the lag of its application-id group equals kafka-consumer-groups' LAG, on
// the input and the repartition topic, while it runs and after it stopped.
func TestStreamsAppLag(t *testing.T) {
	t.Parallel()
	app, in, out := "streams-app", "streams-in", "streams-out"
	e := env(t, kafka)
	createTopic(t, e, in, 3, -1, nil)
	createTopic(t, e, out, 3, -1, nil)
	for p := int32(0); p < 3; p++ {
		e.Produce(in, p, 20, time.Time{})
	}
	k := startKlagx(t, kafka, "--group.include="+app)
	s := kafka.StartClassWithJars(t, []string{clientsJar(t)}, "io.github.klagx.clients.StreamsApp",
		"--bootstrap", strings.Join(kafka.Bootstrap(), ","), "--app", app, "--input", in, "--output", out, "--state-dir", t.TempDir(),
		"--prop", "repartition.purge.interval.ms=500")

	g := k.waitGroup(app, time.Now(), 120*time.Second, streamsCaughtUp(1))
	if g.Kind != "classic" || g.State != "Stable" {
		t.Errorf("kind %s state %s, want a Stable classic group", g.Kind, g.State)
	}
	matchTool(t, kafka, k, app)

	s.Stop(30 * time.Second)
	e.Produce(in, 0, 15, time.Time{})
	k.waitGroup(app, time.Now(), 60*time.Second, func(g report.Group) (bool, string) {
		return g.State == "Empty" && g.Members == 0 && partitions(g)[in+"/0"].Lag == 15, fmt.Sprintf("state %s, members %d, lag %d", g.State, g.Members, partitions(g)[in+"/0"].Lag)
	})
	rows := matchTool(t, kafka, k, app)
	for _, r := range rows {
		if r.Topic == in && r.Partition == 0 && (r.Lag == nil || *r.Lag != 15) {
			t.Errorf("the tool's LAG of %s/0 is %s, want 15", in, fmtp(r.Lag))
		}
	}
	record(t, "Kafka Streams app %s: lag of its group equals kafka-consumer-groups' LAG on %d partitions (input and repartition topic), running and stopped", app, len(rows))
}

// streamsGroupCommand is the class of kafka-streams-groups.sh (kafka-tools,
// Kafka 4.1+).
const streamsGroupCommand = "org.apache.kafka.tools.streams.StreamsGroupCommand"

// streamsTool runs kafka-streams-groups --describe --group group with args
// on the shared cluster and returns its output.
func streamsTool(t testing.TB, group string, args ...string) string {
	t.Helper()
	out, err := kafka.RunClass(ctx(t, 2*time.Minute), streamsGroupCommand,
		append([]string{"--bootstrap-server", strings.Join(kafka.Bootstrap(), ","), "--describe", "--group", group}, args...)...)
	if err != nil {
		t.Fatalf("kafka-streams-groups --describe --group %s %v: %v\n%s", group, args, err, out)
	}
	return out
}

// streamsState is the --describe --state --verbose row of a streams group:
// the columns by header name.
func streamsState(t testing.TB, group string) map[string]string {
	t.Helper()
	out := streamsTool(t, group, "--state", "--verbose")
	var cols []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) > 0 && f[0] == "GROUP":
			cols = f
		case cols != nil && len(f) == len(cols) && f[0] == group:
			row := map[string]string{}
			for i, c := range cols {
				row[c] = f[i]
			}
			return row
		}
	}
	t.Fatalf("no state row for %s in kafka-streams-groups' output:\n%s", group, out)
	return nil
}

// startStreamsApp runs StreamsApp with the streams rebalance protocol
// (KIP-1071) as a new instance of app.
func startStreamsApp(t *testing.T, app, in, out string) *realkafka.Process {
	return kafka.StartClassWithJars(t, []string{clientsJar(t)}, "io.github.klagx.clients.StreamsApp",
		"--bootstrap", strings.Join(kafka.Bootstrap(), ","), "--app", app, "--input", in, "--output", out, "--state-dir", t.TempDir(),
		"--prop", "group.protocol=streams", "--prop", "repartition.purge.interval.ms=500")
}

// settledStreams waits until Kafka's tool shows app Stable with members
// members and its target assignment at the group epoch, and klagx shows the
// same group Stable with as many members; with from >= 0 (a group epoch the
// tool showed before, when klagx had counted base rebalances), klagx must
// also have counted one rebalance per group epoch since. It returns the
// group epoch.
func settledStreams(t *testing.T, k *klagx, app string, members int, from int32, base int64) int32 {
	t.Helper()
	var epoch int32
	waitFor(t, 120*time.Second, fmt.Sprintf("%s settled with %d members", app, members), func() (bool, string) {
		st := streamsState(t, app)
		e, err := strconv.ParseInt(st["GROUP-EPOCH"], 10, 32)
		if err != nil {
			return false, fmt.Sprintf("tool: %v", st)
		}
		epoch = int32(e)
		if st["STATE"] != "Stable" || st["#MEMBERS"] != strconv.Itoa(members) || st["TARGET-ASSIGNMENT-EPOCH"] != st["GROUP-EPOCH"] {
			return false, fmt.Sprintf("tool: %v", st)
		}
		g, ok := k.group(app)
		n := k.rebalances(app)
		if !ok || g.State != "Stable" || g.Members != members || (from >= 0 && n != base+int64(epoch-from)) {
			return false, fmt.Sprintf("tool: %v; klagx: state %s, members %d, rebalances %d (want %d + %d - %d)", st, g.State, g.Members, n, base, epoch, from)
		}
		return true, ""
	})
	return epoch
}

// A Kafka Streams application on the streams rebalance protocol (KIP-1071,
// group.protocol=streams): klagx lists and describes its streams group, its
// lag per partition (input and repartition topic) equals kafka-streams-groups'
// OFFSET-LAG while it runs, and that view plus what was produced since after
// it stopped, and the rebalances klagx
// counts when a second instance joins and leaves are the group epochs the
// tool reports.
func TestStreamsGroupProtocol(t *testing.T) {
	t.Parallel()
	if !kip1071(kafka.Version()) {
		t.Skipf("Kafka %s has no streams groups on by default (3.x: none; 4.1: early access, StreamsGroupHeartbeat answered UNSUPPORTED_VERSION)", kafka.Version())
	}
	app, in, out := "streams-kip1071", "kip1071-in", "kip1071-out"
	e := env(t, kafka)
	createTopic(t, e, in, 3, -1, nil)
	createTopic(t, e, out, 3, -1, nil)
	for p := int32(0); p < 3; p++ {
		e.Produce(in, p, 20, time.Time{})
	}
	k := startKlagx(t, kafka, "--group.include="+app)
	s1 := startStreamsApp(t, app, in, out)

	g := k.waitGroup(app, time.Now(), 120*time.Second, streamsCaughtUp(1))
	if g.Kind != "streams" || g.State != "Stable" {
		t.Errorf("kind %s state %s, want a Stable streams group", g.Kind, g.State)
	}
	matchRows(t, k, app, streamsOffsets(t, app))

	e1 := settledStreams(t, k, app, 1, -1, 0)
	r1 := k.rebalances(app)
	s2 := startStreamsApp(t, app, in, out)
	e2 := settledStreams(t, k, app, 2, e1, r1)
	s2.Stop(30 * time.Second)
	e3 := settledStreams(t, k, app, 1, e1, r1)
	r3 := k.rebalances(app)
	last := matchRows(t, k, app, streamsOffsets(t, app))

	s1.Stop(30 * time.Second)
	e.Produce(in, 0, 15, time.Time{})
	k.waitGroup(app, time.Now(), 60*time.Second, func(g report.Group) (bool, string) {
		return g.State == "Empty" && g.Members == 0 && partitions(g)[in+"/0"].Lag == 15, fmt.Sprintf("state %s, members %d, lag %d", g.State, g.Members, partitions(g)[in+"/0"].Lag)
	})
	// Stopped, the group has no members, and then kafka-streams-groups
	// shows no offsets (and kafka-consumer-groups refuses a streams
	// group): the truth is the tool's last view, taken after the second
	// instance left and before the stop (nothing was produced in between),
	// with the 15 records produced since on in/0.
	for i, r := range last {
		if r.Topic == in && r.Partition == 0 && r.End != nil && r.Lag != nil {
			end, lag := *r.End+15, *r.Lag+15
			last[i].End, last[i].Lag = &end, &lag
		}
	}
	rows := matchRows(t, k, app, last)
	for _, r := range rows {
		if r.Topic == in && r.Partition == 0 && (r.Lag == nil || *r.Lag != 15) {
			t.Errorf("the lag of %s/0 is %s, want 15", in, fmtp(r.Lag))
		}
	}
	record(t, "Kafka Streams app %s (group.protocol=streams, Kafka %s): lag equals kafka-streams-groups' OFFSET-LAG on %d partitions, running and stopped; group epochs %d→%d (join)→%d (leave), klagx counted %d rebalances",
		app, kafka.Version(), len(rows), e1, e2, e3, r3-r1)
}

// streamsOffsets is kafka-streams-groups --describe --offsets --verbose
// (CURRENT-OFFSET, LOG-END-OFFSET, OFFSET-LAG per partition), parsed.
func streamsOffsets(t testing.TB, group string) []toolRow {
	t.Helper()
	out := streamsTool(t, group, "--offsets", "--verbose")
	rows, err := parseDescribe(out)
	if err != nil {
		t.Fatalf("kafka-streams-groups output: %v\n%s", err, out)
	}
	return rows
}

// streamsCaughtUp is the condition of a Streams app caught up with members
// members: every input partition committed at its end, and the repartition
// topic read and purged (its log start moved past 0).
func streamsCaughtUp(members int) func(g report.Group) (bool, string) {
	return func(g report.Group) (bool, string) {
		var why []string
		repartition := false
		for _, tp := range g.Topics {
			if strings.HasSuffix(tp.Name, "-repartition") {
				for _, p := range tp.Partitions {
					repartition = repartition || p.Start > 0
				}
			}
			for _, p := range tp.Partitions {
				if p.Committed == nil || p.Lag != 0 {
					why = append(why, fmt.Sprintf("%s/%d committed %s lag %d", tp.Name, p.Partition, fmtp(p.Committed), p.Lag))
				}
			}
		}
		return len(why) == 0 && repartition && g.Members == members, fmt.Sprintf("members %d, repartition topic purged %v, %v", g.Members, repartition, why)
	}
}

// kip1071 reports whether Kafka version v serves streams groups with its
// default settings: 4.2 and later (4.1 has them as early access, off).
func kip1071(v string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return true // an unknown version is taken to be a new one
	}
	return major > 4 || major == 4 && minor >= 2
}
