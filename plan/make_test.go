package plan

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr(s string) *string { return &s }

func inputs(objects []Object, refs map[string][]Row) Inputs {
	urls, _ := NewURLs("https://media.charhub.app")
	return Inputs{
		Layout:      Layout{Placed: []string{"dev/", "prod/"}, Rules: []Rule{prefixRule("all", "", "dev/")}},
		URLs:        urls,
		Now:         time.Now(),
		GracePeriod: 168 * time.Hour,
		References: []Reference{
			{Name: "image", Table: "CharacterImage", PrimaryKey: "id", KeyColumn: "key", URLColumn: "url"},
			{Name: "story", Table: "Story", PrimaryKey: "id", URLColumn: "coverImage"},
		},
		Objects: func(yield func(Object) error) error {
			for _, o := range objects {
				if err := yield(o); err != nil {
					return err
				}
			}
			return nil
		},
		Rows: func(ref Reference, yield func(Row) error) error {
			for _, r := range refs[ref.Name] {
				if err := yield(r); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func TestMake(t *testing.T) {
	objects := []Object{
		{Key: "characters/1/a.webp", Size: 3, ETag: `"e1"`},
		{Key: "a b+c.webp", Size: 4, ETag: `"e2"`},
		{Key: "dev/already.webp", Size: 5, ETag: `"e3"`},
		{Key: "copied.webp", Size: 6, ETag: `"e4"`},
		{Key: "dev/copied.webp", Size: 6, ETag: `"e4"`},
		{Key: "clash.webp", Size: 7, ETag: `"e5"`},
		{Key: "dev/clash.webp", Size: 7, ETag: `"other"`},
		{Key: "kept.webp", Size: 1, ETag: `"e6"`},
		{Key: "dev/kept.webp", Size: 1, ETag: `"e6"`},
	}
	refs := map[string][]Row{
		"image": {
			{PK: "1", Values: []*string{ptr("characters/1/a.webp"), ptr("https://media.charhub.app/characters/1/a.webp?v=1")}},
			{PK: "2", Values: []*string{nil, ptr("https://media.charhub.app/a%20b%2Bc.webp")}},
			{PK: "3", Values: []*string{ptr("dev/already.webp"), ptr("https://cdn.example.com/x.webp")}},
			{PK: "4", Values: []*string{ptr("gone.webp"), ptr("https://media.charhub.app/copied.webp")}},
			{PK: "5", Values: []*string{ptr("clash.webp"), nil}},
			{PK: "6", Values: []*string{ptr("characters/1/a.web"), nil}}, // a prefix of a key: no match
		},
		"story": {
			{PK: "s1", Values: []*string{ptr("https://media.charhub.app/a b+c.webp")}}, // written unencoded
		},
	}
	p, err := makeInMemory(t, inputs(objects, refs))
	if err != nil {
		t.Fatal(err)
	}
	wantMoves := []Move{
		{Key: "a b+c.webp", Target: "dev/a b+c.webp", Rule: "all", Size: 4, ETag: `"e2"`, Copy: true, Rewrites: []Rewrite{
			{Reference: "image", Column: "url", PK: "2", Old: "https://media.charhub.app/a%20b%2Bc.webp", New: "https://media.charhub.app/dev/a%20b%2Bc.webp"},
			{Reference: "story", Column: "coverImage", PK: "s1", Old: "https://media.charhub.app/a b+c.webp", New: "https://media.charhub.app/dev/a%20b%2Bc.webp"},
		}},
		{Key: "characters/1/a.webp", Target: "dev/characters/1/a.webp", Rule: "all", Size: 3, ETag: `"e1"`, Copy: true, Rewrites: []Rewrite{
			{Reference: "image", Column: "key", PK: "1", Old: "characters/1/a.webp", New: "dev/characters/1/a.webp"},
			{Reference: "image", Column: "url", PK: "1", Old: "https://media.charhub.app/characters/1/a.webp?v=1", New: "https://media.charhub.app/dev/characters/1/a.webp?v=1"},
		}},
		{Key: "copied.webp", Target: "dev/copied.webp", Rule: "all", Size: 6, ETag: `"e4"`, TargetETag: `"e4"`, Rewrites: []Rewrite{
			{Reference: "image", Column: "url", PK: "4", Old: "https://media.charhub.app/copied.webp", New: "https://media.charhub.app/dev/copied.webp"},
		}},
	}
	if diff := cmp.Diff(wantMoves, p.Moves); diff != "" {
		t.Errorf("moves (-want +got):\n%s", diff)
	}
	wantDangling := []Dangling{
		{Reference: "image", Column: "key", PK: "4", Value: "gone.webp", Key: "gone.webp"},
		{Reference: "image", Column: "key", PK: "6", Value: "characters/1/a.web", Key: "characters/1/a.web"},
	}
	if diff := cmp.Diff(wantDangling, p.Dangling); diff != "" {
		t.Errorf("dangling (-want +got):\n%s", diff)
	}
	wantConflicts := []Conflict{{Key: "clash.webp", Target: "dev/clash.webp", Reason: ReasonTargetDiffers, Size: 7, ETag: `"e5"`, TargetSize: 7, TargetETag: `"other"`, Rows: 1}}
	if diff := cmp.Diff(wantConflicts, p.Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	s := p.Header.Summary
	got := []int{s.Objects, s.Placed, s.Copies, s.Rewrites, s.Kept, s.Conflicts, s.Dangling, s.Foreign}
	if diff := cmp.Diff([]int{9, 4, 2, 5, 1, 1, 2, 1}, got); diff != "" {
		t.Errorf("summary objects, placed, copies, rewrites, kept, conflicts, dangling, foreign (-want +got):\n%s", diff)
	}
}

func TestMakeCollisions(t *testing.T) {
	tests := map[string]struct {
		objects []Object
		rules   []Rule
		want    string
	}{
		"two keys one target": {
			objects: []Object{{Key: "a/x.webp"}, {Key: "b/x.webp"}},
			rules:   []Rule{prefixRule("a", "a/", "dev/"), prefixRule("b", "b/", "dev/")},
			want:    `"a/x.webp" and "b/x.webp" both map to "dev/x.webp"`,
		},
		"targets differ only in normalisation": {
			objects: []Object{{Key: "caf\u00e9"}, {Key: "cafe\u0301"}},
			rules:   []Rule{prefixRule("all", "", "dev/")},
			want:    "both map to",
		},
		"target normalises onto an existing key": {
			objects: []Object{{Key: "caf\u00e9"}, {Key: "dev/cafe\u0301"}},
			rules:   []Rule{prefixRule("all", "", "dev/")},
			want:    `"caf\u00e9" and "dev/cafe\u0301"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := inputs(tc.objects, nil)
			in.Layout.Rules = tc.rules
			_, err := Make(in)
			var ce *CollisionError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a collision naming %s", err, tc.want)
			}
		})
	}
}

func TestMakeOutsidePlaced(t *testing.T) {
	in := inputs([]Object{{Key: "a"}}, nil)
	in.Layout.Rules = []Rule{prefixRule("bad", "", "elsewhere/")}
	_, err := Make(in)
	var oe *OutsideError
	if !errors.As(err, &oe) {
		t.Fatalf("err = %v, want OutsideError", err)
	}
}

func TestMakeAfterApplyHasNoChanges(t *testing.T) {
	objects := []Object{
		{Key: "a.webp", Size: 1, ETag: `"e"`}, {Key: "dev/a.webp", Size: 1, ETag: `"e"`},
	}
	refs := map[string][]Row{"image": {{PK: "1", Values: []*string{ptr("dev/a.webp"), ptr("https://media.charhub.app/dev/a.webp")}}}}
	p, err := makeInMemory(t, inputs(objects, refs))
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Header.Summary.Changes(); n != 0 || len(p.Moves) != 0 || p.Header.Summary.Kept != 1 {
		t.Errorf("changes = %d, moves = %v, kept = %d; want none and one kept source", n, p.Moves, p.Header.Summary.Kept)
	}
}

func TestFileRoundTripAndTamper(t *testing.T) {
	objects := []Object{{Key: "a.webp", Size: 1, ETag: `"e"`}, {Key: "b.webp", Size: 2, ETag: `"f"`}}
	refs := map[string][]Row{"image": {{PK: "1", Values: []*string{ptr("a.webp"), ptr("https://media.charhub.app/nothere")}}}}
	p, err := makeInMemory(t, inputs(objects, refs))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	digest, err := Write(&buf, p)
	if err != nil {
		t.Fatal(err)
	}
	var got Plan
	hdr, d2, err := Read(bytes.NewReader(buf.Bytes()), func(e Entry) error {
		switch {
		case e.Move != nil:
			got.Moves = append(got.Moves, *e.Move)
		case e.Dangling != nil:
			got.Dangling = append(got.Dangling, *e.Dangling)
		}
		return nil
	})
	if err != nil || d2 != digest {
		t.Fatalf("Read: %v (digest %s, want %s)", err, d2, digest)
	}
	if diff := cmp.Diff(p.Moves, got.Moves); diff != "" {
		t.Errorf("moves differ after round trip:\n%s", diff)
	}
	if diff := cmp.Diff(p.Dangling, got.Dangling); diff != "" {
		t.Errorf("dangling differ after round trip:\n%s", diff)
	}
	if hdr.FormatVersion != FormatVersion || hdr.Summary.Copies != 2 {
		t.Errorf("header = %+v", hdr)
	}

	tampered := map[string][]byte{
		"edited change": bytes.Replace(buf.Bytes(), []byte(`"dev/b.webp"`), []byte(`"dev/c.webp"`), 1),
		"truncated":     buf.Bytes()[:buf.Len()-20],
		"line removed":  removeLine(buf.Bytes(), 2),
		"future major":  bytes.Replace(buf.Bytes(), []byte(`"format_version":"1.1"`), []byte(`"format_version":"2.0"`), 1),
		"empty":         nil,
		"not a plan":    []byte("{\"hello\":1}\n"),
	}
	for name, b := range tampered {
		if _, _, err := Read(bytes.NewReader(b), nil); err == nil {
			t.Errorf("%s: Read accepted a bad plan", name)
		}
	}
}

func removeLine(b []byte, i int) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	return bytes.Join(append(lines[:i:i], lines[i+1:]...), nil)
}

func TestMakeMultipartCopyRecognised(t *testing.T) {
	objects := []Object{
		{Key: "big.bin", Size: 10, ETag: "abc-2"}, {Key: "dev/big.bin", Size: 10, ETag: "def"},
		{Key: "other.bin", Size: 10, ETag: "xyz-2"}, {Key: "dev/other.bin", Size: 10, ETag: "uvw"},
	}
	in := inputs(objects, nil)
	var asked []string
	in.HoldsCopy = func(key, target, etag string, size int64) (bool, error) {
		asked = append(asked, key)
		return key == "big.bin", nil
	}
	p, err := makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"big.bin", "other.bin"}, asked); diff != "" {
		t.Errorf("HoldsCopy calls (-want +got):\n%s", diff)
	}
	if s := p.Header.Summary; s.Kept != 1 || s.Conflicts != 1 || s.Copies != 0 {
		t.Errorf("kept %d, conflicts %d, copies %d; want 1, 1, 0", s.Kept, s.Conflicts, s.Copies)
	}
}

func TestUnsafeTargets(t *testing.T) {
	long := strings.Repeat("k", 1022) // "dev/" makes it 1026 bytes
	tests := map[string]string{
		"a/../b":           `".." path segment`,
		"a/./b":            `"." path segment`,
		"ctl\x01.webp":     "control character U+0001",
		"del\x7f":          "control character U+007F",
		"bad\xff.webp":     "not valid UTF-8",
		long:               "1026 bytes",
		"fine..name.webp":  "",
		"a//b/c.webp":      "",
		"dev-ok/é ü+%.bin": "",
	}
	for key, want := range tests {
		in := inputs([]Object{{Key: key, Size: 1, ETag: "e"}}, nil)
		p, err := makeInMemory(t, in)
		if err != nil {
			t.Fatalf("%q: %v", key, err)
		}
		switch {
		case want == "" && (len(p.Conflicts) != 0 || len(p.Moves) != 1):
			t.Errorf("%q: conflicts %v, want a plain move", key, p.Conflicts)
		case want != "" && (len(p.Conflicts) != 1 || !strings.Contains(p.Conflicts[0].Reason, want)):
			t.Errorf("%q: conflicts %v, want one whose reason says %q", key, p.Conflicts, want)
		}
	}
	if got := UnsafeKey("/leading"); !strings.Contains(got, `starts with "/"`) {
		t.Errorf("UnsafeKey(/leading) = %q", got)
	}
}

// makeInMemory runs Make and reads the plan's streamed body into Moves and Deletes, so
// tests can compare them.
func makeInMemory(t *testing.T, in Inputs) (*Plan, error) {
	t.Helper()
	p, err := Make(in)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { p.Close() })
	var moves []Move
	var dels []Deletion
	err = p.body(func(e Entry) error {
		if e.Move != nil {
			moves = append(moves, *e.Move)
		} else {
			dels = append(dels, *e.Delete)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Moves, p.Deletes, p.body = moves, dels, nil
	return p, nil
}
