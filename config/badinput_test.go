package config

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// schemaPaths walks the file schema and returns every leaf key and every
// mapping (struct) key, as the dotted paths errors use; list entries are
// "[0]".
func schemaPaths(t reflect.Type, prefix string) (leaves, mappings []string) {
	mappings = append(mappings, strings.TrimSuffix(prefix, "."))
	for i := range t.NumField() {
		sf := t.Field(i)
		key := prefix + yamlName(sf)
		switch {
		case sf.Type == durationType || sf.Type == secondsType || sf.Type == stringListType:
			leaves = append(leaves, key)
		case sf.Type.Kind() == reflect.Struct:
			l, m := schemaPaths(sf.Type, key+".")
			leaves, mappings = append(leaves, l...), append(mappings, m...)
		case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() == reflect.Struct:
			l, m := schemaPaths(sf.Type.Elem(), key+"[0].")
			leaves, mappings = append(leaves, l...), append(mappings, m...)
		default:
			leaves = append(leaves, key)
		}
	}
	return leaves, mappings
}

// yamlAt returns a YAML document that sets the dotted path (with [0] for
// list entries; "" is the top level) to value.
func yamlAt(t *testing.T, path string, value any) []byte {
	t.Helper()
	var doc any = value
	if path != "" {
		parts := strings.Split(path, ".")
		for i := len(parts) - 1; i >= 0; i-- {
			name, isList := strings.CutSuffix(parts[i], "[0]")
			if isList {
				doc = map[string]any{name: []any{doc}}
			} else {
				doc = map[string]any{name: doc}
			}
		}
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadInputEveryFileKey: every key of the config file, top level, nested
// and in clusters: and thresholds: entries, given a value of the wrong
// type, is rejected with an error naming the file, the full key path and
// the line; and an unknown key under every mapping is rejected naming its
// full path, the line and the valid keys.
func TestBadInputEveryFileKey(t *testing.T) {
	leaves, mappings := schemaPaths(reflect.TypeFor[fileSchema](), "")
	if len(leaves) < 50 || len(mappings) < 15 {
		t.Fatalf("the schema walk found only %d keys and %d mappings", len(leaves), len(mappings))
	}
	for _, key := range leaves {
		t.Run("type/"+key, func(t *testing.T) {
			data := yamlAt(t, key, map[string]any{"nested": 1})
			_, err := ParseFile("f.yaml", data)
			want := "f.yaml: " + key + ": line "
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("ParseFile(%q) = %v, want an error starting %q", data, err, want)
			}
		})
	}
	lineRE := regexp.MustCompile(`^f\.yaml:\d+: unknown key `)
	for _, m := range mappings {
		t.Run("unknown/"+m, func(t *testing.T) {
			data := yamlAt(t, m, map[string]any{"bogus_key": 1})
			_, err := ParseFile("f.yaml", data)
			full := strings.TrimPrefix(m+".bogus_key", ".")
			if err == nil || !lineRE.MatchString(err.Error()) || !strings.Contains(err.Error(), fmt.Sprintf("%q (valid here: ", full)) {
				t.Fatalf("ParseFile(%q) = %v, want unknown key %q with its line and the valid keys", data, err, full)
			}
		})
	}
}

// TestBadInputFileValues: values of the right YAML type that are still
// wrong, table-driven, with the exact message.
func TestBadInputFileValues(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"mapping for a count", "thresholds:\n  - group: a\n    warn_lag: {n: 1}\n", "f.yaml: thresholds[0].warn_lag: line 3: want a whole number of messages, not a mapping"},
		{"fractional count in a threshold", "thresholds:\n  - group: a\n    warn_lag: 2.5\n", "f.yaml: thresholds[0].warn_lag: line 3: 2.5 is not a whole number of messages"},
		{"quoted count in a threshold", "thresholds:\n  - group: a\n    crit_lag: '100'\n", "f.yaml: thresholds[0].crit_lag: line 3: 100 is not a whole number of messages"},
		{"overflowing count", "thresholds:\n  - group: a\n    crit_lag: 99999999999999999999\n", "f.yaml: thresholds[0].crit_lag: line 3: 99999999999999999999 is not a whole number of messages"},
		{"numeric duration in a threshold", "thresholds:\n  - group: a\n    stall_after: 600\n", `f.yaml: thresholds[0].stall_after: line 3: 600 is not a duration (want a Go duration such as "15s")`},
		{"bad duration", "growth_window: 5 minutes\n", `f.yaml: growth_window: line 1: "5 minutes" is not a duration`},
		{"duration list", "poll_interval: [15s]\n", `f.yaml: poll_interval: line 1: want a Go duration such as "15s", not a list`},
		{"bool", "web:\n  disable_exporter_metrics: sometimes\n", "f.yaml: web.disable_exporter_metrics: line 2: cannot unmarshal !!str `sometimes` into bool"},
		{"int", "time_lag:\n  fetch_budget: lots\n", "f.yaml: time_lag.fetch_budget: line 2: cannot unmarshal !!str `lots` into int"},
		{"list of mappings for strings", "group:\n  include: [{a: b}]\n", "f.yaml: group.include: line 2: cannot unmarshal !!map into string"},
		{"nested duplicate key", "clusters:\n  - name: a\n    name: b\n", `f.yaml: clusters: line 3: mapping key "name" already defined at line 2`},
		{"scalar for a cluster", "clusters: [prod]\n", "f.yaml:1: clusters[0]: want a mapping with keys name, brokers, isolation, tls, sasl, not a single value"},
		{"password key, not echoed", "clusters:\n  - sasl:\n      sasl_password: s3cr3t\n", "f.yaml:3: clusters[0].sasl.sasl_password: plain-text passwords are not accepted"},
		{"scalar for sasl, not echoed", "clusters:\n  - sasl: s3cr3t\n", "f.yaml:2: clusters[0].sasl: want a mapping with keys mechanism, username, password_file, password_env, token_file, oauth, aws, not a single value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("f.yaml", []byte(tt.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("ParseFile(%q) = %v\nwant an error starting %q", tt.yaml, err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

// TestBadInputValidate: Config.Validate rows the other tables do not
// cover: shards, the group poll interval and the time-lag settings, each
// naming its field.
func TestBadInputValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"negative total shards", func(c *Config) { c.TotalShards = -1 }, "total_shards: -1 must be at least 1"},
		{"negative shard", func(c *Config) { c.TotalShards, c.Shard = 4, -1 }, "shard: -1 is not in [0, total_shards) = [0, 4)"},
		{"shard equal to total", func(c *Config) { c.TotalShards, c.Shard = 4, 4 }, "shard: 4 is not in [0, total_shards) = [0, 4)"},
		{"group poll interval too short", func(c *Config) { c.GroupPollInterval = 10 * 1e6 }, "group_poll_interval: 10ms is below the minimum of 100ms"},
		{"group poll interval above poll interval", func(c *Config) { c.PollInterval, c.GroupPollInterval = 2e9, 3e9 }, "group_poll_interval: 3s is above poll_interval (2s)"},
		{"negative poll interval", func(c *Config) { c.PollInterval = -1e9 }, "poll_interval: -1s is below the minimum of 1s"},
		{"time lag mode", func(c *Config) { c.TimeLag.Mode = "EXACT" }, `time_lag.mode: "EXACT" is not one of interpolate, exact`},
		{"fetch budget", func(c *Config) { c.TimeLag.FetchBudget = -2 }, "time_lag.fetch_budget: -2 is below the minimum of 1"},
		{"rebalance source", func(c *Config) { c.RebalanceSource = "Admin" }, `rebalance.source: "Admin" is not one of admin, consumer-offsets`},
		{"isolation", func(c *Config) { c.Clusters[0].Isolation = "READ_COMMITTED" }, `clusters[0].isolation: "READ_COMMITTED" is not one of read_uncommitted, read_committed`},
		{"cluster name", func(c *Config) { c.Clusters[0].Name = "prod/eu" }, `clusters[0].name: "prod/eu" has characters outside [a-zA-Z0-9_.-]`},
		{"duplicate cluster", func(c *Config) { c.Clusters = append(c.Clusters, validCluster("b"), validCluster("a")) }, `clusters[2].name: "a" is already used by clusters[0]`},
		{"broker not host:port", func(c *Config) { c.Clusters[0].Brokers = []string{"[::1"} }, `clusters[0].brokers: "[::1" is not host:port`},
		{"cert without key", func(c *Config) { c.Clusters[0].TLS = TLS{Enabled: true, KeyFile: "/k"} }, "clusters[0].tls: cert_file and key_file must be set together"},
		{"server name without tls", func(c *Config) { c.Clusters[0].TLS.ServerName = "k" }, "clusters[0].tls.server_name: set but tls.enabled is false"},
		{"scram token file", func(c *Config) {
			c.Clusters[0].SASL = SASL{Mechanism: SASLScramSHA256, Username: "u", TokenFile: "/t"}
		}, "clusters[0].sasl.token_file: only used by mechanism oauthbearer"},
		{"mechanism case", func(c *Config) { c.Clusters[0].SASL = SASL{Mechanism: "PLAIN", Username: "u"} }, `clusters[0].sasl.mechanism: "PLAIN" is not one of`},
		{"metric opt-in regex", func(c *Config) { c.Metrics.OptIn = []string{"klagx_("} }, `metric_opt_in_list: "klagx_(" is not a valid regular expression`},
		{"metric allowlist regex", func(c *Config) { c.Metrics.Allow = []string{"a{2,1}"} }, `metric_allowlist: "a{2,1}" is not a valid regular expression`},
		{"metric denylist regex", func(c *Config) { c.Metrics.Deny = []string{"*"} }, `metric_denylist: "*" is not a valid regular expression`},
		{"metric allowlist and denylist", func(c *Config) { c.Metrics.Allow, c.Metrics.Deny = []string{"a"}, []string{"b"} }, "metric_allowlist: cannot be used together with metric_denylist"},
		{"threshold without group", func(c *Config) {
			c.Thresholds.Overrides = []ThresholdOverride{compiled(ThresholdOverride{Source: "a"}), {}}
		}, "thresholds[1].group: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := withDefaults(validCluster("a"))
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !fieldLineRE.MatchString(line) {
					t.Errorf("error line does not start with its field: %q", line)
				}
			}
		})
	}
}

// TestBadInputThresholdRegex: a regex with \Q is fine, a bad one is an
// error naming its entry, where the override is built.
func TestBadInputThresholdRegex(t *testing.T) {
	if _, err := NewThresholdOverride("thresholds[0].group", `\Qa.b`); err != nil {
		t.Error(err)
	}
	_, err := NewThresholdOverride("thresholds[1].group", `a{2,1}`)
	if want := `thresholds[1].group: invalid regex "a{2,1}": invalid repeat count`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("NewThresholdOverride() = %v, want %q", err, want)
	}
}
