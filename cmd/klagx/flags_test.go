package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/klagx/klagx/config"
)

// serveConfig parses a serve command line the way main does and returns the
// resulting configuration.
func serveConfig(t *testing.T, args ...string) (*config.Config, error) {
	t.Helper()
	var c cli
	var out, errb bytes.Buffer
	kctx, file, err := parse(context.Background(), &c, append([]string{"serve"}, args...), &out, &errb)
	if err != nil {
		return nil, err
	}
	if kctx.Command() != "serve" {
		t.Fatalf("command = %q", kctx.Command())
	}
	return c.Serve.toConfig(file)
}

func writeYAML(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "klagx.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runCLI runs the whole program and returns exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestParseClusterSpec(t *testing.T) {
	c, err := parseClusterSpec("name=prod,brokers=k1:9092,k2:9092, k3:9093,isolation=read_committed,tls=true,tls-ca-file=/ca.pem,tls-cert-file=/c.pem,tls-key-file=/k.pem,tls-server-name=kafka.example,tls-insecure-skip-verify=false,sasl-mechanism=scram-sha-512,sasl-username=klagx,sasl-password-env=PROD_PW")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Cluster{
		Name:      "prod",
		Brokers:   []string{"k1:9092", "k2:9092", "k3:9093"},
		Isolation: config.IsolationReadCommitted,
		TLS:       config.TLS{Enabled: true, CAFile: "/ca.pem", CertFile: "/c.pem", KeyFile: "/k.pem", ServerName: "kafka.example"},
		SASL:      config.SASL{Mechanism: "scram-sha-512", Username: "klagx", PasswordEnv: "PROD_PW"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got  %+v\nwant %+v", c, want)
	}

	c, err = parseClusterSpec("brokers=a:1,b:2,name=x,sasl-mechanism=oauthbearer,sasl-token-file=/t,sasl-password-file=/p")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Brokers, []string{"a:1", "b:2"}) || c.Name != "x" || c.SASL.TokenFile != "/t" || c.SASL.PasswordFile != "/p" {
		t.Errorf("got %+v", c)
	}

	bad := []struct{ spec, want string }{
		{"name=a,brokers=a:1,colour=blue", `unknown key "colour" (valid keys: name, brokers,`},
		{"name=a,brokers=a:1,password=hunter2", `key "password" is not accepted: passwords are never taken from the command line; use sasl-password-file=PATH or sasl-password-env=VARIABLE`},
		{"name=a,sasl-password=hunter2,brokers=a:1", `key "sasl-password" is not accepted`},
		{"a:9092,name=a", "want comma-separated key=value pairs starting with a key"},
		{"name=a,name=b", `key "name" given twice`},
		{"name=a,tls=yes-please", `tls: "yes-please" is not true or false`},
	}
	for _, tt := range bad {
		_, err := parseClusterSpec(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseClusterSpec(%q) = %v, want %q", tt.spec, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestClusterFlags(t *testing.T) {
	cfg, err := serveConfig(t,
		"--cluster", "name=prod,brokers=k1:9092,k2:9092,isolation=read_committed",
		"--cluster=name=dev,brokers=d:9092",
		"--brokers=ignored:9092", // --cluster wins
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clusters) != 2 || cfg.Clusters[0].Name != "prod" || !slices.Equal(cfg.Clusters[0].Brokers, []string{"k1:9092", "k2:9092"}) ||
		cfg.Clusters[0].Isolation != config.IsolationReadCommitted || cfg.Clusters[1].Name != "dev" || cfg.Clusters[1].Isolation != config.IsolationReadUncommitted {
		t.Errorf("clusters = %+v", cfg.Clusters)
	}

	// Errors name the --cluster index; validation names clusters[i].
	_, err = serveConfig(t, "--cluster=name=a,brokers=a:1", "--cluster=name=b,brokers=b:1,foo=bar")
	if err == nil || !strings.HasPrefix(err.Error(), `--cluster[1]: unknown key "foo"`) {
		t.Errorf("err = %v", err)
	}
	_, err = serveConfig(t, "--cluster=name=a,brokers=a:1", "--cluster=name=b,brokers=kafka-1")
	if err == nil || err.Error() != `clusters[1].brokers: "kafka-1" has no port (want host:port)` {
		t.Errorf("err = %v", err)
	}

	// KLAGX_CLUSTER separates clusters with ';'.
	t.Setenv("KLAGX_CLUSTER", "name=a,brokers=a:1,a:2;name=b,brokers=b:1")
	cfg, err = serveConfig(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clusters) != 2 || len(cfg.Clusters[0].Brokers) != 2 {
		t.Errorf("clusters from env = %+v", cfg.Clusters)
	}
}

func TestBrokersShorthand(t *testing.T) {
	cfg, err := serveConfig(t, "--brokers=a:9092,b:9092", "--brokers", "c:9092",
		"--cluster-name=local", "--isolation=read_committed",
		"--kafka.tls.enabled", "--kafka.tls.ca-file=/ca.pem", "--kafka.tls.server-name=k",
		"--kafka.sasl.mechanism=plain", "--kafka.sasl.username=u")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Cluster{
		Name:      "local",
		Brokers:   []string{"a:9092", "b:9092", "c:9092"},
		Isolation: config.IsolationReadCommitted,
		TLS:       config.TLS{Enabled: true, CAFile: "/ca.pem", ServerName: "k"},
		SASL:      config.SASL{Mechanism: "plain", Username: "u"},
	}
	if len(cfg.Clusters) != 1 || !reflect.DeepEqual(cfg.Clusters[0], want) {
		t.Errorf("got  %+v\nwant %+v", cfg.Clusters, want)
	}
	cfg, err = serveConfig(t, "--brokers=a:9092", "--kafka.sasl.mechanism=scram-sha-256", "--kafka.sasl.username=u", "--kafka.sasl.password-file=/pw")
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Clusters[0].SASL; s.PasswordFile != "/pw" || s.PasswordEnv != "" || cfg.Clusters[0].Name != "default" {
		t.Errorf("got %+v", cfg.Clusters[0])
	}
	// There is no password flag.
	if _, err := serveConfig(t, "--brokers=a:9092", "--kafka.sasl.password=x"); err == nil || !strings.Contains(err.Error(), "unknown flag --kafka.sasl.password") {
		t.Errorf("err = %v", err)
	}
}

func TestClustersFromFile(t *testing.T) {
	path := writeYAML(t, "clusters:\n  - name: fromfile\n    brokers: [f:9092]\n")
	cfg, err := serveConfig(t, "--config.file", path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clusters) != 1 || cfg.Clusters[0].Name != "fromfile" {
		t.Errorf("clusters = %+v", cfg.Clusters)
	}
	// --brokers overrides the file's clusters.
	cfg, err = serveConfig(t, "--config.file="+path, "--brokers=b:9092")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clusters[0].Name != "default" {
		t.Errorf("clusters = %+v", cfg.Clusters)
	}
	// The file's brokers: key is the --brokers flag.
	path = writeYAML(t, "cluster_name: 123\nbrokers: a:1\n")
	cfg, err = serveConfig(t, "--config.file="+path)
	if err != nil || cfg.Clusters[0].Name != "123" {
		t.Errorf("numeric cluster_name: %v", err)
	}
	path = writeYAML(t, "brokers: [x:1, y:2]\ncluster_name: viafile\nkafka: {sasl: {mechanism: plain, username: u}}\n")
	cfg, err = serveConfig(t, "--config.file="+path)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Clusters[0]; c.Name != "viafile" || !slices.Equal(c.Brokers, []string{"x:1", "y:2"}) || c.SASL.Username != "u" {
		t.Errorf("cluster = %+v", c)
	}
}

func TestNoCluster(t *testing.T) {
	_, err := serveConfig(t)
	if err == nil || err.Error() != "no Kafka cluster configured: pass --brokers host:port, --cluster name=...,brokers=..., or clusters: in --config.file" {
		t.Errorf("err = %v", err)
	}
	code, _, stderr := runCLI(t, "serve")
	if code != exitUsage || stderr != "klagx: error: "+errNoCluster.Error()+"\n" {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestPrecedence(t *testing.T) {
	path := writeYAML(t, `
poll_interval: 30s
granularity: group
group:
  include: ["file-.*"]
topic:
  include_internal: true
log:
  level: debug
`)
	t.Setenv("KLAGX_CONFIG_FILE", path)
	base := []string{"--brokers=a:9092"}

	// file > default
	cfg, err := serveConfig(t, base...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PollInterval != 30*time.Second || cfg.Granularity != config.GranularityGroup || !cfg.IncludeInternalTopics ||
		!cfg.Groups.Keep("file-x") || cfg.Groups.Keep("other") {
		t.Errorf("file layer not applied: %+v", cfg)
	}

	// env > file
	t.Setenv("KLAGX_POLL_INTERVAL", "20s")
	t.Setenv("KLAGX_GROUP_INCLUDE", "env-.*")
	cfg, err = serveConfig(t, base...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PollInterval != 20*time.Second || !cfg.Groups.Keep("env-x") || cfg.Groups.Keep("file-x") {
		t.Errorf("env does not override file: poll %s", cfg.PollInterval)
	}
	if cfg.Granularity != config.GranularityGroup {
		t.Errorf("file value lost for a flag without env: %s", cfg.Granularity)
	}

	// flag > env > file
	cfg, err = serveConfig(t, append(base, "--poll-interval=10s", "--granularity=topic", "--group.include=flag-.*")...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PollInterval != 10*time.Second || cfg.Granularity != config.GranularityTopic || !cfg.Groups.Keep("flag-x") || cfg.Groups.Keep("env-x") {
		t.Errorf("flag does not override env and file: %+v", cfg)
	}

	// An explicit --config.file wins over KLAGX_CONFIG_FILE.
	other := writeYAML(t, "granularity: topic\n")
	cfg, err = serveConfig(t, append(base, "--config.file", other)...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Granularity != config.GranularityTopic || cfg.IncludeInternalTopics {
		t.Errorf("--config.file does not replace KLAGX_CONFIG_FILE: %+v", cfg)
	}

	// Defaults without any layer.
	os.Unsetenv("KLAGX_CONFIG_FILE")
	os.Unsetenv("KLAGX_POLL_INTERVAL")
	os.Unsetenv("KLAGX_GROUP_INCLUDE")
	cfg, err = serveConfig(t, base...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PollInterval != 15*time.Second || cfg.Granularity != config.GranularityPartition || cfg.IncludeInternalTopics || !cfg.Groups.Keep("anything") {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestFileLayerWebAndLog(t *testing.T) {
	path := writeYAML(t, "web:\n  listen_address: [':1', ':2']\n  telemetry_path: /m\n  disable_exporter_metrics: true\n  config: {file: /w.yml}\nlog: {level: warn, format: json}\n")
	var c cli
	var out, errb bytes.Buffer
	if _, _, err := parse(context.Background(), &c, []string{"serve", "--config.file", path}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	w := c.Serve.Web
	if !slices.Equal(w.ListenAddresses, []string{":1", ":2"}) || w.TelemetryPath != "/m" || !w.DisableExporterMetrics || w.ConfigFile != "/w.yml" {
		t.Errorf("web = %+v", w)
	}
	if c.Log.Level != "warn" || c.Log.Format != "json" {
		t.Errorf("log = %+v", c.Log)
	}
	fc, err := w.flagConfig()
	if err != nil || len(*fc.WebListenAddresses) != 2 || *fc.WebConfigFile != "/w.yml" || *fc.WebSystemdSocket {
		t.Errorf("flagConfig = %+v, %v", fc, err)
	}
	if _, err := (&webFlags{ListenAddresses: []string{":1"}, TelemetryPath: "metrics"}).flagConfig(); err == nil {
		t.Error("telemetry path without / accepted")
	}
}

func TestConfigFileErrors(t *testing.T) {
	path := writeYAML(t, "poll_interval: 15s\npoll_intervall: 20s\n")
	code, _, stderr := runCLI(t, "serve", "--brokers=a:9092", "--config.file", path)
	if code != exitUsage || !strings.Contains(stderr, "klagx: error: "+path+`:2: unknown key "poll_intervall"`) {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	path = writeYAML(t, "kafka:\n  sasl:\n    password: hunter2\n")
	code, _, stderr = runCLI(t, "serve", "--config.file="+path)
	if code != exitUsage || !strings.Contains(stderr, "password_file") || strings.Contains(stderr, "hunter2") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "serve", "--config.file=/nonexistent/klagx.yaml")
	if code != exitUsage || !strings.Contains(stderr, "/nonexistent/klagx.yaml") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestBadRegex(t *testing.T) {
	_, err := serveConfig(t, "--brokers=a:9092", "--group.include=a(")
	if err == nil || err.Error() != `group.include: invalid regex "a(": missing closing )` {
		t.Errorf("err = %v", err)
	}
	_, err = serveConfig(t, "--brokers=a:9092", "--topic.exclude=[z-a]")
	if err == nil || !strings.HasPrefix(err.Error(), `topic.exclude: invalid regex "[z-a]"`) {
		t.Errorf("err = %v", err)
	}
	// Commas inside a regex are not separators.
	cfg, err := serveConfig(t, "--brokers=a:9092", "--topic.include=x{1,3}")
	if err != nil || !cfg.Topics.Keep("xxx") || cfg.Topics.Keep("xxxx") {
		t.Errorf("err = %v", err)
	}
}

func TestBadDurationAndEnums(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--poll-interval=15x"}, `--poll-interval: "15x" is not a duration with a unit such as "90s" or "5m"`},
		{[]string{"--poll-interval=500ms"}, "poll_interval: 500ms is below the minimum of 1s"},
		{[]string{"--poll-interval=0s"}, "poll_interval: 0s is below the minimum of 1s"},
		{[]string{"--granularity=parition"}, `granularity: "parition" is not one of partition, topic, group`},
		{[]string{"--isolation=dirty"}, `clusters[0].isolation: "dirty" is not one of read_uncommitted, read_committed`},
		{[]string{"--kafka.tls.ca-file=/ca.pem"}, "clusters[0].tls.ca_file: set but tls.enabled is false"},
	}
	for _, tt := range tests {
		_, err := serveConfig(t, append([]string{"--brokers=a:9092"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
	t.Setenv("KLAGX_POLL_INTERVAL", "soon")
	code, _, stderr := runCLI(t, "serve", "--brokers=a:9092")
	if code != exitUsage || !strings.Contains(stderr, "KLAGX_POLL_INTERVAL") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	os.Unsetenv("KLAGX_POLL_INTERVAL")
	path := writeYAML(t, "poll_interval: 15\n")
	code, _, stderr = runCLI(t, "serve", "--brokers=a:9092", "--config.file", path)
	if code != exitUsage || !strings.Contains(stderr, `15 is not a duration (want a Go duration such as "15s")`) {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestConfigFilePath(t *testing.T) {
	t.Setenv("KLAGX_CONFIG_FILE", "/env.yaml")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "/env.yaml"},
		{[]string{"serve", "--config.file", "/a.yaml"}, "/a.yaml"},
		{[]string{"--config.file=/a.yaml", "serve", "--config.file=/b.yaml"}, "/b.yaml"},
		{[]string{"serve", "--", "--config.file=/x.yaml"}, "/env.yaml"},
		{[]string{"serve", "--config.file="}, ""},
	} {
		if got := configFilePath(tt.args); got != tt.want {
			t.Errorf("configFilePath(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestServeHelpMentionsEveryFlag(t *testing.T) {
	code, out, stderr := runCLI(t, "serve", "--help")
	if code != exitOK {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
	flags := []string{
		"config.file", "log.level", "log.format",
		"cluster", "brokers", "cluster-name", "isolation",
		"kafka.tls.enabled", "kafka.tls.ca-file", "kafka.tls.cert-file", "kafka.tls.key-file",
		"kafka.tls.server-name", "kafka.tls.insecure-skip-verify",
		"kafka.sasl.aws.region", "kafka.sasl.aws.profile",
		"kafka.sasl.oauth.token-url", "kafka.sasl.oauth.client-id", "kafka.sasl.oauth.client-secret-file",
		"kafka.sasl.oauth.scope", "kafka.sasl.oauth.param", "kafka.sasl.oauth.extension", "kafka.sasl.oauth.ca-file",
		"kafka.sasl.mechanism", "kafka.sasl.username", "kafka.sasl.password-file", "kafka.sasl.token-file",
		"poll-interval", "group-poll-interval", "shard", "total-shards", "granularity", "metric-opt-in-list", "metric-allowlist", "metric-denylist", "group.include", "group.exclude", "topic.include", "topic.exclude",
		"topic.include-internal",
		"time-lag.mode", "time-lag.fetch-budget", "rebalance.source",
		"warn-lag-seconds", "crit-lag-seconds", "warn-lag", "crit-lag", "stall-after", "growth-window", "threshold",
		"web.listen-address", "web.config.file", "web.telemetry-path", "web.disable-exporter-metrics", "web.enable-pprof",
		"otlp.endpoint", "otlp.header", "otlp.insecure-skip-verify", "otlp.interval", "otlp.traces",
	}
	for _, f := range flags {
		if !strings.Contains(out, "--"+f) {
			t.Errorf("serve --help lacks --%s", f)
		}
		env := "$KLAGX_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(f))
		if !strings.Contains(out, env) {
			t.Errorf("serve --help lacks %s", env)
		}
	}
	// And the model has no flag this list forgot, each with a stated default.
	for _, fl := range serveFlags(t) {
		if fl.Name == "help" {
			continue
		}
		if !slices.Contains(flags, fl.Name) {
			t.Errorf("flag --%s is missing from this test's list", fl.Name)
		}
		if !strings.Contains(fl.Help, "Default:") {
			t.Errorf("help of --%s does not state its default", fl.Name)
		}
	}
	for _, s := range []string{"KLAGX_SASL_PASSWORD", "command-line flags", "sasl-password-file"} {
		if !strings.Contains(out, s) {
			t.Errorf("serve --help lacks %q", s)
		}
	}
}

// serveFlags returns the flags of klagx serve, including the global ones.
func serveFlags(t *testing.T) []*kong.Flag {
	t.Helper()
	parser, err := kong.New(&cli{}, kong.DefaultEnvars(envPrefix))
	if err != nil {
		t.Fatal(err)
	}
	var flags []*kong.Flag
	flags = append(flags, parser.Model.Flags...)
	for _, n := range parser.Model.Children {
		if n.Name == "serve" {
			flags = append(flags, n.Flags...)
		}
	}
	return flags
}

// TestFileKeysMirrorFlags keeps config.FileKeys and the flags in step: each
// flag (but --config.file, --cluster and --threshold) has its YAML key and
// back.
func TestFileKeysMirrorFlags(t *testing.T) {
	keys := config.FileKeys()
	var fromFlags []string
	for _, fl := range serveFlags(t) {
		switch fl.Name {
		case "help", "config.file", "cluster", "threshold":
			continue
		}
		fromFlags = append(fromFlags, strings.ReplaceAll(fl.Name, "-", "_"))
	}
	slices.Sort(fromFlags)
	if !slices.Equal(keys, fromFlags) {
		t.Errorf("config.FileKeys() = %v\nflags give          %v", keys, fromFlags)
	}
}

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := newLogger(logFlags{Level: "warn", Format: "logfmt"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	if s := buf.String(); strings.Contains(s, "hidden") || !strings.Contains(s, "level=WARN msg=shown k=v") {
		t.Errorf("text log = %q", s)
	}
	buf.Reset()
	l, _ = newLogger(logFlags{Level: "debug", Format: "json"}, &buf)
	l.Debug("d")
	if !strings.Contains(buf.String(), `"level":"DEBUG"`) {
		t.Errorf("json log = %q", buf.String())
	}
	if _, err := newLogger(logFlags{Level: "loud", Format: "text"}, &buf); err == nil || !strings.Contains(err.Error(), "--log.level") {
		t.Errorf("err = %v", err)
	}
	if _, err := newLogger(logFlags{Level: "info", Format: "xml"}, &buf); err == nil || !strings.Contains(err.Error(), "--log.format") {
		t.Errorf("err = %v", err)
	}
	code, _, stderr := runCLI(t, "version", "--log.format=xml")
	if code != exitUsage || !strings.HasPrefix(stderr, "klagx: error: --log.format") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

func TestVersionAndUsage(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "klagx version dev (revision ") || !strings.Contains(out, "go1.") {
		t.Errorf("code %d, out %q", code, out)
	}
	code, _, stderr := runCLI(t)
	if code != exitUsage || !strings.HasPrefix(stderr, "klagx: error: ") {
		t.Errorf("no command: code %d, stderr %q", code, stderr)
	}
	code, _, stderr = runCLI(t, "serve", "--no-such-flag")
	if code != exitUsage || !strings.Contains(stderr, "unknown flag --no-such-flag") {
		t.Errorf("unknown flag: code %d, stderr %q", code, stderr)
	}
	code, out, _ = runCLI(t, "--help")
	if code != exitOK || !strings.Contains(out, "serve") || !strings.Contains(out, "version") {
		t.Errorf("--help: code %d, out %q", code, out)
	}
}

func TestParseThresholdSpec(t *testing.T) {
	o, err := parseThresholdSpec("group=batch-.*,warn-lag-seconds=30s,crit-lag-seconds=2m,warn-lag=1000,crit-lag=5000,stall-after=1m,growth-window=10m")
	if err != nil {
		t.Fatal(err)
	}
	if o.Source != "batch-.*" || o.Group != nil || *o.WarnLagSeconds != 30*time.Second || *o.CritLagSeconds != 2*time.Minute ||
		*o.WarnLag != 1000 || *o.CritLag != 5000 || *o.StallAfter != time.Minute || *o.GrowthWindow != 10*time.Minute {
		t.Errorf("got %+v", o)
	}
	// Unset keys stay nil (inherit); a comma continues the regex.
	o, err = parseThresholdSpec("crit-lag=0,group=x{1,3}")
	if err != nil {
		t.Fatal(err)
	}
	if o.Source != "x{1,3}" || *o.CritLag != 0 || o.WarnLag != nil || o.WarnLagSeconds != nil || o.StallAfter != nil {
		t.Errorf("got %+v", o)
	}

	bad := []struct{ spec, want string }{
		{"group=a,colour=blue", `unknown key "colour" (valid keys: group, warn-lag-seconds, crit-lag-seconds, warn-lag, crit-lag, stall-after, growth-window)`},
		{"warn-lag=5", `key "group" is required`},
		{"orders,group=a", "want comma-separated key=value pairs starting with a key, e.g. group=orders-.*,warn-lag-seconds=30s"},
		{"group=a,group=b", `key "group" given twice`},
		{"group=a,warn-lag-seconds=soon", `warn-lag-seconds: "soon" is not seconds ("60") or a duration with a unit such as "90s" or "5m"`},
		{"group=a,warn-lag-seconds=-30", `warn-lag-seconds: "-30": negative durations are not allowed`},
		{"group=a,stall-after=30", `stall-after: "30" is not a duration with a unit such as "90s" or "5m"`},
		{"group=a,crit-lag=lots", `crit-lag: "lots" is not a whole number of messages`},
	}
	for _, tt := range bad {
		_, err := parseThresholdSpec(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseThresholdSpec(%q) = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

func TestThresholdAndTimeLagFlags(t *testing.T) {
	// Defaults.
	cfg, err := serveConfig(t, "--brokers=a:9092")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Thresholds.Default != config.DefaultGroupThresholds() || len(cfg.Thresholds.Overrides) != 0 {
		t.Errorf("thresholds = %+v", cfg.Thresholds)
	}
	if cfg.TimeLag != (config.TimeLag{Mode: config.TimeLagInterpolate, FetchBudget: 1000}) {
		t.Errorf("time lag = %+v", cfg.TimeLag)
	}

	// Every flag, and 0 disabling the time-lag rules.
	cfg, err = serveConfig(t, "--brokers=a:9092",
		"--warn-lag-seconds=0", "--crit-lag-seconds=0s", "--warn-lag=100", "--crit-lag=1000", "--stall-after=1m", "--growth-window=20m",
		"--time-lag=exact", "--time-lag.fetch-budget=50",
		"--threshold=group=batch-.*,crit-lag-seconds=1h", "--threshold", "group=orders,stall-after=30s")
	if err != nil {
		t.Fatal(err)
	}
	want := config.GroupThresholds{WarnLag: 100, CritLag: 1000, StallAfter: time.Minute, GrowthWindow: 20 * time.Minute}
	if cfg.Thresholds.Default != want {
		t.Errorf("default = %+v\nwant %+v", cfg.Thresholds.Default, want)
	}
	if cfg.TimeLag != (config.TimeLag{Mode: config.TimeLagExact, FetchBudget: 50}) {
		t.Errorf("time lag = %+v", cfg.TimeLag)
	}
	if got := cfg.Thresholds.For("batch-1"); got.CritLagSeconds != time.Hour || got.WarnLag != 100 {
		t.Errorf("For(batch-1) = %+v", got)
	}
	if got := cfg.Thresholds.For("orders"); got.StallAfter != 30*time.Second || got.CritLagSeconds != 0 {
		t.Errorf("For(orders) = %+v", got)
	}
	cfg, err = serveConfig(t, "--brokers=a:9092", "--time-lag.mode=exact")
	if err != nil || cfg.TimeLag.Mode != config.TimeLagExact {
		t.Errorf("--time-lag.mode: %v", err)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--time-lag=fast"}, `time_lag.mode: "fast" is not one of interpolate, exact`},
		{[]string{"--time-lag.fetch-budget=0"}, "time_lag.fetch_budget: 0 is below the minimum of 1"},
		{[]string{"--time-lag.fetch-budget=-5"}, "time_lag.fetch_budget: -5 is below the minimum of 1"},
		{[]string{"--warn-lag-seconds=11m"}, "warn_lag_seconds (11m0s) is above crit_lag_seconds (10m0s)"},
		{[]string{"--warn-lag=10", "--crit-lag=5"}, "warn_lag (10) is above crit_lag (5)"},
		{[]string{"--crit-lag=-1"}, "crit_lag: -1 is negative (0 disables the rule)"},
		{[]string{"--stall-after=0"}, "stall_after: 0s is below poll_interval (15s); it must be at least one poll interval"},
		{[]string{"--growth-window=0s"}, "growth_window: 0s is below poll_interval (15s)"},
		{[]string{"--poll-interval=1m", "--stall-after=30s"}, "stall_after: 30s is below poll_interval (1m0s)"},
		{[]string{"--threshold=group=a", "--threshold=group=b,warn-lag=x"}, `--threshold[1]: warn-lag: "x" is not a whole number of messages`},
		{[]string{"--threshold=group=a", "--threshold=group=b", "--threshold=group=c("}, `thresholds[2].group: invalid regex "c(": missing closing )`},
		{[]string{"--threshold=group=a,warn-lag-seconds=1h"}, "thresholds[0].warn_lag_seconds (1h0m0s) is above crit_lag_seconds (10m0s, inherited)"},
		{[]string{"--threshold=group=a,colour=red"}, `--threshold[0]: unknown key "colour" (valid keys: group,`},
	}
	for _, tt := range tests {
		_, err := serveConfig(t, append([]string{"--brokers=a:9092"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestThresholdPrecedence(t *testing.T) {
	path := writeYAML(t, `
warn_lag_seconds: 3m
crit_lag: 500
time_lag: {mode: exact, fetch_budget: 7}
thresholds:
  - group: "file-.*"
    warn_lag_seconds: 1m
  - group: "x{1,3}"
    crit_lag: 9
`)
	t.Setenv("KLAGX_CONFIG_FILE", path)
	base := []string{"--brokers=a:9092"}

	// file > default
	cfg, err := serveConfig(t, base...)
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Thresholds.Default
	if d.WarnLagSeconds != 3*time.Minute || d.CritLag != 500 || d.CritLagSeconds != 10*time.Minute || d.StallAfter != 3*time.Minute {
		t.Errorf("file layer not applied: %+v", d)
	}
	if cfg.TimeLag != (config.TimeLag{Mode: config.TimeLagExact, FetchBudget: 7}) {
		t.Errorf("time lag from file = %+v", cfg.TimeLag)
	}
	if len(cfg.Thresholds.Overrides) != 2 || cfg.Thresholds.For("file-a").WarnLagSeconds != time.Minute || cfg.Thresholds.For("xxx").CritLag != 9 {
		t.Errorf("file thresholds = %+v", cfg.Thresholds.Overrides)
	}

	// env > file; KLAGX_THRESHOLD replaces the file's list.
	t.Setenv("KLAGX_WARN_LAG_SECONDS", "4m")
	t.Setenv("KLAGX_TIME_LAG_MODE", "interpolate")
	t.Setenv("KLAGX_THRESHOLD", "group=env-.*,crit-lag=1;group=env2,crit-lag=2")
	cfg, err = serveConfig(t, base...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Thresholds.Default.WarnLagSeconds != 4*time.Minute || cfg.Thresholds.Default.CritLag != 500 {
		t.Errorf("env does not override file: %+v", cfg.Thresholds.Default)
	}
	if cfg.TimeLag != (config.TimeLag{Mode: config.TimeLagInterpolate, FetchBudget: 7}) {
		t.Errorf("time lag env > file = %+v", cfg.TimeLag)
	}
	if o := cfg.Thresholds.Overrides; len(o) != 2 || o[0].Source != "env-.*" || o[1].Source != "env2" {
		t.Errorf("KLAGX_THRESHOLD does not replace the file's list: %+v", o)
	}

	// flag > env > file; --threshold replaces both.
	cfg, err = serveConfig(t, append(base, "--warn-lag-seconds=5m", "--time-lag=exact", "--threshold=group=flag")...)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Thresholds.Default.WarnLagSeconds != 5*time.Minute || cfg.TimeLag.Mode != config.TimeLagExact {
		t.Errorf("flag does not override env and file: %+v %+v", cfg.Thresholds.Default, cfg.TimeLag)
	}
	if o := cfg.Thresholds.Overrides; len(o) != 1 || o[0].Source != "flag" || cfg.Thresholds.For("file-a") != cfg.Thresholds.Default {
		t.Errorf("--threshold does not replace the other lists: %+v", o)
	}

	// A file stall_after below the file's poll interval.
	os.Unsetenv("KLAGX_THRESHOLD")
	bad := writeYAML(t, "poll_interval: 1m\nstall_after: 30s\n")
	code, _, stderr := runCLI(t, "serve", "--brokers=a:9092", "--config.file", bad)
	if code != exitUsage || !strings.Contains(stderr, "stall_after: 30s is below poll_interval (1m0s)") {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
	bad = writeYAML(t, "thresholds:\n  - group: a\n    crit_lag: 5\n    stall_after: 1m\n    warn_lag_seconds: 1m\n    typo: 1\n")
	code, _, stderr = runCLI(t, "serve", "--brokers=a:9092", "--config.file", bad)
	if code != exitUsage || !strings.Contains(stderr, `:6: unknown key "thresholds[0].typo"`) {
		t.Errorf("code %d, stderr %q", code, stderr)
	}
}

// TestMetricFamilyFlags: the selection flags, their variables and keys
// reach the configuration, flags over environment over file.
func TestMetricFamilyFlags(t *testing.T) {
	cfg, err := serveConfig(t, "--brokers=a:9092", "--metric-opt-in-list=klagx_group_state,klagx_group_commit_.*", "--metric-denylist=klagx_partition_.*")
	if err != nil {
		t.Fatal(err)
	}
	want := config.MetricFamilies{OptIn: []string{"klagx_group_state", "klagx_group_commit_.*"}, Deny: []string{"klagx_partition_.*"}}
	if !reflect.DeepEqual(cfg.Metrics, want) {
		t.Errorf("Metrics = %+v, want %+v", cfg.Metrics, want)
	}

	t.Setenv("KLAGX_CONFIG_FILE", writeYAML(t, "metric_opt_in_list: [from-file]\nmetric_allowlist: [klagx_up]\n"))
	t.Setenv("KLAGX_METRIC_OPT_IN_LIST", "from-env")
	cfg, err = serveConfig(t, "--brokers=a:9092")
	if err != nil {
		t.Fatal(err)
	}
	want = config.MetricFamilies{OptIn: []string{"from-env"}, Allow: []string{"klagx_up"}}
	if !reflect.DeepEqual(cfg.Metrics, want) {
		t.Errorf("Metrics = %+v, want %+v", cfg.Metrics, want)
	}
}

// TestBareSeconds: the flags named "seconds" take a number of seconds, as
// a user types them, as well as a duration: on the command line, in their
// environment variables and in --threshold. Other durations still need a
// unit (a bare number would be nanoseconds in Go).
func TestBareSeconds(t *testing.T) {
	cfg, err := serveConfig(t, "--brokers=a:9092", "--warn-lag-seconds", "60", "--crit-lag-seconds=600.5",
		"--threshold=group=batch-.*,warn-lag-seconds=90,crit-lag-seconds=5m")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Thresholds.Default
	if d.WarnLagSeconds != time.Minute || d.CritLagSeconds != 600500*time.Millisecond {
		t.Errorf("defaults: warn %s crit %s, want 1m0s and 10m0.5s", d.WarnLagSeconds, d.CritLagSeconds)
	}
	o := cfg.Thresholds.Overrides[0]
	if o.WarnLagSeconds == nil || *o.WarnLagSeconds != 90*time.Second || o.CritLagSeconds == nil || *o.CritLagSeconds != 5*time.Minute {
		t.Errorf("override: %+v", o)
	}
	t.Setenv("KLAGX_WARN_LAG_SECONDS", "45")
	t.Setenv("KLAGX_CRIT_LAG_SECONDS", "3m")
	cfg, err = serveConfig(t, "--brokers=a:9092")
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Thresholds.Default; d.WarnLagSeconds != 45*time.Second || d.CritLagSeconds != 3*time.Minute {
		t.Errorf("from the environment: warn %s crit %s, want 45s and 3m0s", d.WarnLagSeconds, d.CritLagSeconds)
	}
	if _, err := serveConfig(t, "--brokers=a:9092", "--stall-after=60"); err == nil || !strings.Contains(err.Error(), `"60" is not a duration with a unit`) {
		t.Errorf("--stall-after=60: %v, want a missing unit error", err)
	}
}

// TestFlagDefaultsAreConfigDefaults keeps the defaults the flags carry (in
// their tags and help) in step with config.Default and
// config.DefaultCluster, the one source of each default.
func TestFlagDefaultsAreConfigDefaults(t *testing.T) {
	cfg, err := serveConfig(t, "--brokers=a:9092")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.Clusters = []config.Cluster{config.DefaultCluster("default", "a:9092")}
	want.Groups, want.Topics = cfg.Groups, cfg.Topics // filters: compiled regexes, all-pass by default
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("flag defaults\n%+v\nconfig defaults\n%+v", cfg, want)
	}
}

// TestBareSecondsInConfigFile: warn_lag_seconds and crit_lag_seconds, at
// the top of the config file and in its thresholds: entries, take a bare
// number as seconds too; stall_after (no "seconds" in its name) does not.
func TestBareSecondsInConfigFile(t *testing.T) {
	path := writeYAML(t, "brokers: [a:9092]\nwarn_lag_seconds: 60\ncrit_lag_seconds: \"900\"\nthresholds:\n  - group: batch-.*\n    warn_lag_seconds: 1.5\n    crit_lag_seconds: 5m\n")
	cfg, err := serveConfig(t, "--config.file", path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Thresholds.Default; d.WarnLagSeconds != time.Minute || d.CritLagSeconds != 15*time.Minute {
		t.Errorf("file defaults: warn %s crit %s, want 1m0s and 15m0s", d.WarnLagSeconds, d.CritLagSeconds)
	}
	o := cfg.Thresholds.Overrides[0]
	if o.WarnLagSeconds == nil || *o.WarnLagSeconds != 1500*time.Millisecond || o.CritLagSeconds == nil || *o.CritLagSeconds != 5*time.Minute {
		t.Errorf("file override: %+v", o)
	}
	bad := writeYAML(t, "brokers: [a:9092]\nstall_after: 60\n")
	if _, err := serveConfig(t, "--config.file", bad); err == nil || !strings.Contains(err.Error(), "60 is not a duration") {
		t.Errorf("stall_after: 60: %v, want a missing unit error", err)
	}
}
