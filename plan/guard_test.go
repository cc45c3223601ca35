package plan

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// An object that only a column no reference declares names is never deleted: not as
// an orphan, not as a moved source past its grace period. The columns are read early,
// beside the listing (the config bounds what may be deleted); when that read admits too
// much, or fails, they are read again once the doomed keys are known.
func TestGuardKeepsUndeclared(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int   // aheadMaxBytes
		fail     error // the early read's error
		calls    int
	}{
		{"early", aheadMaxBytes, nil, 1},
		{"early read too big", 10, nil, 2},
		{"early read fails", aheadMaxBytes, errors.New("connection reset"), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func(n int) { aheadMaxBytes = n }(aheadMaxBytes)
			aheadMaxBytes = tc.maxBytes
			testGuardKeepsUndeclared(t, tc.fail, tc.calls)
		})
	}
}

func testGuardKeepsUndeclared(t *testing.T, fail error, wantCalls int) {
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
	calls := 0
	called := make(chan struct{})
	list := in.Objects
	in.Objects = func(yield func(Object) error) error {
		if err := list(yield); err != nil {
			return err
		}
		select {
		case <-called:
			return nil
		case <-time.After(time.Minute):
			return errors.New("the listing ended before the undeclared columns were read, though the config bounds what may be deleted")
		}
	}
	in.Undeclared = func(_ context.Context, filter *Prefilter, yield func(column, value string) error) error {
		calls++
		if filter == nil {
			t.Error("no prefilter for three doomed keys")
		}
		if calls == 1 {
			close(called)
			if fail != nil {
				return fail
			}
		}
		left = nil
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
	if calls != wantCalls {
		t.Errorf("the undeclared columns read %d times, want %d", calls, wantCalls)
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

// When the config does not bound what may be deleted (a rule that moves every key, an
// orphan scope of the whole bucket), the columns are read once the listing is done,
// with a prefilter of the objects that may be deleted: here not those in dev/, nor an
// object too recent to be an orphan.
func TestGuardReadsAfterListing(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := now.Add(-48 * time.Hour)
	in := inputs([]Object{
		{Key: "characters/1.webp", Size: 1, ETag: "a", Modified: old}, // an orphan
		{Key: "curated/3.webp", Size: 1, ETag: "c", Modified: old},    // referenced: moved
		{Key: "dev/curated/9.webp", Size: 1, ETag: "e", Modified: old},
		{Key: "dev/stories/2.webp", Size: 1, ETag: "b", Modified: old},
		{Key: "stories/2.webp", Size: 1, ETag: "b", Modified: old}, // a settled source
		{Key: "posters/4.webp", Size: 1, ETag: "d", Modified: now}, // unreferenced, but young
	}, map[string][]Row{"image": {{PK: "1", Values: []*string{ptr("curated/3.webp"), nil}}, {PK: "2", Values: []*string{ptr("dev/curated/9.webp"), nil}}}})
	in.Now = now
	in.GracePeriod = time.Hour
	in.Orphans = &Orphans{Scope: []string{""}, Protect: []string{"dev/", "prod/"}, MinAge: time.Hour}
	in.Matcher = NewMatcher("https://media.charhub.app")
	listed := make(chan struct{})
	list := in.Objects
	in.Objects = func(yield func(Object) error) error {
		defer close(listed)
		return list(yield)
	}
	var segments []string
	in.Undeclared = func(_ context.Context, filter *Prefilter, yield func(column, value string) error) error {
		select {
		case <-listed:
		default:
			t.Error("the undeclared columns read before the listing says what may be deleted")
		}
		if filter == nil {
			t.Fatal("no prefilter")
		}
		segments = append(segments, filter.Segments...)
		return yield("User.avatarUrl", "https://media.charhub.app/stories/2.webp")
	}
	p, err := makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"characters/", "curated/", "stories/"}, segments); diff != "" {
		t.Errorf("the read's prefilter's segments (-want +got):\n%s", diff)
	}
	want := []Deletion{{Key: "characters/1.webp", Reason: ReasonOrphan, Size: 1, ETag: "a", Modified: old}}
	if diff := cmp.Diff(want, p.Deletes); diff != "" {
		t.Errorf("deletions (-want +got):\n%s", diff)
	}
	if s := p.Header.Summary; s.KeptUndeclared != 1 {
		t.Errorf("kept %d objects named by undeclared columns, want 1 (stories/2.webp)", s.KeptUndeclared)
	}
}

// A plan that may delete but deletes nothing stops the read it started early, and
// keeps nothing for it.
func TestGuardStopsEarlyRead(t *testing.T) {
	old := time.Now().Add(-48 * time.Hour)
	in := inputs([]Object{{Key: "dev/a/1.png", Size: 1, ETag: "a", Modified: old}},
		map[string][]Row{"image": {{PK: "1", Values: []*string{ptr("dev/a/1.png"), nil}}}})
	in.Orphans = &Orphans{Scope: []string{"dev/"}, MinAge: time.Hour}
	in.Layout.Rules = nil
	calls := 0
	in.Undeclared = func(ctx context.Context, _ *Prefilter, yield func(column, value string) error) error {
		calls++
		if err := yield("User.avatarUrl", "dev/a/1.png"); err != nil {
			return err
		}
		<-ctx.Done() // a long read: only the planner ends it
		return ctx.Err()
	}
	p, err := makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Header.Summary; calls != 1 || s.Deletes != 0 || s.KeptUndeclared != 0 || len(s.Undeclared) != 0 {
		t.Errorf("read %d times; deletes %d, kept %d, columns %v; want 1, 0, 0, none", calls, s.Deletes, s.KeptUndeclared, s.Undeclared)
	}
}

// A plan that cannot delete reads no undeclared column.
func TestGuardOnlyWithDeletions(t *testing.T) {
	in := inputs([]Object{{Key: "a", ETag: "x"}}, nil)
	in.Undeclared = func(context.Context, *Prefilter, func(column, value string) error) error {
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
		in.Undeclared = func(_ context.Context, _ *Prefilter, yield func(column, value string) error) error {
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
