package plan

import (
	"regexp"
	"testing"
)

func prefixRule(name, prefix, target string) Rule {
	return Rule{Name: name, Prefix: &prefix, Target: target}
}

func regexRule(name, re, target string) Rule {
	return Rule{Name: name, Regex: regexp.MustCompile(re), Target: target}
}

func TestLayoutMap(t *testing.T) {
	charhub := Layout{Placed: []string{"dev/", "prod/"}, Rules: []Rule{prefixRule("all", "", "dev/")}}
	avatars := Layout{Placed: []string{"characters/"}, Rules: []Rule{
		{Name: "avatars", Regex: regexp.MustCompile(`^avatars/(?P<id>[^/]+)\.webp$`), Target: "characters/$id/avatar.webp"},
		prefixRule("covers", "covers/", "characters/covers/"),
	}}
	tests := map[string]struct {
		layout     Layout
		key        string
		wantTarget string
		wantOK     bool
	}{
		"flat key moves":               {charhub, "characters/1/avatars/a.webp", "dev/characters/1/avatars/a.webp", true},
		"already under dev stays":      {charhub, "dev/characters/1.webp", "", false},
		"already under prod stays":     {charhub, "prod/x", "", false},
		"contains dev/ but not prefix": {charhub, "users/dev/x.webp", "dev/users/dev/x.webp", true},
		"development/ is not dev/":     {charhub, "development/x", "dev/development/x", true},
		"awkward bytes kept":           {charhub, "a b+c%d?e#f//g é", "dev/a b+c%d?e#f//g é", true},
		"regex captures":               {avatars, "avatars/42.webp", "characters/42/avatar.webp", true},
		"regex must match whole key":   {avatars, "avatars/42.webp.bak", "", false},
		"regex does not cross slashes": {avatars, "avatars/a/b.webp", "", false},
		"second rule when first fails": {avatars, "covers/9.jpg", "characters/covers/9.jpg", true},
		"no rule matches":              {avatars, "misc/readme.txt", "", false},
		"placed never moves":           {avatars, "characters/42/avatar.webp", "", false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _, ok := tc.layout.Map(tc.key)
			if got != tc.wantTarget || ok != tc.wantOK {
				t.Errorf("Map(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.wantTarget, tc.wantOK)
			}
		})
	}
}
