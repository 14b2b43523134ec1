package realkafka

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker is one KRaft node (broker and controller) of a Cluster.
type Broker struct {
	c     *Cluster
	id    int32
	dir   string
	addrs map[string]string // listener name → host:port, CONTROLLER included
	jvm   []string

	mu   sync.Mutex
	proc *process // nil before start and after a stop
}

// ID is the broker's node.id.
func (b *Broker) ID() int32 { return b.id }

// Addr returns the broker's address on a listener ("PLAINTEXT", "SASL_SSL",
// an extra listener's name, or "CONTROLLER").
func (b *Broker) Addr(listener string) string { return b.addrs[listener] }

// PID is the broker's process ID, 0 when it is not running.
func (b *Broker) PID() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return 0
	}
	return b.proc.pid()
}

// Kill sends SIGKILL to the broker and waits for it to exit; a later
// Restart starts it again on the same ports and data.
func (b *Broker) Kill() error {
	p := b.take()
	if p == nil {
		return errors.New("broker is not running")
	}
	p.signal(syscall.SIGKILL)
	<-p.done
	return nil
}

// Stop suspends the broker with SIGSTOP: its sockets stay open and requests
// hang, as on a broker stuck in a long GC pause.
func (b *Broker) Stop() error { return b.signal(syscall.SIGSTOP) }

// Cont resumes a broker suspended by Stop.
func (b *Broker) Cont() error { return b.signal(syscall.SIGCONT) }

// Restart stops the broker if it runs (SIGTERM: a controlled shutdown, then
// SIGKILL), starts it again on the same ports and data, and waits until the
// cluster is ready.
func (b *Broker) Restart(ctx context.Context) error {
	b.stopProcess(20 * time.Second)
	if err := b.start(); err != nil {
		return err
	}
	return b.c.WaitReady(ctx)
}

func (b *Broker) signal(sig syscall.Signal) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return errors.New("broker is not running")
	}
	return b.proc.signal(sig)
}

func (b *Broker) take() *process {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.proc
	b.proc = nil
	return p
}

func (b *Broker) running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.proc != nil
}

// exited returns an error if the broker's process ended by itself.
func (b *Broker) exited() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc == nil {
		return nil
	}
	select {
	case <-b.proc.done:
		return fmt.Errorf("%v (log: %s)", b.proc.err, b.logFile())
	default:
		return nil
	}
}

func (b *Broker) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.proc != nil {
		return errors.New("broker already running")
	}
	out, err := os.OpenFile(b.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := append(slices.Clone(b.jvm), "kafka.Kafka", b.propsFile())
	p, err := startProcess(b.c.java, args, out, out)
	out.Close()
	if err != nil {
		return fmt.Errorf("start broker %d: %w", b.id, err)
	}
	b.proc = p
	return nil
}

// stopProcess resumes a suspended broker, asks it to stop (SIGTERM) and
// kills it after grace.
func (b *Broker) stopProcess(grace time.Duration) {
	if p := b.take(); p != nil {
		p.stop(grace)
	}
}

// ready checks that the broker answers Metadata listing exactly the brokers
// in want, that it knows a quorum leader, and that the admin authenticates on
// its SASL_SSL listener.
func (b *Broker) ready(ctx context.Context, want []int32) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addrs["PLAINTEXT"]), kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return err
	}
	var got []int32
	for _, rb := range resp.Brokers {
		got = append(got, rb.NodeID)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("metadata lists brokers %v, want %v", got, want)
	}
	leader, err := describeQuorum(ctx, cl)
	if err != nil {
		return fmt.Errorf("describe quorum: %w", err)
	}
	if leader < 0 {
		return errors.New("metadata quorum has no leader")
	}
	user, pass := b.c.Admin()
	return b.authenticate(ctx, user, pass)
}

// authenticate connects to the broker's SASL_SSL listener as user and sends
// one ApiVersions request.
func (b *Broker) authenticate(ctx context.Context, user, password string) error {
	opts := append(b.c.SASLOpts(user, password), kgo.SeedBrokers(b.addrs["SASL_SSL"]), kgo.RequestRetries(0))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("SASL_SSL as %s: %w", user, err)
	}
	return nil
}

func (b *Broker) propsFile() string { return filepath.Join(b.dir, "server.properties") }
func (b *Broker) logFile() string   { return filepath.Join(b.dir, "server.log") }

func errFromCode(code int16) error {
	if code == 0 {
		return nil
	}
	return kerr.ErrorForCode(code)
}
