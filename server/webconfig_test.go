package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/crypto/bcrypt"

	"github.com/klagx/klagx/config"
	"github.com/klagx/klagx/internal/kfaketest"
)

const (
	webUser     = "prometheus"
	webPassword = "scrape-Pa55word-for-the-test"
)

// webFixture is an exporter-toolkit web configuration file enabling TLS
// (server certificate signed by a throwaway CA) and basic auth.
type webFixture struct {
	ConfigFile string
	CAFile     string
}

// newWebFixture writes the server certificate and key, and a web config
// file with tls_server_config and basic_auth_users (extra is appended).
func newWebFixture(t *testing.T, extra string) webFixture {
	t.Helper()
	fx := kfaketest.NewTLS(t)
	dir := t.TempDir()
	cert := fx.Server.Certificates[0]
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("server.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	write("server-key.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	hash, err := bcrypt.GenerateFromPassword([]byte(webPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// Relative paths are resolved against the web config file's directory.
	cfg := fmt.Sprintf("tls_server_config:\n  cert_file: server.pem\n  key_file: server-key.pem\nbasic_auth_users:\n  %s: %q\n%s", webUser, hash, extra)
	return webFixture{ConfigFile: write("web.yml", []byte(cfg)), CAFile: fx.CAFile}
}

// runWeb starts Run on 127.0.0.1:0 with the given --web.config.file and
// returns the bound address; Run must exit cleanly at the end of the test.
func runWeb(t *testing.T, cfg *config.Config, webConfig string) string {
	t.Helper()
	addr, stop := startServer(t, Options{Config: cfg, Web: &web.FlagConfig{WebConfigFile: &webConfig}})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return addr
}

// webGet GETs url with c, with basic auth unless user is empty.
func webGet(t *testing.T, c *http.Client, url, user, pass string) (int, http.Header, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), nil
}

func tlsClient(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

// TestWebConfigTLSAndBasicAuth runs the real server with an exporter-toolkit
// web config file and talks to it as Prometheus would (TLS with the CA,
// basic auth), and as clients that must be refused.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	env := kfaketest.New(t, 1)
	env.CreateTopic("orders", 1)
	env.Produce("orders", 0, 7, time.Time{})
	env.Commit("billing", "orders", map[int32]int64{0: 3})
	wf := newWebFixture(t, "")
	addr := runWeb(t, env.Config(func(c *config.Config) { c.PollInterval = time.Second }), wf.ConfigFile)
	base := "https://" + addr
	trusted := tlsClient(clientTLS(t, wf.CAFile))

	// Right user and password: served, and klagx is up.
	var body string
	kfaketest.WaitFor(t, 30*time.Second, "klagx_up 1 over TLS with basic auth", func() bool {
		code, _, b, err := webGet(t, trusted, base+"/metrics", webUser, webPassword)
		if err != nil {
			t.Fatalf("GET /metrics with the right credentials: %v", err)
		}
		if code != http.StatusOK {
			t.Fatalf("GET /metrics with the right credentials: %d %s", code, b)
		}
		body = b
		return strings.Contains(b, `klagx_up{cluster="test"} 1`)
	})
	expect(t, kfaketest.Parse(t, []byte(body)), map[string]float64{
		kfaketest.Key("klagx_up", "cluster", "test"):              1,
		gp("klagx_group_partition_lag", "billing", "orders", "0"): 4,
	})
	for _, path := range []string{"/readyz", "/status", "/healthz"} {
		code, _, b, err := webGet(t, trusted, base+path, webUser, webPassword)
		if err != nil || code != http.StatusOK {
			t.Errorf("GET %s with the right credentials: %d %v %s", path, code, err, b)
		}
	}

	// Wrong password, unknown user, no credentials: 401 on every path, with
	// no data in the body.
	for _, path := range []string{"/metrics", "/readyz", "/status", "/healthz", "/"} {
		for _, cred := range []struct{ what, user, pass string }{
			{"wrong password", webUser, "not-" + webPassword},
			{"unknown user", "mallory", webPassword},
			{"no credentials", "", ""},
		} {
			code, hdr, b, err := webGet(t, trusted, base+path, cred.user, cred.pass)
			if err != nil {
				t.Fatalf("GET %s (%s): %v", path, cred.what, err)
			}
			if code != http.StatusUnauthorized || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("GET %s (%s): %d, WWW-Authenticate %q, want 401 Basic", path, cred.what, code, hdr.Get("WWW-Authenticate"))
			}
			if strings.Contains(b, "klagx") || strings.Contains(b, "billing") {
				t.Errorf("GET %s (%s) leaked data: %s", path, cred.what, b)
			}
		}
	}

	// Plain HTTP to the TLS port: Go's TLS server answers 400 and nothing
	// else.
	code, _, b, err := webGet(t, &http.Client{Timeout: 10 * time.Second}, "http://"+addr+"/metrics", webUser, webPassword)
	if err == nil && (code != http.StatusBadRequest || strings.Contains(b, "klagx_up")) {
		t.Errorf("plain HTTP to the TLS port: %d %s", code, b)
	}

	// A client that does not trust the CA fails the handshake.
	_, _, _, err = webGet(t, tlsClient(&tls.Config{MinVersion: tls.VersionTLS12}), base+"/metrics", webUser, webPassword)
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Errorf("a client without the CA: err = %v, want a certificate verification error", err)
	}
}

// TestWebConfigBadFileFailsRun: a web config file exporter-toolkit cannot
// use makes Run return an error naming the problem instead of serving
// without TLS or auth. (klagx serve rejects such a file before Run, with
// exit code 2: see cmd/klagx/webconfig_test.go.)
func TestWebConfigBadFileFailsRun(t *testing.T) {
	env := kfaketest.New(t, 1)
	cfg := env.Config()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content, want string
	}{
		{"missing cert file", "tls_server_config:\n  cert_file: nope.pem\n  key_file: nope-key.pem\n", "nope.pem"},
		{"unknown key", "tls_server_config: {}\nbasic_auth_user:\n  a: b\n", "basic_auth_user"},
		{"not a bcrypt hash", "basic_auth_users:\n  prometheus: plain-text\n", "bcrypt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yml")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := web.Validate(path); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("web.Validate: %v, want an error naming %q", err, tc.want)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			addrs := []string{"127.0.0.1:0"}
			err := Run(ctx, Options{
				Config: cfg,
				Web:    &web.FlagConfig{WebListenAddresses: &addrs, WebConfigFile: &path},
				Logger: kfaketest.Logger(t, slog.LevelWarn),
			})
			if ctx.Err() != nil {
				t.Fatal("Run kept serving with a bad web config file")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestTLSProbeIsNotAWarning: a tcpSocket probe (connect, then close without
// a handshake) on the TLS port is logged at debug, not as a warning every
// probe period.
func TestTLSProbeIsNotAWarning(t *testing.T) {
	env := kfaketest.New(t, 1)
	wf := newWebFixture(t, "")
	var logs kfaketest.SyncBuffer
	cfgFile := wf.ConfigFile
	addr, _ := startServer(t, Options{
		Config: env.Config(),
		Web:    &web.FlagConfig{WebConfigFile: &cfgFile},
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	kfaketest.WaitFor(t, 10*time.Second, "the handshake error to be logged", func() bool {
		return strings.Contains(logs.String(), "TLS handshake error")
	})
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "TLS handshake error") && !strings.Contains(line, "level=DEBUG") {
			t.Errorf("logged above debug: %s", line)
		}
	}
}
