package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/klagx/klagx/saslauth"
)

// DefaultOAuthClientSecretEnv is the environment variable the OIDC client
// secret is read from when a cluster sets neither
// sasl.oauth.client_secret_file nor sasl.oauth.client_secret_env.
const DefaultOAuthClientSecretEnv = "KLAGX_SASL_OAUTH_CLIENT_SECRET"

// OAuth configures mechanism oauthbearer with tokens from an OIDC token
// endpoint (client-credentials grant), instead of SASL.TokenFile; see
// [saslauth.OIDC]. TokenURL and ClientID are required; the client secret
// comes from ClientSecretFile, else from the variable ClientSecretEnv, else
// from DefaultOAuthClientSecretEnv.
type OAuth struct {
	// TokenURL is the token endpoint: https://, or http:// on a loopback
	// address (a local token sidecar).
	TokenURL string
	// ClientID of klagx at the identity provider.
	ClientID string
	// ClientSecretFile holds the client secret (trailing line breaks
	// trimmed), re-read for each token request.
	ClientSecretFile string
	// ClientSecretEnv names the environment variable holding the client
	// secret, used when ClientSecretFile is empty; empty means
	// DefaultOAuthClientSecretEnv (see [OAuth.ClientSecretEnvName]).
	ClientSecretEnv string
	// Scopes requested; none by default.
	Scopes []string
	// Params are extra form parameters of the token request (audience,
	// resource, ...); grant_type, client_id, client_secret and scope are
	// klagx's own.
	Params map[string]string
	// Extensions are SASL/OAUTHBEARER extensions sent to the brokers with
	// the token (KIP-342), e.g. Confluent Cloud's logicalCluster and
	// identityPoolId. Keys are letters only; "auth" is reserved.
	Extensions map[string]string
	// CAFile is a PEM bundle of CAs for the token endpoint's certificate.
	// Default: the system roots.
	CAFile string
}

// set reports whether any field is set.
func (o OAuth) set() bool {
	return o.TokenURL != "" || o.ClientID != "" || o.ClientSecretFile != "" || o.ClientSecretEnv != "" ||
		len(o.Scopes) > 0 || len(o.Params) > 0 || len(o.Extensions) > 0 || o.CAFile != ""
}

// The SASL/OAUTHBEARER extension syntax of RFC 7628 section 3.1, as Kafka
// checks it (OAuthBearerClientInitialResponse).
var (
	extensionKeyRE   = regexp.MustCompile(`^[A-Za-z]+$`)
	extensionValueRE = regexp.MustCompile(`^[\x21-\x7E \t\r\n]+$`)
)

// reservedParams are the token request parameters klagx sets itself.
var reservedParams = []string{"grant_type", "client_id", "client_secret", "scope"}

func (o OAuth) validate(p string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	p += ".sasl.oauth"
	if o.TokenURL == "" {
		add("%s.token_url: required when other sasl.oauth keys are set", p)
	} else if err := checkTokenURL(o.TokenURL); err != nil {
		add("%s.token_url: %w", p, err)
	}
	if o.ClientID == "" {
		add("%s.client_id: required with sasl.oauth.token_url", p)
	}
	switch {
	case o.ClientSecretFile != "" && o.ClientSecretEnv != "":
		add("%s: set only one of client_secret_file and client_secret_env", p)
	case o.ClientSecretEnv != "" && !envNameRE.MatchString(o.ClientSecretEnv):
		// Not quoted: it might be a pasted secret.
		add("%s.client_secret_env: not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*); it must name the variable holding the secret, not hold it", p)
	}
	for _, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			add("%s.scopes: %q is not a scope (one word per entry)", p, s)
		}
	}
	for _, k := range sortedKeys(o.Params) {
		if k == "" || slices.Contains(reservedParams, k) {
			add("%s.params: %q is set by klagx itself (reserved: %s)", p, k, strings.Join(reservedParams, ", "))
		}
	}
	for _, k := range sortedKeys(o.Extensions) {
		switch {
		case !extensionKeyRE.MatchString(k) || k == "auth":
			add(`%s.extensions: key %q is not letters only, or is the reserved "auth"`, p, k)
		case !extensionValueRE.MatchString(o.Extensions[k]):
			add("%s.extensions: the value of %q must be printable ASCII (RFC 7628)", p, k)
		}
	}
	return errs
}

func checkTokenURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL (e.g. https://login.example.com/oauth2/token)", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q must be https:// (http:// only on a loopback address): the client secret is sent to it", raw)
	default:
		return fmt.Errorf("%q must be https://", raw)
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ClientSecretEnvName is the variable the client secret is read from when
// ClientSecretFile is empty: ClientSecretEnv, else
// DefaultOAuthClientSecretEnv.
func (o OAuth) ClientSecretEnvName() string {
	if o.ClientSecretEnv != "" {
		return o.ClientSecretEnv
	}
	return DefaultOAuthClientSecretEnv
}

// clientSecret reads the client secret from ClientSecretFile, else from the
// variable ClientSecretEnvName. Errors name the key, never the secret.
func (o OAuth) clientSecret() (string, error) {
	return readSecret("sasl.oauth", "client secret", "client_secret_file", o.ClientSecretFile, o.ClientSecretEnvName())
}

func (o OAuth) mechanism() (sasl.Mechanism, error) {
	// Fail fast on a missing secret; the token source reads it again
	// before each token request.
	if _, err := o.clientSecret(); err != nil {
		return nil, err
	}
	return saslauth.OIDC(saslauth.OIDCOptions{
		TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecret: o.clientSecret,
		Scopes: o.Scopes, Params: o.Params, Extensions: o.Extensions, CAFile: o.CAFile,
	})
}
