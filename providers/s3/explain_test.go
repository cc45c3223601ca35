package s3

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
)

func operationError(op string, err error) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: err}
}

func dialError(addr string, errno syscall.Errno) error {
	tcp, _ := net.ResolveTCPAddr("tcp", addr)
	return &url.Error{Op: "Get", URL: "http://" + addr + "/b", Err: &net.OpError{
		Op: "dial", Net: "tcp", Addr: tcp, Err: &os.SyscallError{Syscall: "connect", Err: errno}}}
}

func TestExplain(t *testing.T) {
	tests := map[string]struct {
		err    error
		want   Problem
		wantOK bool
	}{
		"wrong key": {
			err:    fmt.Errorf("list: %w", operationError("ListObjectsV2", responseError(403, "InvalidAccessKeyId"))),
			want:   Problem{Reason: ReasonCredentials, Operation: "ListObjectsV2", Code: "InvalidAccessKeyId"},
			wantOK: true,
		},
		"wrong secret": {
			err:    operationError("ListObjectsV2", responseError(403, "SignatureDoesNotMatch")),
			want:   Problem{Reason: ReasonCredentials, Operation: "ListObjectsV2", Code: "SignatureDoesNotMatch"},
			wantOK: true,
		},
		"no bucket": {
			err:    operationError("ListObjectsV2", responseError(404, "NoSuchBucket")),
			want:   Problem{Reason: ReasonNoSuchBucket, Operation: "ListObjectsV2", Code: "NoSuchBucket"},
			wantOK: true,
		},
		"read-only token": {
			err:    operationError("CopyObject", responseError(403, "AccessDenied")),
			want:   Problem{Reason: ReasonAccessDenied, Operation: "CopyObject", Code: "AccessDenied"},
			wantOK: true,
		},
		"HEAD 403 has no code": {
			err:    operationError("HeadObject", responseError(403, "")),
			want:   Problem{Reason: ReasonAccessDenied, Operation: "HeadObject"},
			wantOK: true,
		},
		"connection refused": {
			err:    operationError("ListObjectsV2", dialError("127.0.0.1:1", syscall.ECONNREFUSED)),
			want:   Problem{Reason: ReasonUnreachable, Operation: "ListObjectsV2", Addr: "127.0.0.1:1", Cause: "connection refused"},
			wantOK: true,
		},
		"unknown host": {
			err: operationError("ListObjectsV2", &url.Error{Op: "Get", URL: "https://nowhere.invalid/b", Err: &net.OpError{
				Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}}}),
			want:   Problem{Reason: ReasonUnreachable, Operation: "ListObjectsV2", Addr: "nowhere.invalid", Cause: "no such host"},
			wantOK: true,
		},
		"unknown certificate authority": {
			err:    operationError("ListObjectsV2", &url.Error{Op: "Get", URL: "https://h/b", Err: x509.UnknownAuthorityError{}}),
			want:   Problem{Reason: ReasonUnreachable, Operation: "ListObjectsV2", Cause: "TLS: certificate signed by an unknown authority"},
			wantOK: true,
		},
		"throttled": {
			err:  operationError("ListObjectsV2", responseError(503, "SlowDown")),
			want: Problem{Operation: "ListObjectsV2", Code: "SlowDown"},
		},
		"connection reset mid-run": {
			err:  operationError("CopyObject", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}),
			want: Problem{Operation: "CopyObject"},
		},
		"other": {err: errors.New("boom")},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := Explain(tt.err)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Explain mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConnectFailureNotRetriedBeforeAnAnswer: a refused connection is final until the
// endpoint has answered once; after that it is retried like any connection error.
func TestConnectFailureNotRetriedBeforeAnAnswer(t *testing.T) {
	r := newRetryer(10, nil).(*sharedRetryer)
	refused := dialError("127.0.0.1:1", syscall.ECONNREFUSED)
	if r.IsErrorRetryable(refused) {
		t.Errorf("a refused connection before any answer is retryable")
	}
	if !r.IsErrorRetryable(responseError(503, "SlowDown")) {
		t.Errorf("503 SlowDown before any answer is not retryable")
	}
	release, err := r.GetAttemptToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release(nil) // an answer
	if !r.IsErrorRetryable(refused) {
		t.Errorf("a refused connection after an answer is not retryable")
	}
}

// TestProbeClosedPort: a bucket on a closed port fails its first request at once,
// with the address and the cause.
func TestProbeClosedPort(t *testing.T) {
	b, err := Open(t.Context(), Options{Endpoint: "http://127.0.0.1:1", Bucket: "b",
		AccessKeyID: "k", SecretAccessKey: "secret-0000", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = b.Probe(t.Context())
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("Probe took %v; want a failure at once", el)
	}
	p, ok := Explain(err)
	want := Problem{Reason: ReasonUnreachable, Operation: "ListObjectsV2", Addr: "127.0.0.1:1", Cause: "connection refused"}
	if diff := cmp.Diff(want, p); !ok || diff != "" {
		t.Errorf("Explain(%v) = %v (-want +got):\n%s", err, ok, diff)
	}
}

// TestProbeReal: the test server's answers to a wrong secret, an unknown key and a
// missing bucket are classified.
func TestProbeReal(t *testing.T) {
	b := newBucket(t, Options{})
	if err := b.Probe(t.Context()); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	tests := map[string]struct {
		opts Options
		want Reason
	}{
		"wrong secret": {Options{SecretAccessKey: "not-the-secret-0000"}, ReasonCredentials},
		"unknown key":  {Options{AccessKeyID: "NOSUCHKEY0000"}, ReasonCredentials},
		"no bucket":    {Options{Bucket: "no-such-bucket-" + hexString(4)}, ReasonNoSuchBucket},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			o := b.opts
			if tt.opts.SecretAccessKey != "" {
				o.SecretAccessKey = tt.opts.SecretAccessKey
			}
			if tt.opts.AccessKeyID != "" {
				o.AccessKeyID = tt.opts.AccessKeyID
			}
			if tt.opts.Bucket != "" {
				o.Bucket = tt.opts.Bucket
			}
			bb, err := Open(t.Context(), o)
			if err != nil {
				t.Fatal(err)
			}
			err = bb.Probe(t.Context())
			p, ok := Explain(err)
			if !ok || p.Reason != tt.want {
				t.Errorf("Explain(%v) = %+v, %v; want reason %d", err, p, ok, tt.want)
			}
		})
	}
}
