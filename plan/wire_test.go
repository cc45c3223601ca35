package plan

import (
	"bytes"
	"encoding/json"
	"testing"
)

// encodingJSON is a move's line as encoding/json writes it in Write.
func encodingJSON(t testing.TB, m *Move) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(toMoveLine(m)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAppendMoveLine(t *testing.T) {
	strs := []string{"", "characters/c1/avatars/avatar_1.webp", `a"b\c`, "<&>", "tab\tnl\ncr\rbs\bff\f\x00\x01\x1f\x7f",
		"café-ü 😀", "\u2028\u2029", "bad \xff\xfe utf-8 \xe2\x80", "100% what?#"}
	for i, s := range strs {
		for _, m := range []*Move{
			{Key: s, Target: "dev/" + s, Size: int64(i) - 1, ETag: s},
			{Key: s, Target: s, Rule: s, Size: 1 << 40, ETag: "e", Copy: true, TargetETag: s,
				Rewrites: []Rewrite{{Reference: s, Column: "url", PK: s, Old: s, New: s + "x", Reencoded: i%2 == 0}, {Reference: "r", Column: s, PK: "2", Old: "", New: s}}},
		} {
			if got, want := appendMoveLine(nil, m), encodingJSON(t, m); !bytes.Equal(got, want) {
				t.Errorf("%q:\n got %s\nwant %s", s, got, want)
			}
		}
	}
}

// FuzzAppendMoveLine: appendMoveLine writes what encoding/json writes, byte for byte.
func FuzzAppendMoveLine(f *testing.F) {
	f.Add("characters/c1/a.webp", "https://media.charhub.app/characters/c1/a.webp", int64(3), true, true)
	f.Add("a\"\\\x00\u2028\xff", "", int64(-1), false, false)
	f.Fuzz(func(t *testing.T, key, old string, size int64, copy, reencoded bool) {
		m := &Move{Key: key, Target: "dev/" + key, Size: size, ETag: old, Copy: copy}
		if reencoded {
			m.Rewrites = []Rewrite{{Reference: key, Column: old, PK: key, Old: old, New: key, Reencoded: true}}
		}
		if got, want := appendMoveLine(nil, m), encodingJSON(t, m); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}
