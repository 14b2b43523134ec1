package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/internal/realkafka"
	"github.com/klagx/klagx/report"
)

// The helpers shared by every file of the suite: a client environment on a
// cluster, klagx processes and what they serve, Kafka's own
// kafka-consumer-groups tool, and waiting on conditions.

// env returns a franz-go client (manual partitioner, PLAINTEXT, a super
// user) and admin client on c, as a kfaketest.Env so that its Produce,
// Commit and ConsumeAndCommit helpers work on real Kafka too (its Cluster
// field is nil: do not call Addrs or Consumer).
func env(t testing.TB, c *realkafka.Cluster) *kfaketest.Env {
	t.Helper()
	cl, err := c.Client(kgo.DefaultProduceTopic(""), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &kfaketest.Env{T: t, Client: cl, Admin: kadm.NewClient(cl)}
}

// createTopic creates a topic with the replication factor rf (-1: the
// broker default, min(3, brokers)) and topic configs, and waits until every
// broker knows its leaders.
func createTopic(t testing.TB, e *kfaketest.Env, name string, partitions int32, rf int16, configs map[string]string) {
	t.Helper()
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := e.Admin.CreateTopic(ctx(t, 30*time.Second), partitions, rf, cfg, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	waitFor(t, 30*time.Second, "leaders of "+name, func() (bool, string) {
		md, err := e.Admin.Metadata(ctx(t, 5*time.Second), name)
		if err != nil {
			return false, err.Error()
		}
		td := md.Topics[name]
		if td.Err != nil || len(td.Partitions) != int(partitions) {
			return false, fmt.Sprintf("%v, %d partitions", td.Err, len(td.Partitions))
		}
		for _, p := range td.Partitions {
			if p.Leader < 0 || p.Err != nil {
				return false, fmt.Sprintf("partition %d: leader %d %v", p.Partition, p.Leader, p.Err)
			}
		}
		return true, ""
	})
}

// consumer starts a franz-go group member on c (PLAINTEXT) with autocommit
// off, closed when the test ends.
func consumer(t testing.TB, c *realkafka.Cluster, group string, topics []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topics...), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.SessionTimeout(10 * time.Second), kgo.HeartbeatInterval(500 * time.Millisecond), kgo.WithLogger(nil),
	}
	cl, err := c.Client(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// ctx returns a context that ends after d or with the test.
func ctx(t testing.TB, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// waitFor polls cond every 200ms until it holds, failing the test after d
// with cond's last explanation.
func waitFor(t testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", d, what, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// klagx is a `klagx serve` process polling a cluster.
type klagx struct {
	t    testing.TB
	addr string
	cmd  *exec.Cmd
	out  *kfaketest.SyncBuffer
}

// klagxFlags are the defaults of startKlagx: fast cycles, so that tests see
// a change within a few seconds.
var klagxFlags = []string{"--poll-interval=1s", "--group-poll-interval=250ms", "--cluster-name=real", "--log.level=info"}

// startKlagx runs `klagx serve` on a free port with klagxFlags, then args
// (which win: --isolation, --group.include, ...; without --brokers in
// args, c's PLAINTEXT listener), and waits until /readyz answers
// 200. It is stopped by PID when the test ends; its log is printed if the
// test failed.
func startKlagx(t testing.TB, c *realkafka.Cluster, args ...string) *klagx {
	t.Helper()
	all := append([]string{"serve", "--web.listen-address=127.0.0.1:0"}, klagxFlags...)
	// --brokers is a list flag: a second one would add to the first.
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--brokers") }) {
		all = append(all, "--brokers="+strings.Join(c.Bootstrap(), ","))
	}
	k := &klagx{t: t, out: &kfaketest.SyncBuffer{}}
	k.cmd = exec.Command(klagxBin, append(all, args...)...)
	k.cmd.Stdout, k.cmd.Stderr = k.out, k.out
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { k.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			k.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("klagx log:\n%s", k.Log())
		}
	})
	addrRE := regexp.MustCompile(`msg="serving metrics" address=([0-9.:]+)`)
	waitFor(t, 30*time.Second, "klagx to listen", func() (bool, string) {
		select {
		case <-done:
			t.Fatalf("klagx exited: %v\n%s", k.cmd.ProcessState, k.Log())
		default:
		}
		if m := addrRE.FindStringSubmatch(k.out.String()); m != nil {
			k.addr = m[1]
			return true, ""
		}
		return false, "no address in its log yet"
	})
	waitFor(t, 60*time.Second, "klagx ready", func() (bool, string) {
		code, body := k.get("/readyz")
		return code == http.StatusOK, body
	})
	return k
}

// Log is everything klagx wrote so far.
func (k *klagx) Log() string { return k.out.String() }

// get returns the status code and body of a GET on klagx (0 on a transport
// error).
func (k *klagx) get(path string) (int, string) {
	resp, err := http.Get("http://" + k.addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// status returns /status, decoded.
func (k *klagx) status() report.Report {
	k.t.Helper()
	code, body := k.get("/status")
	if code != http.StatusOK {
		k.t.Fatalf("/status: %d %s", code, body)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		k.t.Fatalf("/status does not decode: %v\n%s", err, body)
	}
	return r
}

// group returns one group of /status, and whether it is there.
func (k *klagx) group(name string) (report.Group, bool) {
	k.t.Helper()
	for _, c := range k.status().Clusters {
		for _, g := range c.Groups {
			if g.Name == name {
				return g, true
			}
		}
	}
	return report.Group{}, false
}

// metrics returns /metrics, parsed strictly.
func (k *klagx) metrics() kfaketest.Series {
	k.t.Helper()
	code, body := k.get("/metrics")
	if code != http.StatusOK {
		k.t.Fatalf("/metrics: %d %s", code, body)
	}
	return kfaketest.Parse(k.t, []byte(body))
}

// waitGroup waits until /status shows group read after since and cond
// holds for it, and returns it.
func (k *klagx) waitGroup(name string, since time.Time, d time.Duration, cond func(report.Group) (bool, string)) report.Group {
	k.t.Helper()
	var g report.Group
	waitFor(k.t, d, "klagx's view of group "+name, func() (bool, string) {
		var ok bool
		if g, ok = k.group(name); !ok {
			return false, "not in /status"
		}
		if !g.ObservedAt.After(since) {
			return false, fmt.Sprintf("observed at %v, before %v", g.ObservedAt, since)
		}
		return cond(g)
	})
	return g
}

// partitions flattens a group's partitions, keyed "topic/partition".
func partitions(g report.Group) map[string]report.Partition {
	out := map[string]report.Partition{}
	for _, t := range g.Topics {
		for _, p := range t.Partitions {
			out[fmt.Sprintf("%s/%d", t.Name, p.Partition)] = p
		}
	}
	return out
}

// runCheck runs `klagx check` with args and returns its stdout, stderr and
// exit code.
func runCheck(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(ctx(t, 2*time.Minute), klagxBin, append([]string{"check"}, args...)...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}

// toolRow is one line of `kafka-consumer-groups --describe --group G`.
// Offsets and lag are nil where the tool prints "-" (no commit).
type toolRow struct {
	Group, Topic   string
	Partition      int32
	Current, End   *int64
	Lag            *int64
	ConsumerID     string
	Host, ClientID string
}

// ConsumerGroupCommand is the class of kafka-consumer-groups.sh (in
// kafka-tools since 3.7).
const consumerGroupCommand = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"

// describeGroup runs Kafka's kafka-consumer-groups --describe --group on c
// (PLAINTEXT) and parses its table, sorted by topic and partition.
func describeGroup(t testing.TB, c *realkafka.Cluster, group string) []toolRow {
	t.Helper()
	out, err := c.RunClass(ctx(t, 2*time.Minute), consumerGroupCommand, "--bootstrap-server", strings.Join(c.Bootstrap(), ","), "--describe", "--group", group)
	if err != nil {
		t.Fatalf("kafka-consumer-groups --describe --group %s: %v", group, err)
	}
	rows, err := parseDescribe(out)
	if err != nil {
		t.Fatalf("kafka-consumer-groups output: %v\n%s", err, out)
	}
	return rows
}

// parseDescribe parses the --describe table: a header line starting with
// GROUP, then one whitespace-separated row per partition. Lines before the
// header (such as "Consumer group 'g' has no active members.") are skipped.
func parseDescribe(out string) ([]toolRow, error) {
	var cols []string
	var rows []toolRow
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "GROUP" {
			cols = f
			continue
		}
		if cols == nil {
			continue
		}
		if len(f) != len(cols) {
			return nil, fmt.Errorf("row %q has %d fields, header %d", line, len(f), len(cols))
		}
		var r toolRow
		for i, c := range cols {
			v := f[i]
			var err error
			switch c {
			case "GROUP":
				r.Group = v
			case "TOPIC":
				r.Topic = v
			case "PARTITION":
				var p int64
				p, err = strconv.ParseInt(v, 10, 32)
				r.Partition = int32(p)
			case "CURRENT-OFFSET":
				r.Current, err = dashInt(v)
			case "LOG-END-OFFSET":
				r.End, err = dashInt(v)
			case "LAG", "OFFSET-LAG": // OFFSET-LAG: kafka-streams-groups
				r.Lag, err = dashInt(v)
			case "CONSUMER-ID":
				r.ConsumerID = dash(v)
			case "HOST":
				r.Host = dash(v)
			case "CLIENT-ID":
				r.ClientID = dash(v)
			}
			if err != nil {
				return nil, fmt.Errorf("column %s of %q: %w", c, line, err)
			}
		}
		rows = append(rows, r)
	}
	if cols == nil {
		return nil, fmt.Errorf("no GROUP header")
	}
	slices.SortFunc(rows, func(a, b toolRow) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return rows, nil
}

func dash(v string) string {
	if v == "-" {
		return ""
	}
	return v
}

func dashInt(v string) (*int64, error) {
	if v == "-" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return &n, err
}

// startOffsets returns Kafka's log start offsets of topic, by partition.
func startOffsets(t testing.TB, e *kfaketest.Env, topic string) map[int32]int64 {
	t.Helper()
	res, err := e.Admin.ListStartOffsets(ctx(t, 30*time.Second), topic)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	res.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// stableOffsets returns the brokers' last stable offsets of topic (ListOffsets
// latest with read_committed isolation), by partition.
func stableOffsets(t testing.TB, e *kfaketest.Env, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = 1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = p, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	out := map[int32]int64{}
	for _, shard := range e.Client.RequestSharded(ctx(t, 30*time.Second), req) {
		if shard.Err != nil {
			t.Fatal(shard.Err)
		}
		for _, rt := range shard.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					t.Fatalf("list stable offset %s/%d: error %d", topic, rp.Partition, rp.ErrorCode)
				}
				out[rp.Partition] = rp.Offset
			}
		}
	}
	return out
}

// recordAt fetches the record at offset of topic/partition from Kafka (the
// first one at or after it, as a consumer would get) and returns it.
func recordAt(t testing.TB, c *realkafka.Cluster, topic string, partition int32, offset int64) *kgo.Record {
	t.Helper()
	cl, err := c.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(offset)}}),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c2 := ctx(t, 30*time.Second)
	for {
		fs := cl.PollRecords(c2, 1)
		if c2.Err() != nil {
			t.Fatalf("no record at %s/%d@%d", topic, partition, offset)
		}
		if recs := fs.Records(); len(recs) > 0 {
			return recs[0]
		}
	}
}

// matchTool runs Kafka's kafka-consumer-groups --describe on group, then
// waits until klagx's /status (a cycle read after the tool ran) agrees with
// it partition by partition, and logs both side by side. The rules, which
// docs/compatibility.md states:
//   - every partition the tool lists;
//   - CURRENT-OFFSET is klagx's committed offset, "-" where klagx has none;
//   - LOG-END-OFFSET is klagx's end offset (with read_uncommitted);
//   - LAG equals klagx's lag plus the messages retention deleted below the
//     commit (klagx counts those as lost and clamps its lag to the retained
//     range; Kafka's tool subtracts the commit from the end);
//   - where the tool prints "-" (no commit), klagx's lag is every retained
//     message, end − log start;
//   - partitions the tool does not list (not committed, not assigned) of a
//     topic the group committed on are in klagx without a commit, with lag
//     end − log start.
//
// It returns the tool's rows.
func matchTool(t testing.TB, c *realkafka.Cluster, k *klagx, group string) []toolRow {
	t.Helper()
	return matchRows(t, k, group, describeGroup(t, c, group))
}

// matchRows is matchTool on the rows of a tool already run.
func matchRows(t testing.TB, k *klagx, group string, rows []toolRow) []toolRow {
	t.Helper()
	since := time.Now()
	var table string
	k.waitGroup(group, since, 60*time.Second, func(g report.Group) (bool, string) {
		ps := partitions(g)
		var sb strings.Builder
		fmt.Fprintf(&sb, "%-24s %-8s %-8s %-6s | %-9s %-6s %-6s %-5s %-5s\n", "partition", "CURRENT", "LOG-END", "LAG", "committed", "start", "end", "lag", "lost")
		var bad []string
		for _, r := range rows {
			key := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			p, ok := ps[key]
			delete(ps, key)
			fmt.Fprintf(&sb, "%-24s %-8s %-8s %-6s | ", key, fmtp(r.Current), fmtp(r.End), fmtp(r.Lag))
			if !ok {
				sb.WriteString("(absent)\n")
				bad = append(bad, key+" missing in klagx")
				continue
			}
			fmt.Fprintf(&sb, "%-9s %-6d %-6d %-5d %-5d\n", fmtp(p.Committed), p.Start, p.End, p.Lag, p.MessagesLost)
			if r.End == nil || p.End != *r.End {
				bad = append(bad, fmt.Sprintf("%s end %d, tool %s", key, p.End, fmtp(r.End)))
			}
			switch {
			case r.Current == nil:
				if p.Committed != nil || p.Lag != p.End-p.Start {
					bad = append(bad, fmt.Sprintf("%s no commit in the tool; klagx committed %s lag %d (want end-start %d)", key, fmtp(p.Committed), p.Lag, p.End-p.Start))
				}
			case p.Committed == nil || *p.Committed != *r.Current:
				bad = append(bad, fmt.Sprintf("%s committed %s, tool %d", key, fmtp(p.Committed), *r.Current))
			default:
				below := max(0, p.Start-*p.Committed)
				if r.Lag == nil || p.Lag+below != *r.Lag || p.Lag != p.End-max(*p.Committed, p.Start) {
					bad = append(bad, fmt.Sprintf("%s lag %d (+%d below start), tool %s", key, p.Lag, below, fmtp(r.Lag)))
				}
			}
		}
		// The tool lists a group's committed and assigned partitions;
		// klagx also reports the other partitions of the topics the group
		// committed on, as partitions without a commit.
		for _, key := range slices.Sorted(maps.Keys(ps)) {
			p := ps[key]
			fmt.Fprintf(&sb, "%-24s %-8s %-8s %-6s | %-9s %-6d %-6d %-5d %-5d\n", key, "(not", "listed)", "", fmtp(p.Committed), p.Start, p.End, p.Lag, p.MessagesLost)
			if p.Committed != nil || p.Lag != p.End-p.Start {
				bad = append(bad, key+" in klagx with a commit or a partial lag, not in the tool")
			}
		}
		table = sb.String()
		return len(bad) == 0, strings.Join(bad, "; ") + "\n" + table
	})
	t.Logf("group %s: Kafka's tool | klagx /status\n%s", group, table)
	return rows
}

func fmtp(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}
