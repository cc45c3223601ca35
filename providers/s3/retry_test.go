package s3

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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
	r := newRetryer(10)
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
	r := newRetryer(10)
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
