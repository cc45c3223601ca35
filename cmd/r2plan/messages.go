package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/config"
	"github.com/r2plan/r2plan/providers/s3"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// The providers classify their errors (s3.Explain, sqldb.Explain); only this package
// knows the configuration, so it turns a classified error into one line that names the
// cause and what to change, down to the attribute, the variables that fed it and the
// block's file:line.

// hint is an explained error: its text is the one line shown to the user, and it
// wraps the original error, so errors.Is and errors.As still see it.
type hint struct {
	msg string
	err error
}

func (h *hint) Error() string { return h.msg }
func (h *hint) Unwrap() error { return h.err }

func hintf(err error, format string, a ...any) error {
	return &hint{msg: fmt.Sprintf(format, a...), err: err}
}

// attributes names attributes of a block with the variables that fed them and where
// the block is: `bucket.name (R2_BUCKET_NAME) in r2plan.hcl:12`.
func attributes(cfg *config.Config, at hcl.Range, names ...string) string {
	var vars []string
	for _, n := range names {
		for _, v := range cfg.Sources[n] {
			if !contains(vars, v) {
				vars = append(vars, v)
			}
		}
	}
	s := strings.Join(names, " and ")
	if len(vars) > 0 {
		s += " (" + strings.Join(vars, ", ") + ")"
	}
	return s + " in " + position(at)
}

// position is "file:line" of a block.
func position(r hcl.Range) string {
	if r.Filename == "" {
		return "the configuration"
	}
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// endpointAddr is the host:port the bucket's endpoint dials.
func endpointAddr(cfg *config.Config) string {
	u, err := url.Parse(cfg.Bucket.Endpoint)
	if err != nil || u.Host == "" {
		return bucketID(cfg).Endpoint
	}
	if u.Port() != "" {
		return u.Host
	}
	port := "443"
	if u.Scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// explainBucket turns an error of a bucket request into a hint, or returns it as is.
func explainBucket(cfg *config.Config, err error) error {
	var h *hint
	if errors.As(err, &h) {
		return err
	}
	p, ok := s3.Explain(err)
	if !ok {
		return err
	}
	b := &cfg.Bucket
	switch p.Reason {
	case s3.ReasonCredentials:
		if b.AccessKeyID == "" {
			return hintf(err, "the bucket refused the credentials of the AWS default chain (%s): set bucket.access_key_id and bucket.secret_access_key in %s, or fix AWS_ACCESS_KEY_ID/AWS_PROFILE",
				p.Code, position(b.DeclRange))
		}
		return hintf(err, "the bucket refused the credentials (%s): check %s",
			codeOrStatus(p.Code, "403"), attributes(cfg, b.DeclRange, "bucket.access_key_id", "bucket.secret_access_key"))
	case s3.ReasonNoSuchBucket:
		return hintf(err, "bucket %q does not exist at %s: check %s", b.Name, bucketID(cfg).Endpoint,
			attributes(cfg, b.DeclRange, "bucket.name"))
	case s3.ReasonUnreachable:
		addr := p.Addr
		if addr == "" {
			addr = endpointAddr(cfg)
		}
		return hintf(err, "cannot reach the bucket's endpoint %s (%s): check %s", addr, p.Cause,
			attributes(cfg, b.DeclRange, "bucket.endpoint"))
	case s3.ReasonAccessDenied:
		return hintf(err, "the bucket refused %s (%s): the credentials in %s need read access to bucket %q (an R2 token with Object Read)",
			operation(p), codeOrStatus(p.Code, "403"), attributes(cfg, b.DeclRange, "bucket.access_key_id"), b.Name)
	}
	return err
}

func operation(p s3.Problem) string {
	if p.Operation == "" {
		return "the request"
	}
	return p.Operation
}

func codeOrStatus(code, status string) string {
	if code == "" {
		return status
	}
	return code
}

// explainDatabase turns an error of opening or querying the database into a hint, or
// returns it as is. need says what the command needs of a table ("SELECT on it").
func explainDatabase(cfg *config.Config, err error, need string) error {
	var h *hint
	if errors.As(err, &h) {
		return err
	}
	p, ok := sqldb.Explain(err)
	if !ok {
		return err
	}
	d := &cfg.Database
	switch p.Reason {
	case sqldb.ReasonUnreachable:
		return hintf(err, "cannot reach the database at %s (%s): check the host and port in %s", p.Addr, p.Cause,
			attributes(cfg, d.DeclRange, "database.url"))
	case sqldb.ReasonAuthentication:
		return hintf(err, "the database refused the login (%s): check the user and password in %s", p.Cause,
			attributes(cfg, d.DeclRange, "database.url"))
	case sqldb.ReasonPermission:
		return hintf(err, "%s: %s (see the README's permissions table)", p.Cause, need)
	}
	return err
}

// explainReference turns a reference's failed check into a hint naming the block and
// the attribute to fix, or wraps the error with the reference's name and position.
func explainReference(cfg *config.Config, r config.Reference, err error) error {
	var m *sqldb.MissingError
	if !errors.As(err, &m) {
		return fmt.Errorf("reference %q at %s: %w", r.Name, position(r.DeclRange), explainDatabase(cfg, err, "plan needs SELECT on it"))
	}
	at := fmt.Sprintf("reference %q at %s", r.Name, position(r.DeclRange))
	if m.Column == "" {
		what := "table"
		if r.Schema != "" {
			what = "schema and table"
		}
		return hintf(err, "%s: table %q does not exist in %s: check its %s", at, m.Table, m.DB, what)
	}
	attr := "columns"
	switch m.Column {
	case r.PrimaryKey:
		attr = "primary_key"
	case r.KeyColumn:
		attr = "key_column"
	case r.URLColumn:
		attr = "url_column"
	}
	fix := "check its " + attr
	if m.Similar != "" {
		fix = fmt.Sprintf("did you mean %q? names are case-sensitive; check its %s", m.Similar, attr)
	}
	return hintf(err, "%s: table %q has no column %q: %s", at, m.Table, m.Column, fix)
}

// explainApplyFailure is the line apply ends with when a write was refused: which
// permission is missing and what the run did before it. ok is false for any other
// failure.
func explainApplyFailure(err error, res *apply.Result) (string, bool) {
	done := func(journaled bool) string {
		s := fmt.Sprintf("%d objects were copied", res.Copied)
		if journaled {
			s += " and journaled"
		}
		if res.Rewritten == 0 {
			return s + ", no row was rewritten"
		}
		return s + fmt.Sprintf(", %d rows were rewritten", res.Rewritten)
	}
	if p, ok := s3.Explain(err); ok && p.Reason == s3.ReasonAccessDenied {
		return fmt.Sprintf("the bucket refused %s (%s): apply needs write access (an R2 token with Object Read & Write); %s; run the same apply again after fixing it",
			operation(p), codeOrStatus(p.Code, "403"), done(true)), true
	}
	if p, ok := sqldb.Explain(err); ok && p.Reason == sqldb.ReasonPermission {
		need, journaled := "apply needs SELECT and UPDATE on it", true
		if strings.HasPrefix(p.Table, "r2plan_") {
			// The journal or the lock: what was copied may not be journaled, and the
			// next run finds it in place.
			need, journaled = "apply needs the grants on r2plan's tables", false
		}
		return fmt.Sprintf("%s: %s (see the README's permissions table); %s before it; run the same apply again after granting it",
			p.Cause, need, done(journaled)), true
	}
	return "", false
}
