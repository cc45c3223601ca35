package plan

import (
	"net/url"
	"strings"
	"unicode/utf8"
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

// Rewrite returns the text of s, a URL that Parse read as p with c the reading that names
// the object, once that object moves to target: the span of the path that spells the
// part of the key the move changes is replaced by that part of target, percent-encoded
// (EscapePath); every other byte of s stays as the application wrote it: the origin,
// the spelling of the unchanged part of the key ("+", "%2B", lower-case hex, raw
// Unicode alike), the query and the fragment. For a prefix move the changed part is the
// prefix; for a regex move, what lies between the longest head and tail that key and
// target share.
//
// taken reports whether a key names an object now or after the plan (nil: none does).
// The kept spelling is used only when target (with the same suffix) is a reading of the
// new text and no reading that Parse tries before it names an object, so the new text
// resolves to target as the old one resolved to the key; otherwise the whole key is
// spelled as EscapePath(target), whose first reading is always target.
//
// reencoded is true when part of the application's spelling was replaced by the
// canonical one: the replaced span of s was not EscapePath of the bytes it spells.
func (u *URLs) Rewrite(s string, p ParsedURL, c Candidate, target string, taken func(string) bool) (text string, reencoded bool) {
	spelled := s[len(p.Origin) : len(s)-len(c.Suffix)]
	canonical := func() (string, bool) {
		return p.Origin + EscapePath(target) + c.Suffix, spelled != EscapePath(c.Key)
	}
	decoded := spelled != c.Key // else a literal reading: one byte of text per byte of key
	if decoded {
		if k, err := url.PathUnescape(spelled); err != nil || k != c.Key {
			return canonical()
		}
	}
	key := c.Key
	a, b := sharedEnds(key, target)
	sa, sb := spellOffset(spelled, decoded, a), spellOffset(spelled, decoded, len(key)-b)
	text = p.Origin + spelled[:sa] + EscapePath(target[a:len(target)-b]) + spelled[sb:] + c.Suffix
	np, ok := u.Parse(text)
	if !ok {
		return canonical()
	}
	for _, nc := range np.Candidates {
		if nc.Key == target && nc.Suffix == c.Suffix {
			return text, spelled[sa:sb] != EscapePath(key[a:len(key)-b])
		}
		if taken != nil && taken(nc.Key) {
			break
		}
	}
	return canonical()
}

// sharedEnds returns the lengths of the longest tail and then the longest head that key
// and target share without overlapping, each ending on a character boundary of both.
// The tail comes first, so a prefix move keeps all of what follows its prefix.
func sharedEnds(key, target string) (head, tail int) {
	n := min(len(key), len(target))
	for tail < n && key[len(key)-1-tail] == target[len(target)-1-tail] {
		tail++
	}
	for tail > 0 && !(boundary(key, len(key)-tail) && boundary(target, len(target)-tail)) {
		tail--
	}
	for head < n-tail && key[head] == target[head] {
		head++
	}
	for head > 0 && !(boundary(key, head) && boundary(target, head)) {
		head--
	}
	return head, tail
}

// boundary reports whether offset i of s splits no valid UTF-8 character (bytes that
// are not one stand alone).
func boundary(s string, i int) bool {
	for j := i - 1; j >= 0 && j >= i-utf8.UTFMax+1; j-- {
		if utf8.RuneStart(s[j]) {
			r, n := utf8.DecodeRuneInString(s[j:])
			return r == utf8.RuneError && n == 1 || j+n <= i
		}
	}
	return true
}

// spellOffset returns the offset in spelled of the n-th byte of the key it spells:
// under a decoded reading "%XX" spells one byte, under a literal one every byte itself.
func spellOffset(spelled string, decoded bool, n int) int {
	i := 0
	for ; n > 0 && i < len(spelled); n-- {
		if decoded && spelled[i] == '%' {
			i += 3
		} else {
			i++
		}
	}
	return i
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
