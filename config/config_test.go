package config

import (
	"strings"
	"testing"
	"time"
)

func validCluster(name string) Cluster {
	return Cluster{Name: name, Brokers: []string{"localhost:9092"}}
}

func TestValidateDefaults(t *testing.T) {
	c := Config{Clusters: []Cluster{
		validCluster("a"),
		{Name: "b", Brokers: []string{"b:9092"}, SASL: SASL{Mechanism: SASLPlain, Username: "u"}},
		{Name: "c", Brokers: []string{"c:9092"}, SASL: SASL{Mechanism: SASLPlain, Username: "u", PasswordFile: "/pw"}},
	}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.PollInterval != DefaultPollInterval || c.Granularity != GranularityPartition {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Clusters[0].Isolation != IsolationReadUncommitted {
		t.Errorf("isolation default = %q", c.Clusters[0].Isolation)
	}
	if got := c.Clusters[1].SASL.PasswordEnv; got != DefaultPasswordEnv {
		t.Errorf("password env default = %q", got)
	}
	if got := c.Clusters[2].SASL.PasswordEnv; got != "" {
		t.Errorf("password env must stay empty with a password file, got %q", got)
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no clusters", func(c *Config) { c.Clusters = nil }, "clusters: at least one cluster is required"},
		{"poll too short", func(c *Config) { c.PollInterval = 500 * time.Millisecond }, "poll_interval: 500ms is below the minimum of 1s"},
		{"granularity", func(c *Config) { c.Granularity = "parition" }, `granularity: "parition" is not one of partition, topic, group`},
		{"no name", func(c *Config) { c.Clusters[0].Name = "" }, "clusters[0].name: required"},
		{"no port", func(c *Config) { c.Clusters = append(c.Clusters, Cluster{Name: "b", Brokers: []string{"kafka-1"}}) }, `clusters[1].brokers: "kafka-1" has no port (want host:port)`},
		{"empty host", func(c *Config) { c.Clusters[0].Brokers = []string{":9092"} }, `clusters[0].brokers: ":9092" has no host`},
		{"bad port", func(c *Config) { c.Clusters[0].Brokers = []string{"a:http"} }, `clusters[0].brokers: "a:http" has an invalid port "http"`},
		{"port range", func(c *Config) { c.Clusters[0].Brokers = []string{"a:70000"} }, `invalid port "70000"`},
		{"both password sources", func(c *Config) {
			c.Clusters[0].SASL = SASL{Mechanism: SASLPlain, Username: "u", PasswordFile: "/f", PasswordEnv: "E"}
		}, "clusters[0].sasl: set only one of password_file and password_env"},
		{"sasl fields without mechanism", func(c *Config) { c.Clusters[0].SASL = SASL{Username: "u"} }, "clusters[0].sasl.mechanism: required when other sasl fields are set"},
		{"password in env name", func(c *Config) {
			c.Clusters[0].SASL = SASL{Mechanism: SASLPlain, Username: "u", PasswordEnv: "s3cr3t!pw"}
		}, "clusters[0].sasl.password_env: not a valid environment variable name"},
		{"aws with username", func(c *Config) { c.Clusters[0].SASL = SASL{Mechanism: SASLAWSMSKIAM, Username: "u"} }, "mechanism aws-msk-iam takes its credentials from AWS_ACCESS_KEY_ID"},
		{"oauth with password", func(c *Config) {
			c.Clusters[0].SASL = SASL{Mechanism: SASLOAuthBearer, TokenFile: "/t", PasswordFile: "/p"}
		}, "not used by mechanism oauthbearer"},
		{"insecure without tls", func(c *Config) { c.Clusters[0].TLS.InsecureSkipVerify = true }, "clusters[0].tls.insecure_skip_verify: set but tls.enabled is false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Clusters: []Cluster{validCluster("a")}}
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("error leaks a secret: %v", err)
			}
		})
	}
}

func TestValidateJoinsErrors(t *testing.T) {
	c := Config{Granularity: "x", Clusters: []Cluster{{Name: "a b"}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"granularity:", "clusters[0].name:", "clusters[0].brokers:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestFilter(t *testing.T) {
	f, err := NewFilter("group", []string{"orders-.*", "billing"}, []string{".*-test"})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"orders-eu":    true,
		"billing":      true,
		"billing2":     false, // anchored
		"xbilling":     false, // anchored
		"orders-test":  false, // exclude wins
		"unrelated":    false,
		"orders-":      true,
		"orders-a|b-c": true,
	} {
		if got := f.Keep(name); got != want {
			t.Errorf("Keep(%q) = %v, want %v", name, got, want)
		}
	}
	// Alternation must stay inside the anchors.
	f, _ = NewFilter("topic", []string{"a|b"}, nil)
	if f.Keep("ab") || !f.Keep("a") || !f.Keep("b") {
		t.Error("alternation is not fully anchored")
	}
	if !(Filter{}).Keep("anything") {
		t.Error("empty filter must keep everything")
	}
	f, _ = NewFilter("topic", nil, []string{"tmp.*"})
	if f.Keep("tmp1") || !f.Keep("real") {
		t.Error("exclude-only filter")
	}
}

func TestNewFilterErrors(t *testing.T) {
	_, err := NewFilter("group", []string{"a("}, nil)
	if err == nil || err.Error() != `group.include: invalid regex "a(": missing closing )` {
		t.Errorf("err = %v", err)
	}
	_, err = NewFilter("topic", nil, []string{"ok", "[z-a]"})
	if err == nil || !strings.HasPrefix(err.Error(), `topic.exclude: invalid regex "[z-a]": invalid character class range`) {
		t.Errorf("err = %v", err)
	}
}

func TestTopicAllowed(t *testing.T) {
	topics, _ := NewFilter("topic", nil, []string{"private-.*"})
	c := Config{Topics: topics}
	for topic, want := range map[string]bool{
		"orders":             true,
		"__consumer_offsets": false,
		"_schemas":           true,
		"private-x":          false,
	} {
		if got := c.TopicAllowed(topic); got != want {
			t.Errorf("TopicAllowed(%q) = %v, want %v", topic, got, want)
		}
	}
	c.IncludeInternalTopics = true
	if !c.TopicAllowed("__consumer_offsets") {
		t.Error("IncludeInternalTopics must keep __ topics")
	}
}
