package plan

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzSeedPlan is a small but complete plan: a header with references and variables,
// a move with rewrites (awkward keys included), a deletion, a conflict and a dangling
// reference.
func fuzzSeedPlan() *Plan {
	return &Plan{
		Header: Header{
			ToolVersion:  "v0.0.0-fuzz",
			CreatedAt:    time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
			ConfigDigest: "sha256:00",
			Bucket:       BucketID{Endpoint: "127.0.0.1:9000", Name: "media"},
			Database:     DatabaseID{Driver: "postgres", Host: "127.0.0.1:5432", Name: "app"},
			Variables:    map[string]string{"NODE_ENV": "development"},
			PublicURL:    "https://media.charhub.app",
			References: []Reference{
				{Name: "character_image", Table: "CharacterImage", PrimaryKey: "id", KeyColumn: "key", URLColumn: "url"},
				{Name: "curated_image", Table: "CuratedImage", PrimaryKey: "id", KeyColumn: "r2Key", URLColumn: "r2Url", Where: `"uploadedToR2" = true`},
			},
		},
		Moves: []Move{{
			Key: "characters/c1/avatars/my avatar.webp", Target: "dev/characters/c1/avatars/my avatar.webp",
			Rule: "environment", Size: 12, ETag: "0123456789abcdef0123456789abcdef", Copy: true,
			Rewrites: []Rewrite{
				{Reference: "character_image", Column: "key", PK: "i02", Old: "characters/c1/avatars/my avatar.webp", New: "dev/characters/c1/avatars/my avatar.webp"},
				{Reference: "character_image", Column: "url", PK: "i02", Old: "https://media.charhub.app/characters/c1/avatars/my%20avatar.webp", New: "https://media.charhub.app/dev/characters/c1/avatars/my%20avatar.webp"},
			},
		}, {
			Key: "characters/c7/avatars/café.webp", Target: "dev/characters/c7/avatars/café.webp",
			Size: 3, ETag: "abc-2", Copy: false, TargetETag: "abc-2",
		}},
		Deletes:   []Deletion{{Key: "orphan/<nobody>&.webp", Reason: ReasonOrphan, Size: 1, ETag: "e", Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}},
		Conflicts: []Conflict{{Key: "a", Target: "dev/a", Size: 1, ETag: "x", TargetSize: 2, TargetETag: "y", Rows: 1}},
		Dangling:  []Dangling{{Reference: "character_image", Column: "key", PK: "i13", Value: "characters/gone.webp", Key: "characters/gone.webp"}},
	}
}

// readAll decodes a plan file into a Plan (entries kept in their kinds, in file order).
func readAll(data []byte) (*Plan, string, error) {
	var p Plan
	hdr, digest, err := Read(bytes.NewReader(data), func(e Entry) error {
		switch {
		case e.Move != nil:
			p.Moves = append(p.Moves, *e.Move)
		case e.Delete != nil:
			p.Deletes = append(p.Deletes, *e.Delete)
		case e.Dangling != nil:
			p.Dangling = append(p.Dangling, *e.Dangling)
		case e.Conflict != nil:
			p.Conflicts = append(p.Conflicts, *e.Conflict)
		default:
			return errors.New("an entry with no field set")
		}
		return nil
	})
	p.Header = hdr
	return &p, digest, err
}

// FuzzRead checks that no input makes Read panic, that what Read accepts has a digest,
// and that an accepted file re-encodes consistently: writing what was read gives a file
// Read accepts with the digest Write returned, and writing that again gives the same
// bytes.
func FuzzRead(f *testing.F) {
	var good bytes.Buffer
	if _, err := Write(&good, fuzzSeedPlan()); err != nil {
		f.Fatal(err)
	}
	var empty bytes.Buffer
	if _, err := Write(&empty, &Plan{}); err != nil {
		f.Fatal(err)
	}
	g := good.String()
	f.Add(good.Bytes())
	f.Add(empty.Bytes())
	f.Add([]byte(g[:len(g)/2]))                                                              // truncated
	f.Add([]byte(strings.Replace(g, `"size":12`, `"size":13`, 1)))                           // edited change
	f.Add([]byte(strings.Replace(g, `"format_version":"1.3"`, `"format_version":"9.0"`, 1))) // unknown major
	f.Add([]byte(g + "{}\n"))                                                                // data after the end line
	f.Add([]byte(strings.Replace(g, `"type":"move"`, `"type":"mystery"`, 1)))                // unknown entry
	f.Add([]byte("{\"type\":\"header\",\"format_version\":\"1.0\"}\n{\"type\":\"end\",\"lines\":0,\"digest\":\"\"}\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte{})
	f.Add([]byte("{\"type\":\"header\",\"format_version\":\"x\"}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		p, digest, err := readAll(data)
		if err != nil {
			if digest != "" {
				t.Fatalf("Read failed (%v) but returned a digest", err)
			}
			return
		}
		if !strings.HasPrefix(digest, "sha256:") {
			t.Fatalf("accepted with digest %q", digest)
		}
		var b1 bytes.Buffer
		d1, err := Write(&b1, p)
		if err != nil {
			t.Fatalf("re-encoding an accepted plan: %v", err)
		}
		p2, d2, err := readAll(b1.Bytes())
		if err != nil {
			t.Fatalf("Read refuses what Write wrote from an accepted plan: %v\n%s", err, b1.Bytes())
		}
		if d2 != d1 {
			t.Fatalf("Read's digest %s differs from Write's %s", d2, d1)
		}
		var b2 bytes.Buffer
		if _, err := Write(&b2, p2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1.Bytes(), b2.Bytes()) {
			t.Fatalf("re-encoding is not stable:\n%s\n---\n%s", b1.Bytes(), b2.Bytes())
		}
	})
}
