// Package conformance checks klagx against a real Apache Kafka cluster, with
// the truth taken from Kafka itself: the LAG column of Kafka's own
// kafka-consumer-groups tool, the offsets and record timestamps the brokers
// return, the Java clients' generations. TestMain starts one shared
// 3-broker KRaft cluster (internal/realkafka) for the package and builds the
// klagx binary; each test uses its own topics and groups, and starts its own
// klagx process against the cluster. Tests that break brokers start their
// own cluster. Run alone with `make test-kafka`; `make test` runs it too.
//
// Without java or the Kafka jars (`make kafka-jars`) the package is skipped,
// except in CI (CI=true), where that is a failure.
package conformance

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/klagx/klagx/internal/realkafka"
)

// kafka is the shared cluster; klagxBin the klagx binary built from this
// tree.
var (
	kafka    *realkafka.Cluster
	klagxBin string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		fmt.Println("conformance: skipped with -short (starts a real Kafka cluster)")
		return 0
	}
	dir, err := os.MkdirTemp("", "klagx-conformance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	klagxBin = filepath.Join(dir, "klagx")
	if out, err := exec.Command("go", "build", "-o", klagxBin, "../cmd/klagx").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build klagx: %v\n%s", err, out)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	kafka, err = realkafka.Start(ctx, realkafka.Options{})
	if errors.Is(err, realkafka.ErrUnavailable) && os.Getenv("CI") != "true" {
		fmt.Println("conformance: skipped:", err)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: start Kafka:", err)
		return 1
	}
	defer kafka.Close()
	fmt.Printf("conformance: Kafka %s, %d brokers, ready in %v\n", kafka.Version(), len(kafka.Brokers()), time.Since(start).Round(100*time.Millisecond))
	code := m.Run()
	if code != 0 {
		fmt.Printf("Kafka broker logs (%s):\n%s", kafka.Dir(), kafka.LogTail(40))
	}
	return code
}
