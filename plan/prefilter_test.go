package plan

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func seqOf(keys ...string) func(yield func(string) bool) { return slices.Values(keys) }

func TestPrefilter(t *testing.T) {
	m := NewMatcher("https://media.skies.com/prod", "https://bücher.example/p")
	p, ok := m.Prefilter(seqOf("characters/c1/a.webp", "characters/c2/b.webp", "top.png"))
	if !ok {
		t.Fatal("Prefilter: no filter for three keys")
	}
	want := Prefilter{
		Escapes:  []string{"%", `\`},
		Segments: []string{"characters/", "top.png"},
		Prefixes: []string{"characters/", "top.png"},
		Contains: []string{"\u212a", "\u017f", "/p/characters/", `"characters/`, "{characters/", ",characters/", `"top.png`, "{top.png", ",top.png",
			"/p/top.png"},
		ContainsFold: []string{"media.skies.com/prod/characters/", "media.skies.com/prod/top.png"},
	}
	// The fold runes come from the ASCII host: the Kelvin sign for k, the long s for s.
	slices.Sort(want.Contains)
	got := p
	got.Contains = slices.Sorted(slices.Values(p.Contains))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Prefilter (-want +got):\n%s", diff)
	}

	tests := map[string]struct {
		v    string
		want bool
	}{
		"the key":                      {"characters/c1/a.webp", true},
		"another key, same segment":    {"characters/c9/z.webp", true},
		"URL under the base":           {"https://media.skies.com/prod/characters/c1/a.webp?v=2", true},
		"URL, host in upper case":      {"HTTPS://MEDIA.Skies.COM/prod/characters/c1/a.webp", true},
		"URL, Kelvin sign in the host": {"https://media.s\u212aies.com/prod/characters/c1/a.webp", true},
		"URL, other base path":         {"https://media.skies.com/staging/characters/c1/a.webp", false},
		"URL, other host":              {"https://cdn.example.com/prod/characters/c1/a.webp", false},
		"URL, non-ASCII host":          {"https://BÜCHER.example/p/characters/c1/a.webp", true},
		"URL of another segment":       {"https://media.skies.com/prod/users/1/a.webp", false},
		"percent-encoded":              {"https://media.skies.com/prod/x%20y", true},
		"JSON escape":                  {`{"u":"https:\/\/media.skies.com\/prod\/characters\/c1\/a.webp"}`, true},
		"JSON string":                  {`{"k":"characters/c1/a.webp"}`, true},
		"JSON, other segment":          {`{"k":"users/1/a.webp","n":3}`, false},
		"PostgreSQL array, first":      {"{characters/c1/a.webp,users/1}", true},
		"PostgreSQL array, later":      {"{users/1,characters/c1/a.webp}", true},
		"PostgreSQL array, other":      {"{users/1,users/characters/}", false},
		"prose":                        {"Some characters/ in prose", false},
		"empty":                        {"", false},
	}
	for name, tc := range tests {
		if got := p.Admits(tc.v); got != tc.want {
			t.Errorf("%s: Admits(%q) = %v, want %v", name, tc.v, got, tc.want)
		}
		names := false
		m.Match(tc.v, func(k string) bool { return strings.HasPrefix(k, "characters/") }, func(string, MatchKind) { names = true })
		if names && !tc.want {
			t.Errorf("%s: Match(%q) names a key the prefilter does not admit", name, tc.v)
		}
	}

	if _, ok := m.Prefilter(seqOf()); ok {
		t.Error("Prefilter of no keys: a filter")
	}
	var many []string
	for i := range maxPrefilterSegments + 1 {
		many = append(many, fmt.Sprintf("s%d/x", i))
	}
	if _, ok := m.Prefilter(seqOf(many...)); ok {
		t.Errorf("Prefilter of %d segments: a filter", len(many))
	}
	if _, ok := m.Prefilter(seqOf(many[1:]...)); !ok {
		t.Errorf("Prefilter of %d segments: none", len(many)-1)
	}
}

// fuzzBases are the Matcher's bases in FuzzPrefilter: a public URL with a path, an
// endpoint with a port, a virtual host holding k and s (whose case Unicode folds from
// outside ASCII), and a host outside ASCII.
var fuzzBases = []string{"https://Media.Example.com/prod", "http://127.0.0.1:9000/bucket", "https://bucket.kiss.s3.amazonaws.com", "https://bücher.example"}

// FuzzPrefilter checks that the prefilter is a necessary condition of Match: a value
// that names one of the keys is admitted. Values are assembled from the key, a base
// with its letters' case changed, and text, in the shapes an application writes: the
// key, a URL (encoded or not, with a query), JSON (escaped or not), HTML, markdown, a
// PostgreSQL array.
func FuzzPrefilter(f *testing.F) {
	f.Add("characters/c1/a.webp", "Hello", uint8(0), uint32(0))
	f.Add("characters/c1/my avatar.webp", "x", uint8(1<<2|1<<4|2<<5), uint32(0xffff))
	f.Add("pages/p1/café.png", "see", uint8(3<<5), uint32(0x5a5a))
	f.Add("a.png", `<img src="`, uint8(4<<5|2), uint32(1))
	f.Add("stories/s1/cover.webp", "![](", uint8(7<<5|1<<2|1), uint32(3))
	f.Add("k/s/K.png", "{", uint8(6<<5|1<<4|2), uint32(0x7))
	f.Add("x/100%.png", `{"u":"https:\/\/bucket.kiss.s3.amazonaws.com\/x\/100%25.png"}`, uint8(2), uint32(0))
	f.Add("z/a.png", "https://bucket.kiss.s3.amazonaws.com/z/a.png", uint8(1<<7), uint32(9))
	f.Add("stories/s1/cover.webp", "NULL", uint8(1<<5), uint32(0))
	m := NewMatcher(fuzzBases...)
	f.Fuzz(func(t *testing.T, key, text string, form uint8, caseMask uint32) {
		if key == "" {
			return
		}
		keys := []string{key, "other/x.png"}
		p, ok := m.Prefilter(seqOf(keys...))
		if !ok {
			return
		}
		base := flipCase(fuzzBases[int(form&3)], caseMask)
		if caseMask&(1<<31) != 0 {
			base = strings.NewReplacer("k", "\u212a", "s", "\u017f").Replace(base)
		}
		spelled := key
		switch (form >> 2) & 3 {
		case 1:
			spelled = EscapePath(key)
		case 2:
			spelled = strings.ReplaceAll(key, " ", "%20")
		}
		u := base + "/" + spelled
		if form&(1<<4) != 0 {
			u += "?v=2"
		}
		var v string
		switch form >> 5 {
		case 0:
			v = u
		case 1:
			v = key
		case 2:
			v = `{"u":"` + jsonEscape(u) + `","t":"` + jsonEscape(text) + `"}`
		case 3:
			v = "<p>" + text + `<img src="` + u + `"></p>`
		case 4:
			v = text + "![x](" + u + ") and more."
		case 5:
			v = `{"k":"` + key + `","t":` + fmt.Sprintf("%q", text) + `}`
		case 6:
			v = text + " " + u + "."
		case 7:
			v = `["` + strings.NewReplacer("/", `\/`, "c", `\u0063`).Replace(u) + `"]`
		}
		// Alone, beside the text, and as an element of a PostgreSQL array (first or not).
		for _, v := range []string{v, text, text + v, v + text, "{" + v + "," + text + "}", "{" + text + "," + v + "}"} {
			names := false
			m.Match(v, func(k string) bool { return slices.Contains(keys, k) }, func(string, MatchKind) { names = true })
			if names && !p.Admits(v) {
				t.Fatalf("Match(%q) names one of %q, but the prefilter %+v does not admit it", v, keys, p)
			}
		}
	})
}

// flipCase upper-cases the ASCII letters of s at the positions set in mask.
func flipCase(s string, mask uint32) string {
	b := []byte(s)
	for i := range b {
		if mask&(1<<(i%31)) != 0 && 'a' <= b[i] && b[i] <= 'z' {
			b[i] -= 'a' - 'A'
		}
	}
	return string(b)
}

// jsonEscape escapes s for a JSON string, as encoding/json does with HTML escaping.
func jsonEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == '<' || r == '>' || r == '&':
			fmt.Fprintf(&b, `\u%04x`, r)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
