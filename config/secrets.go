package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Secrets returns the secret values in c, sorted and without duplicates or empty
// strings: the access key id, the secret access key, the database URL, and the
// password and any secret query parameters within that URL (as written and
// percent-decoded), so callers can redact them from any output.
func (c *Config) Secrets() []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		out = append(out, s)
		if u, err := url.PathUnescape(s); err == nil && u != s && u != "" {
			out = append(out, u)
		}
	}
	add(c.Bucket.AccessKeyID)
	add(c.Bucket.SecretAccessKey)
	add(c.Database.URL)
	for _, s := range urlSecrets(c.Database.URL) {
		add(s)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// userinfoPassword finds the password in "scheme://user:password@" by hand, so an
// unparsable URL gives up its password too.
var userinfoPassword = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*:([^/?#]*)@`)

// urlSecrets returns the password and the values of password/secret/token query
// parameters (and key=value DSN words) in a database URL.
func urlSecrets(raw string) []string {
	var out []string
	if m := userinfoPassword.FindStringSubmatch(raw); m != nil {
		out = append(out, m[1])
	}
	if u, err := url.Parse(raw); err == nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	_, query, _ := strings.Cut(raw, "?")
	query, _, _ = strings.Cut(query, "#")
	words := strings.FieldsFunc(query, func(r rune) bool { return r == '&' })
	if !strings.Contains(raw, "://") && !strings.Contains(raw, "?") {
		words = append(words, strings.Fields(raw)...) // "host=… password=…"
	}
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if ok && secretName(k) {
			out = append(out, strings.Trim(v, `'"`))
		}
	}
	return out
}

// secretName reports whether a variable or parameter name looks like it holds a secret.
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"pass", "pwd", "secret", "token", "key", "credential", "database_url", "dsn", "private"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// secretLooking returns the values read from variables whose names look secret
// (R2_SECRET_ACCESS_KEY, DATABASE_URL, …), so a diagnostic cannot leak them even when
// they never reached a secret field because decoding failed.
func secretLooking(read map[string]string) []string {
	var out []string
	for name, v := range read {
		if v != "" && secretName(name) {
			out = append(out, v)
		}
	}
	return out
}

// minSecret is the length below which a secret is not scrubbed from messages: a
// one- or two-character "secret" would garble every message and protects nothing.
const minSecret = 4

// scrub replaces every secret in the diagnostics' messages with "(sensitive value)",
// and drops the expression and evaluation context of a diagnostic whose context holds
// a secret, so the text writer cannot print it ("local.x is …").
func scrub(diags hcl.Diagnostics, secrets []string) {
	var keep []string
	for _, s := range secrets {
		if len(s) >= minSecret {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		return
	}
	// Longest first, so a password inside a URL does not leave the rest of the URL.
	slices.SortFunc(keep, func(a, b string) int { return len(b) - len(a) })
	redact := func(s string) string {
		for _, k := range keep {
			s = strings.ReplaceAll(s, k, "(sensitive value)")
		}
		return s
	}
	for _, d := range diags {
		d.Summary = redact(d.Summary)
		d.Detail = redact(d.Detail)
		if d.EvalContext != nil && contextHolds(d.EvalContext, keep) {
			d.Expression, d.EvalContext = nil, nil
		}
	}
}

// contextHolds reports whether any string in ctx's variables contains a secret.
func contextHolds(ctx *hcl.EvalContext, secrets []string) bool {
	found := false
	for ; ctx != nil && !found; ctx = ctx.Parent() {
		for _, v := range ctx.Variables {
			cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
				if found {
					return false, nil
				}
				if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
					s := v.AsString()
					found = slices.ContainsFunc(secrets, func(k string) bool { return strings.Contains(s, k) })
				}
				return true, nil
			})
		}
	}
	return found
}
