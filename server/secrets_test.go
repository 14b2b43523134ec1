package server

import (
	"context"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
)

// saslCluster starts kfake with SASL and user "klagx" (a superuser: ACLs
// are off here, see acl_test.go for them) authenticating with mech and
// password, and a group "payments" 6 messages behind on topic "ledger".
func saslCluster(t *testing.T, kfakeMech, password string) *kfaketest.Env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(kfakeMech, "klagx", password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	env := kfaketest.Attach(t, c, kgo.SASL(saslMechanism(t, kfakeMech, "klagx", password)))
	env.CreateTopic("ledger", 1)
	env.Produce("ledger", 0, 10, time.Time{})
	env.Commit("payments", "ledger", map[int32]int64{0: 4})
	return env
}

func saslMechanism(t *testing.T, kfakeMech, user, pass string) sasl.Mechanism {
	t.Helper()
	switch kfakeMech {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
	}
	t.Fatalf("unknown mechanism %s", kfakeMech)
	return nil
}

// exposure is everything a klagx process shows the outside world.
type exposure struct {
	logs, metrics, status, readyz, healthz, landing string
	runErr                                          error
}

func (e exposure) texts() map[string]string {
	m := map[string]string{
		"logs": e.logs, "/metrics": e.metrics, "/status": e.status,
		"/readyz": e.readyz, "/healthz": e.healthz, "/": e.landing,
	}
	if e.runErr != nil {
		m["Run's error"] = e.runErr.Error()
	}
	return m
}

// assertNoSecret fails if any secret (or its base64 form, as a SASL PLAIN
// or basic-auth blob would carry it) appears in anything e exposes.
func (e exposure) assertNoSecret(t *testing.T, secrets ...string) {
	t.Helper()
	for what, text := range e.texts() {
		for _, s := range secrets {
			for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte("\x00klagx\x00" + s))} {
				if strings.Contains(text, form) {
					t.Errorf("a secret leaked into %s", what)
				}
			}
		}
	}
}

// runExposed runs the whole server (Run, debug logging including kgo's own
// logs) until cond holds on /metrics, then stops it and returns what it
// exposed.
func runExposed(t *testing.T, cl config.Cluster, what string, cond func(kfaketest.Series) bool) exposure {
	t.Helper()
	cfg := kfaketest.Config(cl, time.Second)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs kfaketest.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	addr, stop := startServer(t, Options{Config: cfg, Logger: logger})
	base := "http://" + addr
	var e exposure
	deadline := time.Now().Add(45 * time.Second)
	for {
		_, e.metrics = get(t, base+"/metrics")
		if cond(kfaketest.Parse(t, []byte(e.metrics))) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s\nlogs:\n%s\nmetrics:\n%s", what, logs.String(), e.metrics)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, e.status = get(t, base+"/status")
	_, e.readyz = get(t, base+"/readyz")
	_, e.healthz = get(t, base+"/healthz")
	_, e.landing = get(t, base+"/")
	e.runErr = stop()
	e.logs = logs.String()
	return e
}

func pollCount(cluster string) func(kfaketest.Series) float64 {
	return func(s kfaketest.Series) float64 {
		return s[kfaketest.Key("klagx_poll_duration_seconds_count", "cluster", cluster)]
	}
}

// TestSecretsNeverLeak: for SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512,
// with the password from a file and from an environment variable, right
// and wrong, the password appears in no log line (debug level, kgo
// included), no HTTP body and no error.
func TestSecretsNeverLeak(t *testing.T) {
	for _, mech := range []struct{ kfake, klagx string }{
		{"PLAIN", config.SASLPlain},
		{"SCRAM-SHA-256", config.SASLScramSHA256},
		{"SCRAM-SHA-512", config.SASLScramSHA512},
	} {
		t.Run(mech.kfake, func(t *testing.T) {
			right := "Right-" + strings.ReplaceAll(mech.kfake, "-", "") + "-7hQ2xZ"
			wrong := "Wrong-" + strings.ReplaceAll(mech.kfake, "-", "") + "-9kP4vY"
			env := saslCluster(t, mech.kfake, right)
			for _, source := range []string{"file", "env"} {
				for _, pw := range []string{right, wrong} {
					ok := pw == right
					name := source + "/wrong"
					if ok {
						name = source + "/right"
					}
					t.Run(name, func(t *testing.T) {
						cl := config.Cluster{Name: "sec", Brokers: env.Addrs(), Isolation: config.IsolationReadUncommitted,
							SASL: config.SASL{Mechanism: mech.klagx, Username: "klagx"}}
						if source == "file" {
							cl.SASL.PasswordFile = filepath.Join(t.TempDir(), "kafka-password")
							if err := os.WriteFile(cl.SASL.PasswordFile, []byte(pw+"\n"), 0o600); err != nil {
								t.Fatal(err)
							}
						} else {
							cl.SASL.PasswordEnv = "KLAGX_TEST_SASL_PW"
							t.Setenv("KLAGX_TEST_SASL_PW", pw)
						}
						var e exposure
						if ok {
							e = runExposed(t, cl, "the group to be read", func(s kfaketest.Series) bool {
								return s[kfaketest.Key("klagx_group_partition_lag", "cluster", "sec", "group", "payments", "topic", "ledger", "partition", "0")] == 6
							})
							if !strings.Contains(e.status, `"name": "payments"`) || !strings.HasPrefix(e.readyz, "ready") {
								t.Errorf("authenticated cycle not served:\n%s\n%s", e.status, e.readyz)
							}
						} else {
							// Two failed cycles: the password was read and
							// sent at least twice.
							e = runExposed(t, cl, "two failed cycles", func(s kfaketest.Series) bool {
								return pollCount("sec")(s) >= 2 && s[kfaketest.Key("klagx_up", "cluster", "sec")] == 0
							})
							if !strings.Contains(e.status, `"error":`) || !strings.HasPrefix(e.readyz, "not ready") {
								t.Errorf("failed authentication not reported:\n%s\n%s", e.status, e.readyz)
							}
						}
						if e.runErr != nil {
							t.Errorf("Run: %v", e.runErr)
						}
						e.assertNoSecret(t, right, wrong)
						if t.Failed() {
							t.Logf("logs:\n%s", e.logs)
						}
					})
				}
			}
		})
	}
}

// TestSecretsOtherMechanismsNeverLeak covers the secrets kfake cannot accept: an
// OAUTHBEARER token file and AWS MSK IAM credentials (kfake answers with an
// unsupported mechanism), which klagx still reads and sends.
func TestSecretsOtherMechanismsNeverLeak(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-256", "admin", "admin-pw"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	failed := func(s kfaketest.Series) bool {
		return pollCount("sec")(s) >= 2 && s[kfaketest.Key("klagx_up", "cluster", "sec")] == 0
	}

	t.Run("oauthbearer token file", func(t *testing.T) {
		token := "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.Q2x4ZkVxN3Ru"
		tokenFile := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		e := runExposed(t, config.Cluster{Name: "sec", Brokers: c.ListenAddrs(), Isolation: config.IsolationReadUncommitted,
			SASL: config.SASL{Mechanism: config.SASLOAuthBearer, TokenFile: tokenFile}}, "two failed cycles", failed)
		e.assertNoSecret(t, token)
	})
	t.Run("aws-msk-iam", func(t *testing.T) {
		const key, secretKey, session = "AKIAKLAGXTESTKEY0001", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYklagxSECRET", "FwoGZXIvYXdzklagxSESSIONtoken"
		t.Setenv("AWS_ACCESS_KEY_ID", key)
		t.Setenv("AWS_SECRET_ACCESS_KEY", secretKey)
		t.Setenv("AWS_SESSION_TOKEN", session)
		e := runExposed(t, config.Cluster{Name: "sec", Brokers: c.ListenAddrs(), Isolation: config.IsolationReadUncommitted,
			SASL: config.SASL{Mechanism: config.SASLAWSMSKIAM}}, "two failed cycles", failed)
		e.assertNoSecret(t, secretKey, session)
	})
}

// TestSecretTLSKeyNeverInErrors: klagx has no passphrase for an encrypted
// client key (tls.key_file must be an unencrypted PEM key), so the secret
// here is the key file itself: an unusable one makes Run fail with an error
// naming the file but quoting none of its content.
func TestSecretTLSKeyNeverInErrors(t *testing.T) {
	fx := kfaketest.NewTLS(t)
	dir := t.TempDir()
	certFile := filepath.Join(dir, "client.pem")
	keyFile := filepath.Join(dir, "client-key.pem")
	// A CA certificate used as the client certificate is fine for this: the
	// key is what fails.
	caPEM, err := os.ReadFile(fx.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	const material = "TWlJRXZRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NCS2N3Z2dTakFnRUFBb0lCQVFD"
	for _, tc := range []struct{ name, content string }{
		{"encrypted key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + material + "\n-----END ENCRYPTED PRIVATE KEY-----\n"},
		{"corrupt key", "-----BEGIN PRIVATE KEY-----\n" + material + "\n-----END PRIVATE KEY-----\n"},
		{"not PEM", material + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(keyFile, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			cl := config.DefaultCluster("mtls", "127.0.0.1:1")
			cl.TLS = config.TLS{Enabled: true, CAFile: fx.CAFile, CertFile: certFile, KeyFile: keyFile}
			cfg := kfaketest.Config(cl, time.Second)
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			var logs kfaketest.SyncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			addrs := []string{"127.0.0.1:0"}
			err := Run(ctx, Options{Config: cfg, Web: &web.FlagConfig{WebListenAddresses: &addrs},
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err == nil || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), "tls.cert_file/tls.key_file") {
				t.Fatalf("Run: %v, want an error naming tls.key_file and %s", err, keyFile)
			}
			for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
				if strings.Contains(text, material) || strings.Contains(text, material[:16]) {
					t.Errorf("key material leaked into %s: %s", what, text)
				}
			}
		})
	}
}
