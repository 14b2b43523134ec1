package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// File is a parsed klagx YAML configuration file (--config.file).
//
// Its keys mirror the command-line flags: the flag --a.b-c is the key
// `a: {b_c: ...}` (dots nest, dashes become underscores), read through
// [File.Lookup] by the flag layer, which gives flags and KLAGX_* environment
// variables precedence over the file. On top of that, `clusters:` is a list
// of clusters, returned as [File.Clusters], and `thresholds:` a list of
// per-group threshold overrides, returned as [File.Thresholds]. The accepted
// keys are those of [FileKeys] plus clusters and thresholds; anything else is
// an error naming the key, the line and the file. There is no password key anywhere: use password_file or
// password_env.
//
// Example:
//
//	poll_interval: 30s
//	granularity: topic
//	metric_opt_in_list: [klagx_group_commit_latency_seconds]
//	group: {include: ["orders-.*"], exclude: [".*-test"]}
//	warn_lag_seconds: 1m
//	time_lag: {mode: exact, fetch_budget: 500}
//	thresholds:
//	  - group: "batch-.*"
//	    warn_lag_seconds: 30m
//	    crit_lag_seconds: 2h
//	clusters:
//	  - name: prod
//	    brokers: [k1:9092, k2:9092]
//	    isolation: read_committed
//	    tls: {enabled: true, ca_file: /etc/klagx/ca.pem}
//	    sasl: {mechanism: scram-sha-512, username: klagx, password_file: /run/secrets/kafka}
//	  - name: msk
//	    brokers: [b-1.prod.abc123.c2.kafka.eu-west-1.amazonaws.com:9098]
//	    tls: {enabled: true}
//	    sasl: {mechanism: aws-msk-iam, aws: {region: eu-west-1}}
//	  - name: confluent
//	    brokers: [pkc-00000.eu-west-1.aws.confluent.cloud:9092]
//	    tls: {enabled: true}
//	    sasl:
//	      mechanism: oauthbearer
//	      oauth:
//	        token_url: https://idp.example.com/oauth2/token
//	        client_id: klagx
//	        client_secret_file: /run/secrets/oidc-client-secret
//	        extensions: {logicalCluster: lkc-abc12, identityPoolId: pool-Xy1}
type File struct {
	// Path the file was read from, used in error messages.
	Path string
	// Clusters from the `clusters:` key, on top of [DefaultCluster], not
	// validated (see Config.Validate).
	Clusters []Cluster
	// Thresholds from the `thresholds:` key, in order, their group regexes
	// compiled, not validated otherwise.
	Thresholds []ThresholdOverride

	values map[string]any
}

// fileSchema is the accepted shape of the file. Its yaml tags are the
// contract with the flags of cmd/klagx (a test there checks that each flag
// has its key here and the other way round).
type fileSchema struct {
	PollInterval      duration   `yaml:"poll_interval"`
	GroupPollInterval duration   `yaml:"group_poll_interval"`
	Shard             *int       `yaml:"shard"`
	TotalShards       *int       `yaml:"total_shards"`
	Granularity       string     `yaml:"granularity"`
	MetricOptInList   stringList `yaml:"metric_opt_in_list"`
	MetricAllowlist   stringList `yaml:"metric_allowlist"`
	MetricDenylist    stringList `yaml:"metric_denylist"`
	Group             fileFilter `yaml:"group"`
	Topic             fileTopics `yaml:"topic"`
	Brokers           stringList `yaml:"brokers"`
	ClusterName       string     `yaml:"cluster_name"`
	Isolation         string     `yaml:"isolation"`
	Kafka             fileKafka  `yaml:"kafka"`
	Web               fileWeb    `yaml:"web"`
	Log               fileLog    `yaml:"log"`
	OTLP              fileOTLP   `yaml:"otlp"`

	WarnLagSeconds seconds     `yaml:"warn_lag_seconds"`
	CritLagSeconds seconds     `yaml:"crit_lag_seconds"`
	WarnLag        int64       `yaml:"warn_lag"`
	CritLag        int64       `yaml:"crit_lag"`
	StallAfter     duration    `yaml:"stall_after"`
	GrowthWindow   duration    `yaml:"growth_window"`
	TimeLag        fileTimeLag `yaml:"time_lag"`
	Rebalance      fileRebal   `yaml:"rebalance"`

	Clusters   []fileClust     `yaml:"clusters"`
	Thresholds []fileThreshold `yaml:"thresholds"`
}

// fileTimeLag mirrors --time-lag.mode (alias --time-lag) and
// --time-lag.fetch-budget.
type fileTimeLag struct {
	Mode        string `yaml:"mode"`
	FetchBudget int    `yaml:"fetch_budget"`
}

// fileRebal mirrors --rebalance.source.
type fileRebal struct {
	Source string `yaml:"source"`
}

// fileThreshold is one entry of thresholds:; absent keys inherit.
type fileThreshold struct {
	Group          string    `yaml:"group"`
	WarnLagSeconds *seconds  `yaml:"warn_lag_seconds"`
	CritLagSeconds *seconds  `yaml:"crit_lag_seconds"`
	WarnLag        *count    `yaml:"warn_lag"`
	CritLag        *count    `yaml:"crit_lag"`
	StallAfter     *duration `yaml:"stall_after"`
	GrowthWindow   *duration `yaml:"growth_window"`
}

type fileFilter struct {
	Include stringList `yaml:"include"`
	Exclude stringList `yaml:"exclude"`
}

type fileTopics struct {
	Include         stringList `yaml:"include"`
	Exclude         stringList `yaml:"exclude"`
	IncludeInternal bool       `yaml:"include_internal"`
}

type fileKafka struct {
	TLS  fileTLS       `yaml:"tls"`
	SASL fileKafkaSASL `yaml:"sasl"`
}

// fileKafkaSASL is the shorthand (--brokers) cluster's SASL: its password
// comes from password_file or the KLAGX_SASL_PASSWORD variable.
type fileKafkaSASL struct {
	Mechanism    string         `yaml:"mechanism"`
	Username     string         `yaml:"username"`
	PasswordFile string         `yaml:"password_file"`
	TokenFile    string         `yaml:"token_file"`
	AWS          fileAWS        `yaml:"aws"`
	OAuth        fileKafkaOAuth `yaml:"oauth"`
}

// fileAWS mirrors --kafka.sasl.aws.* and is the aws: key of a clusters
// entry's sasl.
type fileAWS struct {
	Region  string `yaml:"region"`
	Profile string `yaml:"profile"`
}

// fileKafkaOAuth mirrors the --kafka.sasl.oauth.* flags of the shorthand
// cluster: params and extensions are KEY=VALUE lists there, as on the
// command line; the client secret comes from client_secret_file or the
// KLAGX_SASL_OAUTH_CLIENT_SECRET variable.
type fileKafkaOAuth struct {
	TokenURL         string     `yaml:"token_url"`
	ClientID         string     `yaml:"client_id"`
	ClientSecretFile string     `yaml:"client_secret_file"`
	Scope            stringList `yaml:"scope"`
	Param            stringList `yaml:"param"`
	Extension        stringList `yaml:"extension"`
	CAFile           string     `yaml:"ca_file"`
}

// fileOAuth is the oauth: key of a clusters entry's sasl.
type fileOAuth struct {
	TokenURL         string     `yaml:"token_url"`
	ClientID         string     `yaml:"client_id"`
	ClientSecretFile string     `yaml:"client_secret_file"`
	ClientSecretEnv  string     `yaml:"client_secret_env"`
	Scopes           stringList `yaml:"scopes"`
	Params           stringMap  `yaml:"params"`
	Extensions       stringMap  `yaml:"extensions"`
	CAFile           string     `yaml:"ca_file"`
}

type fileWeb struct {
	ListenAddress stringList `yaml:"listen_address"`
	Config        struct {
		File string `yaml:"file"`
	} `yaml:"config"`
	TelemetryPath          string `yaml:"telemetry_path"`
	DisableExporterMetrics bool   `yaml:"disable_exporter_metrics"`
	EnablePprof            bool   `yaml:"enable_pprof"`
}

// fileOTLP mirrors the --otlp.* flags of klagx serve.
type fileOTLP struct {
	Endpoint           string     `yaml:"endpoint"`
	Header             stringList `yaml:"header"`
	InsecureSkipVerify bool       `yaml:"insecure_skip_verify"`
	Interval           duration   `yaml:"interval"`
	Traces             bool       `yaml:"traces"`
}

type fileLog struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

type fileClust struct {
	Name      string     `yaml:"name"`
	Brokers   stringList `yaml:"brokers"`
	Isolation string     `yaml:"isolation"`
	TLS       fileTLS    `yaml:"tls"`
	SASL      fileSASL   `yaml:"sasl"`
}

// UnmarshalYAML decodes a clusters: entry on top of the defaults, so that
// an absent key is the default and an explicit empty value is validated
// as written.
func (c *fileClust) UnmarshalYAML(n *yaml.Node) error {
	type plain fileClust
	p := plain{Isolation: string(DefaultCluster("").Isolation)}
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = fileClust(p)
	return nil
}

type fileTLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

type fileSASL struct {
	Mechanism    string    `yaml:"mechanism"`
	Username     string    `yaml:"username"`
	PasswordFile string    `yaml:"password_file"`
	PasswordEnv  string    `yaml:"password_env"`
	TokenFile    string    `yaml:"token_file"`
	OAuth        fileOAuth `yaml:"oauth"`
	AWS          fileAWS   `yaml:"aws"`
}

// stringMap is a mapping of names to string values (OAuth params and
// extensions). A value that YAML reads as a number or a boolean must be
// quoted, so that 007 or 1e3 reaches the token endpoint as written.
type stringMap map[string]string

func (m *stringMap) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of names to strings, not a %s", n.Line, nodeKind(n))
	}
	out := stringMap{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Tag != "!!str" {
			return fmt.Errorf("line %d: the value of %s must be a string (quote it)", v.Line, k.Value)
		}
		out[k.Value] = v.Value
	}
	*m = out
	return nil
}

// seconds is the duration of the keys named for seconds
// (warn_lag_seconds, crit_lag_seconds): a bare number is seconds, as the
// key says (60, 1.5), and a Go duration string ("2m") works too.
type seconds time.Duration

func (d *seconds) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want seconds (60) or a Go duration such as \"2m\", not a %s", n.Line, nodeKind(n))
	}
	if f, err := strconv.ParseFloat(n.Value, 64); err == nil && n.Tag != "!!bool" {
		*d = seconds(time.Duration(f * float64(time.Second)))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Tag != "!!str" {
		return fmt.Errorf("line %d: %q is not seconds (60) or a Go duration such as \"2m\"", n.Line, n.Value)
	}
	*d = seconds(v)
	return nil
}

// duration accepts only a quoted-or-plain Go duration string ("15s"): a bare
// number would silently mean nanoseconds.
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a Go duration such as \"15s\", not a %s", n.Line, nodeKind(n))
	}
	if n.Tag != "!!str" {
		return fmt.Errorf("line %d: %s is not a duration (want a Go duration such as \"15s\")", n.Line, n.Value)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (want a Go duration such as \"15s\")", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

// count is a number of messages in the thresholds: list. It accepts only a
// YAML integer: yaml.v3 would silently truncate 1.5 into an int64.
type count int64

func (c *count) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a whole number of messages, not a %s", n.Line, nodeKind(n))
	}
	var v int64
	if n.Tag != "!!int" || n.Decode(&v) != nil {
		return fmt.Errorf("line %d: %s is not a whole number of messages", n.Line, n.Value)
	}
	*c = count(v)
	return nil
}

// nodeKind names the kind of a non-scalar node in errors.
func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	default:
		return "single value"
	}
}

// stringList accepts a list of strings or a single string.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

var (
	durationType   = reflect.TypeFor[duration]()
	secondsType    = reflect.TypeFor[seconds]()
	stringListType = reflect.TypeFor[stringList]()
)

// LoadFile reads and strictly parses a klagx YAML configuration file.
func LoadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	return ParseFile(path, data)
}

// ParseFile strictly parses the YAML configuration in data; path is only used
// in error messages. Errors start with "path:line:" where a line is known.
func ParseFile(path string, data []byte) (*File, error) {
	f := &File{Path: path, values: map[string]any{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // empty file: nothing configured
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: only one YAML document is allowed", path)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return f, nil
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the top level must be a mapping of keys", path, root.Line)
	}
	// 1. Unknown and forbidden keys, with their full path.
	if err := checkKeys(path, root, reflect.TypeFor[fileSchema](), ""); err != nil {
		return nil, err
	}
	// 2. Types (yaml.v3 errors carry line numbers).
	var s fileSchema
	if err := root.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yamlErrorText(err))
	}
	// 3. Raw values for Lookup.
	if err := root.Decode(&f.values); err != nil {
		return nil, fmt.Errorf("%s: %s", path, yamlErrorText(err))
	}
	if _, ok := f.values["clusters"]; ok {
		var shorthand []string
		for _, k := range []string{"brokers", "cluster_name", "isolation", "kafka"} {
			if _, set := f.values[k]; set {
				shorthand = append(shorthand, k)
			}
		}
		if len(shorthand) > 0 {
			return nil, fmt.Errorf("%s: %s only configure the single cluster of brokers; with clusters, set them in each clusters entry instead", path, strings.Join(shorthand, ", "))
		}
	}
	for _, c := range s.Clusters {
		f.Clusters = append(f.Clusters, Cluster{
			Name:      c.Name,
			Brokers:   c.Brokers,
			Isolation: Isolation(c.Isolation),
			TLS: TLS{
				Enabled: c.TLS.Enabled, CAFile: c.TLS.CAFile, CertFile: c.TLS.CertFile, KeyFile: c.TLS.KeyFile,
				ServerName: c.TLS.ServerName, InsecureSkipVerify: c.TLS.InsecureSkipVerify,
			},
			SASL: SASL{
				Mechanism: c.SASL.Mechanism, Username: c.SASL.Username, PasswordFile: c.SASL.PasswordFile,
				PasswordEnv: c.SASL.PasswordEnv, TokenFile: c.SASL.TokenFile,
				OAuth: OAuth{
					TokenURL: c.SASL.OAuth.TokenURL, ClientID: c.SASL.OAuth.ClientID,
					ClientSecretFile: c.SASL.OAuth.ClientSecretFile, ClientSecretEnv: c.SASL.OAuth.ClientSecretEnv,
					Scopes: c.SASL.OAuth.Scopes, Params: c.SASL.OAuth.Params, Extensions: c.SASL.OAuth.Extensions,
					CAFile: c.SASL.OAuth.CAFile,
				},
				AWS: AWSIAM{Region: c.SASL.AWS.Region, Profile: c.SASL.AWS.Profile},
			},
		})
	}
	for i, t := range s.Thresholds {
		o, err := NewThresholdOverride(fmt.Sprintf("thresholds[%d].group", i), t.Group)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		o.WarnLagSeconds, o.CritLagSeconds = (*time.Duration)(t.WarnLagSeconds), (*time.Duration)(t.CritLagSeconds)
		o.WarnLag, o.CritLag = (*int64)(t.WarnLag), (*int64)(t.CritLag)
		o.StallAfter, o.GrowthWindow = (*time.Duration)(t.StallAfter), (*time.Duration)(t.GrowthWindow)
		f.Thresholds = append(f.Thresholds, o)
	}
	return f, nil
}

// listKeys are the top-level keys that are lists of objects rather than
// flag mirrors.
var listKeys = map[string]bool{"clusters": true, "thresholds": true}

// Lookup returns the raw value the file sets for a command-line flag name
// ("poll-interval", "web.listen-address", "kafka.tls.ca-file"): a string,
// bool, number or []any. ok is false when the file does not set it (an
// explicit null counts as not set). `clusters` and `thresholds` are never
// returned: they are not flags, read them from [File.Clusters] and
// [File.Thresholds]. The receiver may be nil.
func (f *File) Lookup(flag string) (value any, ok bool) {
	if f == nil {
		return nil, false
	}
	if top, _, _ := strings.Cut(flag, "."); listKeys[top] {
		return nil, false
	}
	var cur any = f.values
	for _, part := range strings.Split(flag, ".") {
		m, isMap := cur.(map[string]any)
		if !isMap {
			return nil, false
		}
		if cur, ok = m[strings.ReplaceAll(part, "-", "_")]; !ok {
			return nil, false
		}
	}
	if _, isMap := cur.(map[string]any); isMap || cur == nil {
		return nil, false
	}
	return cur, true
}

// FileKeys lists the dotted keys ("kafka.tls.ca_file") that mirror a flag,
// sorted; `clusters`, `thresholds` and their sub-keys are not included.
func FileKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name := yamlName(sf)
			if listKeys[name] && prefix == "" {
				continue
			}
			if sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, prefix+name+".")
				continue
			}
			keys = append(keys, prefix+name)
		}
	}
	walk(reflect.TypeFor[fileSchema](), "")
	sort.Strings(keys)
	return keys
}

func yamlName(sf reflect.StructField) string {
	name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
	return name
}

// checkKeys walks n against the schema type t and rejects unknown keys and
// password keys, naming the full key path.
func checkKeys(file string, n *yaml.Node, t reflect.Type, prefix string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch {
	case t == durationType || t == secondsType || t == stringListType:
		return nil
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.StructField{}
		var valid []string
		for i := range t.NumField() {
			name := yamlName(t.Field(i))
			fields[name] = t.Field(i)
			valid = append(valid, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := prefix + k.Value
			sf, ok := fields[k.Value]
			switch {
			case ok:
				if err := checkKeys(file, v, sf.Type, key+"."); err != nil {
					return err
				}
				// The type of the value, here where its key is known
				// (yaml.v3's own errors only give the line). Nested
				// keys were checked first, so this only fails on this
				// value itself.
				if err := v.Decode(reflect.New(sf.Type).Interface()); err != nil {
					return fmt.Errorf("%s: %s: %s", file, key, yamlErrorText(err))
				}
			case IsPasswordKey(k.Value):
				hint := "password_file or password_env"
				if strings.HasPrefix(prefix, "kafka.") || prefix == "" {
					hint = "kafka.sasl.password_file or the " + DefaultPasswordEnv + " environment variable"
				}
				return fmt.Errorf("%s:%d: %s: plain-text passwords are not accepted in the config file; use %s", file, k.Line, key, hint)
			default:
				return fmt.Errorf("%s:%d: unknown key %q (valid here: %s)", file, k.Line, key, strings.Join(valid, ", "))
			}
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && n.Kind == yaml.SequenceNode:
		p := strings.TrimSuffix(prefix, ".")
		for i, item := range n.Content {
			if err := checkKeys(file, item, t.Elem(), fmt.Sprintf("%s[%d].", p, i)); err != nil {
				return err
			}
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.ScalarNode && n.Tag != "!!null":
		// `time_lag: exact` is the natural mistake next to --time-lag=exact.
		// The value is not quoted: it might be a secret (sasl: hunter2).
		var valid []string
		for i := range t.NumField() {
			valid = append(valid, yamlName(t.Field(i)))
		}
		key := strings.TrimSuffix(prefix, ".")
		return fmt.Errorf("%s:%d: %s: want a mapping with keys %s, not a single value (e.g. %s: {%s: ...})", file, n.Line, key, strings.Join(valid, ", "), key, valid[0])
	}
	// Other kind mismatches are reported by the typed decode.
	return nil
}

// passwordKeys are the keys, in the config file and in the key=value lists
// of --cluster (dashes for underscores), that look like a plain-text
// password: they are rejected with a pointer to the file and variable
// alternatives rather than as unknown keys.
var passwordKeys = []string{"password", "sasl_password", "pass", "sasl_pass", "passwd", "sasl_passwd"}

// IsPasswordKey reports whether key (any case, dashes or underscores) is
// one of the rejected password keys.
func IsPasswordKey(key string) bool {
	return slices.Contains(passwordKeys, strings.ToLower(strings.ReplaceAll(key, "-", "_")))
}

// yamlErrorText flattens yaml.v3's multi-line TypeError.
func yamlErrorText(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return err.Error()
}
