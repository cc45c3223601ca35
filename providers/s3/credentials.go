package s3

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// defaultCredentials is the SDK's default credential chain (environment, shared
// files, instance roles). Loading it reads local files only; the chain resolves
// credentials lazily, at the first request.
func defaultCredentials(ctx context.Context, region string) (aws.CredentialsProvider, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
	if err != nil {
		return nil, fmt.Errorf("s3: load default AWS configuration: %w", err)
	}
	return cfg.Credentials, nil
}
