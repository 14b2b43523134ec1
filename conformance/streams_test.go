package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"

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

	// Caught up: every input partition committed at its end, and the
	// repartition topic read and purged (its log start moved past 0).
	caughtUp := func(g report.Group) (bool, string) {
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
		return len(why) == 0 && repartition && g.Members == 1, fmt.Sprintf("members %d, repartition topic purged %v, %v", g.Members, repartition, why)
	}
	g := k.waitGroup(app, time.Now(), 120*time.Second, caughtUp)
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
