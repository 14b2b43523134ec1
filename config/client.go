package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// ClientOpts returns the franz-go options to reach this cluster: seed
// brokers, TLS and SASL. (The isolation level is not a client option: every
// ListOffsets request klagx sends is built with kmsg and carries its own.) The cluster must have
// passed [Config.Validate]. logger (may be nil) receives warnings such as
// the one for tls.insecure_skip_verify; callers add the cluster attribute,
// the kgo logger (plugin/kslog) and client tuning themselves. Errors name
// the field (tls.ca_file, sasl.password_file, ...) but not the cluster:
// callers prefix it.
//
// Secrets are read here and nowhere else: every password file, password
// environment variable, OAUTHBEARER token file and OIDC client secret is read
// once now, so that a missing or empty secret fails at start-up, and again on
// each SASL authentication (each token request for the client secret), so
// that rotated files and variables are picked up. AWS credentials come from
// the AWS SDK's credential chain at the first authentication (an unknown
// profile fails here), and OIDC tokens from their token endpoint: a refusal
// there is an authentication error of the cluster, not a start-up error.
// Secret values are never logged and never appear in errors.
func (c Cluster) ClientOpts(logger *slog.Logger) ([]kgo.Opt, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.Brokers...)}
	if c.TLS.Enabled {
		tc, err := c.TLS.config(logger)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != SASLNone {
		if s := c.SASL; s.Mechanism != SASLOAuthBearer && s.Mechanism != SASLAWSMSKIAM && s.PasswordFile == "" && s.PasswordEnvName() == DeprecatedPasswordEnv {
			logger.Warn("the SASL password is read from " + DeprecatedPasswordEnv + ", which is deprecated: set " + DefaultPasswordEnv + " instead")
		}
		m, err := c.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (t TLS) config(logger *slog.Logger) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // explicit opt-in, logged below
	}
	if t.InsecureSkipVerify {
		logger.Warn("TLS certificate verification is DISABLED (tls.insecure_skip_verify): the connection to Kafka is open to man-in-the-middle attacks; do not use this in production")
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file: no PEM certificate found in %s", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			// Do not wrap: the error is about the PEM structure, never
			// its content, but keep the message our own to be sure.
			return nil, fmt.Errorf("tls.cert_file/tls.key_file: cannot load client certificate %s and key %s: %s", t.CertFile, t.KeyFile, safeTLSError(err))
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// safeTLSError keeps only crypto/tls's own message about a key pair, and
// drops any wrapped detail in case it ever carried key material.
func safeTLSError(err error) string {
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return pathErr.Error()
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

func (s SASL) mechanism() (sasl.Mechanism, error) {
	switch s.Mechanism {
	case SASLPlain, SASLScramSHA256, SASLScramSHA512:
		// Fail fast on a missing secret, then re-read on each auth.
		if _, err := s.password(); err != nil {
			return nil, err
		}
		user := s.Username
		switch s.Mechanism {
		case SASLPlain:
			return plain.Plain(func(context.Context) (plain.Auth, error) {
				pw, err := s.password()
				return plain.Auth{User: user, Pass: pw}, err
			}), nil
		case SASLScramSHA256:
			return scram.Sha256(func(context.Context) (scram.Auth, error) {
				pw, err := s.password()
				return scram.Auth{User: user, Pass: pw}, err
			}), nil
		default:
			return scram.Sha512(func(context.Context) (scram.Auth, error) {
				pw, err := s.password()
				return scram.Auth{User: user, Pass: pw}, err
			}), nil
		}
	case SASLOAuthBearer:
		if s.OAuth.TokenURL != "" {
			return s.OAuth.mechanism()
		}
		if _, err := s.token(); err != nil {
			return nil, err
		}
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			tok, err := s.token()
			return oauth.Auth{Token: tok}, err
		}), nil
	case SASLAWSMSKIAM:
		return s.AWS.mechanism()
	default:
		return nil, fmt.Errorf("sasl.mechanism: %q is not one of %s", s.Mechanism, strings.Join(SASLMechanisms, ", "))
	}
}

// PasswordEnvName is the environment variable the password is read from
// when PasswordFile is empty: PasswordEnv, else DefaultPasswordEnv, or, while
// that is not set and DeprecatedPasswordEnv is, DeprecatedPasswordEnv.
func (s SASL) PasswordEnvName() string {
	if s.PasswordEnv != "" {
		return s.PasswordEnv
	}
	if _, ok := os.LookupEnv(DefaultPasswordEnv); !ok {
		if _, old := os.LookupEnv(DeprecatedPasswordEnv); old {
			return DeprecatedPasswordEnv
		}
	}
	return DefaultPasswordEnv
}

// password returns the SASL password from PasswordFile, else from the
// variable PasswordEnvName names.
func (s SASL) password() (string, error) {
	return readSecret("sasl", "password", "password_file", s.PasswordFile, s.PasswordEnvName())
}

// readSecret reads a secret from file when it is set, else from the
// environment variable env. Errors name section's keys and the variable,
// never the secret.
func readSecret(section, what, fileKey, file, env string) (string, error) {
	if file != "" {
		return readSecretFile(section+"."+fileKey, file)
	}
	v, ok := os.LookupEnv(env)
	if !ok {
		return "", fmt.Errorf("%s: %s environment variable %s is not set (or set %s.%s)", section, what, env, section, fileKey)
	}
	if v == "" {
		return "", fmt.Errorf("%s: %s environment variable %s is empty", section, what, env)
	}
	return v, nil
}

func (s SASL) token() (string, error) {
	return readSecretFile("sasl.token_file", s.TokenFile)
}

// readSecretFile reads a secret and trims trailing line breaks. Errors name
// the field and the path, never the content.
func readSecretFile(field, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return "", fmt.Errorf("%s: cannot read %s: %w", field, path, pe.Err)
		}
		return "", fmt.Errorf("%s: cannot read %s", field, path)
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if secret == "" {
		return "", fmt.Errorf("%s: %s is empty", field, path)
	}
	return secret, nil
}
