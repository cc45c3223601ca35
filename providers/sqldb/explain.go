package sqldb

import (
	"crypto/x509"
	"errors"
	"net"
	"regexp"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// Reason is what a database error says about the configuration or the role's rights,
// as far as a user can act on it.
type Reason uint8

const (
	// ReasonOther: nothing more precise than the error itself.
	ReasonOther Reason = iota
	// ReasonUnreachable: no connection: refused, unknown host, timeout.
	ReasonUnreachable
	// ReasonAuthentication: the server refused the user or its password (SQLSTATE
	// 28P01, 28000).
	ReasonAuthentication
	// ReasonPermission: the role lacks a privilege (SQLSTATE 42501).
	ReasonPermission
)

// Problem is a database error classified by Explain. It holds no secret.
type Problem struct {
	Reason Reason
	// Addr is the host:port that could not be reached, or "".
	Addr string
	// Cause is a few words from the server or the network ("connection refused",
	// "password authentication failed for user \"app\"", "permission denied for table
	// \"Story\""), never a password.
	Cause string
	// Table is the table a permission was denied on, or "".
	Table string
	// SQLState is the server's error code, or "".
	SQLState string
}

// deniedOn finds the object of PostgreSQL's "permission denied for table X".
var deniedOn = regexp.MustCompile(`permission denied for (?:table|relation) "?([^"]+)"?`)

// Explain classifies err, an error of Open or of a query (wrapped or not). ok is false
// when err says nothing more precise than its own text.
func Explain(err error) (p Problem, ok bool) {
	if err == nil {
		return Problem{}, false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		p.SQLState = pg.Code
		switch pg.Code {
		case "28P01", "28000":
			p.Reason, p.Cause = ReasonAuthentication, pg.Message
			return p, true
		case "42501":
			p.Reason, p.Cause = ReasonPermission, pg.Message
			p.Table = pg.TableName
			if m := deniedOn.FindStringSubmatch(pg.Message); p.Table == "" && m != nil {
				p.Table = m[1]
			}
			return p, true
		}
		return p, false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		if opErr.Addr != nil {
			p.Addr = opErr.Addr.String()
		}
		p.Reason, p.Cause = ReasonUnreachable, "cannot connect"
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			p.Cause = "connection refused"
		case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
			p.Cause = "no route to host"
		case opErr.Timeout():
			p.Cause = "connection timed out"
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		p.Reason, p.Cause = ReasonUnreachable, "no such host"
		if p.Addr == "" {
			p.Addr = dnsErr.Name
		}
	}
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	if errors.As(err, &unknown) || errors.As(err, &host) {
		return p, false // tlsHint already says what to do
	}
	return p, p.Reason != ReasonOther
}
