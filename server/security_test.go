package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
	"github.com/klagx/klagx/poller"
	"github.com/klagx/klagx/snapshot"
)

const secret = "s3cr3t-Pa55word-never-logged"

// securedCluster starts kfake with TLS and SCRAM-SHA-512 and one group with
// a commit, set up through a client that authenticates.
func securedCluster(t *testing.T) (*kfake.Cluster, *kfaketest.TLSFixture) {
	t.Helper()
	fx := kfaketest.NewTLS(t)
	c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.TLS(fx.Server), kfake.EnableSASL(),
		kfake.Superuser("SCRAM-SHA-512", "klagx", secret), kfake.SeedTopics(1, "secured"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, fx
}

// runSecured polls the cluster once with the given SASL settings and returns
// the snapshot, everything logged, and the scrape body.
func runSecured(t *testing.T, c *kfake.Cluster, fx *kfaketest.TLSFixture, sasl config.SASL) (*snapshot.Cluster, string, string) {
	t.Helper()
	kc := config.DefaultCluster("secured", c.ListenAddrs()...)
	kc.TLS, kc.SASL = config.TLS{Enabled: true, CAFile: fx.CAFile}, sasl
	cfg := kfaketest.Config(kc, 3*time.Second)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := snapshot.NewStore("secured")
	p, err := poller.New(cfg, cfg.Clusters[0], store, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	cl, _ := p.Cycle(context.Background())
	s := kfaketest.Scrape(t, Handler(store, Options{Config: cfg, DisableExporterMetrics: true}), "/metrics")
	var body strings.Builder
	for k := range s {
		body.WriteString(k + "\n")
	}
	return cl, logs.String(), body.String()
}

func TestTLSAndSCRAM(t *testing.T) {
	c, fx := securedCluster(t)
	// Create a group through an authenticated client.
	setup, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.DialTLSConfig(clientTLS(t, fx.CAFile)),
		kgo.SASL(scram.Auth{User: "klagx", Pass: secret}.AsSha512Mechanism()))
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()

	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, logs, body := runSecured(t, c, fx, config.SASL{Mechanism: config.SASLScramSHA512, Username: "klagx", PasswordFile: pwFile})
	if !cl.Up {
		t.Fatalf("TLS+SCRAM-SHA-512 cycle failed: %s\n%s", cl.LastError, logs)
	}
	if len(cl.Partitions) != 1 {
		t.Fatalf("partitions of topic secured not listed: %+v", cl.Partitions)
	}
	if strings.Contains(logs, secret) || strings.Contains(body, secret) {
		t.Fatal("the password leaked into logs or metrics")
	}
}

func TestWrongPasswordIsClearAndSecret(t *testing.T) {
	c, fx := securedCluster(t)
	t.Setenv("KLAGX_TEST_PW", "wrong-"+secret)
	cl, logs, body := runSecured(t, c, fx, config.SASL{Mechanism: config.SASLScramSHA512, Username: "klagx", PasswordEnv: "KLAGX_TEST_PW"})
	if cl.Up {
		t.Fatal("a wrong password must not reach the cluster")
	}
	// A real broker answers SASL_AUTHENTICATION_FAILED; kfake closes the
	// connection instead, so only the failure itself is asserted here.
	if cl.LastError == "" || cl.Ready {
		t.Errorf("failed cycle not reported: %+v", cl)
	}
	for what, text := range map[string]string{"logs": logs, "metrics": body, "error": cl.LastError} {
		if strings.Contains(text, secret) {
			t.Errorf("the password leaked into %s", what)
		}
	}
}

func clientTLS(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
