package config

import (
	"errors"
	"fmt"
	"github.com/klagx/klagx/metrics"
	"github.com/klagx/klagx/shard"
	"net"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults, set by [Default] and [DefaultCluster] before anything is
// decoded into a Config.
const (
	// DefaultPollInterval is the default time between two poll cycles.
	DefaultPollInterval = 15 * time.Second
	// MinPollInterval is the smallest accepted poll interval.
	MinPollInterval = time.Second
	// DefaultGroupPollInterval is the default time between two reads of
	// group state (rebalance detection).
	DefaultGroupPollInterval = 2 * time.Second
	// MinGroupPollInterval is the smallest accepted group poll interval.
	MinGroupPollInterval = 100 * time.Millisecond
	// DefaultPasswordEnv is the environment variable a SASL password is read
	// from when a plain/scram cluster sets neither password_file nor
	// password_env.
	DefaultPasswordEnv = "KLAGX_SASL_PASSWORD"
	// DeprecatedPasswordEnv is the former password variable of the
	// --brokers cluster. It is still read when DefaultPasswordEnv is not
	// set, with a deprecation warning; use DefaultPasswordEnv.
	DeprecatedPasswordEnv = "KLAGX_KAFKA_SASL_PASSWORD"
)

// Config is the runtime configuration of klagx serve and klagx check.
// Start from [Default], set what is configured, then call
// [Config.Validate] before use. A zero value is never replaced by a
// default: it is validated as given.
type Config struct {
	// Clusters to poll; at least one. Names are unique.
	Clusters []Cluster
	// PollInterval is the time between two poll cycles of one cluster.
	// Default 15s; must be >= 1s.
	PollInterval time.Duration
	// Shard and TotalShards split the groups between replicas watching the
	// same clusters (package shard): this process keeps the groups whose
	// hash falls on Shard. TotalShards 1 (the default) turns sharding off.
	Shard, TotalShards int
	// GroupPollInterval is the time between two reads of group state
	// (DescribeGroups / ConsumerGroupDescribe only), for rebalance
	// detection. Default 2s; at least 100ms and at most PollInterval.
	GroupPollInterval time.Duration
	// Granularity is the finest level of the exported lag series.
	// Default GranularityPartition.
	Granularity Granularity
	// Metrics chooses the metric families served beyond the defaults
	// (see [Config.MetricSelection]).
	Metrics MetricFamilies
	// Groups filters consumer groups by name.
	Groups Filter
	// Topics filters topics by name (see also IncludeInternalTopics).
	Topics Filter
	// IncludeInternalTopics keeps topics whose name starts with "__"
	// (__consumer_offsets, __transaction_state, ...). Default false.
	IncludeInternalTopics bool
	// TimeLag configures how the time lag of a group is estimated.
	TimeLag TimeLag
	// RebalanceSource is where classic generations come from; default
	// RebalanceSourceAdmin.
	RebalanceSource RebalanceSource
	// Thresholds decide the status of each group (ok, warning, critical,
	// stalled); see [Thresholds.For].
	Thresholds Thresholds
}

// MetricFamilies selects metric families by name (anchored regexes), as
// kube-state-metrics does: OptIn adds opt-in families to the defaults, then
// only Allow is served (if set), minus Deny. Allow and Deny are exclusive.
type MetricFamilies struct {
	OptIn, Allow, Deny []string
}

// MetricSelection returns the metric families to serve: Granularity and
// Metrics compiled. Its error names the key of a bad pattern.
func (c Config) MetricSelection() (metrics.Selection, error) {
	s := metrics.Selection{Level: metrics.LevelPartition}
	switch c.Granularity {
	case GranularityTopic:
		s.Level = metrics.LevelTopic
	case GranularityGroup:
		s.Level = metrics.LevelGroup
	}
	var errs []error
	for _, l := range []struct {
		key      string
		patterns []string
		dst      *[]*regexp.Regexp
	}{
		{"metric_opt_in_list", c.Metrics.OptIn, &s.OptIn},
		{"metric_allowlist", c.Metrics.Allow, &s.Allow},
		{"metric_denylist", c.Metrics.Deny, &s.Deny},
	} {
		res, err := metrics.CompileNames(l.key, l.patterns)
		errs = append(errs, err)
		*l.dst = res
	}
	if len(s.Allow) > 0 && len(s.Deny) > 0 {
		errs = append(errs, errors.New("metric_allowlist: cannot be used together with metric_denylist; set one of them"))
	}
	return s, errors.Join(errs...)
}

// Granularity is the finest level at which lag series are exported.
type Granularity string

// Granularity values.
const (
	// GranularityPartition exports per-partition, per-topic and per-group series.
	GranularityPartition Granularity = "partition"
	// GranularityTopic drops the per-partition group series.
	GranularityTopic Granularity = "topic"
	// GranularityGroup keeps only the per-group series.
	GranularityGroup Granularity = "group"
)

// Granularities lists the valid [Granularity] values, finest first.
var Granularities = []Granularity{GranularityPartition, GranularityTopic, GranularityGroup}

// Isolation selects which end offset lag is measured against.
type Isolation string

// Isolation values.
const (
	// IsolationReadUncommitted measures lag against the high-water mark (default).
	IsolationReadUncommitted Isolation = "read_uncommitted"
	// IsolationReadCommitted measures lag against the last stable offset.
	IsolationReadCommitted Isolation = "read_committed"
)

// Isolations lists the valid [Isolation] values, default first.
var Isolations = []Isolation{IsolationReadUncommitted, IsolationReadCommitted}

// RebalanceSource selects where the generations of classic groups, and so
// their rebalance counts, come from.
type RebalanceSource string

// RebalanceSource values.
const (
	// RebalanceSourceAdmin infers classic rebalances from successive
	// DescribeGroups answers (and the KIP-792 generations some clients
	// send); it needs no access beyond Describe on the groups (default).
	RebalanceSourceAdmin RebalanceSource = "admin"
	// RebalanceSourceConsumerOffsets reads every classic generation from
	// the group metadata records of __consumer_offsets, with a consumer
	// that joins no group; it needs Read on Topic __consumer_offsets.
	RebalanceSourceConsumerOffsets RebalanceSource = "consumer-offsets"
)

// RebalanceSources lists the valid [RebalanceSource] values, default first.
var RebalanceSources = []RebalanceSource{RebalanceSourceAdmin, RebalanceSourceConsumerOffsets}

// SASL mechanism names accepted in [SASL.Mechanism].
const (
	SASLNone        = ""
	SASLPlain       = "plain"
	SASLScramSHA256 = "scram-sha-256"
	SASLScramSHA512 = "scram-sha-512"
	SASLOAuthBearer = "oauthbearer"
	SASLAWSMSKIAM   = "aws-msk-iam"
)

// SASLMechanisms lists the valid non-empty [SASL.Mechanism] values.
var SASLMechanisms = []string{SASLPlain, SASLScramSHA256, SASLScramSHA512, SASLOAuthBearer, SASLAWSMSKIAM}

// Cluster is one Kafka cluster to poll.
type Cluster struct {
	// Name is the value of the `cluster` label. Required, unique,
	// matches [a-zA-Z0-9_.-]+.
	Name string
	// Brokers are host:port seed brokers; at least one.
	Brokers []string
	// Isolation of the end offsets; IsolationReadUncommitted in
	// [DefaultCluster].
	Isolation Isolation
	// TLS to the brokers; off by default.
	TLS TLS
	// SASL authentication; none by default.
	SASL SASL
}

// TLS configures TLS to the brokers of one cluster. All fields other than
// Enabled require Enabled.
type TLS struct {
	Enabled bool
	// CAFile is a PEM bundle of CAs to trust instead of the system pool.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key (mTLS);
	// both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the name verified in the broker certificates.
	ServerName string
	// InsecureSkipVerify disables certificate verification. Logged loudly.
	InsecureSkipVerify bool
}

// SASL configures SASL authentication for one cluster. Secrets are never
// configuration values: they are read from files or environment variables by
// [Cluster.ClientOpts].
type SASL struct {
	// Mechanism is "" (none), "plain", "scram-sha-256", "scram-sha-512",
	// "oauthbearer" or "aws-msk-iam".
	Mechanism string
	// Username for plain and scram; required for them.
	Username string
	// PasswordFile is read for the password (one trailing newline trimmed).
	// Re-read on each authentication, so the file can be rotated.
	PasswordFile string
	// PasswordEnv names the environment variable holding the password, used
	// when PasswordFile is empty; empty means DefaultPasswordEnv (see
	// [SASL.PasswordEnvName]).
	PasswordEnv string
	// TokenFile holds the OAUTHBEARER token, re-read on each
	// authentication. oauthbearer needs it or OAuth.TokenURL, not both.
	TokenFile string
	// OAuth fetches OAUTHBEARER tokens from an OIDC token endpoint
	// (client-credentials grant) instead of TokenFile.
	OAuth OAuth
	// AWS selects the AWS credential chain's profile and region for
	// aws-msk-iam, which always takes its credentials from that chain.
	AWS AWSIAM
}

// Filter keeps names matching any Include regex (all names when Include is
// empty) unless they match any Exclude regex: exclude wins. Build it with
// [NewFilter] so that the regexes are fully anchored.
type Filter struct {
	Include []*regexp.Regexp
	Exclude []*regexp.Regexp
}

// Keep reports whether name passes the filter.
func (f Filter) Keep(name string) bool {
	for _, re := range f.Exclude {
		if re.MatchString(name) {
			return false
		}
	}
	if len(f.Include) == 0 {
		return true
	}
	for _, re := range f.Include {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// NewFilter compiles include and exclude regexes, each fully anchored
// (^(?:re)$, as in Prometheus relabelling). field names the option in
// errors, e.g. "group" gives `group.include: invalid regex "a(": missing
// closing )`.
func NewFilter(field string, include, exclude []string) (Filter, error) {
	var f Filter
	var err error
	if f.Include, err = compileAnchored(field+".include", include); err != nil {
		return Filter{}, err
	}
	if f.Exclude, err = compileAnchored(field+".exclude", exclude); err != nil {
		return Filter{}, err
	}
	return f, nil
}

func compileAnchored(field string, exprs []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, expr := range exprs {
		re, err := anchored(expr)
		if err != nil {
			var serr *syntax.Error
			if errors.As(err, &serr) {
				return nil, fmt.Errorf("%s: invalid regex %q: %s", field, expr, serr.Code)
			}
			return nil, fmt.Errorf("%s: invalid regex %q: %w", field, expr, err)
		}
		out = append(out, re)
	}
	return out, nil
}

// anchored compiles expr fully anchored, as ^(?:expr)$. The expression is
// compiled as given first, so that an error is about what the user wrote,
// not our anchored wrapper.
func anchored(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		// A \Q without \E quotes to the end of the expression, our ")$"
		// included: close the quote before the wrapper.
		if qre, qerr := regexp.Compile("^(?:" + expr + `\E)$`); qerr == nil {
			return qre, nil
		}
		return nil, err
	}
	return re, nil
}

// OwnsGroup reports whether this process's shard owns group.
func (c Config) OwnsGroup(group string) bool {
	return shard.Owns(group, c.Shard, c.TotalShards)
}

// TopicAllowed reports whether topic passes the topic filter and the
// internal-topic rule (names starting with "__" are dropped unless
// IncludeInternalTopics).
func (c Config) TopicAllowed(topic string) bool {
	if !c.IncludeInternalTopics && strings.HasPrefix(topic, "__") {
		return false
	}
	return c.Topics.Keep(topic)
}

// Default returns the configuration of klagx with every default set and no
// cluster: poll every 15s, group state every 2s, no sharding, partition
// granularity, interpolated time lag with a fetch budget of 1000 in exact
// mode, and [DefaultGroupThresholds].
func Default() *Config {
	return &Config{
		PollInterval:      DefaultPollInterval,
		GroupPollInterval: DefaultGroupPollInterval,
		TotalShards:       1,
		Granularity:       GranularityPartition,
		TimeLag:           TimeLag{Mode: TimeLagInterpolate, FetchBudget: DefaultFetchBudget},
		Thresholds:        Thresholds{Default: DefaultGroupThresholds()},
		RebalanceSource:   RebalanceSourceAdmin,
	}
}

// DefaultCluster returns the cluster name at brokers with every default
// set: read_uncommitted, no TLS, no SASL.
func DefaultCluster(name string, brokers ...string) Cluster {
	return Cluster{Name: name, Brokers: brokers, Isolation: IsolationReadUncommitted}
}

var clusterNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// Validate checks every field and changes nothing. All problems found are
// returned together (errors.Join), each naming its field, e.g.
// `clusters[1].brokers: "kafka-1" has no port (want host:port)`.
// Validate does not read files or environment variables; ClientOpts does.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.TotalShards < 1 {
		add("total_shards: %d must be at least 1", c.TotalShards)
	} else if c.Shard < 0 || c.Shard >= c.TotalShards {
		add("shard: %d is not in [0, total_shards) = [0, %d)", c.Shard, c.TotalShards)
	}
	if c.GroupPollInterval < MinGroupPollInterval {
		add("group_poll_interval: %s is below the minimum of %s", c.GroupPollInterval, MinGroupPollInterval)
	} else if c.GroupPollInterval > c.PollInterval {
		add("group_poll_interval: %s is above poll_interval (%s); group state is read at least as often as offsets", c.GroupPollInterval, c.PollInterval)
	}
	if c.PollInterval < MinPollInterval {
		add("poll_interval: %s is below the minimum of %s", c.PollInterval, MinPollInterval)
	}
	if !slices.Contains(Granularities, c.Granularity) {
		add("granularity: %q is not one of %s", c.Granularity, join(Granularities))
	}
	if _, err := c.MetricSelection(); err != nil {
		errs = append(errs, err)
	}
	if !slices.Contains(RebalanceSources, c.RebalanceSource) {
		add("rebalance.source: %q is not one of %s", c.RebalanceSource, join(RebalanceSources))
	}
	if len(c.Clusters) == 0 {
		add("clusters: at least one cluster is required")
	}
	seen := map[string]int{}
	for i, cl := range c.Clusters {
		p := fmt.Sprintf("clusters[%d]", i)
		switch {
		case cl.Name == "":
			add("%s.name: required", p)
		case !clusterNameRE.MatchString(cl.Name):
			add("%s.name: %q has characters outside [a-zA-Z0-9_.-]", p, cl.Name)
		default:
			if j, dup := seen[cl.Name]; dup {
				add("%s.name: %q is already used by clusters[%d]", p, cl.Name, j)
			} else {
				seen[cl.Name] = i
			}
		}
		errs = append(errs, cl.validate(p)...)
	}
	errs = append(errs, c.validateTimeLagAndThresholds()...)
	return errors.Join(errs...)
}

func (cl Cluster) validate(p string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if len(cl.Brokers) == 0 {
		add("%s.brokers: at least one host:port is required", p)
	}
	for _, b := range cl.Brokers {
		if err := checkBroker(b); err != nil {
			add("%s.brokers: %w", p, err)
		}
	}
	if !slices.Contains(Isolations, cl.Isolation) {
		add("%s.isolation: %q is not one of %s", p, cl.Isolation, join(Isolations))
	}

	t := cl.TLS
	if !t.Enabled {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"ca_file", t.CAFile != ""},
			{"cert_file", t.CertFile != ""},
			{"key_file", t.KeyFile != ""},
			{"server_name", t.ServerName != ""},
			{"insecure_skip_verify", t.InsecureSkipVerify},
		} {
			if f.set {
				add("%s.tls.%s: set but tls.enabled is false", p, f.name)
			}
		}
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		add("%s.tls: cert_file and key_file must be set together", p)
	}

	s := cl.SASL
	switch s.Mechanism {
	case SASLNone:
		if s.Username != "" || s.PasswordFile != "" || s.PasswordEnv != "" || s.TokenFile != "" {
			add("%s.sasl.mechanism: required when other sasl fields are set (one of %s)", p, strings.Join(SASLMechanisms, ", "))
		}
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		if s.Username == "" {
			add("%s.sasl.username: required for mechanism %s", p, s.Mechanism)
		}
		if s.PasswordFile != "" && s.PasswordEnv != "" {
			add("%s.sasl: set only one of password_file and password_env", p)
		}
		if s.TokenFile != "" {
			add("%s.sasl.token_file: only used by mechanism oauthbearer", p)
		}
	case SASLOAuthBearer:
		switch {
		case s.TokenFile == "" && !s.OAuth.set():
			add("%s.sasl.token_file: required for mechanism oauthbearer, unless sasl.oauth.token_url is set", p)
		case s.TokenFile != "" && s.OAuth.set():
			add("%s.sasl: set only one of token_file and oauth (a token endpoint)", p)
		}
		if s.PasswordFile != "" || s.PasswordEnv != "" {
			add("%s.sasl: password_file/password_env are not used by mechanism oauthbearer (use token_file or oauth)", p)
		}
	case SASLAWSMSKIAM:
		if s.Username != "" || s.PasswordFile != "" || s.PasswordEnv != "" || s.TokenFile != "" {
			add("%s.sasl: mechanism aws-msk-iam takes its credentials from the AWS credential chain (environment, profiles, IRSA, EKS Pod Identity, instance metadata); remove username, password_file, password_env and token_file", p)
		}
	default:
		add("%s.sasl.mechanism: %q is not one of %s", p, s.Mechanism, strings.Join(SASLMechanisms, ", "))
	}
	if s.OAuth.set() {
		if s.Mechanism == SASLOAuthBearer {
			errs = append(errs, s.OAuth.validate(p)...)
		} else {
			add("%s.sasl.oauth: only used by mechanism oauthbearer", p)
		}
	}
	if s.AWS.set() {
		if s.Mechanism == SASLAWSMSKIAM {
			errs = append(errs, s.AWS.validate(p)...)
		} else {
			add("%s.sasl.aws: only used by mechanism aws-msk-iam", p)
		}
	}
	if s.PasswordEnv != "" && !envNameRE.MatchString(s.PasswordEnv) {
		// The value is not quoted: it might be a pasted password.
		add("%s.sasl.password_env: not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*); it must name the variable holding the password, not hold it", p)
	}
	return errs
}

// envNameRE matches a portable environment variable name.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func checkBroker(b string) error {
	host, port, err := net.SplitHostPort(b)
	if err != nil {
		if !strings.Contains(b, ":") || strings.HasSuffix(err.Error(), "missing port in address") {
			return fmt.Errorf("%q has no port (want host:port)", b)
		}
		return fmt.Errorf("%q is not host:port: %w", b, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host (want host:port)", b)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has an invalid port %q (want 1-65535)", b, port)
	}
	return nil
}

func join[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}
