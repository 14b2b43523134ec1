package main

import (
	"fmt"
	"strings"

	"github.com/klagx/klagx/config"
)

// awsFlags configure where aws-msk-iam of the --brokers cluster gets its
// credentials: always the AWS SDK's default credential chain.
type awsFlags struct {
	Region  string `name:"region" placeholder:"REGION" help:"AWS region of the credential services (STS for IRSA) with --kafka.sasl.mechanism=aws-msk-iam. The signature's region comes from the MSK broker host name. Default: AWS_REGION, AWS_DEFAULT_REGION or the profile's region."`
	Profile string `name:"profile" placeholder:"NAME" help:"Profile of the AWS shared config and credentials files for aws-msk-iam. Default: AWS_PROFILE, else default."`
}

// oauthFlags configure OAUTHBEARER tokens from an OIDC token endpoint
// (client-credentials grant) for the --brokers cluster. There is no client
// secret flag: command lines are visible to other users.
type oauthFlags struct {
	TokenURL         string   `name:"token-url" placeholder:"URL" help:"OIDC token endpoint (client-credentials grant) for --kafka.sasl.mechanism=oauthbearer, instead of --kafka.sasl.token-file; https:// (http:// only on loopback). Default: none."`
	ClientID         string   `name:"client-id" placeholder:"ID" help:"OIDC client id (with --kafka.sasl.oauth.token-url). Default: none."`
	ClientSecretFile string   `name:"client-secret-file" placeholder:"PATH" help:"File holding the OIDC client secret, re-read for each token request. Without it the secret is read from the KLAGX_SASL_OAUTH_CLIENT_SECRET environment variable. Default: none."`
	Scope            []string `name:"scope" sep:"none" placeholder:"SCOPE" help:"Scope to request from the token endpoint; repeatable. Default: none."`
	Param            []string `name:"param" sep:"none" placeholder:"KEY=VALUE" help:"Extra form parameter of the token request (e.g. audience=..., resource=...); repeatable. Default: none."`
	Extension        []string `name:"extension" sep:"none" placeholder:"KEY=VALUE" help:"SASL/OAUTHBEARER extension sent to the brokers with the token (Confluent Cloud: logicalCluster=lkc-..., identityPoolId=pool-...); repeatable. Default: none."`
	CAFile           string   `name:"ca-file" placeholder:"PATH" help:"PEM CA bundle to verify the token endpoint with. Default: the system roots."`
}

// managed sets the --brokers cluster's sasl.aws and sasl.oauth from the
// --kafka.sasl.aws.* and --kafka.sasl.oauth.* flags.
func (s saslFlags) managed(c *config.SASL) error {
	c.AWS = config.AWSIAM{Region: s.AWS.Region, Profile: s.AWS.Profile}
	var err error
	c.OAuth, err = s.OAuth.config()
	return err
}

// config builds the cluster's OAuth settings; no flag set is no OAuth at
// all. Without --kafka.sasl.oauth.client-secret-file the secret comes from
// config.DefaultOAuthClientSecretEnv.
func (o oauthFlags) config() (config.OAuth, error) {
	params, err := keyValues("kafka.sasl.oauth.param", o.Param)
	if err != nil {
		return config.OAuth{}, err
	}
	ext, err := keyValues("kafka.sasl.oauth.extension", o.Extension)
	if err != nil {
		return config.OAuth{}, err
	}
	c := config.OAuth{
		TokenURL: o.TokenURL, ClientID: o.ClientID, ClientSecretFile: o.ClientSecretFile,
		Scopes: o.Scope, Params: params, Extensions: ext, CAFile: o.CAFile,
	}
	return c, nil
}

// keyValues parses repeated KEY=VALUE flags into a map (nil when none).
// Values are never quoted in errors.
func keyValues(flag string, in []string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for i, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s[%d]: want KEY=VALUE", flag, i)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("--%s: key %q given twice", flag, k)
		}
		out[k] = v
	}
	return out, nil
}
