package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// An object that only a column no reference declares names is never deleted: not as
// an orphan, not as a moved source past its grace period.
func TestGuardKeepsUndeclared(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := now.Add(-48 * time.Hour)
	objects := []Object{
		{Key: "avatars/u1.webp", Size: 1, ETag: "a", Modified: old}, // orphan, named by User.avatarUrl
		{Key: "pages/hero.png", Size: 2, ETag: "b", Modified: old},  // orphan, named in Page.body's HTML
		{Key: "orphan.bin", Size: 4, ETag: "c", Modified: old},      // orphan, named by nothing
		{Key: "moved.webp", Size: 8, ETag: "d", Modified: old},      // moved source, named in a JSON column
		{Key: "dev/moved.webp", Size: 8, ETag: "d", Modified: old},
	}
	in := inputs(objects, nil)
	in.Now = now
	in.GracePeriod = time.Hour
	in.Orphans = &Orphans{Scope: []string{"avatars/", "pages/", "orphan.bin"}, MinAge: time.Hour}
	in.Layout.Rules = []Rule{prefixRule("m", "moved", "dev/moved")}
	in.Layout.Placed = []string{"dev/"}
	in.Matcher = NewMatcher("https://media.charhub.app")
	var left []string
	in.Undeclared = func(filter *Prefilter, yield func(column, value string) error) error {
		if filter == nil {
			t.Error("no prefilter for three doomed keys")
		}
		for _, v := range [][2]string{
			{"User.avatarUrl", "https://media.charhub.app/avatars/u1.webp?v=2"},
			{"User.avatarUrl", "https://media.charhub.app/avatars/u1.webp"},
			{"User.avatarUrl", "https://media.charhub.app/users/u2.webp"},
			{"User.bio", "I like orphan.bin files"},
			{"Page.body", `<p><img src="https://media.charhub.app/pages/hero.png"></p>`},
			{"Settings.data", `{"gallery":[{"u":"https://media.charhub.app/moved.webp"}]}`},
		} {
			// As the database does: the rows the filter does not admit are not read.
			if filter != nil && !filter.Admits(v[1]) {
				left = append(left, v[1])
				continue
			}
			if err := yield(v[0], v[1]); err != nil {
				return err
			}
		}
		return nil
	}
	p, err := makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Deletion{{Key: "orphan.bin", Reason: ReasonOrphan, Size: 4, ETag: "c", Modified: old}}
	if diff := cmp.Diff(want, p.Deletes); diff != "" {
		t.Errorf("deletions (-want +got):\n%s", diff)
	}
	s := p.Header.Summary
	if s.Deletes != 1 || s.DeletesOrphan != 1 || s.DeletesMoved != 0 || s.DeleteBytes != 4 || s.KeptUndeclared != 3 {
		t.Errorf("deletes %d (orphan %d, moved %d, %d bytes), kept %d; want 1 (1, 0, 4 bytes), kept 3",
			s.Deletes, s.DeletesOrphan, s.DeletesMoved, s.DeleteBytes, s.KeptUndeclared)
	}
	if diff := cmp.Diff([]string{"https://media.charhub.app/users/u2.webp", "I like orphan.bin files"}, left); diff != "" {
		t.Errorf("values the prefilter left out (-want +got):\n%s", diff)
	}
	wantCols := []UndeclaredColumn{
		{Column: "Page.body", Rows: 1, Objects: 1, Keys: []string{"pages/hero.png"}},
		{Column: "Settings.data", Rows: 1, Objects: 1, Keys: []string{"moved.webp"}},
		{Column: "User.avatarUrl", Rows: 2, Objects: 1, Keys: []string{"avatars/u1.webp"}},
	}
	if diff := cmp.Diff(wantCols, s.Undeclared); diff != "" {
		t.Errorf("undeclared (-want +got):\n%s", diff)
	}
}

// A plan without deletions reads no undeclared column.
func TestGuardOnlyWithDeletions(t *testing.T) {
	in := inputs([]Object{{Key: "a", ETag: "x"}}, nil)
	in.Undeclared = func(*Prefilter, func(column, value string) error) error {
		t.Error("undeclared columns read by a plan without deletions")
		return nil
	}
	if _, err := makeInMemory(t, in); err != nil {
		t.Fatal(err)
	}
}

// An object two undeclared columns name is credited to the first column by name,
// whatever order the tables are read in (the guard reads several at once).
func TestGuardCreditsFirstColumnByName(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := now.Add(-48 * time.Hour)
	in := inputs([]Object{{Key: "a/1.png", Size: 1, ETag: "a", Modified: old}, {Key: "a/2.png", Size: 1, ETag: "b", Modified: old}}, nil)
	in.Now = now
	in.Orphans = &Orphans{Scope: []string{"a/"}, MinAge: time.Hour}
	in.Matcher = NewMatcher("https://media.charhub.app")
	for _, order := range [][][2]string{
		{{"B.url", "a/1.png"}, {"B.url", "a/2.png"}, {"A.url", "a/1.png"}},
		{{"A.url", "a/1.png"}, {"B.url", "a/1.png"}, {"B.url", "a/2.png"}},
	} {
		in.Undeclared = func(_ *Prefilter, yield func(column, value string) error) error {
			for _, v := range order {
				if err := yield(v[0], v[1]); err != nil {
					return err
				}
			}
			return nil
		}
		p, err := makeInMemory(t, in)
		if err != nil {
			t.Fatal(err)
		}
		want := []UndeclaredColumn{
			{Column: "A.url", Rows: 1, Objects: 1, Keys: []string{"a/1.png"}},
			{Column: "B.url", Rows: 2, Objects: 1, Keys: []string{"a/2.png"}},
		}
		if diff := cmp.Diff(want, p.Header.Summary.Undeclared); diff != "" {
			t.Errorf("read in the order %q: undeclared (-want +got):\n%s", order, diff)
		}
	}
}
