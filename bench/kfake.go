package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// ChildFlag is the flag that turns the benchmark binary (or the test binary
// of this package) into the kfake child process.
const ChildFlag = "--kfake"

// IsChild reports whether args (os.Args[1:]) ask for the kfake child.
func IsChild(args []string) bool {
	for _, a := range args {
		if a == ChildFlag || a == "-kfake" {
			return true
		}
	}
	return false
}

// TopicName is the name of topic i of a size.
func TopicName(i int) string { return fmt.Sprintf("bench-topic-%05d", i) }

// GroupName is the name of group i of a size.
func GroupName(i int) string { return fmt.Sprintf("bench-group-%05d", i) }

// RunChild is the body of the kfake child process: it starts a kfake
// cluster seeded with the topics given in args, writes one line
// "ADDRS host:port,host:port,..." to out, and serves until in is closed (the
// parent exited or closed our stdin) or the process is killed.
func RunChild(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("kfake", flag.ContinueOnError)
	fs.Bool("kfake", true, "run the kfake child")
	brokers := fs.Int("brokers", 3, "number of brokers")
	topics := fs.Int("topics", 0, "number of topics to seed")
	partitions := fs.Int("partitions", 1, "partitions per topic")
	if err := fs.Parse(args); err != nil {
		return err
	}
	names := make([]string, *topics)
	for i := range names {
		names[i] = TopicName(i)
	}
	opts := []kfake.Opt{kfake.NumBrokers(*brokers)}
	if len(names) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(*partitions), names...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("kfake: %w", err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(out, "ADDRS %s\n", strings.Join(c.ListenAddrs(), ",")); err != nil {
		return err
	}
	// Serve until stdin reaches EOF.
	_, _ = io.Copy(io.Discard, in)
	return nil
}

// Child is a running kfake child process.
type Child struct {
	Addrs []string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// StartChild re-executes exe (normally os.Executable()) with ChildFlag and
// waits for the cluster's addresses. extraArgs go before ChildFlag (a test
// binary needs none: its TestMain checks IsChild first).
func StartChild(ctx context.Context, exe string, brokers, topics, partitions int) (*Child, error) {
	cmd := exec.Command(exe, ChildFlag,
		fmt.Sprintf("-brokers=%d", brokers),
		fmt.Sprintf("-topics=%d", topics),
		fmt.Sprintf("-partitions=%d", partitions))
	cmd.Stderr = os.Stderr
	setProcAttr(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start kfake child: %w", err)
	}
	c := &Child{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "ADDRS "); ok {
				line <- s
				break
			}
		}
		// Keep draining so the child never blocks on a full pipe.
		_, _ = io.Copy(io.Discard, stdout)
		c.done <- cmd.Wait()
	}()
	select {
	case s := <-line:
		c.Addrs = strings.Split(s, ",")
		return c, nil
	case err := <-c.done:
		return nil, fmt.Errorf("kfake child exited before listening: %v", err)
	case <-ctx.Done():
		c.Stop()
		return nil, fmt.Errorf("kfake child did not start: %w", ctx.Err())
	}
}

// Pid returns the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Stop closes the child's stdin and waits for it to exit, killing it after
// a few seconds.
func (c *Child) Stop() {
	_ = c.stdin.Close()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		if err := <-c.done; err != nil && !errors.Is(err, os.ErrProcessDone) {
			_ = err // killed: expected
		}
	}
}
