package realkafka

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// The clients the conformance suite runs next to the cluster that are not
// on the Kafka classpath: its own Java programs (e2e/kafka/clients, built by
// `make kafka-clients`) and the non-Java clients (kcat, python3, node).

// StartClassWithJars is StartClass with jars added to the classpath after
// the Kafka jars.
func (c *Cluster) StartClassWithJars(t testing.TB, jars []string, mainClass string, args ...string) *Process {
	t.Helper()
	jvm := c.toolArgs()
	if i := slices.Index(jvm, "-cp"); i >= 0 && i+1 < len(jvm) {
		jvm[i+1] += ":" + strings.Join(jars, ":")
	}
	return StartCommand(t, c.java, append(append(jvm, mainClass), args...)...)
}

// StartCommand starts any program (kcat, python3, node) as StartClass
// starts a Java class: in its own process group, killed by the kernel if
// the test binary dies, stopped by its PID at the test's cleanup, its output
// (stdout and stderr together) logged if the test failed.
func StartCommand(t testing.TB, bin string, args ...string) *Process {
	t.Helper()
	pr := &Process{}
	p, err := startProcess(bin, args, &pr.out, &pr.out)
	if err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	pr.p = p
	t.Cleanup(func() {
		pr.p.stop(5 * time.Second)
		if t.Failed() {
			t.Logf("%s %s output:\n%s", bin, strings.Join(args[max(0, len(args)-6):], " "), pr.Output())
		}
	})
	return pr
}
