package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEscapePath(t *testing.T) {
	tests := map[string]string{
		"characters/1/avatars/a_1.webp": "characters/1/avatars/a_1.webp",
		"a b":                           "a%20b",
		"a+b":                           "a%2Bb",
		"100%":                          "100%25",
		"what?#":                        "what%3F%23",
		"a//b":                          "a//b",
		"é":                             "%C3%A9",
		"tilde~dash-dot.":               "tilde~dash-dot.",
		"\x00\x7f":                      "%00%7F",
	}
	for in, want := range tests {
		if got := EscapePath(in); got != want {
			t.Errorf("EscapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestURLsParse(t *testing.T) {
	u, err := NewURLs("https://media.charhub.app/")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		in     string
		want   ParsedURL
		wantOK bool
	}{
		"plain": {"https://media.charhub.app/characters/1/a.webp",
			ParsedURL{"https://media.charhub.app/", []Candidate{{"characters/1/a.webp", ""}}}, true},
		"query kept": {"https://media.charhub.app/a.webp?v=2",
			ParsedURL{"https://media.charhub.app/", []Candidate{{"a.webp", "?v=2"}, {"a.webp?v=2", ""}}}, true},
		"encoded": {"https://media.charhub.app/a%20b%2Bc%3F.webp",
			ParsedURL{"https://media.charhub.app/", []Candidate{{"a b+c?.webp", ""}, {"a%20b%2Bc%3F.webp", ""}}}, true},
		"unencoded percent": {"https://media.charhub.app/100%.webp",
			ParsedURL{"https://media.charhub.app/", []Candidate{{"100%.webp", ""}}}, true},
		"host case kept": {"https://MEDIA.charhub.app/x",
			ParsedURL{"https://MEDIA.charhub.app/", []Candidate{{"x", ""}}}, true},
		"http too":       {"http://media.charhub.app/x", ParsedURL{"http://media.charhub.app/", []Candidate{{"x", ""}}}, true},
		"foreign host":   {"https://cdn.example.com/x", ParsedURL{}, false},
		"lookalike host": {"https://media.charhub.app.evil.com/x", ParsedURL{}, false},
		"other port":     {"https://media.charhub.app:8443/x", ParsedURL{}, false},
		"not a url":      {"characters/1/a.webp", ParsedURL{}, false},
		"bare host":      {"https://media.charhub.app", ParsedURL{}, false},
		"ftp":            {"ftp://media.charhub.app/x", ParsedURL{}, false},
		"empty key":      {"https://media.charhub.app/", ParsedURL{}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := u.Parse(tc.in)
			if ok != tc.wantOK {
				t.Fatalf("Parse(%q) ok = %v, want %v", tc.in, ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestURLRoundTrip(t *testing.T) {
	u, _ := NewURLs("https://media.example/sub/path")
	for _, key := range []string{"a", "a b", "a+b", "%", "?#", "a//b", "dev/é/ü.webp", "x\x01y"} {
		s := u.URL(key, "")
		p, ok := u.Parse(s)
		if !ok || p.Candidates[0].Key != key {
			t.Errorf("round trip of %q via %q gave %+v, %v", key, s, p, ok)
		}
	}
}

func FuzzURLRoundTrip(f *testing.F) {
	for _, s := range []string{"a", "a b", "+%?#", "dev/é.webp", "a//b", "\xff"} {
		f.Add(s)
	}
	u, _ := NewURLs("https://media.charhub.app")
	f.Fuzz(func(t *testing.T, key string) {
		if key == "" {
			return
		}
		s := u.URL(key, "")
		p, ok := u.Parse(s)
		if !ok || p.Candidates[0].Key != key || p.Candidates[0].Suffix != "" {
			t.Fatalf("key %q -> %q -> %+v, %v", key, s, p, ok)
		}
		// A rewrite for a prefix move inserts the new prefix and keeps the rest of the
		// text byte for byte, however the key was spelled; any move's new text reads
		// back as its target.
		const origin = "https://media.charhub.app/"
		for _, spelled := range []string{EscapePath(key) + "?v=1#f", key} {
			s := origin + spelled
			p, ok := u.Parse(s)
			if !ok {
				continue
			}
			i := slices.IndexFunc(p.Candidates, func(c Candidate) bool { return c.Key == key })
			if i < 0 {
				continue
			}
			c := p.Candidates[i]
			got, re := u.Rewrite(s, p, c, "dev/"+key, nil)
			if want := origin + "dev/" + spelled; got != want || re {
				t.Fatalf("rewrite of %q to dev/: got %q (reencoded %v), want %q", s, got, re, want)
			}
			for _, target := range []string{"prod/" + key + ".webp", "x/" + strings.ToUpper(key), "é" + key[len(key)/2:]} {
				got, _ := u.Rewrite(s, p, c, target, nil)
				np, _ := u.Parse(got)
				if !slices.Contains(np.Candidates, Candidate{target, c.Suffix}) {
					t.Fatalf("rewrite of %q to %q gave %q, which reads %+v", s, target, got, np.Candidates)
				}
			}
		}
	})
}

func TestURLsRewrite(t *testing.T) {
	u, err := NewURLs("https://media.charhub.app")
	if err != nil {
		t.Fatal(err)
	}
	const base = "https://media.charhub.app/"
	toDev := []Rule{prefixRule("env", "", "dev/")}
	toProd := []Rule{prefixRule("env", "characters/", "prod/characters/")}
	tests := map[string]struct {
		rules []Rule
		in    string // after base
		key   string // the key the row names; "" for the first reading
		taken []string
		want  string // after base
		re    bool   // reencoded
	}{
		"plus raw":                  {rules: toDev, in: "characters/plus+sign/x+y.webp", want: "dev/characters/plus+sign/x+y.webp"},
		"plus encoded":              {rules: toDev, in: "characters/plus%2Bsign/x%2By.webp", want: "dev/characters/plus%2Bsign/x%2By.webp"},
		"space encoded":             {rules: toDev, in: "a%20b.webp", want: "dev/a%20b.webp"},
		"space raw":                 {rules: toDev, in: "a b.webp", want: "dev/a b.webp"},
		"equals raw":                {rules: toDev, in: "q=1.webp", want: "dev/q=1.webp"},
		"equals encoded":            {rules: toDev, in: "q%3D1.webp", want: "dev/q%3D1.webp"},
		"question and hash":         {rules: toDev, in: "characters/q%3Fx=1/h%23frag.webp", want: "dev/characters/q%3Fx=1/h%23frag.webp"},
		"unicode raw":               {rules: toDev, in: "café/ü.webp", want: "dev/café/ü.webp"},
		"unicode encoded":           {rules: toDev, in: "caf%C3%A9/%C3%BC.webp", want: "dev/caf%C3%A9/%C3%BC.webp"},
		"lower-case hex":            {rules: toDev, in: "caf%c3%a9.webp", want: "dev/caf%c3%a9.webp"},
		"mixed":                     {rules: toDev, in: "a+b%20c%2bd é.webp", want: "dev/a+b%20c%2bd é.webp"},
		"query":                     {rules: toDev, in: "a+b.webp?v=2", want: "dev/a+b.webp?v=2"},
		"fragment":                  {rules: toDev, in: "a+b.webp#frag", want: "dev/a+b.webp#frag"},
		"query and fragment":        {rules: toDev, in: "a%2bb.webp?x=%2B&y=a+b#f%20g", want: "dev/a%2bb.webp?x=%2B&y=a+b#f%20g"},
		"prefix kept in place":      {rules: toProd, in: "characters/plus+sign/x+y.webp", want: "prod/characters/plus+sign/x+y.webp"},
		"prefix spelled oddly":      {rules: toProd, in: "%63haracters/x%2by.webp", want: "prod/%63haracters/x%2by.webp"},
		"prefix replaced":           {rules: []Rule{prefixRule("c", "characters/", "dev/c/")}, in: "characters/a+b/x%20y.webp", want: "dev/c/a+b/x%20y.webp"},
		"new prefix encoded":        {rules: []Rule{prefixRule("d", "", "dév/")}, in: "a+b.webp", want: "d%C3%A9v/a+b.webp"},
		"prefix dropped":            {rules: []Rule{prefixRule("up", "old/", "")}, in: "old/a+b.webp", want: "a+b.webp"},
		"literal percent":           {rules: toDev, in: "100%.webp", want: "dev/100%.webp"},
		"literal escape":            {rules: toDev, in: "a%20b.webp", key: "a%20b.webp", want: "dev/a%20b.webp"},
		"literal escape, taken":     {rules: toDev, in: "a%20b.webp", key: "a%20b.webp", taken: []string{"dev/a b.webp"}, want: "dev/a%2520b.webp", re: true},
		"literal query":             {rules: toDev, in: "a.webp?v=2", key: "a.webp?v=2", want: "dev/a.webp?v=2"},
		"literal query, taken":      {rules: toDev, in: "a.webp?v=2", key: "a.webp?v=2", taken: []string{"dev/a.webp"}, want: "dev/a.webp%3Fv%3D2", re: true},
		"literal, prefix escaped":   {rules: []Rule{prefixRule("d", "", "my dir/")}, in: "a%20b", key: "a%20b", want: "my%20dir/a%2520b", re: true},
		"regex changes the tail":    {rules: []Rule{regexRule("webp", `(.+)\.png`, "dev/$1.webp")}, in: "x+y.png", want: "dev/x%2By.webp", re: true},
		"regex, canonical text":     {rules: []Rule{regexRule("swap", `characters/(\d+)/(.+)`, "dev/$2/$1")}, in: "characters/1/a.webp", want: "dev/a.webp/1"},
		"regex keeps the head":      {rules: []Rule{regexRule("ext", `(.+)\.png`, "$1.webp")}, in: "dev/x+y.png?v=1", want: "dev/x+y.webp?v=1"},
		"regex keeps the tail":      {rules: []Rule{regexRule("env", `characters/(.+)`, "dev/characters/$1")}, in: "characters/x+y.webp", want: "dev/characters/x+y.webp"},
		"split on a character":      {rules: []Rule{regexRule("e", `(.*)é`, "${1}è")}, in: "caf%C3%A9", want: "caf%C3%A8"},
		"split on a character, raw": {rules: []Rule{regexRule("e", `(.*)é`, "${1}è")}, in: "café", want: "caf%C3%A8", re: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := base + tc.in
			p, ok := u.Parse(s)
			if !ok {
				t.Fatalf("Parse(%q) failed", s)
			}
			c := p.Candidates[0]
			for _, cand := range p.Candidates {
				if cand.Key == tc.key {
					c = cand
				}
			}
			l := Layout{Rules: tc.rules}
			target, _, ok := l.Map(c.Key)
			if !ok {
				t.Fatalf("%q does not move", c.Key)
			}
			taken := func(k string) bool { return slices.Contains(tc.taken, k) || k == c.Key || k == target }
			got, re := u.Rewrite(s, p, c, target, taken)
			if got != base+tc.want || re != tc.re {
				t.Errorf("Rewrite(%q) = %q, reencoded %v; want %q, %v", s, got, re, base+tc.want, tc.re)
			}
			np, _ := u.Parse(got)
			for _, nc := range np.Candidates {
				if nc.Key == target && nc.Suffix == c.Suffix {
					return
				}
				if taken(nc.Key) {
					break
				}
			}
			t.Errorf("%q does not resolve to %q%s: %+v", got, target, c.Suffix, np.Candidates)
		})
	}
}
