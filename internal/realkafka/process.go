package realkafka

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klagx/klagx/internal/kfaketest"
)

// process is a child in its own process group, stopped by its PID.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result, set before done is closed
}

func startProcess(bin string, args []string, stdout, stderr io.Writer) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Own process group: a Ctrl-C in the terminal reaches only the Go
	// parent, which then stops the child by PID. Pdeathsig: the kernel kills
	// the child if the parent dies (a test binary killed on timeout).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return fmt.Errorf("process %d has exited", p.pid())
	default:
	}
	return syscall.Kill(p.pid(), sig)
}

// stop sends SIGCONT (a suspended process cannot act on SIGTERM), SIGTERM,
// and SIGKILL if the process is still there after grace.
func (p *process) stop(grace time.Duration) {
	p.signal(syscall.SIGCONT)
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	p.signal(syscall.SIGKILL)
	<-p.done
}

// Java is the path of the java binary the cluster runs on.
func (c *Cluster) Java() string { return c.java }

// Classpath is the classpath of the Kafka jars (broker, tools, clients,
// Streams, log4j2), a directory wildcard.
func (c *Cluster) Classpath() string { return c.jars + "/*" }

// jvmArgs are the JVM flags of a broker or a tool: a small heap, the serial
// collector and the C1 compiler only, which start fast and use little CPU on
// a shared machine.
func (c *Cluster) jvmArgs(heapMB int, props map[string]string) []string {
	args := []string{
		"-Xms64m", "-Xmx" + strconv.Itoa(heapMB) + "m",
		"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
		"-Djava.awt.headless=true",
		"-Dlog4j2.configurationFile=" + c.log4j(),
	}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		args = append(args, "-D"+k+"="+props[k])
	}
	return append(args, "-cp", c.Classpath())
}

// toolArgs are the JVM flags of a tool, whose log4j2 configuration sends its logs to stderr at WARN, so stdout holds only its
// output.
func (c *Cluster) toolArgs() []string {
	args := c.jvmArgs(256, nil)
	for i, a := range args {
		if strings.HasPrefix(a, "-Dlog4j2.configurationFile=") {
			args[i] = "-Dlog4j2.configurationFile=" + c.dir + "/log4j2-tool.properties"
		}
	}
	return args
}

const log4jToolConfig = `status = warn
appender.err.type = Console
appender.err.name = ERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = ERR
`

// RunClass runs a Java main class (a Kafka tool such as
// org.apache.kafka.tools.consumer.group.ConsumerGroupCommand) on the Kafka
// classpath to completion and returns its standard output. The error
// includes its standard error; the process is killed if ctx ends first.
func (c *Cluster) RunClass(ctx context.Context, mainClass string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	p, err := startProcess(c.java, append(append(c.toolArgs(), mainClass), args...), &stdout, &stderr)
	if err != nil {
		return "", err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop(0)
		return stdout.String(), fmt.Errorf("%s: %w\n%s", mainClass, ctx.Err(), stderr.String())
	}
	if p.err != nil {
		return stdout.String(), fmt.Errorf("%s: %w\n%s%s", mainClass, p.err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// Process is a long-running Java child started by StartClass.
type Process struct {
	p   *process
	out kfaketest.SyncBuffer
}

// StartClass starts a Java main class on the Kafka classpath (a
// VerifiableConsumer, a Streams application, ...) and stops it by PID at the
// test's cleanup; its output is logged if the test failed.
func (c *Cluster) StartClass(t testing.TB, mainClass string, args ...string) *Process {
	t.Helper()
	pr := &Process{}
	p, err := startProcess(c.java, append(append(c.toolArgs(), mainClass), args...), &pr.out, &pr.out)
	if err != nil {
		t.Fatalf("start %s: %v", mainClass, err)
	}
	pr.p = p
	t.Cleanup(func() {
		pr.p.stop(5 * time.Second)
		if t.Failed() {
			t.Logf("%s output:\n%s", mainClass, pr.Output())
		}
	})
	return pr
}

// PID is the process ID.
func (p *Process) PID() int { return p.p.pid() }

// Kill sends SIGKILL and waits for the process to exit.
func (p *Process) Kill() {
	p.p.signal(syscall.SIGKILL)
	<-p.p.done
}

// Stop sends SIGTERM (a clean shutdown: a consumer leaves its group) and
// waits, killing the process after grace.
func (p *Process) Stop(grace time.Duration) { p.p.stop(grace) }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.p.done }

// Output is everything the process wrote to stdout and stderr so far.
func (p *Process) Output() string { return p.out.String() }
