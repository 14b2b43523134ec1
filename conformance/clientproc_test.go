package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/internal/realkafka"
	"github.com/klagx/klagx/report"
	"github.com/klagx/klagx/status"
)

// The client processes the group scenarios run: the reference Java consumer
// and the Streams application of e2e/kafka/clients, kcat (librdkafka),
// python3-kafka and kafkajs. Each reports the generation it holds as the
// client itself sees it; that is the truth klagx's counts are compared with.

// need skips the test when a client is missing, or fails it in CI.
func need(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing in CI: %s", msg)
	}
	t.Skipf("skipping: %s", msg)
}

// clientsJar is the jar of e2e/kafka/clients (make kafka-clients).
func clientsJar(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("../e2e/kafka/clients/target/klagx-clients.jar")
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(p)
	need(t, err == nil, "%s not built (run `make kafka-clients`)", p)
	return p
}

// clientEvent is one JSON line of RefConsumer (or the generation line of
// another client, converted).
type clientEvent struct {
	Event      string   `json:"event"`
	TimeMS     int64    `json:"time_ms"`
	Generation int32    `json:"generation"`
	Member     string   `json:"member"`
	Instance   string   `json:"instance"`
	Assignment []string `json:"assignment"`
	Added      []string `json:"added"`
	Removed    []string `json:"removed"`
}

// member is one running group member of any client.
type member struct {
	*realkafka.Process
	name string
	// parse turns the process output into events.
	parse func(out string) []clientEvent
}

// events returns what the member reported so far.
func (m *member) events() []clientEvent { return m.parse(m.Output()) }

// generation is the last generation (member epoch for KIP-848) the member
// reported holding, -1 before the first.
func (m *member) generation() int32 {
	g := int32(-1)
	for _, e := range m.events() {
		if e.Event == "assigned" || e.Event == "generation" || e.Event == "joined" {
			g = e.Generation
		}
	}
	return g
}

// assignment is the member's last reported assignment.
func (m *member) assignment() []string {
	var a []string
	for _, e := range m.events() {
		if e.Assignment != nil {
			a = e.Assignment
		}
	}
	return a
}

func parseJSONLines(out string) []clientEvent {
	var evs []clientEvent
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e clientEvent
		if json.Unmarshal([]byte(line), &e) == nil && e.Event != "" {
			evs = append(evs, e)
		}
	}
	return evs
}

// refOpts are RefConsumer's options (see its javadoc).
type refOpts struct {
	Protocol, Assignor, Instance, Commit string
	SessionMS                            int
}

// startRef starts a reference Java consumer in group on topics.
func startRef(t testing.TB, name, group string, topics []string, o refOpts) *member {
	t.Helper()
	args := []string{"--bootstrap", strings.Join(kafka.Bootstrap(), ","), "--group", group, "--topics", strings.Join(topics, ",")}
	for k, v := range map[string]string{"protocol": o.Protocol, "assignor": o.Assignor, "instance": o.Instance, "commit": o.Commit} {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	if o.SessionMS > 0 {
		args = append(args, "--session-ms", strconv.Itoa(o.SessionMS))
	}
	p := kafka.StartClassWithJars(t, []string{clientsJar(t)}, "io.github.klagx.clients.RefConsumer", args...)
	return &member{Process: p, name: name, parse: parseJSONLines}
}

// kcat's lines: librdkafka's debug line for a JoinGroup response
// (debug=cgrp), and kcat's own line after each assignment or revocation.
var (
	kcatJoinRE      = regexp.MustCompile(`JoinGroup response: GenerationId (\d+),`)
	kcatRebalanceRE = regexp.MustCompile(`% Group \S+ rebalanced \(memberid (\S+)\): (assigned|revoked): (.*)`)
	kcatPartRE      = regexp.MustCompile(`(\S+) \[(\d+)\]`)
)

// startKcat starts kcat as a balanced consumer (librdkafka's group
// consumer) in group; librdkafka's cgrp debug lines give its generations.
// (kcat -q would silence them.)
func startKcat(t testing.TB, name, group, topic string) *member {
	t.Helper()
	bin, err := exec.LookPath("kcat")
	need(t, err == nil, "kcat is not installed (apt-get install kcat)")
	p := realkafka.StartCommand(t, bin, "-b", strings.Join(kafka.Bootstrap(), ","), "-G", group, "-o", "beginning",
		"-X", "debug=cgrp", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500", "-X", "client.id="+name, topic)
	return &member{Process: p, name: name, parse: parseKcat}
}

func parseKcat(out string) []clientEvent {
	var evs []clientEvent
	gen := int32(-1)
	for _, line := range strings.Split(out, "\n") {
		if m := kcatJoinRE.FindStringSubmatch(line); m != nil {
			g, _ := strconv.ParseInt(m[1], 10, 32)
			gen = int32(g)
			evs = append(evs, clientEvent{Event: "joined", Generation: gen})
		} else if m := kcatRebalanceRE.FindStringSubmatch(line); m != nil {
			e := clientEvent{Event: m[2], Generation: gen, Member: m[1], Assignment: []string{}}
			if m[2] == "assigned" {
				for _, p := range kcatPartRE.FindAllStringSubmatch(m[3], -1) {
					e.Assignment = append(e.Assignment, p[1]+"-"+p[2])
				}
				e.Event = "assigned"
			}
			evs = append(evs, e)
		}
	}
	return evs
}

// groupGeneration is the true generation of a group: the highest any of its
// members (current and past) reported.
func groupGeneration(ms ...*member) int32 {
	g := int32(-1)
	for _, m := range ms {
		g = max(g, m.generation())
	}
	return g
}

// settled waits until every member of ms reports the same generation and
// together they own exactly parts partitions, each once, and returns that
// generation.
func settled(t testing.TB, d time.Duration, parts int, ms ...*member) int32 {
	t.Helper()
	var gen int32
	waitFor(t, d, "members to settle", func() (bool, string) {
		gen = ms[0].generation()
		seen := map[string]bool{}
		var why []string
		for _, m := range ms {
			g, a := m.generation(), m.assignment()
			why = append(why, fmt.Sprintf("%s: gen %d %v", m.name, g, a))
			if g != gen || g < 0 {
				return false, strings.Join(why, "; ")
			}
			for _, p := range a {
				if seen[p] {
					return false, "partition " + p + " owned twice: " + strings.Join(why, "; ")
				}
				seen[p] = true
			}
		}
		return len(seen) == parts, strings.Join(why, "; ")
	})
	return gen
}

// rebalances is klagx's klagx_group_rebalances_total of group (0 before
// the first).
func (k *klagx) rebalances(group string) int64 {
	k.t.Helper()
	return int64(k.metrics()[kfaketest.Key("klagx_group_rebalances_total", "cluster", "real", "group", group)])
}

// waitRebalances waits until klagx's count of group's rebalances is want
// and its view shows members members, failing with both if it does not get
// there.
func (k *klagx) waitRebalances(group string, want int64, members int, d time.Duration) {
	k.t.Helper()
	waitFor(k.t, d, fmt.Sprintf("klagx to count %d rebalances of %s with %d members", want, group, members), func() (bool, string) {
		g, ok := k.group(group)
		n := k.rebalances(group)
		return ok && n == want && g.Members == members && g.State == "Stable", fmt.Sprintf("counted %d, members %d, state %s", n, g.Members, g.State)
	})
}

// record logs one scenario's result ("RESULT ..." lines, with -v): what
// klagx counted beside the true generations.
func record(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Logf("RESULT "+format, args...)
}

// sources are two klagx processes watching the same groups, one per
// --rebalance.source: admin (the default) and consumer-offsets.
type sources struct {
	admin, recorded *klagx
}

// startSources starts both, with args (e.g. --group.include).
func startSources(t testing.TB, args ...string) sources {
	t.Helper()
	// A new cluster has no __consumer_offsets until a group needs a
	// coordinator; asking for one creates it.
	e := env(t, kafka)
	waitFor(t, 60*time.Second, "__consumer_offsets", func() (bool, string) {
		e.Admin.FindGroupCoordinators(ctx(t, 10*time.Second), "klagx-conformance")
		md, err := e.Admin.Metadata(ctx(t, 10*time.Second), "__consumer_offsets")
		if err != nil {
			return false, err.Error()
		}
		td := md.Topics["__consumer_offsets"]
		return td.Err == nil && len(td.Partitions) > 0, fmt.Sprint(td.Err)
	})
	s := sources{
		admin:    startKlagx(t, kafka, args...),
		recorded: startKlagx(t, kafka, append([]string{"--rebalance.source=consumer-offsets"}, args...)...),
	}
	waitFor(t, 60*time.Second, "the consumer-offsets source to catch up", func() (bool, string) {
		return strings.Contains(s.recorded.Log(), "read __consumer_offsets to its end"), "not logged yet"
	})
	return s
}

// counts are the two sources' rebalance counts of one group.
type counts struct{ admin, recorded int64 }

// baseline waits until both see group settled with members members and
// returns their counts.
func (s sources) baseline(t testing.TB, group string, members int, since time.Time) counts {
	t.Helper()
	return counts{s.admin.settledCount(group, members, since), s.recorded.settledCount(group, members, since)}
}

// step checks one step of a scenario whose true generation delta is want:
// the consumer-offsets source counts exactly want; the admin source is
// recorded, and must count at least one and at most want (it may miss
// generations between two polls, never invent one). It returns the new
// counts.
func (s sources) step(t testing.TB, what, group string, members int, since time.Time, from counts, want int32) counts {
	t.Helper()
	s.recorded.waitRebalances(group, from.recorded+int64(want), members, 30*time.Second)
	to := counts{s.admin.settledCount(group, members, since), s.recorded.rebalances(group)}
	da, dr := to.admin-from.admin, to.recorded-from.recorded
	record(t, "%s: true generations +%d; klagx admin source +%d, consumer-offsets source +%d", what, want, da, dr)
	if want > 0 && (da < 1 || da > int64(want)) || want == 0 && da != 0 {
		t.Errorf("%s: admin source counted %d rebalances, true %d", what, da, want)
	}
	return to
}

// settledCount waits until klagx has read group, after since, Stable (or
// Empty with no members) with members members and no rebalance in
// progress, and returns its rebalance count.
func (k *klagx) settledCount(group string, members int, since time.Time) int64 {
	k.t.Helper()
	k.waitGroup(group, since, 30*time.Second, func(g report.Group) (bool, string) {
		ok := g.Members == members && (g.State == "Stable" || members == 0 && g.State == "Empty") && g.Status != status.Rebalancing
		return ok, fmt.Sprintf("state %s, members %d, status %s", g.State, g.Members, g.Status)
	})
	return k.rebalances(group)
}

// startPython starts e2e/kafka/clients/python/consumer.py, a python3-kafka
// group consumer, with Debian's python (where python3-kafka lives).
func startPython(t testing.TB, name, group, topic string) *member {
	t.Helper()
	py := "/usr/bin/python3"
	_, err := os.Stat(py)
	if err == nil {
		err = exec.Command(py, "-c", "import kafka").Run()
	}
	need(t, err == nil, "python3-kafka is not installed (apt-get install python3-kafka): %v", err)
	script, err := filepath.Abs("../e2e/kafka/clients/python/consumer.py")
	if err != nil {
		t.Fatal(err)
	}
	p := realkafka.StartCommand(t, py, script, strings.Join(kafka.Bootstrap(), ","), topic, group)
	return &member{Process: p, name: name, parse: parseJSONLines}
}

// startKafkajs starts e2e/kafka/kafkajs/consumer.js, a kafkajs group
// consumer (installed there by `npm ci`).
func startKafkajs(t testing.TB, name, group, topic string) *member {
	t.Helper()
	node, err := exec.LookPath("node")
	need(t, err == nil, "node is not installed")
	dir, err := filepath.Abs("../e2e/kafka/kafkajs")
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(dir, "node_modules", "kafkajs"))
	need(t, err == nil, "kafkajs is not installed (cd e2e/kafka/kafkajs && npm ci)")
	p := realkafka.StartCommand(t, node, filepath.Join(dir, "consumer.js"), strings.Join(kafka.Bootstrap(), ","), topic, group, name)
	return &member{Process: p, name: name, parse: parseJSONLines}
}
