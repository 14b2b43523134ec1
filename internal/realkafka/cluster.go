package realkafka

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// DefaultVersion is the Kafka version used when neither Options.Version nor
// $KLAGX_KAFKA_VERSION is set. e2e/kafka/pom.xml's kafka.version must be the
// same (TestPomPinsDefaultVersion).
const DefaultVersion = "4.4.0"

// ErrUnavailable is wrapped by Start's error when java or the Kafka jars are
// missing, so that StartT can skip outside CI.
var ErrUnavailable = errors.New("real Kafka unavailable")

// Options configures a cluster. The zero value is a 3-broker cluster of
// DefaultVersion.
type Options struct {
	// Version is the Kafka version whose jars are used. Default:
	// $KLAGX_KAFKA_VERSION, else DefaultVersion.
	Version string
	// Brokers is the number of KRaft nodes, each a broker and a voter of the
	// controller quorum. Default 3.
	Brokers int
	// ServerProps are extra server.properties for every broker; they
	// override the defaults of this package.
	ServerProps map[string]string
	// JVMProps are extra -Dkey=value system properties for every broker
	// (for example org.apache.kafka.sasl.oauthbearer.allowed.urls).
	JVMProps map[string]string
	// ExtraListeners are added to every broker next to PLAINTEXT and
	// SASL_SSL, each on its own free port.
	ExtraListeners []Listener
	// HeapMB is each broker's maximum heap. Default 320.
	HeapMB int
}

// Listener is an extra listener. SSL-based protocols use the cluster's
// certificate.
type Listener struct {
	// Name is the listener name (e.g. "OAUTH"); it must not be PLAINTEXT,
	// SASL_SSL or CONTROLLER.
	Name string
	// Protocol is the security protocol: PLAINTEXT, SSL, SASL_PLAINTEXT or
	// SASL_SSL.
	Protocol string
	// SASLMechanisms become listener.name.<name>.sasl.enabled.mechanisms.
	SASLMechanisms []string
	// Props are per-listener settings, each written as
	// listener.name.<lower-case name>.<key>=<value> (for example
	// "oauthbearer.sasl.jaas.config"). Cluster-wide keys belong in
	// Options.ServerProps.
	Props map[string]string
}

// Cluster is a running cluster. Its methods are safe for concurrent use.
type Cluster struct {
	version  string
	dir      string
	java     string
	jars     string
	caFile   string
	user     string
	password string
	brokers  []*Broker
	// names are the listener names in order: PLAINTEXT, SASL_SSL, extras.
	names []string

	closeOnce sync.Once
}

// Start formats storage for opts.Brokers nodes, starts them and waits until
// every broker serves Metadata listing all brokers, the controller quorum has
// a leader and the admin user authenticates on the SASL_SSL listener. On
// error, nothing is left running and the error carries the brokers' last log
// lines.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	opts = opts.withDefaults()
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w: java is not on PATH (install openjdk-17-jre-headless)", ErrUnavailable)
	}
	jars := JarsDir(opts.Version)
	if m, _ := filepath.Glob(filepath.Join(jars, "kafka_2.13-*.jar")); len(m) == 0 {
		return nil, fmt.Errorf("%w: no Kafka %s jars in %s (run `make kafka-jars KLAGX_KAFKA_VERSION=%s`)", ErrUnavailable, opts.Version, jars, opts.Version)
	}
	dir, err := os.MkdirTemp("", "klagx-kafka-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{version: opts.Version, dir: dir, java: java, jars: jars, user: "admin", password: "admin-" + randomHex(12)}
	defer func() {
		if err != nil {
			logs := c.LogTail(40)
			c.Close()
			err = fmt.Errorf("%w\n%s", err, logs)
		}
	}()
	if err := c.prepare(opts); err != nil {
		return nil, err
	}
	if err := c.format(ctx); err != nil {
		return nil, err
	}
	for _, b := range c.brokers {
		if err := b.start(); err != nil {
			return nil, err
		}
	}
	if err := c.WaitReady(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// StartT is Start for a test: the cluster is closed at cleanup, and its logs
// are printed if the test failed. Without java or the jars the test is
// skipped, or fails when $CI is "true".
func StartT(t testing.TB, opts Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, opts)
	if errors.Is(err, ErrUnavailable) && os.Getenv("CI") != "true" {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("realkafka: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Kafka broker logs (%s):\n%s", c.dir, c.LogTail(60))
		}
		c.Close()
	})
	return c
}

// JarsDir is where the jars of a Kafka version are read from:
// $KLAGX_KAFKA_JARS, else ~/.cache/klagx/kafka/<version>.
func JarsDir(version string) string {
	if d := os.Getenv("KLAGX_KAFKA_JARS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "klagx", "kafka", version)
}

func (o Options) withDefaults() Options {
	if o.Version == "" {
		o.Version = os.Getenv("KLAGX_KAFKA_VERSION")
	}
	if o.Version == "" {
		o.Version = DefaultVersion
	}
	if o.Brokers <= 0 {
		o.Brokers = 3
	}
	if o.HeapMB <= 0 {
		o.HeapMB = 320
	}
	return o
}

// prepare picks ports, writes the PKI, the log configuration and every
// broker's server.properties.
func (c *Cluster) prepare(opts Options) error {
	caFile, keystore, err := writePKI(c.dir)
	if err != nil {
		return err
	}
	c.caFile = caFile
	if err := os.WriteFile(c.log4j(), []byte(log4jConfig), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.dir, "log4j2-tool.properties"), []byte(log4jToolConfig), 0o644); err != nil {
		return err
	}
	c.names = []string{"PLAINTEXT", "SASL_SSL"}
	protocols := map[string]string{"PLAINTEXT": "PLAINTEXT", "SASL_SSL": "SASL_SSL", "CONTROLLER": "PLAINTEXT"}
	for _, l := range opts.ExtraListeners {
		if _, dup := protocols[l.Name]; dup || l.Name == "" {
			return fmt.Errorf("realkafka: listener name %q is empty or taken", l.Name)
		}
		c.names = append(c.names, l.Name)
		protocols[l.Name] = l.Protocol
	}
	// Ports are taken from the OS (":0") and released just before the JVM
	// binds them: a small race with other processes, acceptable in tests.
	ports, err := freePorts(opts.Brokers * (len(c.names) + 1))
	if err != nil {
		return err
	}
	var voters []string
	for i := range opts.Brokers {
		b := &Broker{c: c, id: int32(i + 1), dir: filepath.Join(c.dir, fmt.Sprintf("broker-%d", i+1)), addrs: map[string]string{}}
		for j, name := range append([]string{"CONTROLLER"}, c.names...) {
			b.addrs[name] = fmt.Sprintf("127.0.0.1:%d", ports[i*(len(c.names)+1)+j])
		}
		voters = append(voters, fmt.Sprintf("%d@%s", b.id, b.addrs["CONTROLLER"]))
		c.brokers = append(c.brokers, b)
	}
	rf := strconv.Itoa(min(3, opts.Brokers))
	var protoMap []string
	for _, name := range slices.Sorted(maps.Keys(protocols)) {
		protoMap = append(protoMap, name+":"+protocols[name])
	}
	for _, b := range c.brokers {
		if err := os.MkdirAll(b.dir, 0o755); err != nil {
			return err
		}
		var listeners, advertised []string
		for _, name := range append([]string{"CONTROLLER"}, c.names...) {
			listeners = append(listeners, name+"://"+b.addrs[name])
			if name != "CONTROLLER" {
				advertised = append(advertised, name+"://"+b.addrs[name])
			}
		}
		props := map[string]string{
			"process.roles":                  "broker,controller",
			"node.id":                        strconv.Itoa(int(b.id)),
			"controller.quorum.voters":       strings.Join(voters, ","),
			"controller.listener.names":      "CONTROLLER",
			"listeners":                      strings.Join(listeners, ","),
			"advertised.listeners":           strings.Join(advertised, ","),
			"listener.security.protocol.map": strings.Join(protoMap, ","),
			"inter.broker.listener.name":     "PLAINTEXT",
			"log.dirs":                       filepath.Join(b.dir, "data"),
			"sasl.enabled.mechanisms":        "SCRAM-SHA-512",
			"listener.name.sasl_ssl.sasl.enabled.mechanisms":        "SCRAM-SHA-512",
			"listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required;",
			"ssl.keystore.type":                        "PEM",
			"ssl.keystore.location":                    keystore,
			"ssl.truststore.type":                      "PEM",
			"ssl.truststore.location":                  caFile,
			"authorizer.class.name":                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
			"super.users":                              "User:" + c.user + ";User:ANONYMOUS",
			"allow.everyone.if.no.acl.found":           "false",
			"auto.create.topics.enable":                "false",
			"num.partitions":                           "1",
			"default.replication.factor":               rf,
			"offsets.topic.replication.factor":         rf,
			"offsets.topic.num.partitions":             "6",
			"transaction.state.log.replication.factor": rf,
			"transaction.state.log.min.isr":            "1",
			"transaction.state.log.num.partitions":     "3",
			"group.initial.rebalance.delay.ms":         "0",
			"group.min.session.timeout.ms":             "500",
			"log.retention.check.interval.ms":          "1000",
			"log.segment.delete.delay.ms":              "1000",
			"log.cleaner.backoff.ms":                   "1000",
			"log.cleaner.dedupe.buffer.size":           "4194304",
			"log.cleaner.threads":                      "1",
			"num.network.threads":                      "2",
			"num.io.threads":                           "2",
			"background.threads":                       "2",
			"num.replica.fetchers":                     "1",
			"num.recovery.threads.per.data.dir":        "1",
			"broker.heartbeat.interval.ms":             "500",
			"broker.session.timeout.ms":                "4000",
			"controlled.shutdown.enable":               "true",
			"shutdown.timeout.ms":                      "5000",
		}
		maps.Copy(props, opts.ServerProps)
		for _, l := range opts.ExtraListeners {
			prefix := "listener.name." + strings.ToLower(l.Name) + "."
			if len(l.SASLMechanisms) > 0 {
				props[prefix+"sasl.enabled.mechanisms"] = strings.Join(l.SASLMechanisms, ",")
			}
			for k, v := range l.Props {
				props[prefix+k] = v
			}
		}
		var sb strings.Builder
		for _, k := range slices.Sorted(maps.Keys(props)) {
			fmt.Fprintf(&sb, "%s=%s\n", k, props[k])
		}
		if err := os.WriteFile(b.propsFile(), []byte(sb.String()), 0o644); err != nil {
			return err
		}
		b.jvm = c.jvmArgs(opts.HeapMB, opts.JVMProps)
	}
	return nil
}

// format runs kafka-storage format on every node, in parallel, adding the
// admin's SCRAM-SHA-512 credential to the bootstrap metadata.
func (c *Cluster) format(ctx context.Context) error {
	id := clusterID()
	scramArg := fmt.Sprintf("SCRAM-SHA-512=[name=%s,password=%s]", c.user, c.password)
	errs := make([]error, len(c.brokers))
	var wg sync.WaitGroup
	for i, b := range c.brokers {
		wg.Go(func() {
			_, err := c.RunClass(ctx, "kafka.tools.StorageTool", "format", "-t", id, "-c", b.propsFile(), "--add-scram", scramArg)
			if err != nil {
				errs[i] = fmt.Errorf("format broker %d: %w", b.id, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// WaitReady waits until every running broker answers Metadata listing every
// running broker, the controller quorum has a leader, and the admin user
// authenticates over SASL_SSL on each running broker.
func (c *Cluster) WaitReady(ctx context.Context) error {
	var last error
	for {
		if last = c.ready(ctx); last == nil {
			return nil
		}
		for _, b := range c.brokers {
			if err := b.exited(); err != nil {
				return fmt.Errorf("broker %d exited: %w", b.id, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: %w (last: %v)", ctx.Err(), last)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *Cluster) ready(ctx context.Context) error {
	var want []int32
	for _, b := range c.brokers {
		if b.running() {
			want = append(want, b.id)
		}
	}
	for _, b := range c.brokers {
		if !b.running() {
			continue
		}
		if err := b.ready(ctx, want); err != nil {
			return fmt.Errorf("broker %d: %w", b.id, err)
		}
	}
	return nil
}

// Close stops every broker by PID (SIGCONT, SIGTERM, then SIGKILL after a
// few seconds) and removes the cluster's directory. Safe to call twice.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, b := range c.brokers {
			wg.Go(func() { b.stopProcess(5 * time.Second) })
		}
		wg.Wait()
		os.RemoveAll(c.dir)
	})
	return nil
}

// Version is the Kafka version running.
func (c *Cluster) Version() string { return c.version }

// Dir is the cluster's working directory (configs, data, logs).
func (c *Cluster) Dir() string { return c.dir }

// Bootstrap returns every broker's PLAINTEXT address, in broker ID order.
func (c *Cluster) Bootstrap() []string { return c.Listener("PLAINTEXT") }

// SASLBootstrap returns every broker's SASL_SSL (SCRAM-SHA-512) address.
func (c *Cluster) SASLBootstrap() []string { return c.Listener("SASL_SSL") }

// Listener returns every broker's address on the named listener, nil for an
// unknown name.
func (c *Cluster) Listener(name string) []string {
	var out []string
	for _, b := range c.brokers {
		if a, ok := b.addrs[name]; ok {
			out = append(out, a)
		}
	}
	return out
}

// CAFile is the PEM file of the CA that signed the brokers' certificate.
func (c *Cluster) CAFile() string { return c.caFile }

// Admin returns the SCRAM-SHA-512 super user created at format time.
func (c *Cluster) Admin() (user, password string) { return c.user, c.password }

// Brokers returns the brokers in ID order (IDs 1..n).
func (c *Cluster) Brokers() []*Broker { return slices.Clone(c.brokers) }

// Broker returns the broker with the given ID, nil if there is none.
func (c *Cluster) Broker(id int32) *Broker {
	for _, b := range c.brokers {
		if b.id == id {
			return b
		}
	}
	return nil
}

// Client returns a franz-go client on the PLAINTEXT listener (a super
// user), closed by the caller. opts are appended.
func (c *Cluster) Client(opts ...kgo.Opt) (*kgo.Client, error) {
	return kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Bootstrap()...)}, opts...)...)
}

// SASLOpts are the franz-go options to connect as user over SASL_SSL.
func (c *Cluster) SASLOpts(user, password string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(c.SASLBootstrap()...),
		kgo.DialTLSConfig(c.tlsConfig()),
		kgo.SASL(scram.Auth{User: user, Pass: password}.AsSha512Mechanism()),
	}
}

func (c *Cluster) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(c.caFile); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// AddSCRAMUser creates or updates a SCRAM-SHA-512 user and waits until it
// authenticates on every running broker's SASL_SSL listener. The user is not
// a super user: grant it ACLs.
func (c *Cluster) AddSCRAMUser(ctx context.Context, user, password string) error {
	cl, err := c.Client()
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{
		User: user, Mechanism: kadm.ScramSha512, Iterations: 4096, Password: password,
	}})
	if err != nil {
		return fmt.Errorf("alter SCRAM user %s: %w", user, err)
	}
	if err := res.Error(); err != nil {
		return fmt.Errorf("alter SCRAM user %s: %w", user, err)
	}
	for {
		var last error
		for _, b := range c.brokers {
			if b.running() {
				if err := b.authenticate(ctx, user, password); err != nil {
					last = err
				}
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("user %s does not authenticate: %w (last: %v)", user, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// LogTail returns the last n lines of every broker's log.
func (c *Cluster) LogTail(n int) string {
	var sb strings.Builder
	for _, b := range c.brokers {
		data, _ := os.ReadFile(b.logFile())
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		fmt.Fprintf(&sb, "--- broker %d (%s), last %d lines\n%s\n", b.id, b.logFile(), n, strings.Join(lines[max(0, len(lines)-n):], "\n"))
	}
	return sb.String()
}

func (c *Cluster) log4j() string { return filepath.Join(c.dir, "log4j2.properties") }

// log4jConfig logs to stdout (the broker's log file) at INFO, with the
// chattiest loggers at WARN.
const log4jConfig = `status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.config.name = org.apache.kafka.common.config
logger.config.level = WARN
logger.utils.name = org.apache.kafka.common.utils
logger.utils.level = WARN
`

// freePorts reserves n distinct ports on 127.0.0.1 and releases them.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// clusterID is a random Kafka Uuid in its base64url form.
func clusterID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] &= 0x7f // keep it clear of the reserved IDs near zero
	b[0] |= 0x10
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// describeQuorum returns the leader of the metadata quorum as b sees it.
func describeQuorum(ctx context.Context, cl *kgo.Client) (int32, error) {
	req := kmsg.NewPtrDescribeQuorumRequest()
	t := kmsg.NewDescribeQuorumRequestTopic()
	t.Topic = "__cluster_metadata"
	p := kmsg.NewDescribeQuorumRequestTopicPartition()
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return -1, err
	}
	if err := errFromCode(resp.ErrorCode); err != nil {
		return -1, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return -1, errors.New("describe quorum: no partition in the response")
	}
	rp := resp.Topics[0].Partitions[0]
	if err := errFromCode(rp.ErrorCode); err != nil {
		return -1, err
	}
	return rp.LeaderID, nil
}
