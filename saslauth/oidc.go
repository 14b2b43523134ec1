package saslauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OIDCExpiryWindow is how long before its expiry (the token endpoint's
// expires_in) a cached OIDC access token is fetched again, so that no
// authentication presents a token that expires while the broker checks it.
// A token without expires_in is kept until a broker refuses it.
const OIDCExpiryWindow = time.Minute

// OIDCTimeout bounds one request to the token endpoint.
const OIDCTimeout = 10 * time.Second

// OIDCOptions configure the OIDC client-credentials grant (RFC 6749 section
// 4.4) whose access token OAUTHBEARER presents to the brokers.
type OIDCOptions struct {
	// TokenURL is the token endpoint, https:// (http:// only for tests and
	// sidecars on loopback is the caller's business to allow).
	TokenURL string
	// ClientID is sent with ClientSecret, as HTTP basic authentication or as
	// form parameters (whichever the endpoint accepts; golang.org/x/oauth2
	// finds out once).
	ClientID string
	// ClientSecret returns the client secret. It is called before each token
	// request, so that a rotated secret file is picked up.
	ClientSecret func() (string, error)
	// Scopes requested (the scope parameter); none when empty.
	Scopes []string
	// Params are extra form parameters of the token request, e.g. audience
	// or resource.
	Params map[string]string
	// Extensions are SASL/OAUTHBEARER extensions (KIP-342) sent to the
	// brokers with the token, e.g. Confluent Cloud's logicalCluster and
	// identityPoolId.
	Extensions map[string]string
	// CAFile is a PEM bundle of CAs that sign the token endpoint's
	// certificate. Empty: the system roots.
	CAFile string
}

// OIDC returns an OAUTHBEARER mechanism presenting access tokens from an
// OIDC token endpoint. Tokens are cached and fetched again OIDCExpiryWindow
// before they expire. OIDC reads CAFile now; it requests no token: a token
// endpoint that refuses is reported by each authentication that needs a
// token, with the endpoint's status and OAuth error code, never the secret.
func OIDC(o OIDCOptions) (sasl.Mechanism, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("sasl.oauth.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sasl.oauth.ca_file: no PEM certificate found in %s", o.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsCfg
	f := &tokenFetcher{o: o, client: &http.Client{Transport: transport, Timeout: OIDCTimeout}}
	return &oidcMechanism{tokens: oauth2.ReuseTokenSourceWithExpiry(nil, f, OIDCExpiryWindow), o: o}, nil
}

// oidcMechanism is franz-go's OAUTHBEARER with a session that explains a
// broker's refusal: the broker only answers {"status":"invalid_token"}
// (RFC 7628 section 3.2.2), so the error adds what the token claims
// (subject, audience, issuer, expiry), which is what a broker checks.
type oidcMechanism struct {
	tokens oauth2.TokenSource
	o      OIDCOptions
}

func (*oidcMechanism) Name() string { return "OAUTHBEARER" }

func (m *oidcMechanism) Authenticate(ctx context.Context, host string) (sasl.Session, []byte, error) {
	tok, err := m.tokens.Token()
	if err != nil {
		return nil, nil, err
	}
	s, msg, err := oauth.Auth{Token: tok.AccessToken, Extensions: m.o.Extensions}.AsMechanism().Authenticate(ctx, host)
	if err != nil {
		return nil, nil, err
	}
	return refusalSession{Session: s, token: tok.AccessToken, url: m.o.TokenURL}, msg, nil
}

type refusalSession struct {
	sasl.Session
	token, url string
}

func (r refusalSession) Challenge(resp []byte) (bool, []byte, error) {
	if len(resp) == 0 {
		return r.Session.Challenge(resp)
	}
	var answer struct {
		Status string `json:"status"`
	}
	_ = json.Unmarshal(resp, &answer)
	if answer.Status == "" {
		answer.Status = "no status"
	}
	return false, nil, fmt.Errorf("sasl.oauth: the broker refused the token from %s (%s); the token %s", r.url, answer.Status, describeJWT(r.token, time.Now()))
}

// describeJWT states the claims a broker validates, from the token's payload
// (not verified: this is only for the error message). The token itself is a
// credential and never appears.
func describeJWT(token string, now time.Time) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "is not a JWT"
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "has no readable claims"
	}
	var c struct {
		Sub string          `json:"sub"`
		Iss string          `json:"iss"`
		Aud json.RawMessage `json:"aud"`
		Exp *float64        `json:"exp"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return "has no readable claims"
	}
	var aud []string
	if json.Unmarshal(c.Aud, &aud) != nil {
		var one string
		if json.Unmarshal(c.Aud, &one) == nil {
			aud = []string{one}
		}
	}
	desc := fmt.Sprintf("has sub %q, aud %q, iss %q", c.Sub, aud, c.Iss)
	if c.Exp == nil {
		return desc + ", no exp"
	}
	exp := time.Unix(int64(*c.Exp), 0).UTC()
	desc += ", exp " + exp.Format(time.RFC3339)
	if !exp.After(now) {
		desc += fmt.Sprintf(" (expired %s ago)", now.Sub(exp).Round(time.Second))
	}
	return desc
}

// tokenFetcher requests a new token on each call; oauth2's ReuseTokenSource
// in front of it does the caching.
type tokenFetcher struct {
	o      OIDCOptions
	client *http.Client
}

func (f *tokenFetcher) Token() (*oauth2.Token, error) {
	secret, err := f.o.ClientSecret()
	if err != nil {
		return nil, err
	}
	params := url.Values{}
	for k, v := range f.o.Params {
		params.Set(k, v)
	}
	cc := clientcredentials.Config{
		ClientID:       f.o.ClientID,
		ClientSecret:   secret,
		TokenURL:       f.o.TokenURL,
		Scopes:         f.o.Scopes,
		EndpointParams: params,
	}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, f.client)
	tok, err := cc.Token(ctx)
	if err == nil {
		if tok.AccessToken == "" {
			return nil, fmt.Errorf("sasl.oauth: token endpoint %s answered without an access_token", f.o.TokenURL)
		}
		return tok, nil
	}
	// The endpoint's answer (RetrieveError.Body) is left out: an endpoint
	// may echo the request. Its status and OAuth error code say enough.
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := fmt.Sprintf("sasl.oauth: token endpoint %s refused client id %q", f.o.TokenURL, f.o.ClientID)
		if re.Response != nil {
			msg += ": " + re.Response.Status
		}
		if re.ErrorCode != "" {
			msg += ": " + re.ErrorCode
			if re.ErrorDescription != "" {
				msg += " (" + re.ErrorDescription + ")"
			}
		}
		return nil, errors.New(msg)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return nil, fmt.Errorf("sasl.oauth: cannot reach token endpoint %s: %w", f.o.TokenURL, ue.Err)
	}
	return nil, fmt.Errorf("sasl.oauth: token endpoint %s: %w", f.o.TokenURL, err)
}
