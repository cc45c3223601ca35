package sqldb

import (
	"net/url"
	"os"
	"regexp"
	"strings"
)

// Identity names the database without secrets: driver, host (host:port, empty for
// sqlite), and database name (for sqlite, the cleaned absolute file path).
type Identity struct {
	Driver, Host, Name string
}

// String is "driver host/name", or "driver name" without a host.
func (id Identity) String() string {
	if id.Host == "" {
		return id.Driver + " " + id.Name
	}
	return id.Driver + " " + id.Host + "/" + id.Name
}

// Identity returns the database's identity.
func (db *DB) Identity() Identity { return db.id }

const redacted = "xxxxx"

// Redact returns url with any password (and query-string password/secret parameters)
// replaced by "xxxxx". The rest of the URL is left as written.
func Redact(rawURL string) string {
	s := rawURL
	// userinfo: scheme://user:password@host — done by hand so an unparsable URL is
	// redacted too, and the rest keeps its spelling.
	if m := userinfoPassword.FindStringSubmatchIndex(s); m != nil {
		s = s[:m[2]] + redacted + s[m[3]:]
	}
	head, query, ok := strings.Cut(s, "?")
	if !ok {
		return s
	}
	frag := ""
	if i := strings.Index(query, "#"); i >= 0 {
		query, frag = query[:i], query[i:]
	}
	parts := strings.Split(query, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		if hasValue && secretParam(k) {
			parts[i] = k + "=" + redacted
		}
	}
	return head + "?" + strings.Join(parts, "&") + frag
}

// userinfoPassword finds the password in "scheme://user:password@": the user part has
// no ':', '/' or '@'; the password runs to the last '@' before the path.
var userinfoPassword = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://[^:/@?#]*:([^/?#]*)@`)

func secretParam(key string) bool {
	k, err := url.QueryUnescape(key)
	if err != nil {
		k = key
	}
	k = strings.ToLower(k)
	for _, s := range []string{"password", "passwd", "pwd", "secret", "token"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// secrets returns the secret strings in a URL (password, secret parameters), raw and
// unescaped, and the PGPASSWORD and PGSSLPASSWORD the driver falls back on, so an error
// can be scrubbed of them.
func secrets(rawURL string) []string {
	var out []string
	add := func(s string) {
		if s != "" {
			out = append(out, s)
			if u, err := url.QueryUnescape(s); err == nil && u != s {
				out = append(out, u)
			}
			if u, err := url.PathUnescape(s); err == nil && u != s {
				out = append(out, u)
			}
		}
	}
	if m := userinfoPassword.FindStringSubmatch(rawURL); m != nil {
		add(m[1])
	}
	if strings.HasPrefix(rawURL, "postgres") {
		add(os.Getenv("PGPASSWORD"))
		add(os.Getenv("PGSSLPASSWORD"))
	}
	if _, query, ok := strings.Cut(rawURL, "?"); ok {
		for p := range strings.SplitSeq(query, "&") {
			if k, v, ok := strings.Cut(p, "="); ok && secretParam(k) {
				add(v)
			}
		}
	}
	return out
}

// scrub returns err with every secret of rawURL replaced by "xxxxx" in its message.
// errors.Is and errors.As still see the original.
func scrub(err error, rawURL string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets(rawURL) {
		if len(s) >= 3 { // a one-letter password would redact every such letter
			clean = strings.ReplaceAll(clean, s, redacted)
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }
