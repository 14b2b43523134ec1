package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/klagx/klagx/internal/realkafka"
)

// oidcProvider is a test identity provider on 127.0.0.1: a JWKS endpoint
// (plain HTTP, read by the broker) and a client-credentials token endpoint
// (TLS, read by klagx) that signs RS256 JWTs with the key of the JWKS.
// Clients, by id: "klagx" gets valid tokens for the broker's audience;
// "klagx-expired" tokens that expired 10 minutes ago; "klagx-other-aud"
// tokens for another audience. All share one secret.
type oidcProvider struct {
	key      *rsa.PrivateKey
	jwks     *httptest.Server
	token    *httptest.Server
	caFile   string
	secret   string
	audience string
	lifetime time.Duration

	mu     sync.Mutex
	issued []issuedToken // each valid token issued to "klagx"
}

type issuedToken struct{ at, exp time.Time }

func newOIDCProvider(t *testing.T, audience string, lifetime time.Duration) *oidcProvider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &oidcProvider{key: key, secret: "oidc-Right-Secret-5vQ2", audience: audience, lifetime: lifetime}
	b64 := base64.RawURLEncoding.EncodeToString
	p.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": "klagx-test", "use": "sig", "alg": "RS256",
			"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	t.Cleanup(p.jwks.Close)
	p.token = httptest.NewTLSServer(http.HandlerFunc(p.serveToken))
	t.Cleanup(p.token.Close)
	p.caFile = filepath.Join(t.TempDir(), "idp-ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.token.Certificate().Raw})
	if err := os.WriteFile(p.caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *oidcProvider) serveToken(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	w.Header().Set("Content-Type", "application/json")
	if secret != p.secret || r.PostForm.Get("grant_type") != "client_credentials" {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
		return
	}
	now := time.Now()
	aud, exp := p.audience, now.Add(p.lifetime)
	switch id {
	case "klagx-expired":
		exp = now.Add(-10 * time.Minute)
	case "klagx-other-aud":
		aud = "billing-service"
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"sub": "klagx", "aud": aud, "iss": "https://idp.klagx.test", "scope": r.PostForm.Get("scope"),
		"iat": now.Add(-time.Minute).Unix(), "exp": exp.Unix(),
	})
	tok.Header["kid"] = "klagx-test"
	signed, err := tok.SignedString(p.key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if id == "klagx" {
		p.mu.Lock()
		p.issued = append(p.issued, issuedToken{at: now, exp: exp})
		p.mu.Unlock()
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": signed, "token_type": "Bearer", "expires_in": int(time.Until(exp).Seconds())})
}

func (p *oidcProvider) validIssued() []issuedToken {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]issuedToken(nil), p.issued...)
}

// TestOIDCAgainstRealKafka: klagx check with OAUTHBEARER tokens from a
// client-credentials token endpoint, against a real Kafka broker that
// validates the JWTs with Kafka's own OAuthBearerValidatorCallbackHandler
// (KIP-768) against the test's JWKS. Right credentials read the seeded group
// exactly (lag 3, stopped: no members), across token expiry (tokens live 3s, the broker re-authenticates
// every 2s, the check's two samples are 8s apart); a wrong secret, an expired
// token and a wrong audience each fail with an error naming the cluster and
// the cause, and the secret appears nowhere.
func TestOIDCAgainstRealKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real Kafka broker")
	}
	const audience = "kafka-broker"
	idp := newOIDCProvider(t, audience, 3*time.Second)
	c := realkafka.StartT(t, realkafka.Options{
		Brokers: 1,
		ServerProps: map[string]string{
			"super.users":               "User:admin;User:ANONYMOUS;User:klagx",
			"connections.max.reauth.ms": "2000",
		},
		JVMProps: map[string]string{"org.apache.kafka.sasl.oauthbearer.allowed.urls": idp.jwks.URL},
		ExtraListeners: []realkafka.Listener{{
			Name: "OAUTH", Protocol: "SASL_PLAINTEXT", SASLMechanisms: []string{"OAUTHBEARER"},
			// The validator reads its settings with the listener's prefix.
			Props: map[string]string{
				"oauthbearer.sasl.jaas.config":                    "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
				"oauthbearer.sasl.server.callback.handler.class":  "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler",
				"oauthbearer.sasl.oauthbearer.jwks.endpoint.url":  idp.jwks.URL,
				"oauthbearer.sasl.oauthbearer.expected.audience":  audience,
				"oauthbearer.sasl.oauthbearer.expected.issuer":    "https://idp.klagx.test",
				"oauthbearer.sasl.oauthbearer.clock.skew.seconds": "0",
			},
		}},
	})
	t.Logf("Kafka %s validates the tokens", c.Version())
	seedLag(t, c, "ledger", "payments", 10, 7)

	secretFile := filepath.Join(t.TempDir(), "client-secret")
	args := func(clientID, secret string, extra ...string) []string {
		if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return append([]string{"--brokers=" + strings.Join(c.Listener("OAUTH"), ","), "--cluster-name=prod",
			"--kafka.sasl.mechanism=oauthbearer", "--kafka.sasl.oauth.token-url=" + idp.token.URL + "/oauth2/token",
			"--kafka.sasl.oauth.client-id=" + clientID, "--kafka.sasl.oauth.client-secret-file=" + secretFile,
			"--kafka.sasl.oauth.ca-file=" + idp.caFile, "--kafka.sasl.oauth.scope=kafka",
			"--warn-lag-seconds=0", "--crit-lag-seconds=0", "-o", "json"}, extra...)
	}

	t.Run("right credentials across token expiry", func(t *testing.T) {
		code, out, stderr := runCheckDebug(t, args("klagx", idp.secret, "--window=8s", "--timeout=60s")...)
		// An empty group with lag is stopped: CRITICAL. Any exit but
		// UNKNOWN means the cluster was read.
		if code != checkCritical {
			t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, checkCritical, out, stderr)
		}
		var rep struct {
			Clusters []struct {
				Name   string `json:"name"`
				Groups []struct {
					Name   string `json:"name"`
					Status string `json:"status"`
					Lag    int64  `json:"lag"`
				} `json:"groups"`
			} `json:"clusters"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(rep.Clusters) != 1 || rep.Clusters[0].Name != "prod" || len(rep.Clusters[0].Groups) != 1 ||
			rep.Clusters[0].Groups[0].Name != "payments" || rep.Clusters[0].Groups[0].Lag != 3 || rep.Clusters[0].Groups[0].Status != "stopped" {
			t.Errorf("report = %+v, want cluster prod with group payments stopped at lag 3 (10 records, committed 7, no members)\n%s", rep, out)
		}
		// klagx went on past the first token's expiry, with tokens fetched
		// after it.
		issued := idp.validIssued()
		if len(issued) < 2 || !issued[len(issued)-1].at.After(issued[0].exp) {
			t.Errorf("tokens issued %+v: want one issued after the first expired", issued)
		}
		// The broker ended the sessions when their tokens expired (KIP-368);
		// kgo re-authenticated the same connections with fresh tokens.
		if !strings.Contains(stderr, "sasl expiry limit reached") || strings.Contains(stderr, "sasl reauth failed") {
			t.Errorf("want re-authentications and no failed one in kgo's debug log:\n%s", grepLines(stderr, "sasl"))
		}
		assertNoSecret(t, idp.secret, out, stderr)
	})

	for _, tc := range []struct {
		name, clientID, secret string
		want                   []string
	}{
		{"wrong secret", "klagx", "oidc-Wrong-Secret-8mR1", []string{"cluster prod: ", `refused client id "klagx": 401 Unauthorized: invalid_client`}},
		{"expired token", "klagx-expired", idp.secret, []string{"cluster prod: ", "sasl.oauth: the broker refused the token from", "(invalid_token)", "expired 10m"}},
		{"wrong audience", "klagx-other-aud", idp.secret, []string{"cluster prod: ", "sasl.oauth: the broker refused the token from", `aud ["billing-service"]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCheckDebug(t, args(tc.clientID, tc.secret, "--window=0", "--timeout=15s")...)
			if code != checkUnknown {
				t.Errorf("exit %d, want %d", code, checkUnknown)
			}
			var rep struct {
				Error string `json:"error"`
			}
			_ = json.Unmarshal([]byte(out), &rep)
			t.Logf("error: %s", rep.Error)
			for _, w := range tc.want {
				if !strings.Contains(rep.Error, w) {
					t.Errorf("report error %q lacks %q\nstderr:\n%s", rep.Error, w, stderr)
				}
			}
			assertNoSecret(t, tc.secret, out, stderr)
			assertNoSecret(t, idp.secret, out, stderr)
		})
	}
}

func assertNoSecret(t *testing.T, secret string, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, secret) || strings.Contains(o, base64.StdEncoding.EncodeToString([]byte(secret))) {
			t.Errorf("the client secret leaked into the output")
		}
	}
}

// seedLag creates topic with one partition, produces records to it and
// commits group at committed, over the PLAINTEXT listener.
func seedLag(t *testing.T, c *realkafka.Cluster, topic, group string, records, committed int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := range records {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "r%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offsets := kadm.Offsets{}
	offsets.Add(kadm.Offset{Topic: topic, Partition: 0, At: committed, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
