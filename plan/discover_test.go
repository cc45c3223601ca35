package plan

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMatch(t *testing.T) {
	keys := map[string]bool{
		"characters/c1/avatars/a.webp":         true,
		"characters/c1/avatars/my avatar.webp": true,
		"characters/c2/avatars/a+b.webp":       true,
		"characters/c3/avatars/100%.webp":      true,
		"stories/s1/cover.webp":                true,
		"pages/p1/hero.png":                    true,
		"pages/p1/inline.png":                  true,
		"pages/p1/srcset 2x.png":               true,
	}
	m := NewMatcher(append([]string{"https://media.charhub.app"}, EndpointURLs("https://acct.r2.cloudflarestorage.com", "media", "auto")...)...)
	type found struct {
		Kinds MatchKind
		Keys  []string // "kind key", sorted
	}
	tests := map[string]struct {
		in   string
		want found
	}{
		"whole key": {"stories/s1/cover.webp", found{ByKey, []string{"1 stories/s1/cover.webp"}}},
		"key with space and no URL": {"characters/c1/avatars/my avatar.webp",
			found{ByKey, []string{"1 characters/c1/avatars/my avatar.webp"}}},
		"not a key":            {"stories/s1/cover.webp ", found{}},
		"prefix of a key":      {"stories/s1/", found{}},
		"unrelated text":       {"The cover of stories/s1 is lovely; see media.charhub.app!", found{}},
		"foreign URL":          {"https://cdn.example.com/stories/s1/cover.webp", found{}},
		"public URL":           {"https://media.charhub.app/stories/s1/cover.webp", found{ByURL, []string{"2 stories/s1/cover.webp"}}},
		"public URL, query":    {"https://media.charhub.app/stories/s1/cover.webp?v=2", found{ByURL, []string{"2 stories/s1/cover.webp"}}},
		"public URL, http":     {"http://MEDIA.charhub.app/stories/s1/cover.webp#top", found{ByURL, []string{"2 stories/s1/cover.webp"}}},
		"encoded URL":          {"https://media.charhub.app/characters/c2/avatars/a%2Bb.webp", found{ByURL, []string{"2 characters/c2/avatars/a+b.webp"}}},
		"unencoded URL":        {"https://media.charhub.app/characters/c2/avatars/a+b.webp", found{ByURL, []string{"2 characters/c2/avatars/a+b.webp"}}},
		"unencoded percent":    {"https://media.charhub.app/characters/c3/avatars/100%.webp", found{ByURL, []string{"2 characters/c3/avatars/100%.webp"}}},
		"unencoded space":      {"https://media.charhub.app/characters/c1/avatars/my avatar.webp", found{ByURL, []string{"2 characters/c1/avatars/my avatar.webp"}}},
		"URL of a missing key": {"https://media.charhub.app/stories/s9/cover.webp", found{}},
		"endpoint, path style": {"https://acct.r2.cloudflarestorage.com/media/pages/p1/hero.png",
			found{ByURL, []string{"2 pages/p1/hero.png"}}},
		"endpoint, virtual host": {"https://media.acct.r2.cloudflarestorage.com/pages/p1/hero.png",
			found{ByURL, []string{"2 pages/p1/hero.png"}}},
		"endpoint, other bucket": {"https://acct.r2.cloudflarestorage.com/other/pages/p1/hero.png", found{}},
		"html img": {`<p>Hi <img src="https://media.charhub.app/pages/p1/hero.png" alt="x"> and <img src='https://media.charhub.app/pages/p1/inline.png?v=2'></p>`,
			found{Embedded, []string{"4 pages/p1/hero.png", "4 pages/p1/inline.png"}}},
		"markdown image": {"Look: ![hero](https://media.charhub.app/pages/p1/hero.png \"title\") and ![](https://media.charhub.app/pages/p1/inline.png).",
			found{Embedded, []string{"4 pages/p1/hero.png", "4 pages/p1/inline.png"}}},
		"prose with punctuation": {"See https://media.charhub.app/pages/p1/hero.png, or https://media.charhub.app/pages/p1/inline.png.",
			found{Embedded, []string{"4 pages/p1/hero.png", "4 pages/p1/inline.png"}}},
		"srcset": {`<img srcset="https://media.charhub.app/pages/p1/hero.png 1x, https://media.charhub.app/pages/p1/srcset%202x.png 2x">`,
			found{Embedded, []string{"4 pages/p1/hero.png", "4 pages/p1/srcset 2x.png"}}},
		"glued scheme": {"url:https://media.charhub.app/pages/p1/hero.png;", found{Embedded, []string{"4 pages/p1/hero.png"}}},
		"json nested": {`{"avatar": {"url": "https://media.charhub.app/characters/c2/avatars/a%2Bb.webp?v=2"}, "gallery": ["https://media.charhub.app/pages/p1/hero.png", "stories/s1/cover.webp"], "n": 3}`,
			found{Embedded, []string{"4 characters/c2/avatars/a+b.webp", "4 pages/p1/hero.png", "4 stories/s1/cover.webp"}}},
		"json escaped slashes": {`{"u":"https:\/\/media.charhub.app\/pages\/p1\/hero.png"}`, found{Embedded, []string{"4 pages/p1/hero.png"}}},
		"json unencoded space": {`{"u":"https://media.charhub.app/characters/c1/avatars/my avatar.webp"}`,
			found{Embedded, []string{"4 characters/c1/avatars/my avatar.webp"}}},
		"json html inside": {`{"body":"<img src=\"https://media.charhub.app/pages/p1/hero.png\">"}`, found{Embedded, []string{"4 pages/p1/hero.png"}}},
		"json unrelated":   {`{"title": "stories", "tags": ["a", "b"]}`, found{}},
		"postgres array":   {`{https://media.charhub.app/pages/p1/hero.png,https://media.charhub.app/pages/p1/inline.png}`, found{Embedded, []string{"4 pages/p1/hero.png", "4 pages/p1/inline.png"}}},
		"postgres array of keys": {`{stories/s1/cover.webp,"characters/c1/avatars/my avatar.webp",NULL,pages/p1/hero.png}`,
			found{Embedded, []string{"4 characters/c1/avatars/my avatar.webp", "4 pages/p1/hero.png", "4 stories/s1/cover.webp"}}},
		"postgres array, two dimensions": {`{{stories/s1/cover.webp},{pages/p1/hero.png}}`, found{Embedded, []string{"4 pages/p1/hero.png", "4 stories/s1/cover.webp"}}},
		"postgres array, no key":         {`{stories/s1,"stories/s1/cover.webp ", stories/s1/cover.webp}`, found{}},
		"json object, not an array":      {`{"k":1,"stories/s1/cover.webp":2}`, found{Embedded, []string{"4 stories/s1/cover.webp"}}},
		"postgres array, quoted": {`{"https://media.charhub.app/characters/c1/avatars/my avatar.webp",https://cdn.example.com/x.png}`,
			found{Embedded, []string{"4 characters/c1/avatars/my avatar.webp"}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got found
			got.Kinds = m.Match(tc.in, func(k string) bool { return keys[k] }, func(k string, kind MatchKind) {
				s := fmt.Sprintf("%d %s", kind, k)
				if !slices.Contains(got.Keys, s) {
					got.Keys = append(got.Keys, s)
				}
			})
			slices.Sort(got.Keys)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Match(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestTrimCandidates(t *testing.T) {
	tests := map[string][]string{
		"https://h/a.png":             {"https://h/a.png"},
		"https://h/a.png).":           {"https://h/a.png).", "https://h/a.png)"}, // ")" stops a token before this
		"https://h/a.png.":            {"https://h/a.png.", "https://h/a.png"},
		"https://h/a.png,https://h/b": {"https://h/a.png,https://h/b", "https://h/a.png"},
		"https://h/a.png?v=2};":       {"https://h/a.png?v=2};", "https://h/a.png?v=2}", "https://h/a.png?v=2"},
		"https://.":                   {"https://."},
	}
	for in, want := range tests {
		if diff := cmp.Diff(want, TrimCandidates(in)); diff != "" {
			t.Errorf("TrimCandidates(%q) (-want +got):\n%s", in, diff)
		}
	}
}

func TestURLTokens(t *testing.T) {
	tests := map[string][]string{
		`<img src="https://h/a.png">`:          {"https://h/a.png"},
		"![x](HTTPS://h/a.png) (http://h/b)":   {"HTTPS://h/a.png", "http://h/b"},
		"no url here :// at all":               nil,
		"ftp://h/a.png and xhttps://h/b.png":   {"https://h/b.png"},
		"[a](https://h/a.png)[b](https://h/b)": {"https://h/a.png", "https://h/b"},
	}
	for in, want := range tests {
		var got []string
		URLTokens(in, func(tok string) { got = append(got, tok) })
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("URLTokens(%q) (-want +got):\n%s", in, diff)
		}
	}
}

func TestEndpointURLs(t *testing.T) {
	tests := map[string]struct {
		endpoint, bucket, region string
		want                     []string
	}{
		"r2":      {"https://acct.r2.cloudflarestorage.com/", "media", "auto", []string{"https://acct.r2.cloudflarestorage.com/media", "https://media.acct.r2.cloudflarestorage.com"}},
		"local":   {"http://127.0.0.1:9000", "b", "auto", []string{"http://127.0.0.1:9000/b", "http://b.127.0.0.1:9000"}},
		"aws":     {"", "b", "eu-west-1", []string{"https://b.s3.amazonaws.com", "https://s3.amazonaws.com/b", "https://b.s3.eu-west-1.amazonaws.com", "https://s3.eu-west-1.amazonaws.com/b"}},
		"nothing": {"", "", "auto", nil},
	}
	for name, tc := range tests {
		if diff := cmp.Diff(tc.want, EndpointURLs(tc.endpoint, tc.bucket, tc.region)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	m := NewMatcher("https://media.example.com")
	keys := map[string]bool{"obj/1.webp": true}
	want := func(k string) bool { return keys[k] }
	values := []string{
		"row-12345", "User number 12345",
		"https://media.example.com/users/12345/avatar.webp?v=2",
		`{"n": 12345, "theme": "dark", "banner": {"url": "https://media.example.com/banners/12345.webp"}}`,
		"Some words of prose about item 12345, without any link in them at all, but long enough.",
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range values {
			m.Match(v, want, func(string, MatchKind) {})
		}
	}
}

func TestKeySet(t *testing.T) {
	listed := []string{"a", "ab", "obj/1.webp", "é/x.png", "\x00z"}
	ks, err := CollectKeys(func(yield func(Object) error) error {
		for _, k := range listed {
			if err := yield(Object{Key: k, ETag: "e"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range listed {
		if !ks.Has(k) {
			t.Errorf("Has(%q) = false for a listed key", k)
		}
	}
	for _, k := range []string{"", "b", "a\x00", "abc", "obj/2.webp", "é/y.png", "\x00", "obj/1.webp "} {
		if ks.Has(k) {
			t.Errorf("Has(%q) = true for a key not listed", k)
		}
	}
	if ks.Len() != len(listed) {
		t.Errorf("Len = %d, want %d", ks.Len(), len(listed))
	}
}
