// Command kafka starts a real Apache Kafka cluster (internal/realkafka) for
// trying klagx by hand: `make kafka`. It prints the bootstrap addresses, the
// SASL settings and ready-to-paste klagx command lines, seeds a topic and a
// consumer group with lag, and stops every broker by PID on Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/internal/realkafka"
)

func main() {
	brokers := flag.Int("brokers", 3, "number of KRaft nodes (broker and controller each)")
	version := flag.String("version", "", "Kafka version (default $KLAGX_KAFKA_VERSION, else "+realkafka.DefaultVersion+")")
	seed := flag.Bool("seed", true, "create topic demo (3 partitions, 300 records) and group demo-group committed 100 behind on each partition")
	flag.Parse()
	if err := run(*brokers, *version, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "kafka:", err)
		os.Exit(1)
	}
}

func run(brokers int, version string, seed bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintln(os.Stderr, "starting Kafka (formatting storage, starting brokers; about 15 s)...")
	startCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	c, err := realkafka.Start(startCtx, realkafka.Options{Brokers: brokers, Version: version})
	cancel()
	if err != nil {
		return err
	}
	defer c.Close()
	if seed {
		if err := seedDemo(ctx, c); err != nil {
			return err
		}
	}
	user, pass := c.Admin()
	pwFile := filepath.Join(c.Dir(), "admin.password")
	if err := os.WriteFile(pwFile, []byte(pass), 0o600); err != nil {
		return err
	}
	plain := strings.Join(c.Bootstrap(), ",")
	sasl := strings.Join(c.SASLBootstrap(), ",")
	saslFlags := fmt.Sprintf("--brokers %s --kafka.tls.enabled --kafka.tls.ca-file %s --kafka.sasl.mechanism scram-sha-512 --kafka.sasl.username %s --kafka.sasl.password-file %s", sasl, c.CAFile(), user, pwFile)
	fmt.Printf(`Kafka %s is running: %d brokers, KRaft, working directory %s

PLAINTEXT (no authentication, a super user): %s
SASL_SSL (SCRAM-SHA-512):                    %s
  user %s, password %s (also in %s)
  CA certificate %s

Try klagx (make build first):
  bin/klagx check --brokers %s
  bin/klagx serve --brokers %s --web.listen-address 127.0.0.1:0
  bin/klagx check %s
  bin/klagx serve %s --web.listen-address 127.0.0.1:0

Kafka's own view of the seeded group:
  java -cp '%s' org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server %s --describe --group demo-group

Stop: Ctrl-C (stops every broker by its PID and removes the working directory).
`, c.Version(), brokers, c.Dir(), plain, sasl, user, pass, pwFile, c.CAFile(), plain, plain, saslFlags, saslFlags, c.Classpath(), c.Bootstrap()[0])
	for _, b := range c.Brokers() {
		fmt.Printf("  broker %d: PID %d, log %s\n", b.ID(), b.PID(), filepath.Join(c.Dir(), fmt.Sprintf("broker-%d", b.ID()), "server.log"))
	}
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "stopping brokers...")
	return nil
}

// seedDemo creates topic demo with 3 partitions of 100 records each and
// commits group demo-group at offset 0 (100 behind) on each.
func seedDemo(ctx context.Context, c *realkafka.Cluster) error {
	cl, err := c.Client(kgo.DefaultProduceTopic("demo"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, -1, nil, "demo"); err != nil {
		return fmt.Errorf("create topic demo: %w", err)
	}
	var recs []*kgo.Record
	for p := range int32(3) {
		for i := range 100 {
			recs = append(recs, &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "record %d", i)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce to demo: %w", err)
	}
	offs := kadm.Offsets{}
	for p := range int32(3) {
		offs.AddOffset("demo", p, 0, -1)
	}
	if _, err := adm.CommitOffsets(ctx, "demo-group", offs); err != nil {
		return fmt.Errorf("commit demo-group: %w", err)
	}
	return nil
}
