package config

import (
	"strings"
	"testing"
	"time"
)

func validCluster(name string) Cluster {
	return DefaultCluster(name, "localhost:9092")
}

// withDefaults is Default with clusters, as the flag and file layers start.
func withDefaults(clusters ...Cluster) Config {
	c := *Default()
	c.Clusters = clusters
	return c
}

// compiled is o with its Source compiled, as the flag and file layers
// build overrides (NewThresholdOverride).
func compiled(o ThresholdOverride) ThresholdOverride {
	g, err := NewThresholdOverride("test", o.Source)
	if err != nil {
		panic(err)
	}
	o.Group = g.Group
	return o
}

func TestValidateDefaults(t *testing.T) {
	b := DefaultCluster("b", "b:9092")
	b.SASL = SASL{Mechanism: SASLPlain, Username: "u"}
	c := withDefaults(validCluster("a"), b)
	before := describeConfig(c)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if describeConfig(c) != before {
		t.Error("Validate changed the config")
	}
	if c.PollInterval != DefaultPollInterval || c.Granularity != GranularityPartition || c.TotalShards != 1 ||
		c.GroupPollInterval != DefaultGroupPollInterval {
		t.Errorf("defaults: %+v", c)
	}
	if c.Clusters[0].Isolation != IsolationReadUncommitted {
		t.Errorf("isolation default = %q", c.Clusters[0].Isolation)
	}
	t.Setenv(DefaultPasswordEnv, "x")
	if got := c.Clusters[1].SASL.PasswordEnvName(); got != DefaultPasswordEnv {
		t.Errorf("password env default = %q", got)
	}
	// A zero is validated as given, never replaced by the default.
	c.PollInterval = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "poll_interval: 0s is below the minimum of 1s") {
		t.Errorf("Validate() = %v", err)
	}
}

// TestDeprecatedPasswordEnv: the former variable of the --brokers cluster
// is read while the default one is not set, never instead of it.
func TestDeprecatedPasswordEnv(t *testing.T) {
	s := SASL{Mechanism: SASLPlain, Username: "u"}
	t.Setenv(DeprecatedPasswordEnv, "old")
	if got := s.PasswordEnvName(); got != DeprecatedPasswordEnv {
		t.Errorf("only the deprecated variable set: %q", got)
	}
	t.Setenv(DefaultPasswordEnv, "new")
	if got := s.PasswordEnvName(); got != DefaultPasswordEnv {
		t.Errorf("both set: %q", got)
	}
	if got := (SASL{PasswordEnv: "MINE"}).PasswordEnvName(); got != "MINE" {
		t.Errorf("explicit password_env: %q", got)
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
		{"no port", func(c *Config) { c.Clusters = append(c.Clusters, DefaultCluster("b", "kafka-1")) }, `clusters[1].brokers: "kafka-1" has no port (want host:port)`},
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
			c := withDefaults(validCluster("a"))
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
	c := withDefaults(DefaultCluster("a b"))
	c.Granularity = "x"
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

func ptr[T any](v T) *T { return &v }

func TestTimeLagAndThresholdDefaults(t *testing.T) {
	// Nothing set: the whole built-in set.
	c := withDefaults(validCluster("a"))
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.TimeLag != (TimeLag{Mode: TimeLagInterpolate, FetchBudget: DefaultFetchBudget}) {
		t.Errorf("time lag defaults = %+v", c.TimeLag)
	}
	want := GroupThresholds{WarnLagSeconds: 2 * time.Minute, CritLagSeconds: 10 * time.Minute, StallAfter: 3 * time.Minute, GrowthWindow: 5 * time.Minute}
	if c.Thresholds.Default != want || DefaultGroupThresholds() != want {
		t.Errorf("threshold defaults = %+v", c.Thresholds.Default)
	}

	// Zero warn/crit values disable their rule; a zero StallAfter or
	// GrowthWindow is never valid, and never defaulted.
	c.Thresholds.Default = GroupThresholds{CritLag: 500, StallAfter: DefaultStallAfter, GrowthWindow: DefaultGrowthWindow}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.Thresholds.Default = GroupThresholds{CritLag: 500}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "stall_after: 0s is below poll_interval") ||
		!strings.Contains(err.Error(), "growth_window: 0s is below poll_interval") {
		t.Errorf("Validate() = %v", err)
	}
}

func TestValidateThresholds(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"mode", func(c *Config) { c.TimeLag.Mode = "fast" }, `time_lag.mode: "fast" is not one of interpolate, exact`},
		{"fetch budget", func(c *Config) { c.TimeLag.FetchBudget = -1 }, "time_lag.fetch_budget: -1 is below the minimum of 1"},
		{"negative warn seconds", func(c *Config) { c.Thresholds.Default.WarnLagSeconds = -time.Second }, "warn_lag_seconds: -1s is negative (0 disables the rule)"},
		{"negative crit seconds", func(c *Config) { c.Thresholds.Default.CritLagSeconds = -time.Second }, "crit_lag_seconds: -1s is negative"},
		{"negative warn", func(c *Config) { c.Thresholds.Default.WarnLag = -1 }, "warn_lag: -1 is negative"},
		{"negative crit", func(c *Config) { c.Thresholds.Default.CritLag = -1 }, "crit_lag: -1 is negative"},
		{"warn seconds above crit", func(c *Config) {
			c.Thresholds.Default = DefaultGroupThresholds()
			c.Thresholds.Default.WarnLagSeconds = 11 * time.Minute
		},
			"warn_lag_seconds (11m0s) is above crit_lag_seconds (10m0s): the warning threshold must not exceed the critical one (0 disables either)"},
		{"warn above crit", func(c *Config) { c.Thresholds.Default.WarnLag, c.Thresholds.Default.CritLag = 10, 5 },
			"warn_lag (10) is above crit_lag (5)"},
		{"stall below poll", func(c *Config) { c.PollInterval = time.Minute; c.Thresholds.Default.StallAfter = 30 * time.Second },
			"stall_after: 30s is below poll_interval (1m0s); it must be at least one poll interval"},
		{"growth below poll", func(c *Config) { c.PollInterval = 10 * time.Minute },
			"growth_window: 5m0s is below poll_interval (10m0s)"},
		{"override without group", func(c *Config) { c.Thresholds.Overrides = []ThresholdOverride{{WarnLag: ptr[int64](1)}} },
			"thresholds[0].group: required"},
		{"override negative", func(c *Config) {
			c.Thresholds.Overrides = []ThresholdOverride{compiled(ThresholdOverride{Source: "a", CritLag: ptr[int64](-3)})}
		},
			"thresholds[0].crit_lag: -3 is negative"},
		{"override warn above inherited crit", func(c *Config) {
			c.Thresholds.Overrides = []ThresholdOverride{compiled(ThresholdOverride{Source: "a", WarnLagSeconds: ptr(time.Hour)})}
		}, "thresholds[0].warn_lag_seconds (1h0m0s) is above crit_lag_seconds (10m0s, inherited)"},
		{"override stall zero", func(c *Config) {
			c.Thresholds.Overrides = []ThresholdOverride{compiled(ThresholdOverride{Source: "a", StallAfter: ptr(time.Duration(0))})}
		},
			"thresholds[0].stall_after: 0s is below poll_interval (15s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := withDefaults(validCluster("a"))
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.want)
			}
		})
	}
	// Override regexes are compiled where they are decoded.
	if _, err := NewThresholdOverride("thresholds[2].group", "[z-a]"); err == nil ||
		!strings.Contains(err.Error(), `thresholds[2].group: invalid regex "[z-a]": invalid character class range`) {
		t.Errorf("NewThresholdOverride() = %v", err)
	}

	// A bad default is reported once, not again for each override.
	c := withDefaults(validCluster("a"))
	c.Thresholds = Thresholds{
		Default:   GroupThresholds{WarnLag: 10, CritLag: 5},
		Overrides: []ThresholdOverride{compiled(ThresholdOverride{Source: "a", StallAfter: ptr(time.Hour)})},
	}
	if err := c.Validate(); err == nil || strings.Count(err.Error(), "is above") != 1 || strings.Contains(err.Error(), "thresholds[0]") {
		t.Errorf("Validate() = %v", err)
	}
	// Warn equal to crit, and a disabled crit next to a warn, are fine.
	c = withDefaults(validCluster("a"))
	c.Thresholds = Thresholds{
		Default: GroupThresholds{WarnLagSeconds: time.Minute, CritLagSeconds: time.Minute, WarnLag: 100, StallAfter: time.Minute, GrowthWindow: DefaultGrowthWindow},
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestThresholdsFor(t *testing.T) {
	c := withDefaults(validCluster("a"))
	c.Thresholds = Thresholds{
		Default: GroupThresholds{WarnLagSeconds: time.Minute, CritLagSeconds: 5 * time.Minute, CritLag: 1000, StallAfter: time.Minute, GrowthWindow: time.Minute},
		Overrides: []ThresholdOverride{
			compiled(ThresholdOverride{Source: "batch-.*", WarnLagSeconds: ptr(time.Hour), CritLagSeconds: ptr(2 * time.Hour)}),
			compiled(ThresholdOverride{Source: "batch-nightly", CritLag: ptr[int64](0)}), // shadowed by the first
			compiled(ThresholdOverride{Source: "orders|payments", CritLag: ptr[int64](10), WarnLag: ptr[int64](5), StallAfter: ptr(10 * time.Minute), GrowthWindow: ptr(time.Hour)}),
		},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	th := c.Thresholds
	def := th.Default
	for group, want := range map[string]GroupThresholds{
		"other":         def,
		"batch-x":       {WarnLagSeconds: time.Hour, CritLagSeconds: 2 * time.Hour, CritLag: 1000, StallAfter: time.Minute, GrowthWindow: time.Minute},
		"batch-nightly": {WarnLagSeconds: time.Hour, CritLagSeconds: 2 * time.Hour, CritLag: 1000, StallAfter: time.Minute, GrowthWindow: time.Minute},
		"orders":        {WarnLagSeconds: time.Minute, CritLagSeconds: 5 * time.Minute, WarnLag: 5, CritLag: 10, StallAfter: 10 * time.Minute, GrowthWindow: time.Hour},
		"payments":      {WarnLagSeconds: time.Minute, CritLagSeconds: 5 * time.Minute, WarnLag: 5, CritLag: 10, StallAfter: 10 * time.Minute, GrowthWindow: time.Hour},
		"orders-eu":     def, // fully anchored
		"xbatch-x":      def,
	} {
		if got := th.For(group); got != want {
			t.Errorf("For(%q) = %+v\nwant %+v", group, got, want)
		}
	}
	if th.Overrides[0].Group == nil || th.Overrides[0].Source != "batch-.*" {
		t.Errorf("NewThresholdOverride did not compile the override: %+v", th.Overrides[0])
	}
	// An uncompiled override (Group nil) matches nothing.
	raw := Thresholds{Default: def, Overrides: []ThresholdOverride{{Source: ".*", CritLag: ptr[int64](1)}}}
	if raw.For("x") != def {
		t.Error("an uncompiled override must not match")
	}
}
