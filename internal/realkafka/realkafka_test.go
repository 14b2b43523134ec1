package realkafka

import (
	"context"
	"encoding/xml"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestPomPinsDefaultVersion keeps DefaultVersion and the Maven project's
// kafka.version, the two places the default is written, in step.
func TestPomPinsDefaultVersion(t *testing.T) {
	data, err := os.ReadFile("../../e2e/kafka/pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	var pom struct {
		Properties struct {
			KafkaVersion string `xml:"kafka.version"`
		} `xml:"properties"`
	}
	if err := xml.Unmarshal(data, &pom); err != nil {
		t.Fatal(err)
	}
	if pom.Properties.KafkaVersion != DefaultVersion {
		t.Fatalf("e2e/kafka/pom.xml kafka.version = %q, DefaultVersion = %q", pom.Properties.KafkaVersion, DefaultVersion)
	}
}

// TestStartStop starts a one-broker cluster, produces over PLAINTEXT and
// consumes over SASL_SSL as the admin and as an added user, kills and
// restarts the broker, and checks that Close leaves no process behind.
func TestStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	c := StartT(t, Options{Brokers: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cl, err := c.Client(kgo.DefaultProduceTopic("t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	user, pass := c.Admin()
	if err := c.AddSCRAMUser(ctx, "reader", "reader-pw"); err != nil {
		t.Fatal(err)
	}
	for _, who := range [][2]string{{user, pass}, {"reader", "reader-pw"}} {
		sc, err := kgo.NewClient(c.SASLOpts(who[0], who[1])...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = kadm.NewClient(sc).ListTopics(ctx)
		sc.Close()
		if err != nil {
			t.Fatalf("list topics as %s over SASL_SSL: %v", who[0], err)
		}
	}

	out, err := c.RunClass(ctx, "org.apache.kafka.tools.GetOffsetShell", "--bootstrap-server", c.Bootstrap()[0], "--topic", "t")
	if err != nil {
		t.Fatal(err)
	}
	if out != "t:0:1\n" {
		t.Fatalf("GetOffsetShell = %q, want %q", out, "t:0:1\n")
	}

	b := c.Broker(1)
	pid := b.PID()
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if b.PID() == pid || b.PID() == 0 {
		t.Fatalf("PID after restart = %d (before %d)", b.PID(), pid)
	}
	ends, err := adm.ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("t", 0); o.Offset != 1 {
		t.Fatalf("end offset after restart = %d, want 1", o.Offset)
	}

	pid = b.PID()
	c.Close()
	if err := syscallKill0(pid); err == nil {
		t.Fatalf("broker process %d still exists after Close", pid)
	}
}

func syscallKill0(pid int) error { return syscall.Kill(pid, 0) }
