package plan

import (
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A Prefilter is a cheap test on a database value that every value naming one of a set
// of keys passes (Matcher.Prefilter): a database evaluates it in SQL, so that the
// deletion guard reads only the rows that may keep a doomed object. A value is admitted
// when it contains one of Escapes; or when it contains one of Segments and also starts
// with one of Prefixes, contains one of Contains, or, with its ASCII letters
// lower-cased (A-Z only, as SQLite's lower() and PostgreSQL's lower() under COLLATE
// "C" do), contains one of ContainsFold (each already lower-case). Segments is the
// cheap first test: most values hold none.
type Prefilter struct {
	Escapes, Segments                []string
	Prefixes, Contains, ContainsFold []string
}

// maxPrefilterSegments is how many distinct first path segments a Prefilter tests; a
// set of keys with more gets none (every row is read, as without a prefilter).
const maxPrefilterSegments = 32

// Prefilter returns a test that admits every value v for which m.Match(v, want, …)
// reports one of keys, whatever want is; ok is false when keys are too varied for a
// test worth running (more than 32 first path segments) or empty, and then every value
// must be read.
//
// Why it is exact as a necessary condition. Let k be a key, seg its first path segment
// (up to and including the first "/", or all of k). Match reports k only:
//
//   - ByKey, when v == k: v starts with seg (Prefixes).
//   - ByURL or Embedded through eachKey on a URL s that is v itself, a token of v's
//     text (URLTokens: a substring of v), a shorter reading of it (trimEach: a prefix
//     of the token), or a string of a JSON document of v. eachKey reads s as
//     scheme "://" host path, with host EqualFold to the base's host and path starting
//     with the base's prefix "/" (case and all); its candidates are the rest of the
//     path (whole or cut before "?" or "#"), each also PathUnescape'd when it holds a
//     "%". So either s holds "%" or s holds host' + prefix + "/" + k, host' being the
//     base's host up to case. For an ASCII host, host' is the host with its ASCII
//     letters in any case, or holds one of the non-ASCII runes that Unicode folds onto
//     an ASCII letter (the Kelvin sign K for k, the long s ſ for s): ContainsFold holds
//     lower(host + prefix + "/" + seg), Contains those runes. For a host that is not
//     ASCII (whose case an ASCII lower() cannot fold), Contains holds prefix + "/" +
//     seg.
//   - Embedded, as a JSON string equal to k: jsonStrings reads the bytes between two
//     quotes, unescaped only when they hold a backslash. Without one, v holds `"` + k,
//     so `"` + seg (Contains).
//   - Embedded, as an element of a PostgreSQL array equal to k: arrayElements reads
//     the bytes right after a "{" or a ",", so v holds "{" + seg or "," + seg
//     (Contains).
//
// A string of a JSON document that was unescaped holds a backslash in v; anything
// else above is a substring of v. So v names k only if it holds "%" or "\" (Escapes)
// or passes one of the other tests; and each of those holds seg as it is (the key is
// never compared up to case, only the host), so v then holds seg (Segments).
func (m *Matcher) Prefilter(keys func(yield func(string) bool)) (Prefilter, bool) {
	segs := map[string]bool{}
	ok := true
	for k := range keys {
		if k == "" {
			continue
		}
		seg := k
		if i := strings.IndexByte(k, '/'); i >= 0 {
			seg = k[:i+1]
		}
		if !utf8.ValidString(seg) {
			// SQLite's instr steps over UTF-8 continuation bytes; a needle that is
			// not UTF-8 might start on one.
			ok = false
			break
		}
		if !segs[seg] {
			segs[strings.Clone(seg)] = true // k may be the caller's buffer
		}
		if len(segs) > maxPrefilterSegments {
			ok = false
			break
		}
	}
	if !ok || len(segs) == 0 {
		return Prefilter{}, false
	}
	p := Prefilter{Escapes: []string{"%", `\`}}
	add := func(to *[]string, s string) {
		if !slices.Contains(*to, s) {
			*to = append(*to, s)
		}
	}
	for _, u := range m.urls {
		host := u.base.Host
		if !isASCII(host) {
			continue
		}
		for _, r := range foldRunes(host) {
			add(&p.Contains, string(r))
		}
	}
	for _, seg := range slices.Sorted(maps.Keys(segs)) {
		add(&p.Segments, seg)
		add(&p.Prefixes, seg)
		add(&p.Contains, `"`+seg)
		add(&p.Contains, "{"+seg)
		add(&p.Contains, ","+seg)
		for _, u := range m.urls {
			if host := u.base.Host; isASCII(host) {
				add(&p.ContainsFold, asciiLower(host+u.prefix+"/"+seg))
			} else {
				add(&p.Contains, u.prefix+"/"+seg)
			}
		}
	}
	return p, true
}

// Admits reports whether v passes the test (see Prefilter): the condition a database
// evaluates in SQL, in Go.
func (p Prefilter) Admits(v string) bool {
	if containsAny(v, p.Escapes) {
		return true
	}
	if !containsAny(v, p.Segments) {
		return false
	}
	for _, s := range p.Prefixes {
		if strings.HasPrefix(v, s) {
			return true
		}
	}
	if containsAny(v, p.Contains) {
		return true
	}
	if len(p.ContainsFold) == 0 {
		return false
	}
	lv := asciiLower(v)
	for _, s := range p.ContainsFold {
		if strings.Contains(lv, s) {
			return true
		}
	}
	return false
}

func containsAny(v string, subs []string) bool {
	for _, s := range subs {
		if strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// foldRunes returns the runes outside ASCII that strings.EqualFold takes for a letter
// of the ASCII string s (the Kelvin sign for k, the long s for s).
func foldRunes(s string) []rune {
	var out []rune
	for i := 0; i < len(s); i++ {
		c := rune(s[i])
		for r := unicode.SimpleFold(c); r != c; r = unicode.SimpleFold(r) {
			if r >= utf8.RuneSelf && !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiLower lower-cases the letters A-Z of s and nothing else.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && !('A' <= s[i] && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}
