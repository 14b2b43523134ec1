package saslauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/twmb/franz-go/pkg/sasl"
	mskiam "github.com/twmb/franz-go/pkg/sasl/aws"
)

// AWSExpiryWindow is how long before their expiry cached AWS credentials are
// fetched again. Web identity (IRSA), container (EKS Pod Identity, ECS) and
// instance (IMDS) credentials last an hour or more; five minutes leaves room
// for a slow credential endpoint without ever signing with credentials that
// expire during the authentication.
const AWSExpiryWindow = 5 * time.Minute

// AWSOptions selects where the AWS SDK looks for credentials and the region.
// The zero value is the SDK's default chain.
type AWSOptions struct {
	// Region of the credential services (STS for web identity). Empty: the
	// SDK's usual places (AWS_REGION, AWS_DEFAULT_REGION, the profile's
	// region). The AWS_MSK_IAM signature itself is always scoped to the
	// region in the broker host name (b-1.NAME.ID.c2.kafka.REGION.amazonaws.com),
	// and to AWS_REGION or AWS_DEFAULT_REGION for other host names.
	Region string
	// Profile of the shared config and credentials files. Empty: AWS_PROFILE,
	// else "default".
	Profile string
	// UserAgent is sent to the brokers (MSK can authorize on aws:UserAgent).
	// Empty: franz-go's own.
	UserAgent string
}

// MSKIAM returns an AWS_MSK_IAM mechanism whose credentials come from the AWS
// SDK for Go v2's default credential chain, in its order: the AWS_ACCESS_KEY_ID
// / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN variables, the shared config and
// credentials files (profiles, including assume-role, SSO and
// credential_process), web identity (AWS_WEB_IDENTITY_TOKEN_FILE and
// AWS_ROLE_ARN: IRSA on EKS), container credentials
// (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI with
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: EKS Pod Identity and ECS), and
// instance metadata (IMDS). The SDK's endpoint variables (AWS_ENDPOINT_URL_STS,
// AWS_EC2_METADATA_SERVICE_ENDPOINT, ...) apply.
//
// Credentials are cached ([aws.CredentialsCache]) and fetched again
// [AWSExpiryWindow] before they expire. MSKIAM reads the shared files (an
// unknown Profile is an error) but fetches no credentials: a credential
// service that refuses is reported by each authentication that needs it.
func MSKIAM(ctx context.Context, o AWSOptions) (sasl.Mechanism, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithCredentialsCacheOptions(func(c *aws.CredentialsCacheOptions) {
			c.ExpiryWindow = AWSExpiryWindow
		}),
	}
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		var missing awsconfig.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			// The profile came from sasl.aws.profile or, without it, from
			// AWS_PROFILE: name the one that was set.
			source := "sasl.aws.profile"
			if o.Profile == "" {
				source = "AWS_PROFILE"
			}
			return nil, fmt.Errorf("%s: profile %q is not in the shared config or credentials files", source, missing.Profile)
		}
		return nil, fmt.Errorf("sasl.aws: cannot load the AWS configuration: %w", err)
	}
	creds := cfg.Credentials
	if creds == nil {
		return nil, errors.New("sasl.aws: the AWS SDK found no credential source")
	}
	return mskiam.ManagedStreamingIAM(func(ctx context.Context) (mskiam.Auth, error) {
		c, err := creds.Retrieve(ctx)
		if err != nil {
			// The SDK's errors name the provider and its endpoint, never a
			// credential.
			return mskiam.Auth{}, fmt.Errorf("sasl.aws: cannot get AWS credentials: %w", err)
		}
		return mskiam.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken, UserAgent: o.UserAgent}, nil
	}), nil
}
