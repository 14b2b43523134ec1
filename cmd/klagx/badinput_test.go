package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// badInput is one bad flag, environment variable or config-file value: the
// command line, the environment and the config file (passed as
// --config.file={file} when not empty), and what must come out: the exit
// code and the pieces of the message that name the field and what is wrong.
type badInput struct {
	name    string
	args    []string          // the command and its arguments; see expandBadInput for {placeholders}
	env     map[string]string // set for the row only
	file    string            // config file content, written to {file}
	code    int
	want    []string // each must be on stderr
	notWant []string // none may be on stderr (secrets)
}

// serveArgs is a serve command line that would start (a broker nobody
// listens on, a free port) were it not for the row's bad value.
func serveArgs(extra ...string) []string {
	return append([]string{"serve", "--brokers=127.0.0.1:1", "--web.listen-address=127.0.0.1:0", "--log.level=error"}, extra...)
}

// serveCluster is serveArgs for --cluster values (no --brokers needed).
func serveCluster(specs ...string) []string {
	args := []string{"serve", "--web.listen-address=127.0.0.1:0", "--log.level=error"}
	for _, s := range specs {
		args = append(args, "--cluster="+s)
	}
	return args
}

func checkArgs(extra ...string) []string {
	return append([]string{"check", "--brokers=127.0.0.1:1", "--log.level=error", "--timeout=1s", "--window=0"}, extra...)
}

// expandBadInput replaces, in args and env values: {file} (the row's config
// file), {dir} (a directory), {missing} (a path that does not exist),
// {empty} (an empty file), {blank} (a file holding only a line break) and
// {nopem} (a file that is not PEM).
func expandBadInput(t *testing.T, row badInput) ([]string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r := strings.NewReplacer(
		"{file}", write("klagx.yaml", row.file),
		"{dir}", dir,
		"{missing}", filepath.Join(dir, "does-not-exist"),
		"{empty}", write("empty", ""),
		"{blank}", write("blank", "\n\r\n"),
		"{nopem}", write("nopem", "this is not a certificate\n"),
	)
	args := make([]string, 0, len(row.args)+1)
	for _, a := range row.args {
		args = append(args, r.Replace(a))
	}
	if row.file != "" {
		args = append(args, "--config.file="+r.Replace("{file}"))
	}
	env := map[string]string{}
	for k, v := range row.env {
		env[k] = r.Replace(v)
	}
	return args, env
}

func runBadInputs(t *testing.T, rows []badInput) {
	t.Helper()
	// Variables a developer's shell might set would change the rows.
	for _, v := range []string{"KLAGX_CONFIG_FILE", "KLAGX_KAFKA_SASL_PASSWORD", "KLAGX_SASL_PASSWORD", "KLAGX_CLUSTER", "KLAGX_BROKERS",
		"KLAGX_THRESHOLD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"KLAGX_SASL_OAUTH_CLIENT_SECRET"} {
		if _, ok := os.LookupEnv(v); ok {
			t.Setenv(v, "")
			os.Unsetenv(v)
		}
	}
	seen := map[string]bool{}
	for _, row := range rows {
		if seen[row.name] {
			t.Fatalf("two rows named %q", row.name)
		}
		seen[row.name] = true
		t.Run(row.name, func(t *testing.T) {
			args, env := expandBadInput(t, row)
			for k, v := range env {
				t.Setenv(k, v)
			}
			var out, errb bytes.Buffer
			// A row whose value is wrongly accepted starts the command:
			// the deadline stops it (exit 0, reported below).
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code := run(ctx, args, &out, &errb)
			stderr := errb.String()
			if code != row.code {
				t.Errorf("exit %d, want %d\nargs: %q\nstderr: %s", code, row.code, args, stderr)
			}
			if !strings.HasPrefix(stderr, "klagx: error: ") {
				t.Errorf("stderr does not start with the error:\n%s", stderr)
			}
			for _, w := range row.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			for _, nw := range row.notWant {
				if strings.Contains(stderr+out.String(), nw) {
					t.Errorf("output contains %q:\n%s", nw, stderr)
				}
			}
		})
	}
}

// TestBadInputServe: every serve flag, its environment variable and its
// config-file key, given a bad value, is a usage error (exit 2) at start,
// with a message naming the field and what is wrong.
func TestBadInputServe(t *testing.T) {
	const u = exitUsage
	rows := []badInput{
		// Global flags.
		{name: "log.level", args: serveArgs("--log.level=loud"), code: u, want: []string{`--log.level: "loud" is not one of debug, info, warn, error`}},
		{name: "log.format", args: serveArgs("--log.format=xml"), code: u, want: []string{`--log.format: "xml" is not one of text, logfmt, json`}},
		{name: "KLAGX_LOG_LEVEL", args: []string{"serve", "--brokers=127.0.0.1:1"}, env: map[string]string{"KLAGX_LOG_LEVEL": "chatty"}, code: u, want: []string{`--log.level: "chatty"`}},
		{name: "config.file missing", args: serveArgs("--config.file={missing}"), code: u, want: []string{"config file: open ", "does-not-exist: no such file or directory"}},
		{name: "config.file is a directory", args: serveArgs("--config.file={dir}"), code: u, want: []string{"config file: read ", "is a directory"}},
		{name: "KLAGX_CONFIG_FILE missing", args: serveArgs(), env: map[string]string{"KLAGX_CONFIG_FILE": "{missing}"}, code: u, want: []string{"config file: open ", "does-not-exist"}},

		// Durations, counts and enums.
		{name: "poll-interval type", args: serveArgs("--poll-interval=15x"), code: u, want: []string{`--poll-interval: "15x" is not a duration with a unit such as "90s" or "5m"`}},
		{name: "poll-interval negative", args: serveArgs("--poll-interval=-5s"), code: u, want: []string{`--poll-interval: "-5s": negative durations are not allowed`}},
		{name: "poll-interval negative after a space", args: serveArgs("--poll-interval", "-5s"), code: u, want: []string{`--poll-interval: "-5s": negative durations are not allowed`}},
		{name: "poll-interval below minimum", args: serveArgs("--poll-interval=500ms"), code: u, want: []string{"--poll-interval: 500ms is below the minimum of 1s"}},
		{name: "KLAGX_POLL_INTERVAL", args: serveArgs(), env: map[string]string{"KLAGX_POLL_INTERVAL": "soon"}, code: u, want: []string{`KLAGX_POLL_INTERVAL: "soon" is not a duration with a unit such as "90s" or "5m" (the variable of --poll-interval)`}},
		{name: "group-poll-interval zero", args: serveArgs("--group-poll-interval=0"), code: u, want: []string{"--group-poll-interval: 0s is below the minimum of 100ms"}},
		{name: "group-poll-interval below minimum", args: serveArgs("--group-poll-interval=50ms"), code: u, want: []string{"--group-poll-interval: 50ms is below the minimum of 100ms"}},
		{name: "group-poll-interval above poll-interval", args: serveArgs("--group-poll-interval=20s"), code: u, want: []string{"--group-poll-interval: 20s is above --poll-interval (15s)"}},
		{name: "shard type", args: serveArgs("--shard=x"), code: u, want: []string{`--shard: expected a valid 64 bit int but got "x"`}},
		{name: "shard negative", args: serveArgs("--shard=-1"), code: u, want: []string{"--shard: -1 is not in [0, --total-shards) = [0, 1)"}},
		{name: "shard not below total-shards", args: serveArgs("--shard=2", "--total-shards=2"), code: u, want: []string{"--shard: 2 is not in [0, --total-shards) = [0, 2)"}},
		{name: "KLAGX_SHARD", args: serveArgs(), env: map[string]string{"KLAGX_SHARD": "first"}, code: u, want: []string{`KLAGX_SHARD: expected a valid 64 bit int but got "first" (the variable of --shard)`}},
		{name: "total-shards zero", args: serveArgs("--total-shards=0"), code: u, want: []string{"--total-shards: 0 must be at least 1"}},
		{name: "total-shards negative", args: serveArgs("--total-shards=-3"), code: u, want: []string{"--total-shards: -3 must be at least 1"}},
		{name: "granularity", args: serveArgs("--granularity=parition"), code: u, want: []string{`granularity: "parition" is not one of partition, topic, group`}},
		{name: "KLAGX_GRANULARITY", args: serveArgs(), env: map[string]string{"KLAGX_GRANULARITY": "cluster"}, code: u, want: []string{`KLAGX_GRANULARITY: "cluster" is not one of`}},
		{name: "metric-opt-in-list", args: serveArgs("--metric-opt-in-list=klagx_group_(commit"), code: u, want: []string{`--metric-opt-in-list: "klagx_group_(commit" is not a valid regular expression`}},
		{name: "metric-allowlist and metric-denylist", args: serveArgs("--metric-allowlist=klagx_up", "--metric-denylist=klagx_group_.*"), code: u, want: []string{"--metric-allowlist: cannot be used together with --metric-denylist; set one of them"}},
		{name: "KLAGX_METRIC_DENYLIST", args: serveArgs(), env: map[string]string{"KLAGX_METRIC_DENYLIST": "+x"}, code: u, want: []string{`KLAGX_METRIC_DENYLIST: "+x" is not a valid regular expression`}},
		{name: "metric_allowlist in the file", args: serveArgs(), file: "metric_allowlist: [\"klagx_[\"]\n", code: u, want: []string{`klagx.yaml: metric_allowlist: "klagx_[" is not a valid regular expression`}},
		{name: "topic.include-internal type", args: serveArgs("--topic.include-internal=maybe"), code: u, want: []string{`--topic.include-internal: bool value must be`, `"maybe"`}},
		{name: "KLAGX_TOPIC_INCLUDE_INTERNAL", args: serveArgs(), env: map[string]string{"KLAGX_TOPIC_INCLUDE_INTERNAL": "perhaps"}, code: u, want: []string{"--topic.include-internal", "KLAGX_TOPIC_INCLUDE_INTERNAL"}},
		{name: "time-lag.mode", args: serveArgs("--time-lag.mode=fast"), code: u, want: []string{`--time-lag.mode: "fast" is not one of interpolate, exact`}},
		{name: "time-lag alias", args: serveArgs("--time-lag=fast"), code: u, want: []string{`--time-lag.mode: "fast" is not one of interpolate, exact`}},
		{name: "time-lag.fetch-budget zero", args: serveArgs("--time-lag.fetch-budget=0"), code: u, want: []string{"--time-lag.fetch-budget: 0 is below the minimum of 1"}},
		{name: "time-lag.fetch-budget negative", args: serveArgs("--time-lag.fetch-budget=-5"), code: u, want: []string{"--time-lag.fetch-budget: -5 is below the minimum of 1"}},
		{name: "rebalance.source", args: serveArgs("--rebalance.source=kafka"), code: u, want: []string{`--rebalance.source: "kafka" is not one of admin, consumer-offsets`}},
		{name: "KLAGX_REBALANCE_SOURCE", args: serveArgs(), env: map[string]string{"KLAGX_REBALANCE_SOURCE": "offsets"}, code: u, want: []string{`KLAGX_REBALANCE_SOURCE: "offsets" is not one of admin, consumer-offsets`}},
		{name: "time-lag.fetch-budget type", args: serveArgs("--time-lag.fetch-budget=lots"), code: u, want: []string{`--time-lag.fetch-budget: expected a valid 64 bit int but got "lots"`}},

		// Thresholds.
		{name: "warn-lag-seconds negative", args: serveArgs("--warn-lag-seconds=-1m"), code: u, want: []string{`--warn-lag-seconds: "-1m": negative durations are not allowed`}},
		{name: "warn-lag-seconds negative seconds", args: serveArgs("--warn-lag-seconds", "-60"), code: u, want: []string{`--warn-lag-seconds: "-60": negative durations are not allowed`}},
		{name: "crit-lag-seconds type", args: serveArgs("--crit-lag-seconds=ten"), code: u, want: []string{`--crit-lag-seconds: "ten" is not seconds ("60") or a duration with a unit such as "90s" or "5m"`}},
		{name: "stall-after without unit", args: serveArgs("--stall-after=10"), code: u, want: []string{`--stall-after: "10" is not a duration with a unit such as "90s" or "5m"`}},
		{name: "warn-lag-seconds above crit-lag-seconds", args: serveArgs("--warn-lag-seconds=11m"), code: u, want: []string{"warn_lag_seconds (11m0s) is above crit_lag_seconds (10m0s)"}},
		{name: "warn-lag negative", args: serveArgs("--warn-lag=-5"), code: u, want: []string{"--warn-lag: -5 is negative (0 disables the rule)"}},
		{name: "crit-lag type", args: serveArgs("--crit-lag=lots"), code: u, want: []string{`--crit-lag: expected a valid 64 bit int but got "lots"`}},
		{name: "KLAGX_WARN_LAG fraction", args: serveArgs(), env: map[string]string{"KLAGX_WARN_LAG": "1.5"}, code: u, want: []string{`KLAGX_WARN_LAG: expected a valid 64 bit int but got "1.5"`, "KLAGX_WARN_LAG"}},
		{name: "warn-lag above crit-lag", args: serveArgs("--warn-lag=10", "--crit-lag=5"), code: u, want: []string{"warn_lag (10) is above crit_lag (5)"}},
		{name: "stall-after zero", args: serveArgs("--stall-after=0s"), code: u, want: []string{"--stall-after: 0s is below --poll-interval (15s); it must be at least one poll interval"}},
		{name: "stall-after below poll-interval", args: serveArgs("--poll-interval=1m", "--stall-after=30s"), code: u, want: []string{"--stall-after: 30s is below --poll-interval (1m0s)"}},
		{name: "growth-window zero", args: serveArgs("--growth-window=0"), code: u, want: []string{"--growth-window: 0s is below --poll-interval (15s)"}},
		{name: "growth-window type", args: serveArgs("--growth-window=forever"), code: u, want: []string{`--growth-window: "forever" is not a duration with a unit`}},
		{name: "threshold without group", args: serveArgs("--threshold=warn-lag=5"), code: u, want: []string{`--threshold[0]: key "group" is required`}},
		{name: "threshold not key=value", args: serveArgs("--threshold=orders"), code: u, want: []string{"--threshold[0]: want comma-separated key=value pairs starting with a key"}},
		{name: "threshold unknown key", args: serveArgs("--threshold=group=a", "--threshold=group=b,colour=red"), code: u, want: []string{`--threshold[1]: unknown key "colour" (valid keys: group,`}},
		{name: "threshold key twice", args: serveArgs("--threshold=group=a,warn-lag=1,warn-lag=2"), code: u, want: []string{`--threshold[0]: key "warn-lag" given twice`}},
		{name: "threshold bad duration", args: serveArgs("--threshold=group=a,stall-after=30"), code: u, want: []string{`--threshold[0]: stall-after: "30" is not a duration`}},
		{name: "threshold bad count", args: serveArgs("--threshold=group=a,crit-lag=1e6"), code: u, want: []string{`--threshold[0]: crit-lag: "1e6" is not a whole number of messages`}},
		{name: "threshold bad regex", args: serveArgs("--threshold=group=orders-("), code: u, want: []string{`--threshold[0]: group: invalid regex "orders-(": missing closing )`}},
		{name: "threshold negative", args: serveArgs("--threshold=group=a,warn-lag=-1"), code: u, want: []string{"--threshold[0]: warn-lag: -1 is negative"}},
		{name: "threshold stall-after below poll-interval", args: serveArgs("--threshold=group=a,stall-after=5s"), code: u, want: []string{"--threshold[0]: stall-after: 5s is below --poll-interval (15s)"}},
		{name: "threshold warn above inherited crit", args: serveArgs("--threshold=group=a,warn-lag-seconds=1h"), code: u, want: []string{"thresholds[0].warn_lag_seconds (1h0m0s) is above crit_lag_seconds (10m0s, inherited)"}},
		{name: "KLAGX_THRESHOLD", args: serveArgs(), env: map[string]string{"KLAGX_THRESHOLD": "group=a;group=b,warn-lag=x"}, code: u, want: []string{`--threshold[1]: warn-lag: "x" is not a whole number of messages`}},

		// Regex lists.
		{name: "group.include", args: serveArgs("--group.include=a("), code: u, want: []string{`--group.include: invalid regex "a(": missing closing )`}},
		{name: "group.exclude", args: serveArgs("--group.exclude=*"), code: u, want: []string{`group.exclude: invalid regex "*": missing argument to repetition operator`}},
		{name: "topic.include", args: serveArgs("--topic.include=[z-a]"), code: u, want: []string{`topic.include: invalid regex "[z-a]": invalid character class range`}},
		{name: "topic.exclude", args: serveArgs("--topic.exclude=x{2,1}"), code: u, want: []string{`topic.exclude: invalid regex "x{2,1}": invalid repeat count`}},
		{name: "KLAGX_GROUP_INCLUDE", args: serveArgs(), env: map[string]string{"KLAGX_GROUP_INCLUDE": `\p{Nope}`}, code: u, want: []string{`KLAGX_GROUP_INCLUDE: invalid regex "\\p{Nope}": invalid character class range`}},

		// The --brokers cluster.
		{name: "brokers without port", args: []string{"serve", "--brokers=kafka-1", "--web.listen-address=127.0.0.1:0"}, code: u, want: []string{`--brokers: "kafka-1" has no port (want host:port)`}},
		{name: "brokers port out of range", args: []string{"serve", "--brokers=k:99999", "--web.listen-address=127.0.0.1:0"}, code: u, want: []string{`--brokers: "k:99999" has an invalid port "99999" (want 1-65535)`}},
		{name: "brokers without host", args: []string{"serve", "--brokers=:9092", "--web.listen-address=127.0.0.1:0"}, code: u, want: []string{`--brokers: ":9092" has no host (want host:port)`}},
		{name: "KLAGX_BROKERS", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, env: map[string]string{"KLAGX_BROKERS": "a:1,b"}, code: u, want: []string{`KLAGX_BROKERS: "b" has no port`}},
		{name: "cluster-name", args: serveArgs("--cluster-name=prod cluster"), code: u, want: []string{`--cluster-name: "prod cluster" has characters outside [a-zA-Z0-9_.-]`}},
		{name: "cluster-name empty", args: serveArgs("--cluster-name="), code: u, want: []string{"--cluster-name: required"}},
		{name: "isolation", args: serveArgs("--isolation=dirty"), code: u, want: []string{`--isolation: "dirty" is not one of read_uncommitted, read_committed`}},
		{name: "kafka.tls.ca-file without tls", args: serveArgs("--kafka.tls.ca-file=/ca.pem"), code: u, want: []string{"--kafka.tls.ca-file: set but tls.enabled is false"}},
		{name: "kafka.tls.server-name without tls", args: serveArgs("--kafka.tls.server-name=k"), code: u, want: []string{"--kafka.tls.server-name: set but tls.enabled is false"}},
		{name: "kafka.tls.insecure-skip-verify without tls", args: serveArgs("--kafka.tls.insecure-skip-verify"), code: u, want: []string{"--kafka.tls.insecure-skip-verify: set but tls.enabled is false"}},
		{name: "kafka.tls.cert-file without key-file", args: serveArgs("--kafka.tls.enabled", "--kafka.tls.cert-file=/c.pem"), code: u, want: []string{"clusters[0].tls: cert_file and key_file must be set together"}},
		{name: "kafka.tls.enabled type", args: serveArgs(), env: map[string]string{"KLAGX_KAFKA_TLS_ENABLED": "on"}, code: u, want: []string{"--kafka.tls.enabled", "KLAGX_KAFKA_TLS_ENABLED"}},
		{name: "kafka.sasl.mechanism", args: serveArgs("--kafka.sasl.mechanism=gssapi"), code: u, want: []string{`--kafka.sasl.mechanism: "gssapi" is not one of plain, scram-sha-256, scram-sha-512, oauthbearer, aws-msk-iam`}},
		{name: "kafka.sasl.mechanism without username", args: serveArgs("--kafka.sasl.mechanism=scram-sha-512"), code: u, want: []string{"--kafka.sasl.username: required for mechanism scram-sha-512"}},
		{name: "kafka.sasl.username without mechanism", args: serveArgs("--kafka.sasl.username=u"), code: u, want: []string{"--kafka.sasl.mechanism: required when other sasl fields are set"}},
		{name: "kafka.sasl.token-file with plain", args: serveArgs("--kafka.sasl.mechanism=plain", "--kafka.sasl.username=u", "--kafka.sasl.token-file=/t"), code: u, want: []string{"--kafka.sasl.token-file: only used by mechanism oauthbearer"}},
		{name: "kafka.sasl.password-file with oauthbearer", args: serveArgs("--kafka.sasl.mechanism=oauthbearer", "--kafka.sasl.token-file=/t", "--kafka.sasl.password-file=/p"), code: u, want: []string{"clusters[0].sasl: password_file/password_env are not used by mechanism oauthbearer"}},
		{name: "kafka.sasl.mechanism oauthbearer without token-file", args: serveArgs("--kafka.sasl.mechanism=oauthbearer"), code: u, want: []string{"--kafka.sasl.token-file: required for mechanism oauthbearer"}},
		{name: "kafka.sasl aws-msk-iam with username", args: serveArgs("--kafka.sasl.mechanism=aws-msk-iam", "--kafka.sasl.username=u"), code: u, want: []string{"clusters[0].sasl: mechanism aws-msk-iam takes its credentials from the AWS credential chain"}},
		{name: "kafka.sasl.password flag does not exist", args: serveArgs("--kafka.sasl.password=hunter2"), code: u, want: []string{"unknown flag --kafka.sasl.password"}, notWant: []string{"hunter2"}},

		// Files and secrets, read at start.
		{name: "kafka.tls.ca-file missing", args: serveArgs("--kafka.tls.enabled", "--kafka.tls.ca-file={missing}"), code: u, want: []string{"clusters[0].tls.ca_file: open ", "does-not-exist: no such file or directory"}},
		{name: "kafka.tls.ca-file not PEM", args: serveArgs("--kafka.tls.enabled", "--kafka.tls.ca-file={nopem}"), code: u, want: []string{"clusters[0].tls.ca_file: no PEM certificate found in ", "nopem"}, notWant: []string{"this is not a certificate"}},
		{name: "kafka.tls.ca-file is a directory", args: serveArgs("--kafka.tls.enabled", "--kafka.tls.ca-file={dir}"), code: u, want: []string{"clusters[0].tls.ca_file: read ", "is a directory"}},
		{name: "kafka.tls.cert-file missing", args: serveArgs("--kafka.tls.enabled", "--kafka.tls.cert-file={missing}", "--kafka.tls.key-file={missing}"), code: u, want: []string{"clusters[0].tls.cert_file/tls.key_file: cannot load client certificate", "does-not-exist"}},
		{name: "kafka.tls.key-file not PEM", args: serveArgs("--kafka.tls.enabled", "--kafka.tls.cert-file={nopem}", "--kafka.tls.key-file={nopem}"), code: u, want: []string{"clusters[0].tls.cert_file/tls.key_file: cannot load client certificate"}, notWant: []string{"this is not a certificate"}},
		{name: "kafka.sasl.password-file missing", args: serveArgs("--kafka.sasl.mechanism=plain", "--kafka.sasl.username=u", "--kafka.sasl.password-file={missing}"), code: u, want: []string{"clusters[0].sasl.password_file: cannot read ", "does-not-exist: no such file or directory"}},
		{name: "kafka.sasl.password-file empty", args: serveArgs("--kafka.sasl.mechanism=scram-sha-256", "--kafka.sasl.username=u", "--kafka.sasl.password-file={blank}"), code: u, want: []string{"clusters[0].sasl.password_file: ", "blank is empty"}},
		{name: "kafka.sasl.password-file unreadable", args: serveArgs("--kafka.sasl.mechanism=plain", "--kafka.sasl.username=u", "--kafka.sasl.password-file={dir}"), code: u, want: []string{"clusters[0].sasl.password_file: cannot read ", "is a directory"}},
		{name: "KLAGX_SASL_PASSWORD unset", args: serveArgs("--kafka.sasl.mechanism=plain", "--kafka.sasl.username=u"), code: u, want: []string{"clusters[0].sasl: password environment variable KLAGX_SASL_PASSWORD is not set (or set sasl.password_file)"}},
		{name: "KLAGX_SASL_PASSWORD empty", args: serveArgs("--kafka.sasl.mechanism=plain", "--kafka.sasl.username=u"), env: map[string]string{"KLAGX_SASL_PASSWORD": "", "KLAGX_KAFKA_SASL_PASSWORD": "ignored"}, code: u, want: []string{"clusters[0].sasl: password environment variable KLAGX_SASL_PASSWORD is empty"}},
		{name: "KLAGX_KAFKA_SASL_PASSWORD empty", args: serveArgs("--kafka.sasl.mechanism=scram-sha-512", "--kafka.sasl.username=u"), env: map[string]string{"KLAGX_KAFKA_SASL_PASSWORD": ""}, code: u, want: []string{"clusters[0].sasl: password environment variable KLAGX_KAFKA_SASL_PASSWORD is empty"}},
		{name: "kafka.sasl.token-file empty", args: serveArgs("--kafka.sasl.mechanism=oauthbearer", "--kafka.sasl.token-file={empty}"), code: u, want: []string{"clusters[0].sasl.token_file: ", "empty is empty"}},
		{name: "kafka.sasl.token-file missing", args: serveArgs("--kafka.sasl.mechanism=oauthbearer", "--kafka.sasl.token-file={missing}"), code: u, want: []string{"clusters[0].sasl.token_file: cannot read ", "does-not-exist"}},

		// --cluster.
		{name: "cluster not key=value", args: serveCluster("kafka-1:9092"), code: u, want: []string{"--cluster[0]: want comma-separated key=value pairs starting with a key, e.g. name=prod,brokers=k1:9092,k2:9092"}},
		{name: "cluster unknown key", args: serveCluster("name=a,brokers=a:1", "name=b,brokers=b:1,colour=blue"), code: u, want: []string{`--cluster[1]: unknown key "colour" (valid keys: name, brokers,`}},
		{name: "cluster key twice", args: serveCluster("name=a,brokers=a:1,name=b"), code: u, want: []string{`--cluster[0]: key "name" given twice`}},
		{name: "cluster password key", args: serveCluster("name=a,brokers=a:1,sasl-mechanism=plain,sasl-username=u,sasl-password=hunter2"), code: u, want: []string{`--cluster[0]: key "sasl-password" is not accepted: passwords are never taken from the command line`}, notWant: []string{"hunter2"}},
		{name: "cluster tls type", args: serveCluster("name=a,brokers=a:1,tls=yes-please"), code: u, want: []string{`--cluster[0]: tls: "yes-please" is not true or false`}},
		{name: "cluster tls-insecure-skip-verify type", args: serveCluster("name=a,brokers=a:1,tls=true,tls-insecure-skip-verify=sure"), code: u, want: []string{`--cluster[0]: tls-insecure-skip-verify: "sure" is not true or false`}},
		{name: "cluster without name", args: serveCluster("brokers=a:1"), code: u, want: []string{"--cluster[0]: name: required"}},
		{name: "cluster without brokers", args: serveCluster("name=a"), code: u, want: []string{"--cluster[0]: brokers: at least one host:port is required"}},
		{name: "cluster broker without port", args: serveCluster("name=a,brokers=a:1", "name=b,brokers=kafka-1"), code: u, want: []string{`--cluster[1]: brokers: "kafka-1" has no port (want host:port)`}},
		{name: "cluster broker port zero", args: serveCluster("name=a,brokers=a:0"), code: u, want: []string{`--cluster[0]: brokers: "a:0" has an invalid port "0" (want 1-65535)`}},
		{name: "cluster names duplicate", args: serveCluster("name=a,brokers=a:1", "name=a,brokers=b:1"), code: u, want: []string{`--cluster[1]: name: "a" is already used by clusters[0]`}},
		{name: "cluster isolation", args: serveCluster("name=a,brokers=a:1,isolation=serializable"), code: u, want: []string{`--cluster[0]: isolation: "serializable" is not one of`}},
		{name: "cluster tls-ca-file without tls", args: serveCluster("name=a,brokers=a:1,tls-ca-file=/ca.pem"), code: u, want: []string{"--cluster[0]: tls-ca-file: set but tls.enabled is false"}},
		{name: "cluster sasl-mechanism", args: serveCluster("name=a,brokers=a:1,sasl-mechanism=kerberos"), code: u, want: []string{`--cluster[0]: sasl-mechanism: "kerberos" is not one of`}},
		{name: "cluster password-file and password-env", args: serveCluster("name=a,brokers=a:1,sasl-mechanism=plain,sasl-username=u,sasl-password-file=/p,sasl-password-env=P"), code: u, want: []string{"--cluster[0]: sasl: set only one of password_file and password_env"}},
		{name: "cluster password-env not a name", args: serveCluster("name=a,brokers=a:1,sasl-mechanism=plain,sasl-username=u,sasl-password-env=hunter2!"), code: u, want: []string{"--cluster[0]: sasl-password-env: not a valid environment variable name"}, notWant: []string{"hunter2"}},
		{name: "cluster password-env unset", args: serveCluster("name=a,brokers=a:1", "name=b,brokers=b:1,sasl-mechanism=plain,sasl-username=u,sasl-password-env=B_KAFKA_PW"), code: u, want: []string{"clusters[1].sasl: password environment variable B_KAFKA_PW is not set"}},
		{name: "KLAGX_CLUSTER", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, env: map[string]string{"KLAGX_CLUSTER": "name=a,brokers=a:1;brokers=b:1"}, code: u, want: []string{"KLAGX_CLUSTER[1]: name: required"}},
		{name: "no cluster", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, code: u, want: []string{"no Kafka cluster configured: pass --brokers host:port"}},

		// Web and OTLP.
		{name: "web.listen-address not host:port", args: serveArgs("--web.listen-address=nonsense"), code: u, want: []string{`--web.listen-address: "nonsense" is not host:port (e.g. :9308, 127.0.0.1:9308, [::1]:9308)`}},
		{name: "web.listen-address port out of range", args: serveArgs("--web.listen-address=127.0.0.1:99999"), code: u, want: []string{`--web.listen-address: "127.0.0.1:99999" has an invalid port "99999" (want 0-65535)`}},
		{name: "web.listen-address no port", args: serveArgs("--web.listen-address=127.0.0.1:"), code: u, want: []string{`--web.listen-address: "127.0.0.1:" has an invalid port ""`}},
		{name: "web.listen-address empty", args: []string{"serve", "--brokers=a:1", "--web.listen-address="}, code: u, want: []string{"--web.listen-address: at least one address is required"}},
		{name: "KLAGX_WEB_LISTEN_ADDRESS", args: []string{"serve", "--brokers=a:1"}, env: map[string]string{"KLAGX_WEB_LISTEN_ADDRESS": "127.0.0.1:9308,[::1"}, code: u, want: []string{`--web.listen-address: "[::1" is not host:port`}},
		{name: "web.telemetry-path", args: serveArgs("--web.telemetry-path=metrics"), code: u, want: []string{`--web.telemetry-path: "metrics" must start with /`}},
		{name: "web.config.file missing", args: serveArgs("--web.config.file={missing}"), code: u, want: []string{"--web.config.file ", "does-not-exist"}},
		{name: "otlp.endpoint not a URL", args: serveArgs("--otlp.endpoint=localhost:4318"), code: u, want: []string{`--otlp.endpoint: "localhost:4318" is not a URL such as http://127.0.0.1:4318`}},
		{name: "otlp.endpoint scheme", args: serveArgs("--otlp.endpoint=ftp://collector:4318"), code: u, want: []string{`--otlp.endpoint: scheme "ftp" is not one of http, https (OTLP/HTTP), grpc, grpcs (OTLP/gRPC)`}},
		{name: "otlp.endpoint credentials", args: serveArgs("--otlp.endpoint=https://user:hunter2@collector:4318"), code: u, want: []string{"--otlp.endpoint: credentials in the URL are not accepted"}, notWant: []string{"hunter2"}},
		{name: "otlp.endpoint grpc path", args: serveArgs("--otlp.endpoint=grpc://collector:4317/v1"), code: u, want: []string{"--otlp.endpoint: ", "an OTLP/gRPC endpoint has no path"}},
		{name: "otlp.endpoint query", args: serveArgs("--otlp.endpoint=http://collector:4318/?x=1"), code: u, want: []string{"--otlp.endpoint: ", "a query or fragment is not accepted"}},
		{name: "otlp.header not KEY=VALUE", args: serveArgs("--otlp.endpoint=http://collector:4318", "--otlp.header=Authorization"), code: u, want: []string{"--otlp.header[0]: want KEY=VALUE"}},
		{name: "otlp.header bad name", args: serveArgs("--otlp.endpoint=http://collector:4318", "--otlp.header=x-a=1", "--otlp.header=x b=hunter2"), code: u, want: []string{`--otlp.header[1]: "x b" is not a valid header name`}, notWant: []string{"hunter2"}},
		{name: "KLAGX_OTLP_HEADER", args: serveArgs("--otlp.endpoint=http://collector:4318"), env: map[string]string{"KLAGX_OTLP_HEADER": "api-key=hunter2;=x"}, code: u, want: []string{"--otlp.header[1]: want KEY=VALUE"}, notWant: []string{"hunter2"}},
		{name: "otlp.interval below minimum", args: serveArgs("--otlp.endpoint=http://collector:4318", "--otlp.interval=500ms"), code: u, want: []string{"--otlp.interval: 500ms is below the minimum of 1s"}},
		{name: "otlp.interval type", args: serveArgs("--otlp.interval=often"), code: u, want: []string{`--otlp.interval: "often" is not a duration with a unit`}},
		{name: "otlp.traces type", args: serveArgs(), env: map[string]string{"KLAGX_OTLP_TRACES": "sometimes"}, code: u, want: []string{"--otlp.traces", "KLAGX_OTLP_TRACES"}},
	}
	runBadInputs(t, rows)
}

// TestBadInputConfigFile: config-file keys, unknown, mistyped or invalid,
// are usage errors naming the file, the key path (and line) and what is
// wrong.
func TestBadInputConfigFile(t *testing.T) {
	const u = exitUsage
	rows := []badInput{
		{name: "unknown top-level key", args: serveArgs(), file: "poll_interval: 15s\npol_interval: 20s\n", code: u, want: []string{`klagx.yaml:2: unknown key "pol_interval" (valid here: poll_interval,`}},
		{name: "unknown nested key", args: serveArgs(), file: "kafka:\n  tls:\n    ca_fil: /ca.pem\n", code: u, want: []string{`klagx.yaml:3: unknown key "kafka.tls.ca_fil" (valid here: enabled, ca_file,`}},
		{name: "unknown key in a cluster", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters:\n  - name: a\n    brokers: [a:1]\n  - name: b\n    sasl: {mechansim: plain}\n", code: u, want: []string{`klagx.yaml:5: unknown key "clusters[1].sasl.mechansim" (valid here: mechanism,`}},
		{name: "unknown key in a threshold", args: serveArgs(), file: "thresholds:\n  - group: a\n    warn_lag_second: 1m\n", code: u, want: []string{`klagx.yaml:3: unknown key "thresholds[0].warn_lag_second"`}},
		{name: "unknown key under web.config", args: serveArgs(), file: "web:\n  config: {path: /w.yml}\n", code: u, want: []string{`unknown key "web.config.path" (valid here: file)`}},
		{name: "password key", args: serveArgs(), file: "kafka:\n  sasl:\n    password: hunter2\n", code: u, want: []string{"kafka.sasl.password: plain-text passwords are not accepted in the config file; use kafka.sasl.password_file"}, notWant: []string{"hunter2"}},
		{name: "password key in a cluster", args: serveArgs(), file: "clusters:\n  - name: a\n    sasl: {passwd: hunter2}\n", code: u, want: []string{"clusters[0].sasl.passwd: plain-text passwords are not accepted in the config file; use password_file or password_env"}, notWant: []string{"hunter2"}},
		{name: "scalar for a mapping", args: serveArgs(), file: "kafka:\n  sasl: hunter2\n", code: u, want: []string{"klagx.yaml:2: kafka.sasl: want a mapping with keys mechanism,"}, notWant: []string{"hunter2"}},
		{name: "list for a mapping", args: serveArgs(), file: "time_lag: [exact]\n", code: u, want: []string{"klagx.yaml: time_lag: line 1: cannot unmarshal !!seq"}},
		{name: "wrong type int", args: serveArgs(), file: "shard: many\n", code: u, want: []string{"klagx.yaml: shard: line 1: cannot unmarshal !!str `many` into int"}},
		{name: "wrong type bool", args: serveArgs(), file: "topic:\n  include_internal: maybe\n", code: u, want: []string{"klagx.yaml: topic.include_internal: line 2: cannot unmarshal !!str `maybe` into bool"}},
		{name: "wrong type string", args: serveArgs(), file: "granularity: {level: topic}\n", code: u, want: []string{"klagx.yaml: granularity: line 1: cannot unmarshal !!map into string"}},
		{name: "wrong type list", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters: prod\n", code: u, want: []string{"klagx.yaml: clusters: line 1: cannot unmarshal !!str `prod`"}},
		{name: "wrong type in a cluster", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters:\n  - name: [a, b]\n", code: u, want: []string{"klagx.yaml: clusters[0].name: line 2: cannot unmarshal !!seq into string"}},
		{name: "numeric duration", args: serveArgs(), file: "poll_interval: 15\n", code: u, want: []string{`klagx.yaml: poll_interval: line 1: 15 is not a duration (want a Go duration such as "15s")`}},
		{name: "bad duration", args: serveArgs(), file: "stall_after: 3 minutes\n", code: u, want: []string{`stall_after: line 1: "3 minutes" is not a duration`}},
		{name: "threshold fractional count", args: serveArgs(), file: "thresholds:\n  - group: a\n    crit_lag: 1.5\n", code: u, want: []string{"klagx.yaml: thresholds[0].crit_lag: line 3: 1.5 is not a whole number of messages"}},
		{name: "fractional count", args: serveArgs(), file: "warn_lag: 2.5\n", code: u, want: []string{`klagx.yaml: warn_lag: expected a valid 64 bit int but got "2.5"`}},
		{name: "duplicate key", args: serveArgs(), file: "granularity: topic\ngranularity: group\n", code: u, want: []string{`mapping key "granularity" already defined`}},
		{name: "duplicate nested key", args: serveArgs(), file: "otlp:\n  endpoint: http://a:1\n  endpoint: http://b:1\n", code: u, want: []string{"klagx.yaml: otlp: ", `mapping key "endpoint" already defined`}},
		{name: "two documents", args: serveArgs(), file: "granularity: topic\n---\ngranularity: group\n", code: u, want: []string{"klagx.yaml: only one YAML document is allowed"}},
		{name: "not a mapping", args: serveArgs(), file: "- poll_interval: 15s\n", code: u, want: []string{"klagx.yaml:1: the top level must be a mapping of keys"}},
		{name: "syntax error", args: serveArgs(), file: "granularity: [topic\n", code: u, want: []string{"klagx.yaml: yaml: line "}},
		{name: "brokers and clusters", args: serveArgs(), file: "brokers: a:1\nclusters:\n  - {name: a, brokers: a:1}\n", code: u, want: []string{"klagx.yaml: brokers only configure the single cluster of brokers; with clusters, set them in each clusters entry instead"}},
		{name: "duplicate cluster names", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters:\n  - {name: a, brokers: a:1}\n  - {name: a, brokers: b:1}\n", code: u, want: []string{`clusters[1].name: "a" is already used by clusters[0]`}},
		{name: "cluster sasl without username", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters:\n  - name: a\n    brokers: [a:1]\n    sasl: {mechanism: plain, password_file: /p}\n", code: u, want: []string{"klagx.yaml: clusters[0].sasl.username: required for mechanism plain"}},
		{name: "cluster ca_file missing", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters:\n  - name: a\n    brokers: [a:1]\n    tls: {enabled: true, ca_file: /nonexistent/ca.pem}\n", code: u, want: []string{"clusters[0].tls.ca_file: open /nonexistent/ca.pem: no such file or directory"}},
		{name: "cluster password_env unset", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters:\n  - name: a\n    brokers: [a:1]\n    sasl: {mechanism: plain, username: u}\n", code: u, want: []string{"clusters[0].sasl: password environment variable KLAGX_SASL_PASSWORD is not set"}},
		{name: "shard not below total_shards", args: serveArgs(), file: "shard: 3\ntotal_shards: 3\n", code: u, want: []string{"klagx.yaml: shard: 3 is not in [0, total_shards) = [0, 3)"}},
		{name: "total_shards zero", args: serveArgs(), file: "total_shards: 0\n", code: u, want: []string{"total_shards: 0 must be at least 1"}},
		{name: "granularity value", args: serveArgs(), file: "granularity: parition\n", code: u, want: []string{`granularity: "parition" is not one of`}},
		{name: "group regex", args: serveArgs(), file: "group:\n  exclude: ['(']\n", code: u, want: []string{`group.exclude: invalid regex "(": missing closing )`}},
		{name: "web listen_address", args: []string{"serve", "--brokers=a:1"}, file: "web:\n  listen_address: 9308\n", code: u, want: []string{`--web.listen-address: "9308" is not host:port`}},
		{name: "otlp endpoint", args: serveArgs(), file: "otlp:\n  endpoint: collector:4317\n", code: u, want: []string{`--otlp.endpoint: "collector:4317" is not a URL`}},
		{name: "time_lag mode", args: serveArgs(), file: "time_lag: {mode: fast}\n", code: u, want: []string{`time_lag.mode: "fast" is not one of interpolate, exact`}},
		{name: "rebalance source", args: serveArgs(), file: "rebalance: {source: groups}\n", code: u, want: []string{`rebalance.source: "groups" is not one of admin, consumer-offsets`}},
		{name: "log level", args: []string{"serve", "--brokers=a:1"}, file: "log: {level: loud}\n", code: u, want: []string{`--log.level: "loud" is not one of`}},
	}
	runBadInputs(t, rows)
}

// TestBadInputCheck: the same bad values for klagx check are UNKNOWN (exit
// 3), since 2 means CRITICAL there, with the same messages.
func TestBadInputCheck(t *testing.T) {
	const u = checkUnknown
	rows := []badInput{
		{name: "window negative", args: checkArgs("--window=-1s"), code: u, want: []string{`--window: "-1s": negative durations are not allowed`}},
		// kong reads "-5s" after a space as a short flag; the message
		// says what is wrong with the value, not "perhaps try --window=-5s".
		{name: "window negative after a space", args: checkArgs("--window", "-5s"), code: u, want: []string{`--window: "-5s": negative durations are not allowed`}, notWant: []string{"perhaps try"}},
		{name: "window type", args: checkArgs("--window=soon"), code: u, want: []string{`--window: "soon" is not a duration with a unit`}},
		{name: "KLAGX_CHECK_WINDOW", args: []string{"check", "--brokers=127.0.0.1:1"}, env: map[string]string{"KLAGX_CHECK_WINDOW": "soon"}, code: u, want: []string{`KLAGX_CHECK_WINDOW: "soon" is not a duration with a unit such as "90s" or "5m" (the variable of --window)`}},
		{name: "timeout below minimum", args: checkArgs("--timeout=500ms"), code: u, want: []string{"--timeout: 500ms is below the minimum of 1s"}},
		{name: "timeout zero", args: checkArgs("--timeout=0"), code: u, want: []string{"--timeout: 0s is below the minimum of 1s"}},
		{name: "output", args: checkArgs("--output=xml"), code: u, want: []string{`--output: "xml" is not one of table, json, nagios`}},
		{name: "output short", args: checkArgs("-o", "yaml"), code: u, want: []string{`--output: "yaml" is not one of`}},
		{name: "watch type", args: []string{"check", "--brokers=127.0.0.1:1"}, env: map[string]string{"KLAGX_CHECK_WATCH": "forever"}, code: u, want: []string{"--watch", "KLAGX_CHECK_WATCH"}},
		{name: "group regex", args: checkArgs("--group=a("), code: u, want: []string{`--group: invalid regex "a(": missing closing )`}},
		{name: "topic regex", args: checkArgs("--topic=+"), code: u, want: []string{`--topic: invalid regex "+": missing argument to repetition operator`}},
		{name: "unknown flag", args: checkArgs("--frobnicate"), code: u, want: []string{"unknown flag --frobnicate"}},
		{name: "log.level", args: checkArgs("--log.level=loud"), code: u, want: []string{`--log.level: "loud"`}},
		{name: "log.format before the command", args: []string{"--log.format=xml", "check", "--brokers=a:1"}, code: u, want: []string{`--log.format: "xml"`}},
		{name: "config.file missing", args: checkArgs("--config.file={missing}"), code: u, want: []string{"config file: open ", "does-not-exist"}},
		{name: "config file unknown key", args: checkArgs(), file: "windw: 5s\n", code: u, want: []string{`klagx.yaml:1: unknown key "windw"`}},
		{name: "config file wrong type", args: checkArgs(), file: "total_shards: all\n", code: u, want: []string{"klagx.yaml: total_shards: line 1: cannot unmarshal"}},
		{name: "cluster spec", args: []string{"check", "--cluster=name=a,brokers=a:1,sasl-pass=hunter2"}, code: u, want: []string{`--cluster[0]: key "sasl-pass" is not accepted`}, notWant: []string{"hunter2"}},
		{name: "threshold spec", args: checkArgs("--threshold=group=a,crit-lag=many"), code: u, want: []string{`--threshold[0]: crit-lag: "many" is not a whole number of messages`}},
		// check samples once: the polling flags of serve are not its flags.
		{name: "shard", args: checkArgs("--shard=1"), code: u, want: []string{"unknown flag --shard"}},
		{name: "total-shards", args: checkArgs("--total-shards=2"), code: u, want: []string{"unknown flag --total-shards"}},
		{name: "group-poll-interval", args: checkArgs("--group-poll-interval=1s"), code: u, want: []string{"unknown flag --group-poll-interval"}},
		{name: "granularity", args: checkArgs("--granularity=topic"), code: u, want: []string{"unknown flag --granularity"}},
		{name: "brokers", args: []string{"check", "--brokers=kafka-1"}, code: u, want: []string{`--brokers: "kafka-1" has no port`}},
		{name: "sasl mechanism without username", args: checkArgs("--kafka.sasl.mechanism=plain"), code: u, want: []string{"--kafka.sasl.username: required for mechanism plain"}},
		{name: "ca-file missing", args: checkArgs("--kafka.tls.enabled", "--kafka.tls.ca-file={missing}"), code: u, want: []string{`cluster "default": tls.ca_file: open `, "does-not-exist"}},
		{name: "password unset", args: checkArgs("--kafka.sasl.mechanism=scram-sha-256", "--kafka.sasl.username=u"), code: u, want: []string{`cluster "default": sasl: password environment variable KLAGX_SASL_PASSWORD is not set`}},
		{name: "warn above crit", args: checkArgs("--warn-lag=10", "--crit-lag=5"), code: u, want: []string{"warn_lag (10) is above crit_lag (5)"}},
		{name: "time-lag mode", args: checkArgs("--time-lag=guess"), code: u, want: []string{`--time-lag.mode: "guess" is not one of`}},
		{name: "no cluster", args: []string{"check"}, code: u, want: []string{"no Kafka cluster configured"}},
	}
	runBadInputs(t, rows)
}

// TestBadInputOtherCommands: alerts, dashboards, demo, version and the
// command line itself.
func TestBadInputOtherCommands(t *testing.T) {
	const u = exitUsage
	rows := []badInput{
		{name: "no command", args: nil, code: u, want: []string{"klagx: error: expected one of"}},
		{name: "unknown command", args: []string{"frobnicate"}, code: u, want: []string{"unexpected argument frobnicate"}},
		{name: "version log.format", args: []string{"version", "--log.format=xml"}, code: u, want: []string{`--log.format: "xml"`}},
		{name: "alerts log.level with a check-like value", args: []string{"alerts", "--name", "check", "--log.level=loud"}, code: u, want: []string{`--log.level: "loud"`}},
		{name: "alerts format", args: []string{"alerts", "--format=json"}, code: u, want: []string{`format "json" is not one of rules, prometheusrule`}},
		{name: "alerts storm-rebalances", args: []string{"alerts", "--storm-rebalances=0"}, code: u, want: []string{"--storm-rebalances: 0 must be at least 1"}},
		{name: "alerts storm-rebalances type", args: []string{"alerts", "--storm-rebalances=many"}, code: u, want: []string{`--storm-rebalances: expected a valid 64 bit int but got "many"`}},
		{name: "alerts stuck-after", args: []string{"alerts", "--stuck-after=0s"}, code: u, want: []string{"--stuck-after: 0s must be at least 1s"}},
		{name: "alerts growth-window", args: []string{"alerts", "--growth-window=500ms"}, code: u, want: []string{"--growth-window: 500ms must be at least 1s"}},
		{name: "alerts abandoned-after", args: []string{"alerts", "--abandoned-after=10m"}, code: u, want: []string{"--abandoned-after: 10m0s must be 0 (off) or longer than 10m0s, the for: duration of KlagxGroupStopped"}},
		{name: "alerts abandoned-after env", env: map[string]string{"KLAGX_ALERTS_ABANDONED_AFTER": "5m"}, args: []string{"alerts"}, code: u, want: []string{"--abandoned-after: 5m0s must be 0 (off) or longer than 10m0s"}},
		{name: "alerts abandoned-after negative", args: []string{"alerts", "--abandoned-after", "-1h"}, code: u, want: []string{`"-1h": negative durations are not allowed`}},
		{name: "alerts runbook-url", args: []string{"alerts", "--runbook-url="}, code: u, want: []string{"--runbook-url: must not be empty"}},
		{name: "alerts storm-window type", args: []string{"alerts", "--storm-window=abc"}, code: u, want: []string{`--storm-window: "abc" is not a duration with a unit`}},
		{name: "alerts selector braces", args: []string{"alerts", "--selector={job=\"klagx\"}"}, code: u, want: []string{`--selector: "{job=\"klagx\"}": give the matchers without braces`}},
		{name: "alerts label", args: []string{"alerts", "--label=team"}, code: u, want: []string{`--label: expected "<key>=<value>" but got "team"`}},
		{name: "dashboards unknown dashboard", args: []string{"dashboards", "--dashboard=lag"}, code: u, want: []string{`--dashboard: "lag" is not one of overview, group, rebalances`}},
		{name: "demo poll-interval", args: []string{"demo", "--poll-interval=500ms"}, code: u, want: []string{"--poll-interval: 500ms is below the minimum of 1s"}},
		{name: "demo deprecated brokers", args: []string{"demo", "--brokers=0"}, code: u, want: []string{"--brokers (now --broker-count): 0 must be at least 1"}},
		{name: "demo warmup", args: []string{"demo", "--warmup=0s"}, code: u, want: []string{"--warmup: 0s must be positive"}},
		{name: "demo warmup negative", args: []string{"demo", "--warmup=-1s"}, code: u, want: []string{`--warmup: "-1s": negative durations are not allowed`}},
		{name: "demo rebalance-every", args: []string{"demo", "--rebalance-every=0s"}, code: u, want: []string{"--rebalance-every: 0s must be positive"}},
		{name: "demo group-poll-interval", args: []string{"demo", "--group-poll-interval=1ms"}, code: u, want: []string{"--group-poll-interval: 1ms is below the minimum of 100ms"}},
		{name: "demo group-poll-interval above poll", args: []string{"demo", "--group-poll-interval=10s"}, code: u, want: []string{"--group-poll-interval: 10s is above --poll-interval (5s)"}},
		{name: "demo broker-count type", args: []string{"demo", "--broker-count=three"}, code: u, want: []string{`--broker-count: expected a valid 64 bit int but got "three"`}},
		{name: "demo broker-count zero", args: []string{"demo", "--broker-count=0"}, code: u, want: []string{`--broker-count: 0 must be at least 1`}},
		{name: "demo deprecated brokers type", args: []string{"demo", "--brokers=three"}, code: u, want: []string{`--brokers: expected a valid 64 bit int but got "three"`}},
	}
	runBadInputs(t, rows)
}

// TestConfigFileOnlyConfiguresServeAndCheck: only serve and check have
// --config.file; a file in KLAGX_CONFIG_FILE whose keys share a name with a
// flag of another command (alerts --growth-window, demo --poll-interval)
// does not reach that command.
func TestConfigFileOnlyConfiguresServeAndCheck(t *testing.T) {
	path := writeYAML(t, "growth_window: 5m\nbrokers: [a:1]\npoll_interval: 30s\n")
	for _, cmd := range []string{"alerts", "dashboards", "demo", "version"} {
		code, _, stderr := runCLI(t, cmd, "--config.file", path)
		if code != exitUsage || !strings.Contains(stderr, "unknown flag --config.file") {
			t.Errorf("%s --config.file: exit %d, %q; want 2 and unknown flag", cmd, code, stderr)
		}
	}
	_, without, _ := runCLI(t, "alerts")
	t.Setenv("KLAGX_CONFIG_FILE", path)
	code, withFile, stderr := runCLI(t, "alerts")
	if code != exitOK {
		t.Fatalf("alerts with KLAGX_CONFIG_FILE: exit %d: %s", code, stderr)
	}
	if withFile != without {
		t.Error("the config file's growth_window (a group status threshold) changed the alert rules' --growth-window")
	}
	var c cli
	var out, errb bytes.Buffer
	if _, _, err := parse(context.Background(), &c, []string{"demo"}, &out, &errb); err != nil {
		t.Fatalf("demo with a config file: %v", err)
	}
	if c.Demo.BrokerCount != 3 || c.Demo.PollInterval != 5*time.Second {
		t.Errorf("demo read the config file: %+v", c.Demo)
	}
}

// TestServeEnvDoesNotBreakDemo: KLAGX_BROKERS is serve's broker list; the
// demo's broker count has its own variable, so an environment set up for
// serve still runs the demo.
func TestServeEnvDoesNotBreakDemo(t *testing.T) {
	t.Setenv("KLAGX_BROKERS", "k1:9092,k2:9092")
	t.Setenv("KLAGX_DEMO_BROKERS", "5")
	var c cli
	var out, errb bytes.Buffer
	if _, _, err := parse(context.Background(), &c, []string{"demo"}, &out, &errb); err != nil {
		t.Fatalf("demo with KLAGX_BROKERS set: %v", err)
	}
	if c.Demo.BrokersCount == nil || *c.Demo.BrokersCount != 5 {
		t.Errorf("demo brokers = %v, want 5 from KLAGX_DEMO_BROKERS (the deprecated name of KLAGX_DEMO_BROKER_COUNT)", c.Demo.BrokersCount)
	}
}

// TestErrorsNameTheirSource: a configuration error names what the user
// typed (the flag, the variable or the config file key), and the cause
// comes first, not a default it made invalid (issue 19, point 8).
func TestErrorsNameTheirSource(t *testing.T) {
	u := exitUsage
	rows := []badInput{
		// The cause alone: the default --group-poll-interval follows a
		// shorter --poll-interval instead of being reported above it.
		{name: "poll-interval negative", args: serveArgs("--poll-interval=-5s"), code: u,
			want: []string{`klagx: error: --poll-interval: "-5s": negative durations are not allowed`}, notWant: []string{"group"}},
		{name: "poll-interval below the minimum", args: serveArgs("--poll-interval=500ms"), code: u,
			want: []string{"klagx: error: --poll-interval: 500ms is below the minimum of 1s"}, notWant: []string{"group"}},
		{name: "poll-interval 1s is valid", args: serveArgs("--poll-interval=1s", "--web.listen-address=bad"), code: u,
			want: []string{`klagx: error: --web.listen-address: "bad" is not host:port`}, notWant: []string{"group"}},
		{name: "variable", args: serveArgs(), env: map[string]string{"KLAGX_WARN_LAG_SECONDS": "-1m"}, code: u,
			want: []string{`klagx: error: KLAGX_WARN_LAG_SECONDS: "-1m": negative durations are not allowed (the variable of --warn-lag-seconds)`}},
		{name: "variable of a config key", args: serveArgs(), env: map[string]string{"KLAGX_STALL_AFTER": "1s"}, code: u,
			want: []string{"klagx: error: KLAGX_STALL_AFTER: 1s is below --poll-interval (15s)"}},
		{name: "check --group", args: checkArgs("--group=("), code: checkUnknown,
			want: []string{`klagx: error: --group: invalid regex "(": missing closing )`}},
		{name: "file key", args: []string{"serve", "--brokers=127.0.0.1:1"}, file: "poll_interval: 500ms\n", code: u,
			want: []string{"klagx.yaml: poll_interval: 500ms is below the minimum of 1s"}, notWant: []string{"--poll-interval"}},
		{name: "file value through a flag", args: []string{"serve", "--brokers=127.0.0.1:1"}, file: "warn_lag_seconds: -5\n", code: u,
			want: []string{`klagx.yaml: warn_lag_seconds: "-5": negative durations are not allowed`}},
		{name: "file list entry", args: []string{"serve"}, file: "clusters:\n  - name: a\n    brokers: [a]\n", code: u,
			want: []string{`klagx.yaml: clusters[0].brokers: "a" has no port`}},
		{name: "--cluster entry", args: serveCluster("name=a,brokers=a:1", "brokers=b:1"), code: u,
			want: []string{"klagx: error: --cluster[1]: name: required"}},
		{name: "--threshold entry", args: serveArgs("--threshold=group=x,stall-after=1s"), code: u,
			want: []string{"klagx: error: --threshold[0]: stall-after: 1s is below --poll-interval (15s)"}},
	}
	runBadInputs(t, rows)

	// Two errors: the value the user set comes before the default it
	// clashes with.
	code, _, stderr := runCLI(t, "serve", "--brokers=127.0.0.1:1", "--log.level=error", "--poll-interval=5m", "--warn-lag=-1")
	user, def := strings.Index(stderr, "--warn-lag: -1 is negative"), strings.Index(stderr, "--stall-after: 3m0s is below --poll-interval (5m0s)")
	if code != u || user < 0 || def < 0 || user > def {
		t.Errorf("exit %d; want --warn-lag's error before --stall-after's (a default):\n%s", code, stderr)
	}
}
