package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/saslauth"
)

// TestBadInputManagedSASL: every input of MSK IAM through the AWS credential
// chain and of OAUTHBEARER with OIDC client credentials, as a flag, its
// KLAGX_* variable, a --cluster key and a config file key, wrong: exit 2 and
// an error naming it, never the secret.
func TestBadInputManagedSASL(t *testing.T) {
	const u = exitUsage
	oidc := func(extra ...string) []string {
		return serveArgs(append([]string{"--kafka.tls.enabled", "--kafka.sasl.mechanism=oauthbearer",
			"--kafka.sasl.oauth.token-url=https://idp.example.com/token", "--kafka.sasl.oauth.client-id=klagx"}, extra...)...)
	}
	secretEnv := map[string]string{"KLAGX_SASL_OAUTH_CLIENT_SECRET": "oidc-S3cret-x1"}
	noAWSFiles := map[string]string{"AWS_CONFIG_FILE": "{missing}", "AWS_SHARED_CREDENTIALS_FILE": "{missing}"}
	runBadInputs(t, []badInput{
		// AWS.
		{name: "kafka.sasl.aws.region", args: serveArgs("--kafka.sasl.mechanism=aws-msk-iam", "--kafka.sasl.aws.region=Frankfurt"), code: u, want: []string{`--kafka.sasl.aws.region: "Frankfurt" is not an AWS region name (e.g. us-east-1)`}},
		{name: "KLAGX_KAFKA_SASL_AWS_REGION", args: serveArgs("--kafka.sasl.mechanism=aws-msk-iam"), env: map[string]string{"KLAGX_KAFKA_SASL_AWS_REGION": "EU"}, code: u, want: []string{`KLAGX_KAFKA_SASL_AWS_REGION: "EU" is not an AWS region name`}},
		{name: "kafka.sasl.aws.profile unknown", args: serveArgs("--kafka.sasl.mechanism=aws-msk-iam", "--kafka.sasl.aws.profile=kafka"), env: noAWSFiles, code: u, want: []string{`clusters[0].sasl.aws.profile: profile "kafka" is not in the shared config or credentials files`}},
		{name: "kafka.sasl.aws with scram", args: serveArgs("--kafka.sasl.mechanism=scram-sha-512", "--kafka.sasl.username=u", "--kafka.sasl.aws.profile=p"), code: u, want: []string{"clusters[0].sasl.aws: only used by mechanism aws-msk-iam"}},
		{name: "cluster sasl-aws-region", args: serveCluster("name=msk,brokers=b:9098,sasl-mechanism=aws-msk-iam,sasl-aws-region=us_east_1"), code: u, want: []string{`--cluster[0]: sasl-aws-region: "us_east_1" is not an AWS region name`}},
		{name: "cluster sasl-aws-profile unknown", args: serveCluster("name=msk,brokers=b:9098,sasl-mechanism=aws-msk-iam,sasl-aws-profile=nope"), env: noAWSFiles, code: u, want: []string{`clusters[0].sasl.aws.profile: profile "nope" is not in the shared config`}},
		{name: "file sasl.aws.region", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters:\n  - name: msk\n    brokers: [b:9098]\n    sasl: {mechanism: aws-msk-iam, aws: {region: 1}}\n", code: u, want: []string{`clusters[0].sasl.aws.region: "1" is not an AWS region name`}},

		// OIDC.
		{name: "kafka.sasl.oauth.token-url plain http", args: serveArgs("--kafka.sasl.mechanism=oauthbearer", "--kafka.sasl.oauth.token-url=http://idp.example.com/token", "--kafka.sasl.oauth.client-id=klagx"), env: secretEnv, code: u, want: []string{`--kafka.sasl.oauth.token-url: "http://idp.example.com/token" must be https://`}},
		{name: "KLAGX_KAFKA_SASL_OAUTH_TOKEN_URL relative", args: serveArgs("--kafka.sasl.mechanism=oauthbearer", "--kafka.sasl.oauth.client-id=klagx"), env: map[string]string{"KLAGX_KAFKA_SASL_OAUTH_TOKEN_URL": "idp/token", "KLAGX_SASL_OAUTH_CLIENT_SECRET": "x"}, code: u, want: []string{`KLAGX_KAFKA_SASL_OAUTH_TOKEN_URL: "idp/token" is not an absolute URL`}},
		{name: "kafka.sasl.oauth.client-id missing", args: serveArgs("--kafka.sasl.mechanism=oauthbearer", "--kafka.sasl.oauth.token-url=https://idp/token"), env: secretEnv, code: u, want: []string{"--kafka.sasl.oauth.client-id: required with sasl.oauth.token_url"}},
		{name: "kafka.sasl.oauth.token-url with token-file", args: oidc("--kafka.sasl.token-file=/t"), env: secretEnv, code: u, want: []string{"clusters[0].sasl: set only one of token_file and oauth (a token endpoint)"}},
		{name: "kafka.sasl.oauth with plain", args: serveArgs("--kafka.sasl.mechanism=plain", "--kafka.sasl.username=u", "--kafka.sasl.oauth.client-id=x"), code: u, want: []string{"clusters[0].sasl.oauth: only used by mechanism oauthbearer"}},
		{name: "kafka.sasl.oauth.client-secret-file missing", args: oidc("--kafka.sasl.oauth.client-secret-file={missing}"), code: u, want: []string{"clusters[0].sasl.oauth.client_secret_file: cannot read ", "does-not-exist: no such file or directory"}},
		{name: "kafka.sasl.oauth.client-secret-file empty", args: oidc("--kafka.sasl.oauth.client-secret-file={blank}"), code: u, want: []string{"clusters[0].sasl.oauth.client_secret_file: ", "blank is empty"}},
		{name: "KLAGX_SASL_OAUTH_CLIENT_SECRET unset", args: oidc(), code: u, want: []string{"clusters[0].sasl.oauth: client secret environment variable KLAGX_SASL_OAUTH_CLIENT_SECRET is not set (or set sasl.oauth.client_secret_file)"}},
		{name: "KLAGX_SASL_OAUTH_CLIENT_SECRET empty", args: oidc(), env: map[string]string{"KLAGX_SASL_OAUTH_CLIENT_SECRET": ""}, code: u, want: []string{"KLAGX_SASL_OAUTH_CLIENT_SECRET is empty"}},
		{name: "kafka.sasl.oauth.scope", args: oidc("--kafka.sasl.oauth.scope=kafka read"), env: secretEnv, code: u, want: []string{`clusters[0].sasl.oauth.scopes: "kafka read" is not a scope`}, notWant: []string{"oidc-S3cret-x1"}},
		{name: "kafka.sasl.oauth.param not key=value", args: oidc("--kafka.sasl.oauth.param=audience"), env: secretEnv, code: u, want: []string{"--kafka.sasl.oauth.param[0]: want KEY=VALUE"}},
		{name: "kafka.sasl.oauth.param reserved", args: oidc("--kafka.sasl.oauth.param=client_secret=oidc-S3cret-x1"), env: secretEnv, code: u, want: []string{`clusters[0].sasl.oauth.params: "client_secret" is set by klagx itself`}, notWant: []string{"oidc-S3cret-x1"}},
		{name: "kafka.sasl.oauth.extension key", args: oidc("--kafka.sasl.oauth.extension=logical_cluster=lkc-1"), env: secretEnv, code: u, want: []string{`clusters[0].sasl.oauth.extensions: key "logical_cluster" is not letters only`}},
		{name: "kafka.sasl.oauth.extension twice", args: oidc("--kafka.sasl.oauth.extension=a=1", "--kafka.sasl.oauth.extension=a=2"), env: secretEnv, code: u, want: []string{`--kafka.sasl.oauth.extension: key "a" given twice`}},
		{name: "kafka.sasl.oauth.ca-file missing", args: oidc("--kafka.sasl.oauth.ca-file={missing}"), env: secretEnv, code: u, want: []string{"clusters[0].sasl.oauth.ca_file: open ", "does-not-exist"}},
		{name: "kafka.sasl.oauth.ca-file not PEM", args: oidc("--kafka.sasl.oauth.ca-file={nopem}"), env: secretEnv, code: u, want: []string{"clusters[0].sasl.oauth.ca_file: no PEM certificate found in "}},
		{name: "file kafka.sasl.oauth.param", args: serveArgs(), file: "kafka:\n  sasl:\n    oauth:\n      param: {a: b}\n", code: u, want: []string{"kafka.sasl.oauth.param"}},
		{name: "cluster sasl-oauth-client-secret-env not a name", args: serveCluster("name=cc,brokers=b:9092,tls=true,sasl-mechanism=oauthbearer,sasl-oauth-token-url=https://idp/t,sasl-oauth-client-id=k,sasl-oauth-client-secret-env=oidc-S3cret-x1"), code: u, want: []string{"--cluster[0]: sasl-oauth-client-secret-env: not a valid environment variable name"}, notWant: []string{"oidc-S3cret-x1"}},
		{name: "cluster default KLAGX_SASL_OAUTH_CLIENT_SECRET unset", args: serveCluster("name=cc,brokers=b:9092,sasl-mechanism=oauthbearer,sasl-oauth-token-url=https://idp/t,sasl-oauth-client-id=k"), code: u, want: []string{"clusters[0].sasl.oauth: client secret environment variable KLAGX_SASL_OAUTH_CLIENT_SECRET is not set"}},
		{name: "cluster sasl-oauth-client-secret-file missing", args: serveCluster("name=cc,brokers=b:9092,sasl-mechanism=oauthbearer,sasl-oauth-token-url=https://idp/t,sasl-oauth-client-id=k,sasl-oauth-client-secret-file={missing}"), code: u, want: []string{"clusters[0].sasl.oauth.client_secret_file: cannot read "}},
		{name: "cluster sasl-oauth-scope", args: serveCluster("name=cc,brokers=b:9092,sasl-mechanism=oauthbearer,sasl-oauth-token-url=https://idp/t,sasl-oauth-client-id=k,sasl-oauth-client-secret-env=S,sasl-oauth-scope=a\"b"), code: u, want: []string{`--cluster[0]: sasl-oauth-scopes: "a\"b" is not a scope`}},
		{name: "cluster sasl-oauth-ca-file missing", args: serveCluster("name=cc,brokers=b:9092,sasl-mechanism=oauthbearer,sasl-oauth-token-url=https://idp/t,sasl-oauth-client-id=k,sasl-oauth-client-secret-file={blank},sasl-oauth-ca-file={missing}"), code: u, want: []string{"clusters[0].sasl.oauth.client_secret_file: "}},
		{name: "cluster sasl-oauth-token-url without client id", args: serveCluster("name=cc,brokers=b:9092,sasl-mechanism=oauthbearer,sasl-oauth-token-url=https://idp/t"), code: u, want: []string{"--cluster[0]: sasl-oauth-client-id: required"}},
		{name: "file sasl.oauth.extensions", args: []string{"serve", "--web.listen-address=127.0.0.1:0"}, file: "clusters:\n  - name: cc\n    brokers: [b:9092]\n    sasl:\n      mechanism: oauthbearer\n      oauth: {token_url: 'https://idp/t', client_id: k, client_secret_env: S, extensions: {auth: x}}\n", code: u, want: []string{`clusters[0].sasl.oauth.extensions: key "auth"`}},
	})
}

// TestMSKIAMCheckOnKfake: klagx check with aws-msk-iam, its credentials from
// a fake EKS Pod Identity endpoint on 127.0.0.1 that checks the token of
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, against kfake answering
// AWS_MSK_IAM with a check of the signed message's access key and session
// token (kfake has no AWS_MSK_IAM of its own). The endpoint's credentials
// expire within saslauth.AWSExpiryWindow and the broker gives each session
// one second (KIP-368), so over the check's 3s window klagx re-authenticates
// with credentials it fetched again. A refused token fails the check with an
// error naming the cluster and the endpoint's reason; no credential appears
// in the output.
func TestMSKIAMCheckOnKfake(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "eu-west-1")
	const podToken = "pod-identity-Tok3n"
	creds := func(n int64) (key, secret, session string) {
		return fmt.Sprintf("ASIAKLAGXCHECK%05d", n), fmt.Sprintf("klagxCheckSecretKey/%d", n), fmt.Sprintf("klagxCheckSession%d", n)
	}
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != podToken {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"code":"AccessDeniedException","message":"Invalid authorization token"}`)
			return
		}
		key, secret, session := creds(served.Add(1))
		exp := time.Now().Add(saslauth.AWSExpiryWindow - time.Minute).UTC().Format(time.RFC3339)
		fmt.Fprintf(w, `{"AccessKeyId":%q,"SecretAccessKey":%q,"Token":%q,"Expiration":%q}`, key, secret, session, exp)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v1/credentials")

	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var mu sync.Mutex
	keysSeen := map[string]bool{}
	kfaketest.AcceptSASL(c, "AWS_MSK_IAM", time.Second, func(auth []byte) error {
		var m map[string]string
		if err := json.Unmarshal(auth, &m); err != nil {
			return err
		}
		key, _, _ := strings.Cut(m["x-amz-credential"], "/")
		var n int64
		if _, err := fmt.Sscanf(key, "ASIAKLAGXCHECK%d", &n); err != nil {
			return errors.New("unknown access key")
		}
		if _, _, session := creds(n); m["x-amz-security-token"] != session || m["x-amz-signature"] == "" {
			return errors.New("wrong session token")
		}
		mu.Lock()
		keysSeen[key] = true
		mu.Unlock()
		return nil
	})
	env := kfaketest.Attach(t, c)
	env.CreateTopic("ledger", 1)
	env.Produce("ledger", 0, 10, time.Time{})
	env.Commit("payments", "ledger", map[int32]int64{0: 4})
	args := []string{"--brokers", strings.Join(env.Addrs(), ","), "--cluster-name=msk", "--kafka.sasl.mechanism=aws-msk-iam",
		"--timeout=20s", "--warn-lag-seconds=0", "--crit-lag-seconds=0", "-o", "json"}

	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(podToken), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokenFile)
	code, out, stderr := runCheckDebug(t, append(slices.Clone(args), "--window=3s")...)
	mu.Lock()
	distinct := len(keysSeen)
	mu.Unlock()
	if code == checkUnknown || !strings.Contains(out, `"name": "payments"`) || !strings.Contains(out, `"lag": 6`) {
		t.Errorf("exit %d; want group payments at lag 6\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	if distinct < 2 || !strings.Contains(stderr, "sasl expiry limit reached") {
		t.Errorf("the broker saw %d access keys (endpoint served %d); want re-authentications with fetched-again credentials", distinct, served.Load())
	}
	for n := int64(1); n <= served.Load(); n++ {
		_, secret, session := creds(n)
		if strings.Contains(out+stderr, secret) || strings.Contains(out+stderr, session) {
			t.Errorf("credential %d leaked into the output", n)
		}
	}

	if err := os.WriteFile(tokenFile, []byte("revoked-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, stderr = runCheckDebug(t, append(slices.Clone(args), "--window=0", "--timeout=5s")...)
	if code != checkUnknown {
		t.Errorf("exit %d with a refused token, want %d", code, checkUnknown)
	}
	for _, w := range []string{"cluster msk: ", "sasl.aws: cannot get AWS credentials", "Invalid authorization token"} {
		if !strings.Contains(out, w) {
			t.Errorf("report lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out+stderr, "revoked-token") || strings.Contains(out+stderr, podToken) {
		t.Errorf("the authorization token leaked into the output")
	}
}
