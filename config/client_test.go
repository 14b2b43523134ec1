package config

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

const secret = "hunter2-s3cret"

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// firstMessage runs the first SASL step and returns the client message.
func firstMessage(t *testing.T, s SASL) []byte {
	t.Helper()
	m, err := s.mechanism()
	if err != nil {
		t.Fatal(err)
	}
	_, msg, err := m.Authenticate(context.Background(), "b-1.example.eu-west-1.amazonaws.com:9098")
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func newClient(t *testing.T, c Cluster, logger *slog.Logger) {
	t.Helper()
	opts, err := c.ClientOpts(logger)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	cl.Close()
}

func TestClientOptsPlain(t *testing.T) {
	pw := writeFile(t, "pw", secret+"\n")
	s := SASL{Mechanism: SASLPlain, Username: "alice", PasswordFile: pw}
	if got, want := string(firstMessage(t, s)), "\x00alice\x00"+secret; got != want {
		t.Errorf("plain message = %q, want %q (trailing newline trimmed)", got, want)
	}
	// The file is re-read on each authentication.
	if err := os.WriteFile(pw, []byte("rotated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := string(firstMessage(t, s)); got != "\x00alice\x00rotated" {
		t.Errorf("after rotation: %q", got)
	}
	var logs bytes.Buffer
	newClient(t, Cluster{Name: "a", Brokers: []string{"127.0.0.1:1"}, SASL: s}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if strings.Contains(logs.String(), secret) || strings.Contains(logs.String(), "rotated") {
		t.Errorf("logs leak the password: %s", logs.String())
	}
}

func TestClientOptsScramEnv(t *testing.T) {
	t.Setenv("MY_PW", secret)
	for _, mech := range []string{SASLScramSHA256, SASLScramSHA512} {
		s := SASL{Mechanism: mech, Username: "bob", PasswordEnv: "MY_PW"}
		if msg := string(firstMessage(t, s)); !strings.Contains(msg, "n=bob") {
			t.Errorf("%s first message = %q", mech, msg)
		}
		newClient(t, Cluster{Name: "a", Brokers: []string{"127.0.0.1:1"}, SASL: s}, nil)
	}
}

func TestClientOptsDefaultPasswordEnv(t *testing.T) {
	t.Setenv(DefaultPasswordEnv, secret)
	s := SASL{Mechanism: SASLPlain, Username: "u"}
	if got := string(firstMessage(t, s)); !strings.HasSuffix(got, secret) {
		t.Errorf("message = %q", got)
	}
}

func TestClientOptsOAuth(t *testing.T) {
	tok := writeFile(t, "token", "tok-1\n")
	s := SASL{Mechanism: SASLOAuthBearer, TokenFile: tok}
	if msg := string(firstMessage(t, s)); !strings.Contains(msg, "Bearer tok-1") {
		t.Errorf("message = %q", msg)
	}
	if err := os.WriteFile(tok, []byte("tok-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if msg := string(firstMessage(t, s)); !strings.Contains(msg, "Bearer tok-2") {
		t.Errorf("token file not re-read: %q", msg)
	}
}

func TestClientOptsAWS(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	c := Cluster{Name: "msk", Brokers: []string{"b-1.example:9098"}, SASL: SASL{Mechanism: SASLAWSMSKIAM}}
	if _, err := c.ClientOpts(nil); err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("err = %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	if msg := string(firstMessage(t, c.SASL)); strings.Contains(msg, secret) || !strings.Contains(msg, "AKIAEXAMPLE") {
		t.Errorf("message = %q", msg)
	}
	newClient(t, c, nil)
}

func TestClientOptsSecretErrors(t *testing.T) {
	t.Setenv("EMPTY_PW", "")
	empty := writeFile(t, "empty", "\n")
	tests := []struct {
		name string
		sasl SASL
		want string
	}{
		{"missing env", SASL{Mechanism: SASLPlain, Username: "u", PasswordEnv: "KLAGX_TEST_UNSET_PW"}, `sasl: password environment variable KLAGX_TEST_UNSET_PW is not set`},
		{"empty env", SASL{Mechanism: SASLPlain, Username: "u", PasswordEnv: "EMPTY_PW"}, "EMPTY_PW is empty"},
		{"missing file", SASL{Mechanism: SASLScramSHA512, Username: "u", PasswordFile: "/nonexistent/pw"}, "sasl.password_file: cannot read /nonexistent/pw: no such file or directory"},
		{"empty file", SASL{Mechanism: SASLPlain, Username: "u", PasswordFile: empty}, "sasl.password_file: " + empty + " is empty"},
		{"missing token", SASL{Mechanism: SASLOAuthBearer, TokenFile: "/nonexistent/tok"}, "sasl.token_file: cannot read /nonexistent/tok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Cluster{Name: "a", Brokers: []string{"a:1"}, SASL: tt.sasl}
			_, err := c.ClientOpts(nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// selfSigned writes a CA-less self-signed certificate and its key.
func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "klagx-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true,
		KeyUsage:     x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

func TestClientOptsTLS(t *testing.T) {
	cert, key := selfSigned(t)
	tlsCfg := TLS{Enabled: true, CAFile: cert, CertFile: cert, KeyFile: key, ServerName: "kafka.example"}
	tc, err := tlsCfg.config(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "kafka.example" || tc.InsecureSkipVerify {
		t.Errorf("tls config = %+v", tc)
	}
	newClient(t, Cluster{Name: "a", Brokers: []string{"127.0.0.1:1"}, TLS: tlsCfg}, nil)

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	tc, err = TLS{Enabled: true, InsecureSkipVerify: true}.config(logger)
	if err != nil || !tc.InsecureSkipVerify {
		t.Fatalf("insecure: %v %+v", err, tc)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "DISABLED") {
		t.Errorf("insecure_skip_verify must log a loud warning, got %q", logs.String())
	}

	notPEM := writeFile(t, "ca.txt", "not a certificate")
	if _, err := (TLS{Enabled: true, CAFile: notPEM}).config(logger); err == nil || !strings.Contains(err.Error(), "tls.ca_file: no PEM certificate found in "+notPEM) {
		t.Errorf("bad CA err = %v", err)
	}
	if _, err := (TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}).config(logger); err == nil || !strings.Contains(err.Error(), "tls.ca_file: open /nonexistent/ca.pem") {
		t.Errorf("missing CA err = %v", err)
	}
	// Key that does not match the certificate.
	_, otherKey := selfSigned(t)
	if _, err := (TLS{Enabled: true, CertFile: cert, KeyFile: otherKey}).config(logger); err == nil || !strings.Contains(err.Error(), "cannot load client certificate") {
		t.Errorf("mismatched key err = %v", err)
	}
}

// TestClientOptsDeprecatedPasswordEnv: the former --brokers variable still
// works, with a warning naming its replacement and never the secret.
func TestClientOptsDeprecatedPasswordEnv(t *testing.T) {
	t.Setenv(DeprecatedPasswordEnv, secret)
	s := SASL{Mechanism: SASLPlain, Username: "u"}
	if got := string(firstMessage(t, s)); !strings.HasSuffix(got, secret) {
		t.Errorf("message = %q", got)
	}
	var logs bytes.Buffer
	c := DefaultCluster("a", "127.0.0.1:1")
	c.SASL = s
	if _, err := c.ClientOpts(slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if out := logs.String(); !strings.Contains(out, DeprecatedPasswordEnv+", which is deprecated: set "+DefaultPasswordEnv) || strings.Contains(out, secret) {
		t.Errorf("log = %q", out)
	}
}
