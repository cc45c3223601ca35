package plan

import (
	"net/url"
	"strings"
)

// URLs converts between object keys and public URLs: PublicURL + "/" + the key
// percent-encoded as a URL path. A URL on any other scheme, host or path is foreign.
type URLs struct {
	base   *url.URL
	prefix string // base path without a trailing slash
}

// NewURLs parses the public URL of the bucket (http or https, no query).
func NewURLs(publicURL string) (*URLs, error) {
	u, err := url.Parse(strings.TrimSuffix(publicURL, "/"))
	if err != nil {
		return nil, err
	}
	return &URLs{base: u, prefix: strings.TrimSuffix(u.EscapedPath(), "/")}, nil
}

// URL returns the public URL of key followed by suffix (a query string or fragment
// kept from an earlier URL, or "").
func (u *URLs) URL(key, suffix string) string {
	return u.base.Scheme + "://" + u.base.Host + u.prefix + "/" + EscapePath(key) + suffix
}

// A ParsedURL is a URL found in a row that points into the bucket.
type ParsedURL struct {
	// Origin is the URL's text up to and including the "/" before the key, kept as the
	// row wrote it (scheme and host case) so a rewrite changes only the key.
	Origin string
	// Candidates are the keys the URL may name, most likely first: the percent-decoded
	// path before any query or fragment, then literal readings for URLs that an
	// application wrote without encoding the key. The first that exists in the bucket is
	// the key; keys are always compared exactly.
	Candidates []Candidate
}

// A Candidate is one reading of a URL: the key and the part of the URL after it.
type Candidate struct {
	Key, Suffix string
}

// Parse reads a URL from a row. ok is false for a foreign URL (another scheme, host,
// port or path) or a value that is not a URL at all.
func (u *URLs) Parse(s string) (p ParsedURL, ok bool) {
	scheme, rest, found := strings.Cut(s, "://")
	if !found || !(strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http")) {
		return p, false
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return p, false
	}
	host := rest[:slash]
	if !strings.EqualFold(host, u.base.Host) {
		return p, false
	}
	path := rest[slash:]
	if !strings.HasPrefix(path, u.prefix+"/") {
		return p, false
	}
	p.Origin = s[:len(s)-len(path)+len(u.prefix)+1]
	raw := path[len(u.prefix)+1:]
	add := func(key, suffix string) {
		if key == "" {
			return
		}
		for _, c := range p.Candidates {
			if c.Key == key && c.Suffix == suffix {
				return
			}
		}
		p.Candidates = append(p.Candidates, Candidate{key, suffix})
	}
	head, suffix := raw, ""
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		head, suffix = raw[:i], raw[i:]
	}
	if k, err := url.PathUnescape(head); err == nil {
		add(k, suffix)
	}
	add(head, suffix)
	if suffix != "" {
		if k, err := url.PathUnescape(raw); err == nil {
			add(k, "")
		}
		add(raw, "")
	}
	return p, len(p.Candidates) > 0
}

// EscapePath percent-encodes key for a URL path: every byte but A-Z a-z 0-9 - _ . ~ /
// is encoded, so the URL means the same key to every server and browser.
func EscapePath(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key) + 8)
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
