package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/r2plan/r2plan/internal/faultproxy"
)

func responseError(status int, code string) error {
	var err error = errors.New("boom")
	if code != "" {
		err = &smithy.GenericAPIError{Code: code, Message: "boom"}
	}
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      err,
	}}
}

func TestRetryable(t *testing.T) {
	r := newRetryer(10, nil)
	tests := map[string]struct {
		err  error
		want bool
	}{
		"429 unmodeled":      {responseError(429, ""), true},
		"429 modeled":        {responseError(429, "TooManyRequests"), true},
		"503 SlowDown":       {responseError(503, "SlowDown"), true},
		"500 InternalError":  {responseError(500, "InternalError"), true},
		"409 conflict":       {responseError(409, "ConditionalRequestConflict"), true},
		"412 precondition":   {responseError(412, "PreconditionFailed"), false},
		"404 NoSuchKey":      {responseError(404, "NoSuchKey"), false},
		"403 AccessDenied":   {responseError(403, "AccessDenied"), false},
		"409 BucketNotEmpty": {responseError(409, "BucketNotEmpty"), false},
		"body cut short":     {&smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", io.ErrUnexpectedEOF)}, true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := r.IsErrorRetryable(tt.err); got != tt.want {
				t.Errorf("IsErrorRetryable = %v, want %v", got, tt.want)
			}
		})
	}
	if r.MaxAttempts() != 10 {
		t.Errorf("MaxAttempts = %d", r.MaxAttempts())
	}
}

func TestRetryNoQuota(t *testing.T) {
	// The default retryer's token bucket (500) allows about 35 retries of a 5xx before
	// refusing; without a quota there is no such limit.
	r := newRetryer(10, nil)
	for i := range 1000 {
		if _, err := r.GetRetryToken(t.Context(), responseError(503, "SlowDown")); err != nil {
			t.Fatalf("retry token %d: %v", i, err)
		}
	}
}

// TestRetryThroughThrottlingProxy puts a proxy in front of versitygw that answers
// the first requests with 503 SlowDown and 429, and checks that the calls succeed.
func TestRetryThroughThrottlingProxy(t *testing.T) {
	b := newBucket(t, Options{})
	if err := b.Put(t.Context(), "k", []byte("v"), "", "", nil); err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(server.Endpoint)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch i := n.Add(1); {
		case i%3 == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>`)
		case i%3 == 2:
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	defer srv.Close()

	pb, err := Open(t.Context(), Options{
		Endpoint: srv.URL, Bucket: b.Name(), PathStyle: true, MaxAttempts: 5,
		AccessKeyID: server.AccessKey, SecretAccessKey: server.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		size, _, err := pb.Head(t.Context(), "k")
		if err != nil || size != 1 {
			t.Fatalf("Head %d through the proxy = %d, %v", i, size, err)
		}
	}
	if got := n.Load(); got != 15 {
		t.Errorf("%d requests reached the proxy; want 15 (two throttled, one served, per call)", got)
	}

	// With too few attempts the throttling error comes through, without credentials.
	pb2, _ := Open(t.Context(), Options{
		Endpoint: srv.URL, Bucket: b.Name(), PathStyle: true, MaxAttempts: 1,
		AccessKeyID: server.AccessKey, SecretAccessKey: server.SecretKey,
	})
	n.Store(0)
	_, _, err = pb2.Head(t.Context(), "k")
	if err == nil {
		t.Fatal("Head with one attempt succeeded through a throttling proxy")
	}
	assertNoSecret(t, err)
}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range []string{server.SecretKey} {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error %q holds a credential", err)
		}
	}
}

func TestFullJitter(t *testing.T) {
	tests := map[string]struct {
		attempt int
		base    time.Duration
		x       float64
		want    time.Duration
	}{
		"first, top":           {1, baseBackoff, 0.999999, baseBackoff - 100},
		"first, zero":          {1, baseBackoff, 0, 0},
		"third, half":          {3, baseBackoff, 0.5, 2 * baseBackoff},
		"throttle second half": {2, throttleBackoff, 0.5, throttleBackoff},
		"capped":               {12, throttleBackoff, 0.5, maxBackoff / 2},
		"huge attempt capped":  {200, throttleBackoff, 0.5, maxBackoff / 2},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := fullJitter(tt.attempt, tt.base, 1, tt.x)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("fullJitter = %v, want %v", got, tt.want)
			}
		})
	}
	// Every delay is within [0, maxBackoff) and honours the scale.
	b := jitterBackoff{scale: 0.01}
	for a := 1; a < 40; a++ {
		d, _ := b.BackoffDelay(a, responseError(503, "SlowDown"))
		if d < 0 || d >= maxBackoff/100 {
			t.Fatalf("attempt %d: delay %v", a, d)
		}
	}
}

func TestIsThrottle(t *testing.T) {
	tests := map[string]struct {
		err  error
		want bool
	}{
		"nil":               {nil, false},
		"429":               {responseError(429, ""), true},
		"503 SlowDown":      {responseError(503, "SlowDown"), true},
		"500 InternalError": {responseError(500, "InternalError"), true},
		"404":               {responseError(404, "NoSuchKey"), false},
		"412":               {responseError(412, "PreconditionFailed"), false},
		"plain":             {errors.New("connection reset by peer"), false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := isThrottle(tt.err); got != tt.want {
				t.Errorf("isThrottle = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLimiterAIMD drives the shared limiter with a fake clock: unlimited at first,
// untouched by sporadic throttling, cut hard by a storm down to limiterMinRate, and
// lifted again after a few seconds of calm.
func TestLimiterAIMD(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter()
	l.now = func() time.Time { return now }
	l.winStart = now
	ctx := t.Context()
	slow := responseError(503, "SlowDown")
	// 2000 requests/s for 2s, one in ten throttled: not overload.
	for i := range 4000 {
		if err := l.wait(ctx); err != nil {
			t.Fatal(err)
		}
		now = now.Add(500 * time.Microsecond)
		if i%10 == 0 {
			l.done(slow)
		} else {
			l.done(nil)
		}
	}
	if r := l.rateNow(); r != 0 {
		t.Fatalf("limited to %v by 10%% sporadic throttling", r)
	}
	// A storm: every answer throttled.
	var cuts []float64
	for range 20 {
		for range 20 {
			if l.rateNow() == 0 { // a limited wait would sleep on the real clock
				l.wait(ctx)
			}
			now = now.Add(10 * time.Millisecond)
			l.done(slow)
		}
		cuts = append(cuts, l.rateNow())
	}
	if cuts[0] == 0 || cuts[0] > 1000 {
		t.Errorf("after the first window of a storm the rate is %v", cuts[0])
	}
	if r := l.rateNow(); r != limiterMinRate {
		t.Fatalf("after a storm the rate is %v (cuts %v), want the floor %v", r, cuts, limiterMinRate)
	}
	l.done(responseError(404, "NoSuchKey"))
	if r := l.rateNow(); r != limiterMinRate {
		t.Fatalf("a 404 changed the rate to %v", r)
	}
	// Calm: every answer a success, as fast as the limit allows.
	start := now
	for l.rateNow() != 0 {
		now = now.Add(time.Duration(float64(time.Second) / max(l.rateNow(), 1)))
		if now.Before(l.next) {
			now = l.next // the fake clock moves to the next slot
		}
		l.wait(ctx)
		l.done(nil)
		if now.Sub(start) > time.Minute {
			t.Fatal("the limit is never lifted")
		}
	}
	if el := now.Sub(start); el < time.Second || el > 10*time.Second {
		t.Errorf("lifted after %v of calm; want a few seconds", el)
	}
}

// TestLimiterWaitPacesAndHonoursContext checks the real-clock pacing and that a
// waiting request gives up with its context.
func TestLimiterWaitPacesAndHonoursContext(t *testing.T) {
	l := newLimiter()
	l.rate = 20 // 50ms apart
	l.next = time.Now()
	start := time.Now()
	for range 6 {
		if err := l.wait(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("6 requests at 20/s took %v", el)
	}
	l.rate = limiterMinRate
	l.next = time.Now().Add(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if err := l.wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait = %v, want the context's deadline", err)
	}
}

// TestStormSlowsEveryWorkerTogether runs 32 workers of HEADs through the fault proxy,
// storms every request with 429/503 for 2 seconds, and checks that the request rate
// seen by the server side drops far below the rate before the storm (the shared
// limiter, not just per-request backoff), that every call still succeeds, and that no
// error mentions the SDK's retry quota.
func TestStormSlowsEveryWorkerTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("storm takes a few seconds")
	}
	b := newBucket(t, Options{})
	if err := b.Put(t.Context(), "k", []byte("v"), "", "", nil); err != nil {
		t.Fatal(err)
	}
	px, err := faultproxy.Start(faultproxy.Options{Target: server.Endpoint, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	pb, err := Open(t.Context(), Options{
		Endpoint: px.URL(), Bucket: b.Name(), PathStyle: true, MaxAttempts: 10, Parallelism: 32,
		AccessKeyID: server.AccessKey, SecretAccessKey: server.SecretKey,
	})
	if err != nil {
		t.Fatal(err)
	}

	const (
		before = 700 * time.Millisecond
		storm  = 3 * time.Second
	)
	ctx := t.Context()
	stop := make(chan struct{})
	var calls, failures atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _, err := pb.Head(ctx, "k")
				calls.Add(1)
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
			}
		})
	}
	time.Sleep(before)
	s0 := px.Stats()
	px.Storm(storm, []faultproxy.Fault{faultproxy.SlowDown503, faultproxy.TooMany429})
	time.Sleep(storm / 3) // the first windows of the storm lower the limit
	s1 := px.Stats()
	time.Sleep(storm * 2 / 3)
	s2 := px.Stats()
	time.Sleep(5 * time.Second) // recover
	s3 := px.Stats()
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()
	s4 := px.Stats()

	rateBefore := float64(s0.TotalRequests()) / before.Seconds()
	rateStorm := float64(s2.Sub(s1).TotalRequests()) / (storm * 2 / 3).Seconds()
	rateAfter := float64(s4.Sub(s3).TotalRequests())
	t.Logf("requests/s: before %.0f, in the storm %.1f, after %.0f; %d calls; %s; at most %d in flight",
		rateBefore, rateStorm, rateAfter, calls.Load(), s3.Sub(s0), px.MaxInFlight())
	if failures.Load() > 0 {
		t.Fatalf("%d of %d calls failed; first: %v", failures.Load(), calls.Load(), firstErr.Load())
	}
	if rateStorm > 20 {
		t.Errorf("%.1f requests/s reached the proxy during the storm; want the shared limit (~%v/s) to hold it near the floor", rateStorm, limiterMinRate)
	}
	if rateStorm*10 > rateBefore {
		t.Errorf("the storm rate %.1f/s is not a tenth of the rate before (%.0f/s)", rateStorm, rateBefore)
	}
	if rateAfter < 5*rateStorm {
		t.Errorf("the rate did not recover after the storm: %.1f/s", rateAfter)
	}
	if s3.FaultsOf(faultproxy.SlowDown503)+s3.FaultsOf(faultproxy.TooMany429) == 0 {
		t.Error("no fault was injected")
	}
}
