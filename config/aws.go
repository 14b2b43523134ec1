package config

import (
	"context"
	"fmt"
	"regexp"

	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/klagx/klagx/saslauth"
)

// AWSIAM configures where mechanism aws-msk-iam gets its credentials: the
// AWS SDK for Go v2's default chain (environment, shared files and profiles,
// web identity / IRSA, container credentials / EKS Pod Identity and ECS,
// instance metadata), see [saslauth.MSKIAM]. Both fields are optional.
type AWSIAM struct {
	// Region of the AWS credential services (STS). Empty: AWS_REGION,
	// AWS_DEFAULT_REGION or the profile's region. The signature itself is
	// scoped to the region in the MSK broker host name.
	Region string
	// Profile of the shared config and credentials files. Empty:
	// AWS_PROFILE, else default.
	Profile string
}

// set reports whether any field is set.
func (a AWSIAM) set() bool { return a != AWSIAM{} }

// awsRegionRE matches AWS region names (us-east-1, eu-central-2,
// us-gov-west-1, cn-north-1, eusc-de-east-1, ...).
var awsRegionRE = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]+$`)

func (a AWSIAM) validate(p string) []error {
	var errs []error
	if a.Region != "" && !awsRegionRE.MatchString(a.Region) {
		errs = append(errs, fmt.Errorf("%s.sasl.aws.region: %q is not an AWS region name (e.g. us-east-1)", p, a.Region))
	}
	return errs
}

func (a AWSIAM) mechanism() (sasl.Mechanism, error) {
	return saslauth.MSKIAM(context.Background(), saslauth.AWSOptions{Region: a.Region, Profile: a.Profile, UserAgent: "klagx"})
}
