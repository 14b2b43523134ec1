package poller

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// requireTool returns the path of a third-party tool. In CI a missing tool
// fails the test: CI installs it (.ci/run), and a silent skip would hide a
// broken install step.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (apt-get install %s): %v", name, name, err)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, name)
	}
	return p
}

// TestKcatMemberCounted: a librdkafka consumer (kcat, a client this project
// did not write) joins and leaves a group; klagx counts both rebalances,
// matching kfake's true generation.
func TestKcatMemberCounted(t *testing.T) {
	kcat := requireTool(t, "kcat")
	r := newRebalanceRig(t)
	r.env.Produce("work", 0, 10, time.Time{})
	// librdkafka's default assignors are range and roundrobin: a franz-go
	// member must offer one of them for the two to share a group.
	r.join("mixed", kgo.Balancers(kgo.RangeBalancer()))
	gen0 := r.settle("mixed", 1)
	base, j0, l0 := r.counted("mixed")

	var out bytes.Buffer
	cmd := exec.Command(kcat, "-b", strings.Join(r.env.Addrs(), ","), "-G", "mixed", "-q",
		"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=200", "-X", "partition.assignment.strategy=range",
		"-o", "beginning", "work")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	gen1 := r.settle("mixed", 2)
	c1, j1, _ := r.counted("mixed")
	if int64(c1-base) != int64(gen1-gen0) || j1-j0 != 1 {
		t.Errorf("kcat joined: counted %d rebalances and %d joins; true generation delta %d\n%s", c1-base, j1-j0, gen1-gen0, out.String())
	}
	// SIGTERM: kcat closes its consumer, which leaves the group.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	gen2 := r.settle("mixed", 1)
	c2, _, l2 := r.counted("mixed")
	if int64(c2-c1) != int64(gen2-gen1) || l2-l0 != 1 {
		t.Errorf("kcat left: counted %d rebalances and %d leaves; true generation delta %d\n%s", c2-c1, l2-l0, gen2-gen1, out.String())
	}
	t.Logf("kcat join+leave: %d rebalances counted, true %d", c2-base, gen2-gen0)
}
