package s3

import (
	"net/url"
	"strings"
	"testing"
)

func TestEncodeCopySource(t *testing.T) {
	tests := map[string]struct {
		key  string
		want string
	}{
		"plain":           {"a/b/c.jpg", "bkt/a/b/c.jpg"},
		"unreserved":      {"A-Z_a.z~0", "bkt/A-Z_a.z~0"},
		"space":           {"my photo.jpg", "bkt/my%20photo.jpg"},
		"plus":            {"a+b", "bkt/a%2Bb"},
		"percent":         {"100%", "bkt/100%25"},
		"already escaped": {"a%20b", "bkt/a%2520b"},
		"question":        {"a?b=c", "bkt/a%3Fb%3Dc"},
		"hash":            {"a#b", "bkt/a%23b"},
		"double slash":    {"a//b", "bkt/a//b"},
		"leading slash":   {"/a", "bkt//a"},
		"nfc e acute":     {"caf\u00e9", "bkt/caf%C3%A9"},
		"nfd e acute":     {"cafe\u0301", "bkt/cafe%CC%81"},
		"emoji":           {"😀", "bkt/%F0%9F%98%80"},
		"control":         {"a\x00b\x01\n\t\x7f", "bkt/a%00b%01%0A%09%7F"},
		"reserved":        {"!$&'()*,;=:@[]", "bkt/%21%24%26%27%28%29%2A%2C%3B%3D%3A%40%5B%5D"},
		"quotes":          {`"<>\^` + "`{|}", "bkt/%22%3C%3E%5C%5E%60%7B%7C%7D"},
		"invalid utf8":    {"\xff\xfe", "bkt/%FF%FE"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := encodeCopySource("bkt", tt.key)
			if got != tt.want {
				t.Errorf("encodeCopySource(%q) = %q, want %q", tt.key, got, tt.want)
			}
			// Decoding gives back the exact bytes.
			dec, err := url.PathUnescape(got)
			if err != nil || dec != "bkt/"+tt.key {
				t.Errorf("PathUnescape(%q) = %q, %v; want %q", got, dec, err, "bkt/"+tt.key)
			}
			for _, c := range []byte(strings.TrimPrefix(got, "bkt/")) {
				if !copySourceSafe(c) && c != '%' {
					t.Errorf("%q left %q unescaped", got, c)
				}
			}
		})
	}
}

func TestNFC(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"ascii":    {"a/b.jpg", "a/b.jpg"},
		"nfc":      {"caf\u00e9.jpg", "caf\u00e9.jpg"},
		"nfd":      {"cafe\u0301.jpg", "caf\u00e9.jpg"},
		"hangul":   {"\u1100\u1161", "\uac00"},
		"angstrom": {"\u212b", "\u00c5"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := NFC(tt.in); got != tt.want {
				t.Errorf("NFC(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestQuoteUnquote(t *testing.T) {
	for _, in := range []string{`abc`, `"abc"`, `"abc-2"`} {
		if got := quote(in); got != `"`+strings.Trim(in, `"`)+`"` {
			t.Errorf("quote(%q) = %q", in, got)
		}
		if got := unquote(quote(in)); got != strings.Trim(in, `"`) {
			t.Errorf("unquote(quote(%q)) = %q", in, got)
		}
	}
}
