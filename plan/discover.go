package plan

import (
	"encoding/json"
	"net/url"
	"strings"
)

// A MatchKind says how a database value names an object of the bucket.
type MatchKind uint8

const (
	// ByKey: the whole value is a key.
	ByKey MatchKind = 1 << iota
	// ByURL: the whole value is a URL of the bucket (public, or the endpoint's own).
	ByURL
	// Embedded: a URL of the bucket inside longer text (HTML, markdown, prose), or a
	// key or URL as a string of a JSON document.
	Embedded
)

// A Matcher finds the objects that a database value names, whatever column holds it:
// the value itself as a key, a URL under the public URL or under the bucket's own
// endpoint, and such URLs inside JSON and free text. It decides nothing by substring:
// every candidate is a whole key, checked with the caller's want.
type Matcher struct {
	urls []*URLs
}

// NewMatcher reads values as keys and as URLs under each of bases (the public URL, the
// endpoint URLs of EndpointURLs); a base that does not parse is left out.
func NewMatcher(bases ...string) *Matcher {
	m := &Matcher{}
	seen := map[string]bool{}
	for _, b := range bases {
		if b == "" || seen[b] {
			continue
		}
		seen[b] = true
		if u, err := NewURLs(b); err == nil && u.base.Host != "" {
			m.urls = append(m.urls, u)
		}
	}
	return m
}

// EndpointURLs returns the URLs under which the bucket's own S3 endpoint serves its
// objects: path style (ENDPOINT/BUCKET/KEY) and virtual-host style
// (SCHEME://BUCKET.HOST/KEY). An empty endpoint is AWS S3's, with and without region.
func EndpointURLs(endpoint, bucket, region string) []string {
	if bucket == "" {
		return nil
	}
	if endpoint == "" {
		out := []string{"https://" + bucket + ".s3.amazonaws.com", "https://s3.amazonaws.com/" + bucket}
		if region != "" && region != "auto" {
			out = append(out, "https://"+bucket+".s3."+region+".amazonaws.com", "https://s3."+region+".amazonaws.com/"+bucket)
		}
		return out
	}
	u, err := url.Parse(strings.TrimSuffix(endpoint, "/"))
	if err != nil || u.Host == "" {
		return nil
	}
	base := u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/")
	return []string{base + "/" + bucket, u.Scheme + "://" + bucket + "." + u.Host}
}

// Match reports the objects that value v names: found is called with each key that
// want accepts (the caller's set: the listed keys, or the keys about to be deleted)
// and how v names it; a key may be reported more than once. It returns the kinds
// found. Neither want nor found may keep v's bytes: the caller may reuse them.
//
// A whole value equal to a key is ByKey (and nothing else is tried); a whole value
// that is a URL of the bucket is ByURL, for every reading of it that names a key (a
// deletion errs on the side of keeping); otherwise URLs inside the text and keys and
// URLs among the strings of a JSON document, and keys among the elements of a
// PostgreSQL array, are Embedded.
func (m *Matcher) Match(v string, want func(key string) bool, found func(key string, kind MatchKind)) MatchKind {
	if v == "" {
		return 0
	}
	if want(v) {
		found(v, ByKey)
		return ByKey
	}
	hasScheme := strings.Contains(v, "://")
	isJSON := looksJSON(v)
	if !hasScheme && !isJSON {
		return 0
	}
	var kinds MatchKind
	if hasScheme && m.wholeURL(v, want, func(k string) { found(k, ByURL) }) {
		return ByURL
	}
	embedded := func(k string) {
		kinds |= Embedded
		found(k, Embedded)
	}
	if isJSON && !jsonDocument(v) {
		// A PostgreSQL array: its elements that need no quotes (its quoted ones are
		// strings jsonStrings reads).
		arrayElements(v, func(s string) {
			if want(s) {
				embedded(s)
			}
		})
	}
	if isJSON {
		jsonStrings(v, func(s string) {
			if want(s) {
				embedded(s)
				return
			}
			if strings.Contains(s, "://") && !m.wholeURL(s, want, embedded) && !oneToken(s) {
				m.textURLs(s, want, embedded)
			}
		})
	}
	if hasScheme && !(isJSON && jsonDocument(v)) && !oneToken(v) {
		// Free text, or a PostgreSQL array whose elements need no quotes.
		m.textURLs(v, want, embedded)
	}
	return kinds
}

// oneToken reports whether textURLs would read v as the one URL wholeURL tried: a
// single scheme, no byte that ends a URL, nothing to trim.
func oneToken(v string) bool {
	if strings.Count(v, "://") != 1 || strings.ContainsAny(v, ",;") || strings.IndexByte(".:!?}*_|", v[len(v)-1]) >= 0 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if stopsURL(v[i]) {
			return false
		}
	}
	return true
}

// arrayElements calls fn with each element of a PostgreSQL array literal ({a,b},
// {{a},{b}}) that is not quoted: the bytes between two of "{", "," and "}", as
// PostgreSQL writes an element that needs no quotes (no space around it). A quoted
// element is skipped.
func arrayElements(v string, fn func(string)) {
	start := -1
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			for i++; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' {
					i++
				}
			}
			start = -2 // until the next delimiter
		case '{', ',', '}':
			if start >= 0 && i > start {
				fn(v[start:i])
			}
			start = i + 1
		}
	}
}

// jsonDocument reports whether v, which looksJSON, is a JSON array or object rather
// than a PostgreSQL array ({a,"b c"}): its strings are then all jsonStrings reads.
func jsonDocument(v string) bool {
	v = strings.TrimSpace(v)
	if v[0] == '[' {
		return true
	}
	i := 1
	for i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r') {
		i++
	}
	if i >= len(v) || v[i] == '}' {
		return true
	}
	if v[i] != '"' {
		return false
	}
	for i++; i < len(v) && v[i] != '"'; i++ {
		if v[i] == '\\' {
			i++
		}
	}
	for i++; i < len(v) && (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '\r'); i++ {
	}
	return i < len(v) && v[i] == ':'
}

// wholeURL reports whether s is a URL of the bucket that names a key want accepts,
// calling found with each such reading.
func (m *Matcher) wholeURL(s string, want func(string) bool, found func(string)) bool {
	ok := false
	for _, u := range m.urls {
		u.eachKey(s, func(key string) {
			if want(key) {
				found(key)
				ok = true
			}
		})
	}
	return ok
}

// eachKey calls fn with each candidate key of s as Parse reads it (possibly twice),
// without building a ParsedURL: the matcher reads every URL of a database.
func (u *URLs) eachKey(s string, fn func(key string)) {
	scheme, rest, found := strings.Cut(s, "://")
	if !found || !(strings.EqualFold(scheme, "https") || strings.EqualFold(scheme, "http")) {
		return
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 || !strings.EqualFold(rest[:slash], u.base.Host) {
		return
	}
	path := rest[slash:]
	if !strings.HasPrefix(path, u.prefix+"/") {
		return
	}
	raw := path[len(u.prefix)+1:]
	each := func(t string) {
		if t == "" {
			return
		}
		if strings.IndexByte(t, '%') >= 0 {
			if k, err := url.PathUnescape(t); err == nil && k != "" {
				fn(k)
			}
		}
		fn(t)
	}
	head := raw
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		head = raw[:i]
		each(raw)
	}
	each(head)
}

// textURLs finds the URLs in free text (see URLTokens) and reports the keys they name.
func (m *Matcher) textURLs(s string, want func(string) bool, found func(string)) {
	URLTokens(s, func(tok string) {
		trimEach(tok, func(c string) bool { return m.wholeURL(c, want, found) })
	})
}

// URLTokens calls fn with each URL-ish token of free text: from an http:// or https://
// (any case) to the first whitespace, quote, backslash, <, >, (, ), [, ] or backtick;
// so an <img src="…">, a markdown ![](…), a srcset and a JSON string each give their
// URLs. The token may still end in punctuation (see TrimCandidates).
func URLTokens(s string, fn func(tok string)) {
	for i := 0; i+3 <= len(s); {
		j := strings.Index(s[i:], "://")
		if j < 0 {
			return
		}
		at := i + j
		start := at
		for start > i && isSchemeByte(s[start-1]) {
			start--
		}
		end := at + 3
		for end < len(s) && !stopsURL(s[end]) {
			end++
		}
		scheme := strings.ToLower(s[start:at])
		// The scheme may be glued to text before it ("srchttps://"): keep its tail.
		switch {
		case strings.HasSuffix(scheme, "https"):
			fn(s[at-5 : end])
		case strings.HasSuffix(scheme, "http"):
			fn(s[at-4 : end])
		}
		i = at + 3
	}
}

func isSchemeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func stopsURL(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', '"', '\'', '\\', '<', '>', '(', ')', '[', ']', '`':
		return true
	}
	return false
}

// TrimCandidates returns the readings of a URL-ish token to try, longest first: the
// token, then shorter ones without trailing punctuation (".,;:!?}*_|") and cut before a
// comma or semicolon (a list, a PostgreSQL array), so "…/a.webp)." and
// "…/a.webp,https://…" each give "…/a.webp". The first that names an object is it.
func TrimCandidates(tok string) []string {
	var out []string
	trimEach(tok, func(c string) bool {
		out = append(out, c)
		return false
	})
	return out
}

// trimEach calls fn with the readings TrimCandidates returns, in order, until fn
// returns true.
func trimEach(t string, fn func(string) bool) {
	for n := 0; n < 12; n++ {
		if fn(t) {
			return
		}
		switch {
		case strings.IndexByte(".,;:!?}*_|", t[len(t)-1]) >= 0:
			t = t[:len(t)-1]
		default:
			i := strings.LastIndexAny(t, ",;")
			if i < 0 {
				return
			}
			t = t[:i]
		}
		if t == "" || !strings.Contains(t, "://") || strings.HasSuffix(t, "://") {
			return
		}
	}
}

// looksJSON reports whether v may be a JSON object or array (or a PostgreSQL array).
func looksJSON(v string) bool {
	v = strings.TrimSpace(v)
	return len(v) >= 2 && (v[0] == '{' && v[len(v)-1] == '}' || v[0] == '[' && v[len(v)-1] == ']')
}

// jsonStrings calls fn with every string literal of a JSON text (object keys too),
// unescaped. It is tolerant: text that is not JSON yields its double-quoted spans.
func jsonStrings(v string, fn func(string)) {
	for i := 0; i < len(v); i++ {
		if v[i] != '"' {
			continue
		}
		escaped := false
		j := i + 1
		for ; j < len(v); j++ {
			if v[j] == '\\' {
				escaped = true
				j++
				continue
			}
			if v[j] == '"' {
				break
			}
		}
		if j >= len(v) {
			return
		}
		s := v[i+1 : j]
		if escaped {
			var u string
			if json.Unmarshal([]byte(v[i:j+1]), &u) == nil {
				s = u
			}
		}
		if s != "" {
			fn(s)
		}
		i = j
	}
}

// A KeySet is the bucket's keys, held as compactly as a plan holds its listing (keys
// packed in blocks, an open-addressing index), for discovery.
type KeySet struct {
	objs *objectSet
	// heads has a bit set for the first two bytes of each key: most of the strings
	// discovery asks about (every value, every JSON string, every URL's path) start
	// like no key, and Has then answers without hashing.
	heads [1 << 16 / 64]uint64
}

// CollectKeys reads a listing into a KeySet.
func CollectKeys(list func(yield func(Object) error) error) (*KeySet, error) {
	var s Summary
	objs, err := collectObjects(list, &s)
	if err != nil {
		return nil, err
	}
	k := &KeySet{objs: objs}
	for i := range objs.len() {
		h := head(objs.keyBytes(i))
		k.heads[h/64] |= 1 << (h % 64)
	}
	return k, nil
}

// head is the first two bytes of a key (a key of one byte: that byte and 0).
func head[S string | []byte](key S) uint16 {
	switch len(key) {
	case 0:
		return 0
	case 1:
		return uint16(key[0]) << 8
	}
	return uint16(key[0])<<8 | uint16(key[1])
}

// Has reports whether key was listed.
func (k *KeySet) Has(key string) bool {
	if h := head(key); k.heads[h/64]&(1<<(h%64)) == 0 {
		return false
	}
	_, ok := k.objs.lookup(key)
	return ok
}

// Len is the number of keys.
func (k *KeySet) Len() int { return k.objs.len() }
