package plan

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ptr(s string) *string { return &s }

// listing streams objects as a bucket's listing does.
func listing(objects []Object) func(yield func(Object) error) error {
	return func(yield func(Object) error) error {
		for _, o := range objects {
			if err := yield(o); err != nil {
				return err
			}
		}
		return nil
	}
}

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
		Objects: listing(objects),
		Rows: func(_ context.Context, ref Reference, yield func(Row) error) error {
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
			{Reference: "story", Column: "coverImage", PK: "s1", Old: "https://media.charhub.app/a b+c.webp", New: "https://media.charhub.app/dev/a b+c.webp"},
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
	// Values and rows are counted apart: image row 1 rewrites its key and its URL.
	type counts struct {
		Name                  string
		Rewrites, RewriteRows int
		Columns               []ColumnSummary
	}
	var gotRefs []counts
	for _, r := range s.References {
		gotRefs = append(gotRefs, counts{r.Name, r.Rewrites, r.RewriteRows, r.Columns})
	}
	wantRefs := []counts{
		{"image", 4, 3, []ColumnSummary{{"key", 1}, {"url", 3}}},
		{"story", 1, 1, []ColumnSummary{{"coverImage", 1}}},
	}
	if diff := cmp.Diff(wantRefs, gotRefs); diff != "" || s.RewriteRows != 4 {
		t.Errorf("reference rewrites, rows and columns (-want +got):\n%s\nsummary rewrite rows = %d, want 4", diff, s.RewriteRows)
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
		"future major":  bytes.Replace(buf.Bytes(), []byte(`"format_version":"1.3"`), []byte(`"format_version":"2.0"`), 1),
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

// TestMakeURLText checks that a rewritten URL keeps the application's text: only the
// part of the key the move changes is spelled anew, and a later plan finds every
// rewritten row current.
func TestMakeURLText(t *testing.T) {
	const base = "https://media.charhub.app/"
	keys := []string{"characters/plus+sign/x+y.webp", "characters/q?x=1/h#frag.webp", "a b.webp", "q=1.webp",
		"café.webp", "v.webp", "q.webp?v=2", "dev/q.webp", "img/x+y.png", "100%.webp"}
	tests := map[string]struct {
		in, want string // after base
		re       bool
	}{
		"plus raw":             {"characters/plus+sign/x+y.webp", "dev/characters/plus+sign/x+y.webp", false},
		"plus encoded":         {"characters/plus%2Bsign/x%2By.webp", "dev/characters/plus%2Bsign/x%2By.webp", false},
		"plus lower-case hex":  {"characters/plus%2bsign/x%2by.webp", "dev/characters/plus%2bsign/x%2by.webp", false},
		"question and hash":    {"characters/q%3Fx=1/h%23frag.webp", "dev/characters/q%3Fx=1/h%23frag.webp", false},
		"equals encoded":       {"characters/q%3Fx%3D1/h%23frag.webp", "dev/characters/q%3Fx%3D1/h%23frag.webp", false},
		"space encoded":        {"a%20b.webp", "dev/a%20b.webp", false},
		"space raw":            {"a b.webp", "dev/a b.webp", false},
		"equals raw":           {"q=1.webp", "dev/q=1.webp", false},
		"equals encoded again": {"q%3D1.webp", "dev/q%3D1.webp", false},
		"unicode raw":          {"café.webp", "dev/café.webp", false},
		"unicode encoded":      {"caf%C3%A9.webp", "dev/caf%C3%A9.webp", false},
		"unicode lower hex":    {"caf%c3%a9.webp", "dev/caf%c3%a9.webp", false},
		"query":                {"v.webp?v=2", "dev/v.webp?v=2", false},
		"fragment":             {"v.webp#frag", "dev/v.webp#frag", false},
		"literal percent":      {"100%.webp", "dev/100%.webp", false},
		// The key is "q.webp?v=2" written raw; kept as is, the new text would first read
		// as dev/q.webp, another object: the key is spelled canonically instead.
		"literal query, taken": {"q.webp?v=2", "dev/q.webp%3Fv%3D2", true},
		// A regex that changes the tail spells what it changes canonically.
		"regex tail": {"img/x+y.png?s=1", "dev/img/x%2By.webp?s=1", true},
	}
	var objects []Object
	for _, k := range keys {
		objects = append(objects, Object{Key: k, Size: 1, ETag: `"e"`})
	}
	var rows []Row
	for name, tc := range tests {
		rows = append(rows, Row{PK: name, Values: []*string{ptr(base + tc.in)}})
	}
	in := inputs(objects, map[string][]Row{"story": rows})
	in.Layout.Rules = []Rule{regexRule("png", `img/(.+)\.png`, "dev/img/$1.webp"), prefixRule("all", "", "dev/")}
	p, err := makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		New       string
		Reencoded bool
	}
	got := make(map[string]result)
	for _, m := range p.Moves {
		for _, rw := range m.Rewrites {
			got[rw.PK] = result{rw.New, rw.Reencoded}
		}
	}
	want := make(map[string]result)
	reencoded := 0
	for name, tc := range tests {
		want[name] = result{base + tc.want, tc.re}
		if tc.re {
			reencoded++
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rewrites (-want +got):\n%s", diff)
	}
	if s := p.Header.Summary; s.Reencoded != reencoded || s.Dangling != 0 {
		t.Errorf("summary reencoded = %d, dangling = %d; want %d, 0", s.Reencoded, s.Dangling, reencoded)
	}

	// After apply: targets copied, rows rewritten. Nothing is left to rewrite, and no
	// rewritten row dangles.
	for _, m := range p.Moves {
		objects = append(objects, Object{Key: m.Target, Size: 1, ETag: `"e"`})
	}
	rows = rows[:0]
	for name, r := range got {
		rows = append(rows, Row{PK: name, Values: []*string{ptr(r.New)}})
	}
	in = inputs(objects, map[string][]Row{"story": rows})
	in.Layout.Rules = []Rule{regexRule("png", `img/(.+)\.png`, "dev/img/$1.webp"), prefixRule("all", "", "dev/")}
	p, err = makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Header.Summary; s.Rewrites != 0 || s.Dangling != 0 || s.References[1].Current != len(tests) {
		t.Errorf("after apply: rewrites = %d, dangling = %d, refs = %+v; want 0, 0, all %d current", s.Rewrites, s.Dangling, s.References, len(tests))
	}
}

// TestReadFormatMinors checks that a rewrite's reencoded mark survives a round trip and
// that a plan written before the mark existed (format 1.0) still reads, unmarked.
func TestReadFormatMinors(t *testing.T) {
	rw := Rewrite{Reference: "story", Column: "coverImage", PK: "s1", Old: "https://m/img/x+y.png", New: "https://m/dev/img/x%2By.webp", Reencoded: true}
	p := &Plan{Moves: []Move{{Key: "img/x+y.png", Target: "dev/img/x+y.webp", Size: 1, ETag: "e", Copy: true, Rewrites: []Rewrite{rw}}}}
	p.Header.Summary.Rewrites, p.Header.Summary.Reencoded = 1, 1
	var buf bytes.Buffer
	if _, err := Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	got, _, err := readAll(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p.Moves, got.Moves); diff != "" || got.Header.Summary.Reencoded != 1 {
		t.Errorf("round trip (-want +got):\n%s\nsummary reencoded = %d", diff, got.Header.Summary.Reencoded)
	}

	body := `{"type":"header","format_version":"1.0","tool_version":"v0.1.0","created_at":"2025-01-02T03:04:05Z","config_digest":"sha256:00","bucket":{"endpoint":"e","name":"b"},"database":{"driver":"sqlite","name":"app"},"references":null,"summary":{"objects":1,"bytes":1,"placed":0,"unmatched":0,"copies":1,"copy_bytes":1,"rewrites":1,"deletes":0,"delete_bytes":0,"deletes_moved":0,"deletes_orphan":0,"deletes_revert":0,"kept":0,"orphans_young":0,"conflicts":0,"dangling":0,"foreign":0,"references":null,"prefixes":null}}
{"type":"move","key":"a+b","target":"dev/a+b","size":1,"etag":"e","copy":true,"rewrites":[{"reference":"story","column":"url","pk":"1","old":"https://m/a%2Bb","new":"https://m/dev/a%2Bb"}]}
`
	sum := sha256.Sum256([]byte(body))
	old := body + `{"type":"end","lines":1,"digest":"sha256:` + hex.EncodeToString(sum[:]) + "\"}\n"
	got, _, err = readAll([]byte(old))
	if err != nil {
		t.Fatalf("a format 1.0 plan: %v", err)
	}
	want := []Rewrite{{Reference: "story", Column: "url", PK: "1", Old: "https://m/a%2Bb", New: "https://m/dev/a%2Bb"}}
	if diff := cmp.Diff(want, got.Moves[0].Rewrites); diff != "" || got.Header.Summary.Reencoded != 0 {
		t.Errorf("format 1.0 rewrites (-want +got):\n%s\nsummary reencoded = %d", diff, got.Header.Summary.Reencoded)
	}
}
