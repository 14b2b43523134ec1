// Package saslauth holds the SASL mechanisms whose credentials come from a
// credential service rather than from a file klagx reads: AWS_MSK_IAM fed by
// the AWS SDK's default credential chain ([MSKIAM]), and OAUTHBEARER fed by
// an OIDC token endpoint with the client-credentials grant ([OIDC]).
//
// Both cache what they fetch and fetch again shortly before it expires, so
// that each SASL authentication (a new connection, or a KIP-368
// re-authentication) costs a request to the credential service only when the
// cached credential is about to expire. Credentials, tokens and client
// secrets never appear in errors or logs; errors say which credential source
// failed and why, and the caller adds the cluster.
//
// The package reads no klagx configuration: config.Cluster.ClientOpts builds
// the options from the validated configuration.
package saslauth
