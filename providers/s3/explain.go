package s3

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"
)

// Reason is what a failed request says about the bucket's configuration, as far as a
// user can act on it.
type Reason uint8

const (
	// ReasonOther: nothing more precise than the error itself.
	ReasonOther Reason = iota
	// ReasonCredentials: the server does not know the access key, or the secret does
	// not match it (403 InvalidAccessKeyId, SignatureDoesNotMatch).
	ReasonCredentials
	// ReasonNoSuchBucket: the endpoint has no bucket of that name (404 NoSuchBucket).
	ReasonNoSuchBucket
	// ReasonUnreachable: no HTTP answer at all: the connection was refused, the host
	// name does not resolve, the TLS handshake failed, or the dial timed out.
	ReasonUnreachable
	// ReasonAccessDenied: the credentials are valid but lack the permission the
	// operation needs (403 AccessDenied), as with a read-only token.
	ReasonAccessDenied
)

// Problem is a failed request classified by Explain.
type Problem struct {
	Reason Reason
	// Operation is the S3 operation that failed ("ListObjectsV2", "CopyObject"), or "".
	Operation string
	// Code is the S3 error code ("InvalidAccessKeyId"), or "".
	Code string
	// Addr is the host:port that could not be reached (ReasonUnreachable), or "".
	Addr string
	// Cause is a few words on why it could not be reached ("connection refused", "no
	// such host", "TLS handshake failed: …"), or "".
	Cause string
}

// Explain classifies err, an error of this package's requests (wrapped or not). ok is
// false when err says nothing more precise than its own text.
func Explain(err error) (p Problem, ok bool) {
	if err == nil {
		return Problem{}, false
	}
	var op *smithy.OperationError
	if errors.As(err, &op) {
		p.Operation = op.OperationName
	}
	p.Code = errorCode(err)
	switch p.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "TokenRefreshRequired",
		"XAdminUserNotFound": // versitygw's answer (404) to an access key it does not know
		p.Reason = ReasonCredentials
		return p, true
	case "NoSuchBucket":
		p.Reason = ReasonNoSuchBucket
		return p, true
	case "AccessDenied", "AllAccessDisabled":
		p.Reason = ReasonAccessDenied
		return p, true
	}
	switch status := httpStatus(err); {
	case status == http.StatusUnauthorized:
		p.Reason = ReasonCredentials
		return p, true
	case status == http.StatusForbidden:
		// A HEAD's 403 has no body, so no code: it may be either.
		p.Reason = ReasonAccessDenied
		return p, true
	case status != 0:
		return p, false
	}
	if addr, cause, ok := unreachable(err); ok {
		p.Reason, p.Addr, p.Cause = ReasonUnreachable, addr, cause
		return p, true
	}
	return p, false
}

// unreachable reports whether err is a failure to connect (no HTTP answer): a refused
// connection, a host name that does not resolve, a failed TLS handshake, or a dial
// timeout, with the address and a few words on the cause.
func unreachable(err error) (addr, cause string, ok bool) {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		if opErr.Addr != nil {
			addr = opErr.Addr.String()
		}
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			cause = "connection refused"
		case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
			cause = "no route to host"
		case opErr.Timeout():
			cause = "connection timed out"
		default:
			cause = "cannot connect"
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if addr == "" {
			addr = dnsErr.Name
		}
		cause = "no such host"
		if !dnsErr.IsNotFound {
			cause = "host name lookup failed"
		}
	}
	if cause != "" {
		return addr, cause, true
	}
	if tlsCause := tlsFailure(err); tlsCause != "" {
		return "", tlsCause, true
	}
	return "", "", false
}

// tlsFailure says why a TLS handshake failed, or "" if err is no such failure.
func tlsFailure(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var rec tls.RecordHeaderError
	var verify *tls.CertificateVerificationError
	var alert tls.AlertError
	switch {
	case errors.As(err, &unknown):
		return "TLS: certificate signed by an unknown authority"
	case errors.As(err, &host):
		return "TLS: the certificate is not valid for this host name"
	case errors.As(err, &invalid):
		return "TLS: invalid certificate"
	case errors.As(err, &rec):
		return "TLS handshake failed: the server does not speak TLS (an http:// endpoint?)"
	case errors.As(err, &verify):
		return "TLS: certificate verification failed"
	case errors.As(err, &alert):
		return "TLS handshake failed: " + alert.Error()
	case strings.Contains(err.Error(), "tls: "):
		return "TLS handshake failed"
	}
	return ""
}

// isConnectFailure reports an error that means the endpoint cannot be reached at all
// (no HTTP answer): see unreachable.
func isConnectFailure(err error) bool {
	_, _, ok := unreachable(err)
	return ok
}
