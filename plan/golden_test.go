package plan

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden plan files under testdata/golden")

// TestGoldenPlan writes the plan of a fixed bucket and fixed rows, with every kind of
// entry (a copy, a rewrite only, a moved source and an orphan deleted, a conflict, a
// dangling row), and compares the file byte for byte with testdata/golden/charhub.plan:
// a change of the plan file's format shows in review. go test ./plan -run
// TestGoldenPlan -update rewrites it; then Read must read it back.
func TestGoldenPlan(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old := now.Add(-60 * 24 * time.Hour)
	objects := []Object{
		{Key: "characters/1/a.webp", Size: 3, ETag: "e1", Modified: old},
		{Key: "a b+c.webp", Size: 4, ETag: "e2", Modified: old},
		{Key: "copied.webp", Size: 6, ETag: "e4", Modified: old},
		{Key: "dev/copied.webp", Size: 6, ETag: "e4", Modified: old},
		{Key: "clash.webp", Size: 7, ETag: "e5", Modified: old},
		{Key: "dev/clash.webp", Size: 7, ETag: "other", Modified: old},
		{Key: "done.webp", Size: 8, ETag: "e6", Modified: old},
		{Key: "dev/done.webp", Size: 8, ETag: "e6", Modified: old},
		{Key: "tmp/orphan.bin", Size: 9, ETag: "e7", Modified: old},
	}
	refs := map[string][]Row{
		"image": {
			{PK: "1", Values: []*string{ptr("characters/1/a.webp"), ptr("https://media.charhub.app/characters/1/a.webp?v=1")}},
			{PK: "2", Values: []*string{nil, ptr("https://media.charhub.app/a%20b%2Bc.webp")}},
			{PK: "4", Values: []*string{ptr("gone.webp"), ptr("https://media.charhub.app/copied.webp")}},
			{PK: "5", Values: []*string{ptr("clash.webp"), nil}},
		},
	}
	in := inputs(objects, refs)
	in.Now = now
	in.Layout.Placed = []string{"dev/", "prod/", "tmp/"}
	in.Layout.Rules = []Rule{prefixRule("all", "", "dev/")}
	in.Orphans = &Orphans{Scope: []string{"tmp/"}, MinAge: 24 * time.Hour}
	in.Moved = func(yield func(string, time.Time) error) error { return yield("done.webp", old) }
	p, err := Make(in)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Header.ToolVersion = "golden"
	p.Header.CreatedAt = now
	p.Header.ConfigDigest = "sha256:0000"
	p.Header.Bucket = BucketID{Endpoint: "example.r2.cloudflarestorage.com", Name: "media"}
	p.Header.Database = DatabaseID{Driver: "postgres", Host: "db:5432", Name: "app"}
	p.Header.Variables = map[string]string{"NODE_ENV": "development"}
	p.Header.PublicURL = "https://media.charhub.app"
	p.Header.References = in.References
	p.Header.Summary.SetDeleteBudget(1000)
	var buf bytes.Buffer
	if _, err := Write(&buf, p); err != nil {
		t.Fatal(err)
	}
	kinds := map[Action]int{}
	if _, _, err := Read(bytes.NewReader(buf.Bytes()), func(e Entry) error { kinds[e.Action()]++; return nil }); err != nil {
		t.Fatal(err)
	}
	for a := ActionCopy; a <= ActionDangling; a++ {
		if kinds[a] == 0 {
			t.Errorf("the golden plan has no %s entry: %v", a, kinds)
		}
	}
	path := filepath.Join("testdata", "golden", "charhub.plan")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -run TestGoldenPlan -update)", err)
	}
	if !bytes.Equal(want, buf.Bytes()) {
		t.Errorf("the plan file differs from %s (if the change is intended, run go test ./plan -run TestGoldenPlan -update and review the diff):\n got: %s\nwant: %s", path, buf.Bytes(), want)
	}
}

// TestGoldenPlanOlderMinor reads the golden plan as format 1.2 wrote it (before rows
// and values to rewrite were counted apart): a later minor reads every earlier one,
// the fields it added left zero.
func TestGoldenPlanOlderMinor(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden", "charhub-1.2.plan"))
	if err != nil {
		t.Fatal(err)
	}
	entries := 0
	hdr, _, err := Read(bytes.NewReader(b), func(Entry) error { entries++; return nil })
	if err != nil {
		t.Fatalf("a format 1.2 plan: %v", err)
	}
	s := hdr.Summary
	if hdr.FormatVersion != "1.2" || entries != 7 || s.Rewrites != 4 || s.RewriteRows != 0 || s.DeleteBytesMoved != 0 {
		t.Errorf("format %s, %d entries, rewrites %d, rewrite rows %d, bytes moved %d; want 1.2, 7, 4, 0, 0",
			hdr.FormatVersion, entries, s.Rewrites, s.RewriteRows, s.DeleteBytesMoved)
	}
}
