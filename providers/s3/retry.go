package s3

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Retry policy. Every request gets at most Options.MaxAttempts attempts; between two
// attempts it waits a random time in [0, min(maxBackoff, base·2^(attempt-1))) ("full
// jitter"), with base = baseBackoff after a connection error or a 500, and
// throttleBackoff after a throttling answer (429, 503, SlowDown). With the default 10
// attempts a request gives up after about a minute of sustained failure. A failure to
// connect before the endpoint has ever answered is not retried (see sharedRetryer).
const (
	baseBackoff     = 100 * time.Millisecond
	throttleBackoff = 500 * time.Millisecond
	maxBackoff      = 20 * time.Second
)

// The shared limiter (one per Bucket): all requests of a Bucket pass through one
// adaptive rate limit. It starts unlimited and is adjusted once per window (at least
// limiterWindow and limiterWindowAnswers answers, or a full second) from the fraction f
// of answers that were throttling ones:
//
//   - f ≥ 1/2 (overload: a storm of 429/503): the rate (the measured one, when
//     unlimited) is multiplied by (1−f)/2, at least by limiterMinCut, down to
//     limiterMinRate: a storm brings the whole run to a couple of requests per second
//     within a few windows;
//   - 1/5 ≤ f < 1/2: multiplied by 0.8;
//   - f < 1/5 (sporadic errors are not overload): raised by 25% + 1, doubled as well
//     once no throttling answer has come for limiterQuiet, and lifted above
//     limiterMaxRate (from the floor: a few seconds of calm).
const (
	limiterMinRate       = 2.0    // requests per second
	limiterMaxRate       = 5000.0 // above this the limit is lifted
	limiterMinCut        = 0.05
	limiterWindow        = 200 * time.Millisecond
	limiterWindowAnswers = 10
	limiterQuiet         = time.Second
	limiterPoll          = 50 * time.Millisecond // longest sleep before looking at the rate again
)

// backoffScaleEnv, when set to a positive number, multiplies every backoff wait (not the
// limiter's rate). It exists so the reliability tests can exhaust the retries in
// seconds instead of minutes; never set it in production.
const backoffScaleEnv = "R2PLAN_TEST_BACKOFF_SCALE"

// newRetryer returns the SDK's standard retryer with maxAttempts attempts, the backoff
// above, a shared adaptive limiter, and no client-side retry quota: the SDK's default
// token bucket (500 tokens, 5 to 14 per retry) runs dry when dozens of copies are
// throttled at once, and then every request fails at its first error ("retry quota
// exceeded"). It also retries what R2 and other S3 servers send under load: HTTP 429
// (modeled or not), 503 SlowDown, 500 InternalError, and 409
// ConditionalRequestConflict (a concurrent conditional write; S3 asks clients to retry
// it). And it retries an answer whose body ends early or cannot be decoded (a listing
// page cut short by a dropped connection): the SDK's defaults give up on those at once.
//
// The SDK calls aws.Config.Retryer once per client, so every request of a Bucket shares
// one limiter. Each retry is logged at debug level through log (nil: not logged).
func newRetryer(maxAttempts int, log *slog.Logger) aws.Retryer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	scale := 1.0
	if v, err := strconv.ParseFloat(os.Getenv(backoffScaleEnv), 64); err == nil && v > 0 {
		scale = v
	}
	std := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.Backoff = jitterBackoff{scale: scale}
		o.RateLimiter = ratelimit.None
		o.Retryables = append(o.Retryables, retry.IsErrorRetryableFunc(isThrottleOrServerError))
	})
	return &sharedRetryer{RetryerV2: std, lim: newLimiter(), log: log}
}

// sharedRetryer adds the shared limiter and debug logging to the standard retryer, and
// gives up at once on an endpoint that was never reached.
type sharedRetryer struct {
	aws.RetryerV2
	lim *limiter
	log *slog.Logger
	// answered is set by the first HTTP answer of any request of the Bucket. Until
	// then a failure to connect (connection refused, unknown host, TLS handshake) is
	// not retried: it is a wrong endpoint far more often than a blip, and ten attempts
	// with backoff would keep the user waiting for the better part of a minute. Once
	// the server has answered, such errors are retried like any other.
	answered atomic.Bool
}

// IsErrorRetryable is the standard rule, except for a failure to connect before the
// endpoint ever answered.
func (r *sharedRetryer) IsErrorRetryable(err error) bool {
	if !r.answered.Load() && isConnectFailure(err) {
		return false
	}
	return r.RetryerV2.IsErrorRetryable(err)
}

// GetAttemptToken waits for the shared limiter (or ctx) before every attempt, the
// first included, and tells it how the attempt ended.
func (r *sharedRetryer) GetAttemptToken(ctx context.Context) (func(error) error, error) {
	if err := r.lim.wait(ctx); err != nil {
		return nil, err
	}
	release, err := r.RetryerV2.GetAttemptToken(ctx)
	if err != nil {
		return nil, err
	}
	return func(opErr error) error {
		if opErr == nil || httpStatus(opErr) != 0 {
			r.answered.Store(true)
		}
		r.lim.done(opErr)
		return release(opErr)
	}, nil
}

// RetryDelay is the standard delay, logged.
func (r *sharedRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	d, derr := r.RetryerV2.RetryDelay(attempt, err)
	if derr == nil {
		// The error code and status only: an error's text may carry a request URL.
		r.log.Debug("s3: retrying", "attempt", attempt+1, "max_attempts", r.MaxAttempts(),
			"delay_seconds", d.Seconds(), "status", httpStatus(err), "code", errorCode(err),
			"throttle", isThrottle(err), "rate_limit_per_second", r.lim.rateNow())
	}
	return d, derr
}

// jitterBackoff is full-jitter exponential backoff, capped.
type jitterBackoff struct{ scale float64 }

func (b jitterBackoff) BackoffDelay(attempt int, err error) (time.Duration, error) {
	base := baseBackoff
	if isThrottle(err) {
		base = throttleBackoff
	}
	return fullJitter(attempt, base, b.scale, rand.Float64()), nil
}

// fullJitter is x · min(maxBackoff, base·2^(attempt-1)) · scale, for x in [0, 1).
func fullJitter(attempt int, base time.Duration, scale, x float64) time.Duration {
	ceil := maxBackoff
	if attempt < 1 {
		attempt = 1
	}
	if attempt < 30 {
		if c := base << (attempt - 1); c > 0 && c < maxBackoff {
			ceil = c
		}
	}
	return time.Duration(x * float64(ceil) * scale)
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
	var de *smithy.DeserializationError
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &de) {
		return aws.TrueTernary
	}
	return aws.UnknownTernary
}

// isThrottle reports an answer that means "the service is overloaded": 429, 503, a
// SlowDown or throttling code, and 500 (R2 treats sustained 5xx as overload). These
// lower the shared limit; a connection error or a 4xx does not.
func isThrottle(err error) bool {
	if err == nil {
		return false
	}
	switch errorCode(err) {
	case "SlowDown", "ServiceUnavailable", "InternalError", "Throttling", "ThrottlingException",
		"TooManyRequests", "TooManyRequestsException", "RequestLimitExceeded", "RequestThrottled":
		return true
	}
	switch httpStatus(err) {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError:
		return true
	}
	return false
}

// limiter is the shared adaptive rate limit (see the constants above).
type limiter struct {
	mu           sync.Mutex
	now          func() time.Time
	rate         float64   // requests per second; 0 means unlimited
	next         time.Time // earliest start of the next request while limited
	lastThrottle time.Time
	// The current window.
	winStart                  time.Time
	started, answered, thrott int
}

func newLimiter() *limiter {
	l := &limiter{now: time.Now}
	l.winStart = l.now()
	return l
}

// wait returns when a request may start, or ctx's error.
func (l *limiter) wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := l.now()
		if l.rate == 0 || !now.Before(l.next) {
			if l.rate > 0 {
				l.next = now.Add(time.Duration(float64(time.Second) / l.rate))
			}
			l.started++
			l.mu.Unlock()
			return nil
		}
		d := min(l.next.Sub(now), limiterPoll)
		l.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// done records how an attempt ended and, at the end of a window, adjusts the rate.
func (l *limiter) done(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.answered++
	if isThrottle(err) {
		l.thrott++
		l.lastThrottle = now
	}
	el := now.Sub(l.winStart)
	if el < limiterWindow || l.answered < limiterWindowAnswers && el < time.Second {
		return
	}
	f := float64(l.thrott) / float64(l.answered)
	base := l.rate
	if base == 0 {
		base = float64(l.started) / el.Seconds()
	}
	switch {
	case f >= 0.5:
		l.rate = max(limiterMinRate, base*max(limiterMinCut, (1-f)/2))
		if l.next.IsZero() || l.next.Before(now) {
			l.next = now
		}
	case f >= 0.2:
		l.rate = max(limiterMinRate, base*0.8)
	case l.rate > 0:
		l.rate = l.rate*1.25 + 1
		if now.Sub(l.lastThrottle) >= limiterQuiet {
			l.rate *= 2
		}
		if l.rate > limiterMaxRate {
			l.rate = 0
		}
	}
	l.winStart, l.started, l.answered, l.thrott = now, 0, 0, 0
}

// rateNow is the current limit in requests per second (0: unlimited).
func (l *limiter) rateNow() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}
