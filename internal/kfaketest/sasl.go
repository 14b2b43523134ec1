package kfaketest

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AcceptSASL makes the kfake cluster c (started without kfake.EnableSASL)
// answer SASL for one mechanism kfake does not implement itself, such as
// AWS_MSK_IAM or OAUTHBEARER, for the rest of the test: a handshake for
// mechanism succeeds, any other fails, and each SASLAuthenticate passes the
// client's message to verify. A nil error authenticates the connection, with a
// session lifetime of sessionLifetime when it is positive (so that the client
// re-authenticates, KIP-368); an error fails it with
// SASL_AUTHENTICATION_FAILED and the error's text as the broker's message.
//
// kfake does not enforce authentication when SASL is not enabled: the
// verification is only as strict as verify, which is the point (the test sees
// exactly what the client sent). verify runs on kfake's goroutine.
func AcceptSASL(c *kfake.Cluster, mechanism string, sessionLifetime time.Duration, verify func(auth []byte) error) {
	c.ControlKey(int16(kmsg.SASLHandshake), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		hreq := req.(*kmsg.SASLHandshakeRequest)
		resp := hreq.ResponseKind().(*kmsg.SASLHandshakeResponse)
		resp.SupportedMechanisms = []string{mechanism}
		if hreq.Mechanism != mechanism {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		}
		return resp, nil, true
	})
	c.ControlKey(int16(kmsg.SASLAuthenticate), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		areq := req.(*kmsg.SASLAuthenticateRequest)
		resp := areq.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		if err := verify(areq.SASLAuthBytes); err != nil {
			msg := err.Error()
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			resp.ErrorMessage = &msg
			return resp, nil, true
		}
		// AWS_MSK_IAM wants a non-empty server answer; OAUTHBEARER
		// ignores it.
		resp.SASLAuthBytes = []byte(`{"version":"2020_10_22","request-id":"kfaketest"}`)
		if sessionLifetime > 0 {
			resp.SessionLifetimeMillis = sessionLifetime.Milliseconds()
		}
		return resp, nil, true
	})
}
