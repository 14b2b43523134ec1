package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// loadAndValidate loads a testdata file and validates its clusters and
// thresholds the way the flag layer would (flag-level keys are checked in
// cmd/klagx).
func loadAndValidate(path string) (*File, error) {
	f, err := LoadFile(path)
	if err != nil {
		return nil, err
	}
	if len(f.Clusters) == 0 && len(f.Thresholds) == 0 {
		return f, nil
	}
	c := *Default()
	c.Clusters, c.Thresholds.Overrides = f.Clusters, f.Thresholds
	if len(c.Clusters) == 0 {
		c.Clusters = []Cluster{validCluster("placeholder")}
	}
	return f, c.Validate()
}

func TestGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good files: %v", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := loadAndValidate(path); err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
		})
	}
}

func TestBadFiles(t *testing.T) {
	tests := map[string]string{
		"unknown_top_key.yaml":      `testdata/bad/unknown_top_key.yaml:1: unknown key "pol_interval"`,
		"unknown_nested_key.yaml":   `testdata/bad/unknown_nested_key.yaml:6: unknown key "clusters[0].tls.ca_fle"`,
		"password_cluster.yaml":     `clusters[0].sasl.password: plain-text passwords are not accepted in the config file; use password_file or password_env`,
		"password_kafka.yaml":       `kafka.sasl.password: plain-text passwords are not accepted in the config file; use kafka.sasl.password_file or the KLAGX_SASL_PASSWORD environment variable`,
		"no_port.yaml":              `clusters[1].brokers: "kafka-1" has no port (want host:port)`,
		"duplicate_name.yaml":       `clusters[1].name: "a" is already used by clusters[0]`,
		"bad_name.yaml":             `clusters[0].name: "prod cluster" has characters outside [a-zA-Z0-9_.-]`,
		"no_brokers.yaml":           `clusters[0].brokers: at least one host:port is required`,
		"bad_isolation.yaml":        `clusters[0].isolation: "read_comitted" is not one of read_uncommitted, read_committed`,
		"bad_mechanism.yaml":        `clusters[0].sasl.mechanism: "gssapi" is not one of plain, scram-sha-256, scram-sha-512, oauthbearer, aws-msk-iam`,
		"scram_no_user.yaml":        `clusters[0].sasl.username: required for mechanism scram-sha-256`,
		"oauth_no_token.yaml":       `clusters[0].sasl.token_file: required for mechanism oauthbearer`,
		"tls_disabled.yaml":         `clusters[0].tls.ca_file: set but tls.enabled is false`,
		"cert_without_key.yaml":     `clusters[0].tls: cert_file and key_file must be set together`,
		"numeric_duration.yaml":     `line 1: 15 is not a duration (want a Go duration such as "15s")`,
		"bad_duration.yaml":         `line 1: "15 seconds" is not a duration`,
		"wrong_type.yaml":           "line 2: cannot unmarshal !!str `maybe` into bool",
		"brokers_and_clusters.yaml": `brokers only configure the single cluster of brokers; with clusters`,
		"not_a_mapping.yaml":        `testdata/bad/not_a_mapping.yaml:1: the top level must be a mapping of keys`,
		"duplicate_key.yaml":        `mapping key "granularity" already defined`,
		"syntax.yaml":               `testdata/bad/syntax.yaml: yaml:`,

		"threshold_warn_above_crit.yaml":           `thresholds[0].warn_lag_seconds (15m0s) is above crit_lag_seconds (5m0s): the warning threshold must not exceed the critical one`,
		"threshold_warn_above_inherited_crit.yaml": `thresholds[0].warn_lag_seconds (15m0s) is above crit_lag_seconds (10m0s, inherited)`,
		"threshold_negative.yaml":                  `thresholds[0].warn_lag: -100 is negative (0 disables the rule)`,
		"threshold_bad_regex.yaml":                 `thresholds[2].group: invalid regex "orders-(": missing closing )`,
		"threshold_unknown_key.yaml":               `testdata/bad/threshold_unknown_key.yaml:3: unknown key "thresholds[0].warn_lag_second" (valid here: group, warn_lag_seconds, crit_lag_seconds, warn_lag, crit_lag, stall_after, growth_window)`,
		"threshold_stall_below_poll.yaml":          `thresholds[0].stall_after: 10s is below poll_interval (15s); it must be at least one poll interval`,
		"threshold_no_group.yaml":                  `thresholds[0].group: required`,
		"threshold_numeric_duration.yaml":          `line 3: 600 is not a duration (want a Go duration such as "15s")`,
		"time_lag_scalar.yaml":                     `testdata/bad/time_lag_scalar.yaml:1: time_lag: want a mapping with keys mode, fetch_budget, not a single value`,
		"time_lag_unknown_key.yaml":                `testdata/bad/time_lag_unknown_key.yaml:3: unknown key "time_lag.budget" (valid here: mode, fetch_budget)`,
	}
	files, _ := filepath.Glob("testdata/bad/*.yaml")
	if len(files) != len(tests) {
		t.Errorf("%d bad files but %d test cases: keep them in step", len(files), len(tests))
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := loadAndValidate(filepath.Join("testdata/bad", name))
			if err == nil {
				t.Fatalf("want error containing %q, got nil", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q\n does not contain %q", err, want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error leaks a secret: %q", err)
			}
		})
	}
}

func TestFullFile(t *testing.T) {
	f, err := LoadFile("testdata/good/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lookups := map[string]any{
		"poll-interval":                "30s",
		"granularity":                  "topic",
		"group.include":                []any{"orders-.*", "billing"},
		"topic.include":                `payments\..*`,
		"topic.include-internal":       true,
		"web.listen-address":           []any{":9308", "127.0.0.1:9309"},
		"web.config.file":              "/etc/klagx/web.yml",
		"web.disable-exporter-metrics": true,
		"log.level":                    "debug",
		"time-lag.mode":                "exact",
		"time-lag.fetch-budget":        500,
		"warn-lag-seconds":             "1m",
		"warn-lag":                     10000,
		"crit-lag":                     0,
		"growth-window":                "10m",
	}
	for flag, want := range lookups {
		got, ok := f.Lookup(flag)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Lookup(%q) = %#v, %v; want %#v", flag, got, ok, want)
		}
	}
	for _, flag := range []string{"brokers", "kafka.tls.enabled", "web", "clusters", "nope.nope", "topic.exclude", "time-lag", "thresholds", "threshold", "thresholds.group"} {
		if got, ok := f.Lookup(flag); ok && flag != "topic.exclude" {
			t.Errorf("Lookup(%q) = %#v, want not set", flag, got)
		}
	}
	if len(f.Clusters) != 4 {
		t.Fatalf("got %d clusters, want 4", len(f.Clusters))
	}
	want := Cluster{
		Name:      "prod",
		Brokers:   []string{"k1.example:9092", "k2.example:9092", "[::1]:9093"},
		Isolation: IsolationReadCommitted,
		TLS: TLS{Enabled: true, CAFile: "/etc/klagx/ca.pem", CertFile: "/etc/klagx/client.pem",
			KeyFile: "/etc/klagx/client-key.pem", ServerName: "kafka.example"},
		SASL: SASL{Mechanism: SASLScramSHA512, Username: "klagx", PasswordFile: "/run/secrets/kafka-password"},
	}
	if !reflect.DeepEqual(f.Clusters[0], want) {
		t.Errorf("clusters[0] = %+v\nwant %+v", f.Clusters[0], want)
	}
	if got := f.Clusters[1].Brokers; !reflect.DeepEqual(got, []string{"staging:9092"}) {
		t.Errorf("scalar brokers = %v", got)
	}
	c := *Default()
	c.Clusters = f.Clusters
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Clusters[1].SASL.PasswordEnv != "STAGING_KAFKA_PASSWORD" || c.Clusters[2].Isolation != IsolationReadUncommitted {
		t.Errorf("defaults: %+v", c.Clusters)
	}
	if c.PollInterval != 15*time.Second {
		t.Errorf("PollInterval default = %s", c.PollInterval)
	}

	if len(f.Thresholds) != 2 {
		t.Fatalf("got %d thresholds, want 2", len(f.Thresholds))
	}
	th := f.Thresholds[0]
	if th.Source != "batch-.*" || th.Group == nil || *th.WarnLagSeconds != time.Hour || *th.CritLagSeconds != 6*time.Hour ||
		*th.WarnLag != 1000000 || *th.CritLag != 5000000 || *th.StallAfter != 30*time.Minute || *th.GrowthWindow != time.Hour {
		t.Errorf("thresholds[0] = %+v", th)
	}
	th = f.Thresholds[1]
	if th.Source != "reports-[0-9]{1,3}" || *th.CritLagSeconds != 0 || th.WarnLagSeconds != nil || th.WarnLag != nil ||
		th.CritLag != nil || th.StallAfter != nil || th.GrowthWindow != nil {
		t.Errorf("thresholds[1] = %+v", th)
	}
	c.Thresholds.Overrides = f.Thresholds
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.Thresholds.For("reports-12"); got.CritLagSeconds != 0 || got.WarnLagSeconds != DefaultWarnLagSeconds {
		t.Errorf("For(reports-12) = %+v", got)
	}
}

func TestThresholdsFile(t *testing.T) {
	f, err := loadAndValidate("testdata/good/thresholds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Clusters) != 0 || len(f.Thresholds) != 3 || f.Thresholds[1].Source != "x{1,3}" {
		t.Errorf("file = %+v", f)
	}
	if v, ok := f.Lookup("crit-lag-seconds"); !ok || v != "0s" {
		t.Errorf("Lookup(crit-lag-seconds) = %v, %v", v, ok)
	}
	if v, ok := f.Lookup("time-lag.mode"); !ok || v != "exact" {
		t.Errorf("Lookup(time-lag.mode) = %v, %v", v, ok)
	}
	if _, ok := f.Lookup("time-lag.fetch-budget"); ok {
		t.Error("time-lag.fetch-budget is not set in the file")
	}
}

func TestLookupNilAndEmpty(t *testing.T) {
	var f *File
	if _, ok := f.Lookup("brokers"); ok {
		t.Error("nil file must not resolve")
	}
	f, err := LoadFile("testdata/good/empty.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Lookup("brokers"); ok || len(f.Clusters) != 0 {
		t.Error("empty file must set nothing")
	}
	if _, err := LoadFile("testdata/does-not-exist.yaml"); err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("missing file error = %v", err)
	}
}

func TestFileKeys(t *testing.T) {
	keys := FileKeys()
	for _, want := range []string{"poll_interval", "kafka.tls.ca_file", "kafka.sasl.password_file", "web.config.file", "topic.include_internal", "log.format",
		"warn_lag_seconds", "crit_lag_seconds", "warn_lag", "crit_lag", "stall_after", "growth_window", "time_lag.mode", "time_lag.fetch_budget", "rebalance.source"} {
		found := false
		for _, k := range keys {
			found = found || k == want
		}
		if !found {
			t.Errorf("FileKeys() lacks %q: %v", want, keys)
		}
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "clusters") || strings.HasPrefix(k, "thresholds") || strings.Contains(k, "password_env") || strings.HasSuffix(k, "password") {
			t.Errorf("FileKeys() has unexpected %q", k)
		}
	}
}
