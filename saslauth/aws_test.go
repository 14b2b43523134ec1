package saslauth_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/klagx/klagx/saslauth"
)

// isolateAWS clears every AWS variable that could steer the SDK's chain to
// something outside the test (the host's ~/.aws, instance metadata on a
// non-loopback address) and sets the signing region.
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "eu-west-1")
}

// awsCreds is one set of credentials a fake endpoint hands out.
type awsCreds struct{ key, secret, token string }

func credsN(n int) awsCreds {
	return awsCreds{
		key:    fmt.Sprintf("ASIAKLAGXTEST%07d", n),
		secret: fmt.Sprintf("klagxSecretAccessKey/%d/wJalrXUtnFEMI", n),
		token:  fmt.Sprintf("klagxSessionToken%d", n),
	}
}

// fakeEndpoint counts the credentials it handed out: the n-th request that
// passes check gets credsN(n), valid for lifetime.
type fakeEndpoint struct {
	mu       sync.Mutex
	served   int
	lifetime time.Duration
}

func (f *fakeEndpoint) next() (awsCreds, time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served++
	return credsN(f.served), time.Now().Add(f.lifetime).UTC()
}

func (f *fakeEndpoint) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.served
}

// authenticate runs one AWS_MSK_IAM authentication against host and returns
// the client's message, as the broker receives it.
func authenticate(t *testing.T, m sasl.Mechanism, host string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, msg, err := m.Authenticate(ctx, host)
	return msg, err
}

// checkMSKPayload verifies an AWS_MSK_IAM message the way MSK does: the
// access key and session token it names, and its SigV4 signature, recomputed
// with the AWS SDK's own signer from the secret key the test expects.
func checkMSKPayload(msg []byte, want awsCreds, region string) error {
	var m map[string]string
	if err := json.Unmarshal(msg, &m); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if m["action"] != "kafka-cluster:Connect" || m["version"] != "2020_10_22" {
		return fmt.Errorf("action %q version %q", m["action"], m["version"])
	}
	signedAt, err := time.Parse("20060102T150405Z", m["x-amz-date"])
	if err != nil {
		return fmt.Errorf("x-amz-date: %w", err)
	}
	scope := signedAt.Format("20060102") + "/" + region + "/kafka-cluster/aws4_request"
	if got := m["x-amz-credential"]; got != want.key+"/"+scope {
		return fmt.Errorf("x-amz-credential %q, want %q", got, want.key+"/"+scope)
	}
	if m["x-amz-security-token"] != want.token {
		return fmt.Errorf("x-amz-security-token %q, want %q", m["x-amz-security-token"], want.token)
	}
	req, err := http.NewRequest(http.MethodGet, "https://"+m["host"]+"/?Action=kafka-cluster%3AConnect&X-Amz-Expires=300", nil)
	if err != nil {
		return err
	}
	const emptyBody = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	signed, _, err := v4.NewSigner().PresignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: want.key, SecretAccessKey: want.secret, SessionToken: want.token},
		req, emptyBody, "kafka-cluster", region, signedAt)
	if err != nil {
		return err
	}
	u, err := url.Parse(signed)
	if err != nil {
		return err
	}
	if got, wantSig := m["x-amz-signature"], u.Query().Get("X-Amz-Signature"); got != wantSig {
		return fmt.Errorf("x-amz-signature %q, want %q (signed with another secret key?)", got, wantSig)
	}
	return nil
}

// containerEndpoint is a fake EKS Pod Identity / ECS container credentials
// endpoint on 127.0.0.1 that refuses requests without the expected
// Authorization token.
func containerEndpoint(t *testing.T, f *fakeEndpoint, wantToken string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/credentials" || r.Header.Get("Authorization") != wantToken {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"code":"AccessDeniedException","message":"Invalid authorization token"}`)
			return
		}
		c, exp := f.next()
		_ = json.NewEncoder(w).Encode(map[string]string{
			"AccessKeyId": c.key, "SecretAccessKey": c.secret, "Token": c.token,
			"Expiration": exp.Format(time.RFC3339), "AccountId": "123456789012",
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func writeSecret(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMSKIAMContainerCredentials: EKS Pod Identity. The SDK's container
// provider reads the authorization token from
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and the credentials from
// AWS_CONTAINER_CREDENTIALS_FULL_URI; the signed message carries the access
// key and session token it got and is signed with its secret key.
// Credentials valid for an hour are fetched once for any number of
// authentications.
func TestMSKIAMContainerCredentials(t *testing.T) {
	isolateAWS(t)
	const podToken = "eks-pod-identity-token-Zk9xV2"
	f := &fakeEndpoint{lifetime: time.Hour}
	srv := containerEndpoint(t, f, podToken)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v1/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", writeSecret(t, "token", podToken))

	m, err := saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.count() != 0 {
		t.Errorf("MSKIAM fetched %d credentials before any authentication, want 0", f.count())
	}
	for i := range 3 {
		msg, err := authenticate(t, m, "127.0.0.1:9098")
		if err != nil {
			t.Fatalf("authentication %d: %v", i, err)
		}
		if err := checkMSKPayload(msg, credsN(1), "eu-west-1"); err != nil {
			t.Fatalf("authentication %d: %v", i, err)
		}
	}
	if f.count() != 1 {
		t.Errorf("the endpoint served %d credentials for 3 authentications, want 1 (cached)", f.count())
	}
}

// TestMSKIAMRefreshBeforeExpiry: credentials that expire within
// AWSExpiryWindow are fetched again by the next authentication, so the n-th
// authentication signs with the n-th credentials.
func TestMSKIAMRefreshBeforeExpiry(t *testing.T) {
	isolateAWS(t)
	const podToken = "eks-pod-identity-token-Zk9xV2"
	f := &fakeEndpoint{lifetime: saslauth.AWSExpiryWindow - time.Minute}
	srv := containerEndpoint(t, f, podToken)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v1/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", writeSecret(t, "token", podToken))
	m, err := saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		msg, err := authenticate(t, m, "127.0.0.1:9098")
		if err != nil {
			t.Fatal(err)
		}
		if err := checkMSKPayload(msg, credsN(n), "eu-west-1"); err != nil {
			t.Fatalf("authentication %d: %v", n, err)
		}
	}
}

// TestMSKIAMEndpointRefuses: a wrong Pod Identity token is refused by the
// endpoint; the authentication fails with an error that says the AWS
// credentials could not be had and why, and carries no token.
func TestMSKIAMEndpointRefuses(t *testing.T) {
	isolateAWS(t)
	f := &fakeEndpoint{lifetime: time.Hour}
	srv := containerEndpoint(t, f, "the-right-token")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", srv.URL+"/v1/credentials")
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", writeSecret(t, "token", "a-wrong-token-Q7"))
	m, err := saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = authenticate(t, m, "127.0.0.1:9098")
	if err == nil {
		t.Fatal("authentication succeeded with a refused token")
	}
	for _, want := range []string{"sasl.aws: cannot get AWS credentials", "Invalid authorization token"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "a-wrong-token-Q7") || strings.Contains(err.Error(), "the-right-token") {
		t.Errorf("error leaks the authorization token: %v", err)
	}
}

// stsEndpoint is a fake STS answering AssumeRoleWithWebIdentity (the AWS
// query protocol) for roleARN when the web identity token is the current
// content of tokenFile.
func stsEndpoint(t *testing.T, f *fakeEndpoint, roleARN, tokenFile string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		want, _ := os.ReadFile(tokenFile)
		if r.Form.Get("Action") != "AssumeRoleWithWebIdentity" || r.Form.Get("RoleArn") != roleARN ||
			r.Form.Get("WebIdentityToken") != string(want) {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>Incorrect token audience</Message></Error><RequestId>r-1</RequestId></ErrorResponse>`)
			return
		}
		c, exp := f.next()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleWithWebIdentityResult>
<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>%s</SecretAccessKey><SessionToken>%s</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>%s/klagx</Arn><AssumedRoleId>AROAKLAGX:klagx</AssumedRoleId></AssumedRoleUser>
<SubjectFromWebIdentityToken>system:serviceaccount:monitoring:klagx</SubjectFromWebIdentityToken>
</AssumeRoleWithWebIdentityResult>
<ResponseMetadata><RequestId>r-2</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`, c.key, c.secret, c.token, exp.Format(time.RFC3339), roleARN)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestMSKIAMWebIdentity: IRSA. The SDK exchanges the projected service
// account token (AWS_WEB_IDENTITY_TOKEN_FILE) for role credentials at STS
// (AssumeRoleWithWebIdentity, endpoint from AWS_ENDPOINT_URL_STS), in the
// region of AWSOptions.Region; credentials about to expire are exchanged
// again, with the token file read anew (the kubelet rotates it); a token STS
// refuses fails the authentication with STS's reason.
func TestMSKIAMWebIdentity(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_REGION", "")
	os.Unsetenv("AWS_REGION")
	const role = "arn:aws:iam::123456789012:role/klagx"
	tokenFile := writeSecret(t, "token", "eyJhbGciOiJSUzI1NiJ9.projected-sa-token-1.sig")
	f := &fakeEndpoint{lifetime: saslauth.AWSExpiryWindow - time.Minute}
	srv := stsEndpoint(t, f, role, tokenFile)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ROLE_ARN", role)
	t.Setenv("AWS_ROLE_SESSION_NAME", "klagx")
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)

	m, err := saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{Region: "us-east-2"})
	if err != nil {
		t.Fatal(err)
	}
	// The signing region comes from the MSK broker host name.
	const broker = "b-1.prod.abc123.c2.kafka.us-east-2.amazonaws.com:9098"
	msg, err := authenticate(t, m, broker)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkMSKPayload(msg, credsN(1), "us-east-2"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tokenFile, []byte("eyJhbGciOiJSUzI1NiJ9.projected-sa-token-2.sig"), 0o600); err != nil {
		t.Fatal(err)
	}
	msg, err = authenticate(t, m, broker)
	if err != nil {
		t.Fatalf("after the token file rotated: %v", err)
	}
	if err := checkMSKPayload(msg, credsN(2), "us-east-2"); err != nil {
		t.Fatal(err)
	}

	// STS refuses (the test's endpoint only knows the current token).
	stale := writeSecret(t, "stale", "eyJhbGciOiJSUzI1NiJ9.revoked.sig")
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", stale)
	m, err = saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{Region: "us-east-2"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = authenticate(t, m, broker)
	if err == nil || !strings.Contains(err.Error(), "sasl.aws: cannot get AWS credentials") || !strings.Contains(err.Error(), "InvalidIdentityToken") {
		t.Fatalf("err = %v, want the STS refusal", err)
	}
	if strings.Contains(err.Error(), "revoked") {
		t.Errorf("error leaks the web identity token: %v", err)
	}
}

// TestMSKIAMProfiles: static credentials from a named profile of the shared
// credentials file; an unknown profile fails at start, naming the key.
func TestMSKIAMProfiles(t *testing.T) {
	isolateAWS(t)
	want := credsN(7)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", writeSecret(t, "credentials", fmt.Sprintf(
		"[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = x\n\n[klagx]\naws_access_key_id = %s\naws_secret_access_key = %s\naws_session_token = %s\n",
		want.key, want.secret, want.token)))
	m, err := saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{Profile: "klagx"})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := authenticate(t, m, "127.0.0.1:9098")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkMSKPayload(msg, want, "eu-west-1"); err != nil {
		t.Fatal(err)
	}
	_, err = saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{Profile: "nope"})
	if want := `sasl.aws.profile: profile "nope" is not in the shared config or credentials files`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
	t.Setenv("AWS_PROFILE", "from-env")
	_, err = saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{})
	if want := `AWS_PROFILE: profile "from-env" is not in the shared config or credentials files`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

// TestMSKIAMInstanceMetadata: on EC2 (or a node role on EKS) the chain ends at
// IMDSv2; the fake serves it on 127.0.0.1 through
// AWS_EC2_METADATA_SERVICE_ENDPOINT and insists on the session token.
func TestMSKIAMInstanceMetadata(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "false")
	const imdsToken = "imds-session-token"
	f := &fakeEndpoint{lifetime: time.Hour}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", "21600")
			fmt.Fprint(w, imdsToken)
			return
		}
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != imdsToken {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/iam/security-credentials/":
			fmt.Fprint(w, "klagx-node")
		case "/latest/meta-data/iam/security-credentials/klagx-node":
			c, exp := f.next()
			_ = json.NewEncoder(w).Encode(map[string]string{"Code": "Success", "Type": "AWS-HMAC",
				"AccessKeyId": c.key, "SecretAccessKey": c.secret, "Token": c.token,
				"Expiration": exp.Format(time.RFC3339), "LastUpdated": time.Now().UTC().Format(time.RFC3339)})
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.URL)
	m, err := saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := authenticate(t, m, "127.0.0.1:9098")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkMSKPayload(msg, credsN(1), "eu-west-1"); err != nil {
		t.Fatal(err)
	}
}
