package conformance

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/internal/realkafka"
	"github.com/klagx/klagx/metrics"
)

// shareGroupCommand is the class of kafka-share-groups.sh.
const shareGroupCommand = "org.apache.kafka.tools.consumer.group.ShareGroupCommand"

// consoleShareConsumer is the class of kafka-console-share-consumer.sh.
const consoleShareConsumer = "org.apache.kafka.tools.consumer.ConsoleShareConsumer"

// shareTool is what kafka-share-groups --describe says of a share group:
// per "topic/partition" its START-OFFSET and LAG, and its members.
type shareTool struct {
	start, lag map[string]int64
	members    int
	raw        string // the tool's output, for failure messages
}

// describeShareGroup runs kafka-share-groups --describe --offsets and
// --members for group.
func describeShareGroup(t testing.TB, c *realkafka.Cluster, group string) shareTool {
	t.Helper()
	var raw strings.Builder
	run := func(what string) []map[string]string {
		out, err := c.RunClass(ctx(t, 2*time.Minute), shareGroupCommand, "--bootstrap-server", strings.Join(c.Bootstrap(), ","),
			"--describe", what, "--group", group)
		if err != nil {
			t.Fatalf("kafka-share-groups --describe %s --group %s: %v\n%s", what, group, err, out)
		}
		raw.WriteString(out)
		return parseTable(out)
	}
	st := shareTool{start: map[string]int64{}, lag: map[string]int64{}}
	for _, r := range run("--offsets") {
		if r["PARTITION"] == "" || r["PARTITION"] == "-" || r["START-OFFSET"] == "-" {
			continue // no share state yet: klagx leaves such partitions out too
		}
		where := r["TOPIC"] + "/" + r["PARTITION"]
		var err error
		if st.start[where], err = strconv.ParseInt(r["START-OFFSET"], 10, 64); err != nil {
			t.Fatalf("START-OFFSET of %s: %v", where, err)
		}
		if st.lag[where], err = strconv.ParseInt(r["LAG"], 10, 64); err != nil {
			t.Fatalf("LAG of %s: %v", where, err)
		}
	}
	st.members = len(run("--members"))
	st.raw = raw.String()
	return st
}

// parseTable parses a kafka-*-groups table: a header line starting with
// GROUP, then whitespace-separated rows. Other lines are skipped.
func parseTable(out string) []map[string]string {
	var cols []string
	var rows []map[string]string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "GROUP":
			cols = f
		case cols != nil && len(f) >= len(cols):
			r := map[string]string{}
			for i, c := range cols {
				r[c] = f[i]
			}
			rows = append(rows, r)
		}
	}
	return rows
}

// klagxShare is klagx's view of a share group from /metrics, in the tool's
// terms.
func klagxShare(s kfaketest.Series, group string) shareTool {
	st := shareTool{start: map[string]int64{}, lag: map[string]int64{}, members: -1}
	for key, v := range s {
		if !strings.Contains(key, fmt.Sprintf("group=%q", group)) {
			continue
		}
		switch name := key[:strings.IndexByte(key, '{')]; name {
		case metrics.ShareGroupMembers:
			st.members = int(v)
		case metrics.ShareGroupPartitionStart, metrics.ShareGroupPartitionLag:
			where := label(key, "topic") + "/" + label(key, "partition")
			if name == metrics.ShareGroupPartitionStart {
				st.start[where] = int64(v)
			} else {
				st.lag[where] = int64(v)
			}
		}
	}
	return st
}

func label(key, name string) string {
	i := strings.Index(key, name+`="`)
	if i < 0 {
		return ""
	}
	rest := key[i+len(name)+2:]
	return rest[:strings.IndexByte(rest, '"')]
}

func (s shareTool) String() string {
	return fmt.Sprintf("members %d, start offsets %v, lag %v", s.members, s.start, s.lag)
}

// TestShareGroupMatchesKafkaShareGroups runs Kafka's console share consumer
// on a share group and checks klagx's start offsets, lag and members
// against kafka-share-groups --describe, with the consumer running (every
// record acknowledged) and after it left with new records waiting (the
// group is then stopped).
func TestShareGroupMatchesKafkaShareGroups(t *testing.T) {
	const topic, group = "share-lag", "share-lag-g"
	e := env(t, kafka)
	createTopic(t, e, topic, 2, -1, nil)
	e.Produce(topic, 0, 10, time.Time{})
	e.Produce(topic, 1, 6, time.Time{})
	setShareReset(t, e, group)
	k := startKlagx(t, kafka, "--group.include="+group)

	cons := kafka.StartClass(t, consoleShareConsumer, "--bootstrap-server", strings.Join(kafka.Bootstrap(), ","),
		"--topic", topic, "--group", group)
	var tool shareTool
	waitFor(t, 2*time.Minute, "the share consumer to acknowledge every record", func() (bool, string) {
		tool = describeShareGroup(t, kafka, group)
		// Kafka acknowledges before it moves the start offset, so only
		// the lag is known in advance.
		return tool.members == 1 && len(tool.lag) == 2 && tool.lag[topic+"/0"] == 0 && tool.lag[topic+"/1"] == 0,
			tool.String() + "\n" + tool.raw
	})
	matchShare(t, k, group, tool)
	t.Logf("RESULT share group, consumer running: kafka-share-groups %s; klagx the same", tool)

	cons.Stop(10 * time.Second)
	e.Produce(topic, 0, 5, time.Time{})
	waitFor(t, 2*time.Minute, "the share group to empty", func() (bool, string) {
		tool = describeShareGroup(t, kafka, group)
		return tool.members == 0 && tool.lag[topic+"/0"] == 5, tool.String() + "\n" + tool.raw
	})
	matchShare(t, k, group, tool)
	t.Logf("RESULT share group, consumer gone, 5 new records: kafka-share-groups %s; klagx the same, status stopped", tool)
	waitFor(t, 30*time.Second, "klagx to call the group stopped", func() (bool, string) {
		key := kfaketest.Key(metrics.ShareGroupStatus, "cluster", "real", "group", group, "status", "stopped")
		v, ok := k.metrics()[key]
		return ok && v == 1, fmt.Sprintf("%s = %v (%v)", key, v, ok)
	})
}

// matchShare waits until klagx's view of group equals the tool's.
func matchShare(t *testing.T, k *klagx, group string, tool shareTool) {
	t.Helper()
	waitFor(t, 30*time.Second, "klagx to match kafka-share-groups ("+tool.String()+")", func() (bool, string) {
		got := klagxShare(k.metrics(), group)
		return got.String() == tool.String(), "klagx: " + got.String()
	})
}

// setShareReset makes group start at the log start offset: share groups
// start at the log end by default (share.auto.offset.reset=latest).
func setShareReset(t *testing.T, e *kfaketest.Env, group string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Value = "share.auto.offset.reset", kmsg.StringPtr("earliest")
	res.Configs = append(res.Configs, cfg)
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(ctx(t, 30*time.Second), e.Client)
	if err == nil && len(resp.Resources) == 1 {
		if code := resp.Resources[0].ErrorCode; code != 0 {
			err = fmt.Errorf("error code %d: %v", code, resp.Resources[0].ErrorMessage)
		}
	}
	if err != nil {
		t.Fatalf("set share.auto.offset.reset of %s: %v", group, err)
	}
}
