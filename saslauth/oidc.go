package saslauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
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
	tokens := oauth2.ReuseTokenSourceWithExpiry(nil, f, OIDCExpiryWindow)
	return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
		tok, err := tokens.Token()
		if err != nil {
			return oauth.Auth{}, err
		}
		return oauth.Auth{Token: tok.AccessToken, Extensions: o.Extensions}, nil
	}), nil
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
