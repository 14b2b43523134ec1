package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestParseFileManagedSASL: the oauth and aws keys of a clusters entry
// become SASL.OAuth and SASL.AWS, field for field.
func TestParseFileManagedSASL(t *testing.T) {
	f, err := ParseFile("f.yaml", []byte(`clusters:
  - name: confluent
    brokers: [pkc-1.eu-west-1.aws.confluent.cloud:9092]
    tls: {enabled: true}
    sasl:
      mechanism: oauthbearer
      oauth:
        token_url: https://idp.example.com/oauth2/token
        client_id: klagx
        client_secret_file: /etc/klagx/oidc/client-secret
        scopes: [kafka, offline]
        params: {audience: "kafka", resource: "007"}
        extensions: {logicalCluster: lkc-abc12, identityPoolId: pool-Xy1}
        ca_file: /etc/klagx/idp-ca.pem
  - name: msk
    brokers: [b-1.prod.abc.c2.kafka.eu-west-1.amazonaws.com:9098]
    tls: {enabled: true}
    sasl: {mechanism: aws-msk-iam, aws: {region: eu-west-1, profile: kafka}}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := OAuth{
		TokenURL: "https://idp.example.com/oauth2/token", ClientID: "klagx",
		ClientSecretFile: "/etc/klagx/oidc/client-secret", Scopes: []string{"kafka", "offline"},
		Params:     map[string]string{"audience": "kafka", "resource": "007"},
		Extensions: map[string]string{"logicalCluster": "lkc-abc12", "identityPoolId": "pool-Xy1"},
		CAFile:     "/etc/klagx/idp-ca.pem",
	}
	if got := f.Clusters[0].SASL.OAuth; !reflect.DeepEqual(got, want) {
		t.Errorf("oauth = %+v\nwant    %+v", got, want)
	}
	if got := f.Clusters[1].SASL.AWS; got != (AWSIAM{Region: "eu-west-1", Profile: "kafka"}) {
		t.Errorf("aws = %+v", got)
	}
	cfg := recipeConfig(f.Clusters)
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestBadInputManagedSASL: every new sasl.oauth and sasl.aws input, wrong,
// gives an error naming the key.
func TestBadInputManagedSASL(t *testing.T) {
	oauth := func(mod func(*OAuth)) func(*Config) {
		return func(c *Config) {
			o := OAuth{TokenURL: "https://idp.example.com/token", ClientID: "klagx", ClientSecretEnv: "OIDC_SECRET"}
			mod(&o)
			c.Clusters[0].SASL = SASL{Mechanism: SASLOAuthBearer, OAuth: o}
		}
	}
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no token source", func(c *Config) { c.Clusters[0].SASL = SASL{Mechanism: SASLOAuthBearer} }, "clusters[0].sasl.token_file: required for mechanism oauthbearer, unless sasl.oauth.token_url is set"},
		{"token file and oauth", oauth(func(o *OAuth) {}), ""},
		{"missing token url", oauth(func(o *OAuth) { o.TokenURL = "" }), "clusters[0].sasl.oauth.token_url: required when other sasl.oauth keys are set"},
		{"relative token url", oauth(func(o *OAuth) { o.TokenURL = "/token" }), `clusters[0].sasl.oauth.token_url: "/token" is not an absolute URL`},
		{"plain http token url", oauth(func(o *OAuth) { o.TokenURL = "http://idp.example.com/token" }), `clusters[0].sasl.oauth.token_url: "http://idp.example.com/token" must be https:// (http:// only on a loopback address)`},
		{"ftp token url", oauth(func(o *OAuth) { o.TokenURL = "ftp://idp/token" }), `clusters[0].sasl.oauth.token_url: "ftp://idp/token" must be https://`},
		{"missing client id", oauth(func(o *OAuth) { o.ClientID = "" }), "clusters[0].sasl.oauth.client_id: required with sasl.oauth.token_url"},
		{"two client secrets", oauth(func(o *OAuth) { o.ClientSecretFile = "/s" }), "clusters[0].sasl.oauth: set only one of client_secret_file and client_secret_env"},
		{"client secret env is a secret", oauth(func(o *OAuth) { o.ClientSecretEnv = "s3cr3t!value" }), "clusters[0].sasl.oauth.client_secret_env: not a valid environment variable name"},
		{"scope with a space", oauth(func(o *OAuth) { o.Scopes = []string{"a b"} }), `clusters[0].sasl.oauth.scopes: "a b" is not a scope`},
		{"reserved param", oauth(func(o *OAuth) { o.Params = map[string]string{"client_secret": "x"} }), `clusters[0].sasl.oauth.params: "client_secret" is set by klagx itself`},
		{"extension key", oauth(func(o *OAuth) { o.Extensions = map[string]string{"logical_cluster": "x"} }), `clusters[0].sasl.oauth.extensions: key "logical_cluster" is not letters only`},
		{"extension auth", oauth(func(o *OAuth) { o.Extensions = map[string]string{"auth": "x"} }), `clusters[0].sasl.oauth.extensions: key "auth" is not letters only, or is the reserved "auth"`},
		{"extension value", oauth(func(o *OAuth) { o.Extensions = map[string]string{"pool": "é"} }), `clusters[0].sasl.oauth.extensions: the value of "pool" must be printable ASCII`},
		{"oauth with plain", func(c *Config) {
			c.Clusters[0].SASL = SASL{Mechanism: SASLPlain, Username: "u", OAuth: OAuth{ClientID: "x"}}
		}, "clusters[0].sasl.oauth: only used by mechanism oauthbearer"},
		{"aws region with capitals", func(c *Config) {
			c.Clusters[0].SASL = SASL{Mechanism: SASLAWSMSKIAM, AWS: AWSIAM{Region: "EU-WEST-1"}}
		}, `clusters[0].sasl.aws.region: "EU-WEST-1" is not an AWS region name`},
		{"aws region", func(c *Config) {
			c.Clusters[0].SASL = SASL{Mechanism: SASLAWSMSKIAM, AWS: AWSIAM{Region: "US East"}}
		}, `clusters[0].sasl.aws.region: "US East" is not an AWS region name (e.g. us-east-1)`},
		{"aws with scram", func(c *Config) {
			c.Clusters[0].SASL = SASL{Mechanism: SASLScramSHA512, Username: "u", AWS: AWSIAM{Region: "eu-west-1"}}
		}, "clusters[0].sasl.aws: only used by mechanism aws-msk-iam"},
	}
	tests[1].mod = func(c *Config) {
		oauth(func(*OAuth) {})(c)
		c.Clusters[0].SASL.TokenFile = "/t"
	}
	tests[1].want = "clusters[0].sasl: set only one of token_file and oauth (a token endpoint)"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{Clusters: []Cluster{validCluster("a")}}
			tt.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v\nwant it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error quotes a secret: %v", err)
			}
		})
	}
}

// TestBadInputManagedFileKeys: YAML shapes of the new keys.
func TestBadInputManagedFileKeys(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"params as a list", "clusters:\n  - sasl:\n      oauth:\n        params: [a=b]\n", "f.yaml: clusters[0].sasl.oauth.params: line 4: want a mapping of names to strings, not a list"},
		{"numeric extension", "clusters:\n  - sasl:\n      oauth:\n        extensions: {pool: 12}\n", "f.yaml: clusters[0].sasl.oauth.extensions: line 4: the value of pool must be a string (quote it)"},
		{"unknown oauth key", "clusters:\n  - sasl:\n      oauth:\n        client_secret: x\n", `f.yaml:4: unknown key "clusters[0].sasl.oauth.client_secret" (valid here: token_url, client_id, client_secret_file, client_secret_env, scopes, params, extensions, ca_file)`},
		{"unknown aws key", "kafka:\n  sasl:\n    aws:\n      role_arn: x\n", `f.yaml:4: unknown key "kafka.sasl.aws.role_arn" (valid here: region, profile)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseFile("f.yaml", []byte(tt.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("ParseFile = %v\nwant prefix %q", err, tt.want)
			}
		})
	}
}

// TestClientOptsOIDCSecrets: the client secret is read at start, from the
// file or the variable; errors name the key and never the secret.
func TestClientOptsOIDCSecrets(t *testing.T) {
	t.Setenv("EMPTY_OIDC", "")
	t.Setenv(DefaultOAuthClientSecretEnv, "")
	os.Unsetenv(DefaultOAuthClientSecretEnv)
	base := OAuth{TokenURL: "https://idp.example.com/token", ClientID: "klagx"}
	with := func(mod func(*OAuth)) SASL {
		o := base
		mod(&o)
		return SASL{Mechanism: SASLOAuthBearer, OAuth: o}
	}
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name string
		sasl SASL
		want string
	}{
		{"missing file", with(func(o *OAuth) { o.ClientSecretFile = missing }), "sasl.oauth.client_secret_file: cannot read " + missing + ": no such file or directory"},
		{"empty file", with(func(o *OAuth) { o.ClientSecretFile = writeFile(t, "empty", "\n") }), "sasl.oauth.client_secret_file: "},
		{"unset env", with(func(o *OAuth) { o.ClientSecretEnv = "KLAGX_TEST_UNSET_OIDC" }), "sasl.oauth: client secret environment variable KLAGX_TEST_UNSET_OIDC is not set"},
		{"empty env", with(func(o *OAuth) { o.ClientSecretEnv = "EMPTY_OIDC" }), "sasl.oauth: client secret environment variable EMPTY_OIDC is empty"},
		{"unset default env", with(func(o *OAuth) {}), "sasl.oauth: client secret environment variable KLAGX_SASL_OAUTH_CLIENT_SECRET is not set (or set sasl.oauth.client_secret_file)"},
		{"bad ca file", with(func(o *OAuth) { o.ClientSecretFile = writeFile(t, "s", "x"); o.CAFile = writeFile(t, "ca", "x") }), "sasl.oauth.ca_file: no PEM certificate found in "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Cluster{Name: "a", Brokers: []string{"k:9092"}, SASL: tt.sasl}
			_, err := c.ClientOpts(nil)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("ClientOpts = %v, want prefix %q", err, tt.want)
			}
		})
	}
}
