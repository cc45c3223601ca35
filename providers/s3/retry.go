package s3

import (
	"errors"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// maxBackoff caps one wait between attempts.
const maxBackoff = 20 * time.Second

// newRetryer returns the SDK's standard retryer with maxAttempts attempts, its
// exponential backoff with jitter (from 50ms, or 1s after a throttling error, capped
// at maxBackoff), and no client-side retry quota: the default token bucket
// (500 tokens, 5 to 14 per retry) runs dry when dozens of copies are throttled at
// once, and then every request fails at its first error. It also retries what R2
// and other S3 servers send under load: HTTP 429 (modeled or not), 503 SlowDown,
// 500 InternalError, and 409 ConditionalRequestConflict (a concurrent conditional
// write; S3 asks clients to retry it).
func newRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(isThrottleOrServerError))
	})
}

// isThrottleOrServerError is the retry rule added to the SDK's defaults.
func isThrottleOrServerError(err error) aws.Ternary {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "SlowDown", "InternalError", "ServiceUnavailable", "ConditionalRequestConflict":
			return aws.TrueTernary
		}
	}
	switch httpStatus(err) {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}
