package saslauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/klagx/klagx/saslauth"
)

// tokenEndpoint is a fake OIDC token endpoint (client-credentials grant)
// over TLS on 127.0.0.1. The n-th token it issues is "token-n", valid for
// lifetime; it records the form of each request.
type tokenEndpoint struct {
	srv      *httptest.Server
	caFile   string
	lifetime time.Duration

	mu    sync.Mutex
	forms []map[string]string
}

func newTokenEndpoint(t *testing.T, clientID, secret string, lifetime time.Duration) *tokenEndpoint {
	t.Helper()
	te := &tokenEndpoint{lifetime: lifetime}
	te.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, sec, ok := r.BasicAuth()
		if !ok {
			id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("grant_type") != "client_credentials" || id != clientID || sec != secret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"Invalid client secret","echo":%q}`, sec)
			return
		}
		te.mu.Lock()
		form := map[string]string{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		te.forms = append(te.forms, form)
		n := len(te.forms)
		te.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{
			"access_token": fmt.Sprintf("token-%d", n), "token_type": "Bearer", "expires_in": int(lifetime.Seconds()),
		})
	}))
	t.Cleanup(te.srv.Close)
	te.caFile = filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: te.srv.Certificate().Raw})
	if err := os.WriteFile(te.caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return te
}

func (te *tokenEndpoint) requests() []map[string]string {
	te.mu.Lock()
	defer te.mu.Unlock()
	return append([]map[string]string(nil), te.forms...)
}

func staticSecret(s string) func() (string, error) { return func() (string, error) { return s, nil } }

// bearer runs one OAUTHBEARER authentication and returns the token and the
// extensions of the client's first message (RFC 7628).
func bearer(t *testing.T, m sasl.Mechanism) (string, map[string]string, error) {
	t.Helper()
	_, msg, err := m.Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		return "", nil, err
	}
	parts := strings.Split(strings.TrimSuffix(string(msg), "\x01\x01"), "\x01")
	if len(parts) < 2 || parts[0] != "n,," {
		t.Fatalf("not an OAUTHBEARER message: %q", msg)
	}
	ext := map[string]string{}
	var token string
	for _, kv := range parts[1:] {
		k, v, _ := strings.Cut(kv, "=")
		if k == "auth" {
			token = strings.TrimPrefix(v, "Bearer ")
		} else {
			ext[k] = v
		}
	}
	return token, ext, nil
}

// TestOIDCClientCredentials: the token request carries the grant, the
// client credentials, the scopes and the extra parameters, over TLS verified
// with the configured CA; the SASL message carries the token and the
// extensions; a token valid for an hour is fetched once for any number of
// authentications.
func TestOIDCClientCredentials(t *testing.T) {
	te := newTokenEndpoint(t, "klagx", "s3cret-Kx9", time.Hour)
	m, err := saslauth.OIDC(saslauth.OIDCOptions{
		TokenURL: te.srv.URL + "/oauth2/token", ClientID: "klagx", ClientSecret: staticSecret("s3cret-Kx9"),
		Scopes: []string{"kafka", "offline"}, Params: map[string]string{"audience": "kafka-broker"},
		Extensions: map[string]string{"logicalCluster": "lkc-abc12", "identityPoolId": "pool-Xy1"},
		CAFile:     te.caFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(te.requests()); n != 0 {
		t.Errorf("OIDC requested %d tokens before any authentication, want 0", n)
	}
	for range 3 {
		tok, ext, err := bearer(t, m)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "token-1" || ext["logicalCluster"] != "lkc-abc12" || ext["identityPoolId"] != "pool-Xy1" || len(ext) != 2 {
			t.Fatalf("token %q extensions %v", tok, ext)
		}
	}
	reqs := te.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d token requests for 3 authentications, want 1 (cached)", len(reqs))
	}
	if got := reqs[0]; got["scope"] != "kafka offline" || got["audience"] != "kafka-broker" || got["grant_type"] != "client_credentials" {
		t.Errorf("token request form = %v", got)
	}
}

// TestOIDCRefreshBeforeExpiry: a token that expires within OIDCExpiryWindow
// is replaced at the next authentication, and the client secret is asked
// for again (a rotated secret file is read anew).
func TestOIDCRefreshBeforeExpiry(t *testing.T) {
	te := newTokenEndpoint(t, "klagx", "s3cret-Kx9", saslauth.OIDCExpiryWindow/2)
	asked := 0
	m, err := saslauth.OIDC(saslauth.OIDCOptions{TokenURL: te.srv.URL, ClientID: "klagx", CAFile: te.caFile,
		ClientSecret: func() (string, error) { asked++; return "s3cret-Kx9", nil }})
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		tok, _, err := bearer(t, m)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("token-%d", n); tok != want {
			t.Fatalf("authentication %d presented %q, want %q", n, tok, want)
		}
	}
	if asked != 3 {
		t.Errorf("the secret was read %d times for 3 token requests", asked)
	}
}

// TestOIDCErrors: a refused secret, an unknown CA and an unreadable CA file
// each give an error naming what failed, never the secret (the fake endpoint
// even echoes it in its answer).
func TestOIDCErrors(t *testing.T) {
	te := newTokenEndpoint(t, "klagx", "s3cret-Kx9", time.Hour)
	const wrong = "wrong-Secret-7Qp"
	tests := []struct {
		name string
		o    saslauth.OIDCOptions
		want string
	}{
		{"wrong secret", saslauth.OIDCOptions{TokenURL: te.srv.URL, ClientID: "klagx", ClientSecret: staticSecret(wrong), CAFile: te.caFile},
			fmt.Sprintf(`sasl.oauth: token endpoint %s refused client id "klagx": 401 Unauthorized: invalid_client (Invalid client secret)`, te.srv.URL)},
		{"untrusted certificate", saslauth.OIDCOptions{TokenURL: te.srv.URL, ClientID: "klagx", ClientSecret: staticSecret(wrong)},
			fmt.Sprintf("sasl.oauth: cannot reach token endpoint %s: tls: failed to verify certificate", te.srv.URL)},
		{"secret unreadable", saslauth.OIDCOptions{TokenURL: te.srv.URL, ClientID: "klagx", CAFile: te.caFile,
			ClientSecret: func() (string, error) { return "", fmt.Errorf("sasl.oauth.client_secret_file: cannot read /x") }},
			"sasl.oauth.client_secret_file: cannot read /x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := saslauth.OIDC(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = bearer(t, m)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant prefix %s", err, tt.want)
			}
			if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
	for _, tt := range []struct{ name, content, want string }{
		{"missing", "", "sasl.oauth.ca_file: open "},
		{"not PEM", "hello", "sasl.oauth.ca_file: no PEM certificate found in "},
	} {
		t.Run("ca file "+tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ca.pem")
			if tt.content != "" {
				if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := saslauth.OIDC(saslauth.OIDCOptions{TokenURL: te.srv.URL, ClientID: "klagx", ClientSecret: staticSecret(wrong), CAFile: p})
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("err = %v, want prefix %q", err, tt.want)
			}
		})
	}
}

// TestOIDCBrokerRefusal: a broker that refuses the token answers only
// {"status":"invalid_token"}; the session's error says so and adds what the
// token claims, and never carries the token itself.
func TestOIDCBrokerRefusal(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	exp := time.Now().Add(-10 * time.Minute).Unix()
	jwt := b64(`{"alg":"RS256"}`) + "." + b64(fmt.Sprintf(`{"sub":"klagx","aud":"billing","iss":"https://idp","exp":%d}`, exp)) + ".c2lnbmF0dXJl"
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, jwt)
	}))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := saslauth.OIDC(saslauth.OIDCOptions{TokenURL: srv.URL, ClientID: "klagx", ClientSecret: staticSecret("s"), CAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := m.Authenticate(context.Background(), "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	done, _, err := s.Challenge([]byte(`{"status":"invalid_token"}`))
	want := fmt.Sprintf(`sasl.oauth: the broker refused the token from %s (invalid_token); the token has sub "klagx", aud ["billing"], iss "https://idp", exp %s (expired 10m`,
		srv.URL, time.Unix(exp, 0).UTC().Format(time.RFC3339))
	if done || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Challenge = %v, %v\nwant prefix %s", done, err, want)
	}
	if strings.Contains(err.Error(), "c2lnbmF0dXJl") {
		t.Errorf("the error carries the token: %v", err)
	}
	// An empty server answer is success, as RFC 7628 has it.
	if done, _, err := s.Challenge(nil); !done || err != nil {
		t.Errorf("Challenge(nil) = %v, %v", done, err)
	}
}
