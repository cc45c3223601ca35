package plan

import (
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
	})
}
