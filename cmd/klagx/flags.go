package main

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/klagx/klagx/config"
)

// configFlags are the flags that become a config.Config, shared by the
// commands that talk to Kafka (serve and check; serve adds pollFlags).
// Precedence of each flag: command line > KLAGX_* environment variable >
// --config.file > default. The group tags place them under the headings of
// --help (see helpGroups).
//
// Clusters are chosen as a whole, from the first source that has any:
// --cluster entries, else the single --brokers cluster, else the config
// file's clusters: list.
type configFlags struct {
	Clusters []string `name:"cluster" group:"kafka" sep:";" placeholder:"name=NAME,brokers=HOST:PORT,..." help:"A Kafka cluster to poll; repeatable (in KLAGX_CLUSTER, separate clusters with ';'). Comma-separated key=value pairs; a token without '=' continues the previous value, so brokers=k1:9092,k2:9092 works. Keys: name, brokers, isolation, tls (true/false), tls-ca-file, tls-cert-file, tls-key-file, tls-server-name, tls-insecure-skip-verify, sasl-mechanism, sasl-username, sasl-password-file, sasl-password-env, sasl-token-file, sasl-aws-region, sasl-aws-profile, sasl-oauth-token-url, sasl-oauth-client-id, sasl-oauth-client-secret-file, sasl-oauth-client-secret-env, sasl-oauth-scope (comma- or space-separated), sasl-oauth-ca-file (OAuth params and extensions: config file or --kafka.sasl.oauth.*). There is no password key: use sasl-password-file or sasl-password-env. The shared --isolation, --kafka.tls.* and --kafka.sasl.* flags do NOT apply to these clusters. Overrides --brokers and the config file's clusters. Default: none."`

	Brokers     []string `name:"brokers" group:"kafka" placeholder:"HOST:PORT" help:"Seed brokers of a single cluster (shorthand for one --cluster), named by --cluster-name and configured by --isolation, --kafka.tls.* and --kafka.sasl.*. Ignored when --cluster is given. Default: none."`
	ClusterName string   `name:"cluster-name" group:"kafka" default:"default" placeholder:"NAME" help:"Value of the cluster label for the --brokers cluster. Default: default."`
	Isolation   string   `name:"isolation" group:"kafka" default:"read_uncommitted" placeholder:"LEVEL" help:"End offset of the --brokers cluster: read_uncommitted (high-water mark) or read_committed (last stable offset). Default: read_uncommitted."`

	TLS  tlsFlags  `embed:"" prefix:"kafka.tls." group:"tls"`
	SASL saslFlags `embed:"" prefix:"kafka.sasl." group:"sasl"`

	GroupInclude []string `name:"group.include" group:"filters" sep:"none" placeholder:"REGEX" help:"Keep only groups (consumer, streams and share groups) whose name matches this fully anchored regex; repeatable. Default: all groups."`
	GroupExclude []string `name:"group.exclude" group:"filters" sep:"none" placeholder:"REGEX" help:"Drop groups (consumer, streams and share groups) whose name matches this fully anchored regex (wins over --group.include); repeatable. Default: none."`
	TopicInclude []string `name:"topic.include" group:"filters" sep:"none" placeholder:"REGEX" help:"Keep only topics whose name matches this fully anchored regex; repeatable. Default: all topics."`
	TopicExclude []string `name:"topic.exclude" group:"filters" sep:"none" placeholder:"REGEX" help:"Drop topics whose name matches this fully anchored regex (wins over --topic.include); repeatable. Default: none."`

	TopicIncludeInternal bool `name:"topic.include-internal" group:"filters" help:"Also report internal topics (names starting with __). Default: false."`

	TimeLag    timeLagFlags   `embed:"" prefix:"time-lag." group:"time-lag"`
	Thresholds thresholdFlags `embed:"" group:"thresholds"`
}

// pollFlags schedule the background polling of klagx serve. klagx check
// samples once (or twice, --window apart) and has none of them.
type pollFlags struct {
	PollInterval      time.Duration `name:"poll-interval" default:"15s" placeholder:"DURATION" help:"Time between two polls of each cluster; at least 1s. Default: 15s."`
	Shard             int           `name:"shard" default:"0" placeholder:"N" help:"This replica's shard, 0 to --total-shards minus 1: it keeps only the groups whose name hashes to it (FNV-64a, jump consistent hash, as kube-state-metrics), and only shard 0 exports the klagx_partition_* series. Default: 0."`
	TotalShards       int           `name:"total-shards" default:"1" placeholder:"M" help:"Number of replicas sharing the groups of the same clusters; 1 turns sharding off. Default: 1."`
	GroupPollInterval time.Duration `name:"group-poll-interval" default:"2s" placeholder:"DURATION" help:"Time between two reads of group state for rebalance detection (one DescribeGroups and one ConsumerGroupDescribe per coordinator); at least 100ms, at most --poll-interval. Default: 2s, or --poll-interval when that is shorter."`
	Granularity       string        `name:"granularity" default:"partition" placeholder:"LEVEL" help:"Finest level of the lag series: partition, topic (the per-topic families replace the per-partition ones) or group. Default: partition."`
	RebalanceSource   string        `name:"rebalance.source" default:"admin" placeholder:"SOURCE" help:"Where classic groups' generations (rebalance counts) come from: admin (inferred from DescribeGroups every --group-poll-interval; exact only for clients that send KIP-792 generations, such as the Java and franz-go consumers; rebalances closer together than that interval can be missed) or consumer-offsets (every generation, from the group metadata records the coordinator writes to __consumer_offsets, read from its start by a consumer that joins no group; needs ACL Read on Topic __consumer_offsets, and costs one fetch session per broker). KIP-848 groups always use their epochs. Default: admin."`
}

// checkPollFlags are the pollFlags of klagx check: the defaults (one
// sample, every group, partition series) but for the poll interval, which
// sets the time-lag accuracy target and the Kafka request timeout there too.
func checkPollFlags(pollInterval time.Duration) pollFlags {
	d := config.Default()
	return pollFlags{
		PollInterval:      pollInterval,
		GroupPollInterval: min(d.GroupPollInterval, pollInterval),
		Granularity:       string(d.Granularity),
		Shard:             d.Shard,
		TotalShards:       d.TotalShards,
		RebalanceSource:   string(d.RebalanceSource),
	}
}

// metricFlags choose the metric families klagx serve renders, by name as
// in kube-state-metrics (see metrics.Selection). klagx check renders no
// metrics and has none of them.
type metricFlags struct {
	OptIn     []string `name:"metric-opt-in-list" sep:"," placeholder:"REGEX" help:"Also serve the opt-in metric families (beyond the default cardinality budget, see docs/metrics.md) whose name matches one of these comma-separated, fully anchored regexes; '.*' serves every family. Default: none."`
	Allowlist []string `name:"metric-allowlist" sep:"," placeholder:"REGEX" help:"Serve only the metric families (of the default and opted-in ones) whose name matches one of these comma-separated, fully anchored regexes. Exclusive with --metric-denylist. Default: all."`
	Denylist  []string `name:"metric-denylist" sep:"," placeholder:"REGEX" help:"Do not serve the metric families whose name matches one of these comma-separated, fully anchored regexes. Exclusive with --metric-allowlist. Default: none."`
}

// families is the config view of the flags.
func (m metricFlags) families() config.MetricFamilies {
	return config.MetricFamilies{OptIn: m.OptIn, Allow: m.Allowlist, Deny: m.Denylist}
}

// timeLagFlags configure the time-lag estimation. The mode flag is
// --time-lag.mode rather than --time-lag because the YAML mirror of
// --time-lag.fetch-budget makes time_lag a mapping (time_lag: {mode: ...,
// fetch_budget: ...}); --time-lag is kept as an alias of --time-lag.mode.
type timeLagFlags struct {
	Mode        string `name:"mode" aliases:"time-lag" default:"interpolate" placeholder:"MODE" help:"How the time lag (seconds behind) is estimated: interpolate (from the end offsets seen over time, no extra reads) or exact (reads the record at each committed offset for its timestamp). Also accepted as --time-lag. Default: interpolate."`
	FetchBudget int    `name:"fetch-budget" default:"1000" placeholder:"N" help:"With --time-lag.mode=exact, the maximum number of record fetches per poll cycle per cluster; at least 1. Default: 1000."`
}

// thresholdFlags decide the status of each consumer group. They are shared
// by serve and check: embed the struct to get the same flags.
type thresholdFlags struct {
	WarnLagSeconds time.Duration `name:"warn-lag-seconds" type:"seconds" default:"2m" placeholder:"SECONDS" help:"A group is warning when its time lag reaches this; seconds (120) or a duration (2m); 0 disables the rule. Default: 2m."`
	CritLagSeconds time.Duration `name:"crit-lag-seconds" type:"seconds" default:"10m" placeholder:"SECONDS" help:"A group is critical when its time lag reaches this; seconds (600) or a duration (10m); 0 disables the rule. Default: 10m."`
	WarnLag        int64         `name:"warn-lag" default:"0" placeholder:"MESSAGES" help:"A group is warning when its lag reaches this many messages; 0 disables the rule. Default: 0 (disabled)."`
	CritLag        int64         `name:"crit-lag" default:"0" placeholder:"MESSAGES" help:"A group is critical when its lag reaches this many messages; 0 disables the rule. Default: 0 (disabled)."`
	StallAfter     time.Duration `name:"stall-after" default:"3m" placeholder:"DURATION" help:"A group with lag but no commit progress for this long is stalled; at least one poll interval (--poll-interval of serve). Default: 3m."`
	GrowthWindow   time.Duration `name:"growth-window" default:"5m" placeholder:"DURATION" help:"A group whose lag rises through this whole window is warning; the consume and produce rates of the catch-up estimate are taken over it too; at least one poll interval (--poll-interval of serve). Default: 5m."`

	Overrides []string `name:"threshold" sep:";" placeholder:"group=REGEX,KEY=VALUE,..." help:"Thresholds for the groups whose name fully matches REGEX; repeatable, the first matching entry wins, unset keys come from the flags above (in KLAGX_THRESHOLD, separate entries with ';'). Comma-separated key=value pairs; group is required. Keys: group, warn-lag-seconds, crit-lag-seconds, warn-lag, crit-lag, stall-after, growth-window. A comma in the regex only works when the text after it has no '='; write such regexes in the config file's thresholds: list instead. Overrides the config file's thresholds. Default: none."`
}

// tlsFlags configure TLS for the --brokers cluster.
type tlsFlags struct {
	Enabled            bool   `name:"enabled" help:"Connect to the --brokers cluster over TLS. Default: false."`
	CAFile             string `name:"ca-file" placeholder:"PATH" help:"PEM CA bundle to verify the brokers with (with --kafka.tls.enabled). Default: the system roots."`
	CertFile           string `name:"cert-file" placeholder:"PATH" help:"PEM client certificate for mutual TLS (with --kafka.tls.key-file). Default: none."`
	KeyFile            string `name:"key-file" placeholder:"PATH" help:"PEM client private key for mutual TLS (with --kafka.tls.cert-file). Default: none."`
	ServerName         string `name:"server-name" placeholder:"NAME" help:"Server name to verify in the broker certificates. Default: the broker host."`
	InsecureSkipVerify bool   `name:"insecure-skip-verify" help:"Do not verify the broker certificates (insecure; logged as a warning). Default: false."`
}

// saslFlags configure SASL for the --brokers cluster. There is deliberately
// no password flag: command lines are visible to other users.
type saslFlags struct {
	Mechanism    string `name:"mechanism" placeholder:"MECHANISM" help:"SASL mechanism for the --brokers cluster: plain, scram-sha-256, scram-sha-512, oauthbearer (a token from --kafka.sasl.token-file or --kafka.sasl.oauth.token-url) or aws-msk-iam (credentials from the AWS credential chain: environment, profiles, IRSA web identity, EKS Pod Identity / ECS container credentials, instance metadata). Default: none."`
	Username     string `name:"username" placeholder:"USER" help:"SASL username (plain, scram). Default: none."`
	PasswordFile string `name:"password-file" placeholder:"PATH" help:"File holding the SASL password (plain, scram), re-read on each authentication. Without it the password is read from the KLAGX_SASL_PASSWORD environment variable. Default: none."`
	TokenFile    string `name:"token-file" placeholder:"PATH" help:"File holding the OAUTHBEARER token, re-read on each authentication. Default: none."`

	AWS   awsFlags   `embed:"" prefix:"aws."`
	OAuth oauthFlags `embed:"" prefix:"oauth."`
}

// errNoCluster is returned when no source configures a cluster.
var errNoCluster = errors.New("no Kafka cluster configured: pass --brokers host:port, --cluster name=...,brokers=..., or clusters: in --config.file")

// toConfig builds and validates the config.Config from f, the polling
// flags p and the metric family flags m. file (may be nil) only supplies the clusters: list here; its
// other keys have already been applied to the flags by the kong resolver.
func (f *configFlags) toConfig(file *config.File, p pollFlags, m metricFlags) (*config.Config, error) {
	clusters, err := f.clusters(file)
	if err != nil {
		return nil, err
	}
	groups, err := config.NewFilter("group", f.GroupInclude, f.GroupExclude)
	if err != nil {
		return nil, err
	}
	topics, err := config.NewFilter("topic", f.TopicInclude, f.TopicExclude)
	if err != nil {
		return nil, err
	}
	thresholds, err := f.Thresholds.thresholds(file)
	if err != nil {
		return nil, err
	}
	// Every field comes from a flag, and every flag carries its default:
	// an explicit 0 is validated as given.
	cfg := &config.Config{
		Clusters:              clusters,
		PollInterval:          p.PollInterval,
		GroupPollInterval:     p.GroupPollInterval,
		Shard:                 p.Shard,
		TotalShards:           p.TotalShards,
		Granularity:           config.Granularity(p.Granularity),
		Metrics:               m.families(),
		Groups:                groups,
		Topics:                topics,
		IncludeInternalTopics: f.TopicIncludeInternal,
		RebalanceSource:       config.RebalanceSource(p.RebalanceSource),
		TimeLag: config.TimeLag{
			Mode:        config.TimeLagMode(f.TimeLag.Mode),
			FetchBudget: f.TimeLag.FetchBudget,
		},
		Thresholds: thresholds,
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// checkClusterFiles reads, for every cluster, the files and environment
// variables its client will read (CA bundle, client certificate and key,
// SASL password file or variable, OAUTHBEARER token file, OIDC client
// secret and token endpoint CA, AWS shared config profile), so that a
// missing, unreadable or empty one is a configuration error at start naming
// the cluster's field, e.g.
// `clusters[0].tls.ca_file: open /etc/ca.pem: no such file or directory`.
// Secret values never appear in the errors.
func checkClusterFiles(cfg *config.Config) error {
	var errs []error
	for i, c := range cfg.Clusters {
		if _, err := c.ClientOpts(nil); err != nil {
			errs = append(errs, fmt.Errorf("clusters[%d].%w", i, err))
		}
	}
	return errors.Join(errs...)
}

// checkListenAddress checks one --web.listen-address without binding it:
// host:port (host may be empty for all interfaces) with a port number
// (0 picks a free port) or a service name.
func checkListenAddress(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port (e.g. :9308, 127.0.0.1:9308, [::1]:9308)", addr)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		return fmt.Errorf("%q has an invalid port %q (want 0-65535)", addr, port)
	}
	return nil
}

// clusters picks the cluster source: --cluster, else --brokers, else the
// config file's clusters:.
func (f *configFlags) clusters(file *config.File) ([]config.Cluster, error) {
	if len(f.Clusters) > 0 {
		var out []config.Cluster
		for i, spec := range f.Clusters {
			c, err := parseClusterSpec(spec)
			if err != nil {
				return nil, fmt.Errorf("--cluster[%d]: %w", i, err)
			}
			out = append(out, c)
		}
		return out, nil
	}
	brokers := splitList(f.Brokers)
	if len(brokers) > 0 {
		c := config.DefaultCluster(f.ClusterName, brokers...)
		c.Isolation = config.Isolation(f.Isolation)
		c.TLS = config.TLS{
			Enabled:            f.TLS.Enabled,
			CAFile:             f.TLS.CAFile,
			CertFile:           f.TLS.CertFile,
			KeyFile:            f.TLS.KeyFile,
			ServerName:         f.TLS.ServerName,
			InsecureSkipVerify: f.TLS.InsecureSkipVerify,
		}
		// The password, without a file, comes from config.DefaultPasswordEnv.
		c.SASL = config.SASL{
			Mechanism:    f.SASL.Mechanism,
			Username:     f.SASL.Username,
			PasswordFile: f.SASL.PasswordFile,
			TokenFile:    f.SASL.TokenFile,
		}
		if err := f.SASL.managed(&c.SASL); err != nil {
			return nil, err
		}
		return []config.Cluster{c}, nil
	}
	if file != nil && len(file.Clusters) > 0 {
		return slices.Clone(file.Clusters), nil
	}
	return nil, errNoCluster
}

// thresholds builds the default thresholds from the flags and the overrides
// from --threshold (their group regexes compiled here), else from the
// config file's thresholds: list.
func (t *thresholdFlags) thresholds(file *config.File) (config.Thresholds, error) {
	out := config.Thresholds{Default: config.GroupThresholds{
		WarnLagSeconds: t.WarnLagSeconds,
		CritLagSeconds: t.CritLagSeconds,
		WarnLag:        t.WarnLag,
		CritLag:        t.CritLag,
		StallAfter:     t.StallAfter,
		GrowthWindow:   t.GrowthWindow,
	}}
	if len(t.Overrides) > 0 {
		for i, spec := range t.Overrides {
			o, err := parseThresholdSpec(spec)
			if err != nil {
				return config.Thresholds{}, fmt.Errorf("--threshold[%d]: %w", i, err)
			}
			g, err := config.NewThresholdOverride(fmt.Sprintf("thresholds[%d].group", i), o.Source)
			if err != nil {
				return config.Thresholds{}, err
			}
			o.Group = g.Group
			out.Overrides = append(out.Overrides, o)
		}
	} else if file != nil {
		out.Overrides = slices.Clone(file.Thresholds)
	}
	return out, nil
}

// thresholdKeys are the keys of a --threshold value.
var thresholdKeys = []string{"group", "warn-lag-seconds", "crit-lag-seconds", "warn-lag", "crit-lag", "stall-after", "growth-window"}

// parseThresholdSpec parses one --threshold value:
// group=batch-.*,warn-lag-seconds=30m,crit-lag=100000. As in --cluster, a
// token without '=' continues the previous value, so group=x{1,3} works.
func parseThresholdSpec(spec string) (config.ThresholdOverride, error) {
	values, order, err := splitKeyValues(spec, thresholdKeys, nil, "group=orders-.*,warn-lag-seconds=30s")
	if err != nil {
		return config.ThresholdOverride{}, err
	}
	if _, ok := values["group"]; !ok {
		return config.ThresholdOverride{}, errors.New(`key "group" is required (a regex of the group names the entry applies to)`)
	}
	var o config.ThresholdOverride
	// The *-seconds keys take seconds (60) as well as durations (1m), as
	// the flags do.
	dur := func(key, v string) (*time.Duration, error) {
		d, err := parseDuration(v, strings.HasSuffix(key, "-seconds"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return &d, nil
	}
	count := func(key, v string) (*int64, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a whole number of messages", key, v)
		}
		return &n, nil
	}
	for _, key := range order {
		v := strings.TrimSpace(values[key])
		var err error
		switch key {
		case "group":
			o.Source = v
		case "warn-lag-seconds":
			o.WarnLagSeconds, err = dur(key, v)
		case "crit-lag-seconds":
			o.CritLagSeconds, err = dur(key, v)
		case "warn-lag":
			o.WarnLag, err = count(key, v)
		case "crit-lag":
			o.CritLag, err = count(key, v)
		case "stall-after":
			o.StallAfter, err = dur(key, v)
		case "growth-window":
			o.GrowthWindow, err = dur(key, v)
		}
		if err != nil {
			return config.ThresholdOverride{}, err
		}
	}
	return o, nil
}

// clusterKeys are the keys of a --cluster value.
var clusterKeys = []string{
	"name", "brokers", "isolation",
	"tls", "tls-ca-file", "tls-cert-file", "tls-key-file", "tls-server-name", "tls-insecure-skip-verify",
	"sasl-mechanism", "sasl-username", "sasl-password-file", "sasl-password-env", "sasl-token-file",
	"sasl-aws-region", "sasl-aws-profile",
	"sasl-oauth-token-url", "sasl-oauth-client-id", "sasl-oauth-client-secret-file", "sasl-oauth-client-secret-env",
	"sasl-oauth-scope", "sasl-oauth-ca-file",
}

// parseClusterSpec parses one --cluster value:
// name=prod,brokers=k1:9092,k2:9092,isolation=read_committed. A token
// without '=' is appended (with its comma) to the previous key's value.
// Errors never quote values, which might be secrets typed in by mistake.
func parseClusterSpec(spec string) (config.Cluster, error) {
	rejectPassword := func(key string) error {
		if config.IsPasswordKey(key) {
			return fmt.Errorf("key %q is not accepted: passwords are never taken from the command line; use sasl-password-file=PATH or sasl-password-env=VARIABLE", key)
		}
		return nil
	}
	values, order, err := splitKeyValues(spec, clusterKeys, rejectPassword, "name=prod,brokers=k1:9092,k2:9092")
	if err != nil {
		return config.Cluster{}, err
	}
	c := config.DefaultCluster("")
	for _, key := range order {
		v := strings.TrimSpace(values[key])
		var err error
		switch key {
		case "name":
			c.Name = v
		case "brokers":
			c.Brokers = splitList([]string{v})
		case "isolation":
			c.Isolation = config.Isolation(v)
		case "tls":
			c.TLS.Enabled, err = parseBool(key, v)
		case "tls-ca-file":
			c.TLS.CAFile = v
		case "tls-cert-file":
			c.TLS.CertFile = v
		case "tls-key-file":
			c.TLS.KeyFile = v
		case "tls-server-name":
			c.TLS.ServerName = v
		case "tls-insecure-skip-verify":
			c.TLS.InsecureSkipVerify, err = parseBool(key, v)
		case "sasl-mechanism":
			c.SASL.Mechanism = v
		case "sasl-username":
			c.SASL.Username = v
		case "sasl-password-file":
			c.SASL.PasswordFile = v
		case "sasl-password-env":
			c.SASL.PasswordEnv = v
		case "sasl-token-file":
			c.SASL.TokenFile = v
		case "sasl-aws-region":
			c.SASL.AWS.Region = v
		case "sasl-aws-profile":
			c.SASL.AWS.Profile = v
		case "sasl-oauth-token-url":
			c.SASL.OAuth.TokenURL = v
		case "sasl-oauth-client-id":
			c.SASL.OAuth.ClientID = v
		case "sasl-oauth-client-secret-file":
			c.SASL.OAuth.ClientSecretFile = v
		case "sasl-oauth-client-secret-env":
			c.SASL.OAuth.ClientSecretEnv = v
		case "sasl-oauth-scope":
			// Scopes are one word each: split on commas and spaces. No
			// scope at all stays nil.
			if scopes := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }); len(scopes) > 0 {
				c.SASL.OAuth.Scopes = scopes
			}
		case "sasl-oauth-ca-file":
			c.SASL.OAuth.CAFile = v
		}
		if err != nil {
			return config.Cluster{}, err
		}
	}
	return c, nil
}

// splitKeyValues splits a comma-separated key=value spec (--cluster,
// --threshold). A token without '=' is appended (with its comma) to the
// previous key's value. Keys are lower-cased and must be in valid; reject,
// when not nil, may refuse a key first. example is shown when the spec does
// not start with a key. Values are returned untrimmed, keys in spec order.
func splitKeyValues(spec string, valid []string, reject func(key string) error, example string) (map[string]string, []string, error) {
	values := map[string]string{}
	var order []string
	last := ""
	for _, tok := range strings.Split(spec, ",") {
		key, val, hasEq := strings.Cut(tok, "=")
		if !hasEq {
			if last == "" {
				if strings.TrimSpace(tok) == "" {
					continue
				}
				return nil, nil, fmt.Errorf("want comma-separated key=value pairs starting with a key, e.g. %s", example)
			}
			values[last] += "," + tok
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		if reject != nil {
			if err := reject(key); err != nil {
				return nil, nil, err
			}
		}
		if !slices.Contains(valid, key) {
			return nil, nil, fmt.Errorf("unknown key %q (valid keys: %s)", key, strings.Join(valid, ", "))
		}
		if _, dup := values[key]; dup {
			return nil, nil, fmt.Errorf("key %q given twice", key)
		}
		values[key] = val
		order = append(order, key)
		last = key
	}
	return values, order, nil
}

func parseBool(key, v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", key, v)
	}
	return b, nil
}

// splitList splits comma-separated entries, trims them and drops empty ones.
func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, part := range strings.Split(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}
