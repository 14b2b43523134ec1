package main

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/status"
)

// runCheck runs `klagx check` in-process and returns its exit code, stdout
// and stderr.
func runCheck(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	// The Kafka client may still log from a connection goroutine after
	// the command returned: the sinks must take concurrent writes.
	var out, errb kfaketest.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"check", "--log.level=error"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestCheckExitCodes is the exit-code matrix of klagx check.
func TestCheckExitCodes(t *testing.T) {
	env := kfaketest.New(t, 3)
	env.CreateTopic("t", 1)
	old := time.Now().Add(-time.Hour)
	env.Produce("t", 0, 20, old)
	env.Commit("healthy", "t", map[int32]int64{0: 20})
	env.Commit("behind", "t", map[int32]int64{0: 10})
	env.Commit("stuck", "t", map[int32]int64{0: 5})
	// stuck gets a member that never commits: stalled within the window.
	env.Consumer("stuck", []string{"t"})
	// behind gets a member too, so that it is not stopped.
	env.Consumer("behind", []string{"t"})
	kfaketest.WaitFor(t, 30*time.Second, "members", func() bool {
		a, b := env.Cluster.GroupInfo("stuck"), env.Cluster.GroupInfo("behind")
		return a != nil && b != nil && a.State == "Stable" && b.State == "Stable"
	})
	env.Commit("stopped", "t", map[int32]int64{0: 15})
	brokers := strings.Join(env.Addrs(), ",")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()

	lenient := []string{"--warn-lag-seconds=0", "--crit-lag-seconds=0"} // judge by messages only
	for _, tc := range []struct {
		name    string
		args    []string
		want    int
		stdout  string
		stderr  string
		setPass string
	}{
		{name: "healthy", args: append([]string{"--brokers", brokers, "--group", "healthy", "--window=0"}, lenient...), want: 0, stdout: "OK: 1 ok"},
		{name: "warning by messages", args: append([]string{"--brokers", brokers, "--group", "behind", "--window=0", "--warn-lag=5"}, lenient...), want: 1, stdout: "WARNING"},
		{name: "critical by seconds", args: []string{"--brokers", brokers, "--group", "behind", "--window=0", "--crit-lag-seconds=30m"}, want: 2, stdout: "is above 30m0s"},
		{name: "stalled within the window", args: append([]string{"--brokers", brokers, "--group", "stuck", "--window=1s"}, lenient...), want: 2, stdout: "stalled"},
		{name: "stopped", args: append([]string{"--brokers", brokers, "--group", "stopped", "--window=0"}, lenient...), want: 2, stdout: "stopped"},
		{name: "no group matched", args: []string{"--brokers", brokers, "--group", "nope-.*", "--window=0"}, want: 3, stderr: "no consumer group matched"},
		{name: "unreachable broker", args: []string{"--brokers", dead, "--window=0", "--timeout=1s"}, want: 3, stderr: "cluster default"},
		{name: "bad regex", args: []string{"--brokers", brokers, "--group", "a(", "--window=0"}, want: 3, stderr: "invalid regex"},
		{name: "unknown flag", args: []string{"--brokers", brokers, "--frobnicate"}, want: 3, stderr: "unknown flag"},
		{name: "bad output", args: []string{"--brokers", brokers, "--output=xml"}, want: 3, stderr: "--output"},
		{name: "nagios unknown on stdout", args: []string{"--brokers", dead, "--window=0", "--timeout=1s", "-o", "nagios"}, want: 3, stdout: "KLAGX UNKNOWN - "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runCheck(t, tc.args...)
			if code != tc.want || !strings.Contains(out, tc.stdout) || !strings.Contains(errs, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout:\n%s\nstderr:\n%s", code, tc.want, out, errs)
			}
		})
	}
}

// TestCheckAuthFailure: a wrong SASL password is UNKNOWN (3), and the
// password appears nowhere.
func TestCheckAuthFailure(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "right-password"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const wrong = "wrong-password-9f8e"
	t.Setenv("KLAGX_KAFKA_SASL_PASSWORD", wrong)
	code, out, errs := runCheck(t, "--brokers", strings.Join(c.ListenAddrs(), ","), "--kafka.sasl.mechanism=scram-sha-256",
		"--kafka.sasl.username=admin", "--window=0", "--timeout=2s", "-o", "json")
	if code != 3 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if strings.Contains(out+errs, wrong) {
		t.Fatal("the password leaked")
	}
	if !strings.Contains(out, `"severity": "UNKNOWN"`) || !strings.Contains(out, `"error":`) {
		t.Fatalf("JSON error document expected:\n%s", out)
	}
}

// TestCheckWatch refreshes in place until interrupted. Ctrl-C exits with
// 130 (SIGTERM 143), as a shell reports a command the user stopped, not
// with the last sample's severity (CRITICAL here: the group has no members); ended otherwise, 0.
func TestCheckWatch(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("t", 1)
	env.Produce("t", 0, 3, time.Time{})
	env.Commit("g", "t", map[int32]int64{0: 1})
	for _, tc := range []struct {
		cause error
		want  int
	}{{signalCause{syscall.SIGINT}, 130}, {signalCause{syscall.SIGTERM}, 143}, {context.Canceled, 0}} {
		var out, errb kfaketest.SyncBuffer
		ctx, cancel := context.WithCancelCause(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"check", "--brokers", strings.Join(env.Addrs(), ","), "--watch", "--window=1s"}, &out, &errb)
		}()
		kfaketest.WaitFor(t, 30*time.Second, "two refreshes with a result", func() bool {
			return strings.Count(out.String(), "\033[H\033[2J") >= 2 && strings.Contains(out.String(), "CRITICAL")
		})
		cancel(tc.cause)
		if code := <-done; code != tc.want {
			t.Errorf("ended by %v: exit %d, want %d\n%s\n%s", tc.cause, code, tc.want, out.String(), errb.String())
		}
	}
}

// TestCheckExitCodeConstants keeps the exit-code constants in step with
// the severities they stand for.
func TestCheckExitCodeConstants(t *testing.T) {
	for sev, code := range map[status.Severity]int{status.SeverityOK: checkOK, status.SeverityWarning: checkWarning,
		status.SeverityCritical: checkCritical, status.SeverityUnknown: checkUnknown} {
		if sev.ExitCode() != code {
			t.Errorf("%s: exit code %d, constant %d", sev, sev.ExitCode(), code)
		}
	}
}
