package plan

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMakeDeletions(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old, young := now.Add(-48*time.Hour), now.Add(-time.Minute)
	objects := []Object{
		{Key: "moved-long-ago.webp", Size: 1, ETag: "a", Modified: old},
		{Key: "dev/moved-long-ago.webp", Size: 1, ETag: "a", Modified: old},
		{Key: "moved-just-now.webp", Size: 2, ETag: "b", Modified: old},
		{Key: "dev/moved-just-now.webp", Size: 2, ETag: "b", Modified: young},
		{Key: "orphan-old.webp", Size: 3, ETag: "c", Modified: old},
		{Key: "orphan-young.webp", Size: 4, ETag: "d", Modified: young},
		{Key: "referenced-old.webp", Size: 5, ETag: "e", Modified: old},
		{Key: "keep/protected.webp", Size: 6, ETag: "f", Modified: old},
		{Key: "dev/unreferenced.webp", Size: 7, ETag: "g", Modified: old},
	}
	refs := map[string][]Row{"image": {{PK: "1", Values: []*string{ptr("referenced-old.webp"), nil}}}}
	in := inputs(objects, refs)
	in.Now = now
	in.GracePeriod = 24 * time.Hour
	// The journal knows one move (twice: the latest counts); the other source falls back
	// to its copy's LastModified.
	in.Moved = func(yield func(string, time.Time) error) error {
		yield("moved-just-now.webp", now.Add(-30*time.Hour))
		yield("not-listed.webp", now)
		return yield("moved-just-now.webp", now.Add(-time.Hour))
	}
	in.Orphans = &Orphans{Scope: []string{""}, Protect: []string{"dev/", "prod/", "keep/"}, MinAge: time.Hour}
	in.Layout.Rules = []Rule{prefixRule("all", "", "dev/")}
	in.Layout.Placed = []string{"dev/", "prod/", "keep/"}
	p, err := makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	want := []Deletion{
		{Key: "moved-long-ago.webp", Reason: ReasonMoved, Size: 1, ETag: "a", Modified: old, Target: "dev/moved-long-ago.webp", TargetETag: "a"},
		{Key: "orphan-old.webp", Reason: ReasonOrphan, Size: 3, ETag: "c", Modified: old},
	}
	if diff := cmp.Diff(want, p.Deletes); diff != "" {
		t.Errorf("deletions (-want +got):\n%s", diff)
	}
	s := p.Header.Summary
	if s.Kept != 1 || s.KeptFirstDue == nil || !s.KeptFirstDue.Equal(now.Add(23*time.Hour)) {
		t.Errorf("kept %d, first due %v; want 1 due at %v", s.Kept, s.KeptFirstDue, now.Add(23*time.Hour))
	}
	if s.OrphansYoung != 1 || s.DeletesOrphan != 1 || s.DeletesMoved != 1 || s.DeleteBytes != 4 {
		t.Errorf("young %d, orphan %d, moved %d, bytes %d; want 1, 1, 1, 4", s.OrphansYoung, s.DeletesOrphan, s.DeletesMoved, s.DeleteBytes)
	}
	if s.DeleteBytesMoved != 1 || s.DeleteBytesOrphan != 3 || s.DeleteBytesRevert != 0 {
		t.Errorf("bytes moved %d, orphan %d, revert %d; want 1, 3, 0", s.DeleteBytesMoved, s.DeleteBytesOrphan, s.DeleteBytesRevert)
	}
	// The young orphan and the referenced object are copied, not deleted.
	var moved []string
	for _, m := range p.Moves {
		moved = append(moved, m.Key)
	}
	if diff := cmp.Diff([]string{"orphan-young.webp", "referenced-old.webp"}, moved); diff != "" {
		t.Errorf("moves (-want +got):\n%s", diff)
	}
}

func TestMakeScope(t *testing.T) {
	objects := []Object{{Key: "a/1", ETag: "x"}, {Key: "a/b/2", ETag: "y"}, {Key: "c/3", ETag: "z"},
		{Key: "a/x+y.png", ETag: "p"}, {Key: "c/x+y.png", ETag: "q"}}
	refs := map[string][]Row{"image": {
		{PK: "1", Values: []*string{ptr("a/1"), nil}},
		{PK: "2", Values: []*string{ptr("c/3"), nil}},
	}, "story": {
		{PK: "s1", Values: []*string{ptr("https://media.charhub.app/a/x+y.png")}},
		{PK: "s2", Values: []*string{ptr("https://media.charhub.app/c/x+y.png")}},
	}}
	in := inputs(objects, refs)
	in.Layout.Rules = append([]Rule{regexRule("webp", `(.+)\.png`, "dev/$1.webp")}, in.Layout.Rules...)
	in.Scope = &Scope{Include: []string{"a/"}, Exclude: []string{"a/b/"}}
	p, err := makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	// The reencoded count, like the rewrites, covers only the rows of objects in scope.
	s := p.Header.Summary
	if len(p.Moves) != 2 || p.Moves[0].Key != "a/1" || s.Rewrites != 2 || s.Reencoded != 1 || !s.Partial {
		t.Errorf("moves %+v, rewrites %d, reencoded %d, partial %v; want a/1 and a/x+y.png with a row each, one reencoded, partial",
			p.Moves, s.Rewrites, s.Reencoded, s.Partial)
	}
}

func TestRevert(t *testing.T) {
	objects := []Object{
		{Key: "a.webp", Size: 1, ETag: "s"}, {Key: "dev/a.webp", Size: 1, ETag: "s"},
		{Key: "b.webp", Size: 2, ETag: "t"}, {Key: "dev/b.webp", Size: 2, ETag: "changed"},
	}
	list := func(yield func(Object) error) error {
		for _, o := range objects {
			if err := yield(o); err != nil {
				return err
			}
		}
		return nil
	}
	in := RevertInputs{
		PlanID:  "p1",
		Objects: list,
		// a.webp twice, as a journal written before copies were journaled once per plan
		// holds a re-applied copy: the revert deletes it once.
		Copies: []Copied{{Key: "a.webp", Target: "dev/a.webp", TargetETag: "s"}, {Key: "b.webp", Target: "dev/b.webp", TargetETag: "t"},
			{Key: "a.webp", Target: "dev/a.webp", TargetETag: "s"}},
		Rewrites: []Rewrite{{Key: "a.webp", Target: "dev/a.webp", Reference: "image", Column: "key", PK: "1",
			Old: "a.webp", New: "dev/a.webp"}},
	}
	p, err := Revert(in)
	if err != nil {
		t.Fatal(err)
	}
	wantMoves := []Move{{Key: "dev/a.webp", Target: "a.webp", Rule: "revert", Size: 1, ETag: "s", TargetETag: "s",
		Rewrites: []Rewrite{{Reference: "image", Column: "key", PK: "1", Old: "dev/a.webp", New: "a.webp"}}}}
	if diff := cmp.Diff(wantMoves, p.Moves); diff != "" {
		t.Errorf("moves (-want +got):\n%s", diff)
	}
	// dev/b.webp changed since the plan copied it: not r2plan's to delete.
	wantDeletes := []Deletion{{Key: "dev/a.webp", Reason: ReasonRevert, Size: 1, ETag: "s", Target: "a.webp", TargetETag: "s"}}
	if diff := cmp.Diff(wantDeletes, p.Deletes); diff != "" {
		t.Errorf("deletes (-want +got):\n%s", diff)
	}

	objects = objects[1:] // a.webp is gone
	_, err = Revert(in)
	var re *RevertError
	if !errors.As(err, &re) || len(re.Missing) != 1 || re.Missing[0] != "a.webp" {
		t.Errorf("err = %v, want a RevertError naming a.webp", err)
	}
}

// A row outside its reference's where filter is never rewritten, but the objects it
// names are never deleted: not a moved source, not an orphan.
func TestMakeRowsOutsideTheFilterHold(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := now.Add(-48 * time.Hour)
	objects := []Object{
		{Key: "held.webp", Size: 1, ETag: "a", Modified: old},
		{Key: "dev/held.webp", Size: 1, ETag: "a", Modified: old},
		{Key: "moving.webp", Size: 2, ETag: "b", Modified: old},
		{Key: "orphan-named.webp", Size: 3, ETag: "c", Modified: old},
	}
	refs := map[string][]Row{"image": {
		{PK: "1", Values: []*string{ptr("held.webp"), nil}, Outside: true},
		{PK: "2", Values: []*string{nil, ptr("https://media.charhub.app/orphan-named.webp")}, Outside: true},
		{PK: "3", Values: []*string{ptr("moving.webp"), nil}, Outside: true},
		{PK: "4", Values: []*string{ptr("gone.webp"), nil}, Outside: true}, // names nothing: not dangling either
	}}
	in := inputs(objects, refs)
	in.Now, in.GracePeriod = now, time.Hour
	in.Orphans = &Orphans{Scope: []string{""}, Protect: []string{"dev/"}, MinAge: time.Hour}
	in.Layout.Rules = []Rule{prefixRule("all", "", "dev/")}
	in.Layout.Placed = []string{"dev/"}
	p, err := makeInMemory(t, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Deletes) != 0 {
		t.Errorf("deletes %+v, want none", p.Deletes)
	}
	var moved []string
	for _, m := range p.Moves {
		moved = append(moved, m.Key)
		if len(m.Rewrites) != 0 {
			t.Errorf("%s: rewrites %+v of rows outside the filter", m.Key, m.Rewrites)
		}
	}
	if diff := cmp.Diff([]string{"moving.webp", "orphan-named.webp"}, moved); diff != "" {
		t.Errorf("moves (-want +got):\n%s", diff)
	}
	s := p.Header.Summary
	if s.Held != 1 || s.Outside != 3 || s.Dangling != 0 || s.Kept != 0 || s.Rewrites != 0 {
		t.Errorf("held %d, outside %d, dangling %d, kept %d, rewrites %d; want 1, 3, 0, 0, 0", s.Held, s.Outside, s.Dangling, s.Kept, s.Rewrites)
	}
}

// The delete budget counts orphans only: moved sources and reverted copies, whose
// provenance the journal records, never make a plan over it.
func TestDeleteBudget(t *testing.T) {
	tests := map[string]struct {
		s       Summary
		budget  int
		over    bool
		allow   int
		allowed bool
	}{
		"within":                        {Summary{Deletes: 3, DeletesOrphan: 3}, 3, false, 0, true},
		"orphans over":                  {Summary{Deletes: 3, DeletesOrphan: 3}, 2, true, 0, false},
		"orphans over, allowed":         {Summary{Deletes: 3, DeletesOrphan: 3}, 2, true, 3, true},
		"orphans over, allowed too few": {Summary{Deletes: 3, DeletesOrphan: 3}, 2, true, 2, false},
		"moved sources never count":     {Summary{Deletes: 2901, DeletesMoved: 2901}, 1000, false, 0, true},
		"reverted copies never count":   {Summary{Deletes: 50, DeletesRevert: 50}, 1, false, 0, true},
		"mixed: only the orphans count": {Summary{Deletes: 2903, DeletesMoved: 2900, DeletesOrphan: 3}, 2, true, 0, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s := tc.s
			s.SetDeleteBudget(tc.budget)
			if s.OverBudget != tc.over {
				t.Errorf("OverBudget = %v, want %v", s.OverBudget, tc.over)
			}
			if got := s.DeletesAllowed(tc.allow); got != tc.allowed {
				t.Errorf("DeletesAllowed(%d) = %v, want %v", tc.allow, got, tc.allowed)
			}
		})
	}
}

// TestRevertKeepsUndeclared: a copy that a column no reference declares names (a row
// written since the plan was applied) is kept by the revert, counted by column, and
// the rows are still swapped back; the read is filtered by the copies to delete.
func TestRevertKeepsUndeclared(t *testing.T) {
	objects := []Object{
		{Key: "a.webp", Size: 1, ETag: "s"}, {Key: "dev/a.webp", Size: 1, ETag: "s"},
		{Key: "b.webp", Size: 2, ETag: "t"}, {Key: "dev/b.webp", Size: 2, ETag: "t"},
	}
	var filtered bool
	in := RevertInputs{
		PlanID: "p1",
		Objects: func(yield func(Object) error) error {
			for _, o := range objects {
				if err := yield(o); err != nil {
					return err
				}
			}
			return nil
		},
		Copies: []Copied{{Key: "a.webp", Target: "dev/a.webp", TargetETag: "s"}, {Key: "b.webp", Target: "dev/b.webp", TargetETag: "t"}},
		Rewrites: []Rewrite{{Key: "a.webp", Target: "dev/a.webp", Reference: "image", Column: "key", PK: "1",
			Old: "a.webp", New: "dev/a.webp"}},
		Undeclared: func(_ context.Context, filter *Prefilter, yield func(column, value string) error) error {
			filtered = filter != nil
			for _, cv := range [][2]string{{"User.avatar", "dev/b.webp"}, {"User.avatar", "dev/b.webp"}, {"Note.text", "nothing here"}} {
				if err := yield(cv[0], cv[1]); err != nil {
					return err
				}
			}
			return nil
		},
	}
	p, err := Revert(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Moves) != 1 || p.Moves[0].Key != "dev/a.webp" {
		t.Errorf("moves %+v, want the rows of dev/a.webp swapped back", p.Moves)
	}
	if len(p.Deletes) != 1 || p.Deletes[0].Key != "dev/a.webp" {
		t.Errorf("deletes %+v, want dev/a.webp only: dev/b.webp is named by User.avatar", p.Deletes)
	}
	s := p.Header.Summary
	want := []UndeclaredColumn{{Column: "User.avatar", Rows: 2, Objects: 1, Keys: []string{"dev/b.webp"}}}
	if diff := cmp.Diff(want, s.Undeclared); diff != "" {
		t.Errorf("undeclared columns (-want +got):\n%s", diff)
	}
	if s.Deletes != 1 || s.DeletesRevert != 1 || s.DeleteBytes != 1 || s.DeleteBytesRevert != 1 || s.KeptUndeclared != 1 {
		t.Errorf("summary: %d deletes (%d revert, %d B, %d B revert), %d kept; want 1, 1, 1 B, 1 B, 1",
			s.Deletes, s.DeletesRevert, s.DeleteBytes, s.DeleteBytesRevert, s.KeptUndeclared)
	}
	if !filtered {
		t.Error("the read of the undeclared columns was not filtered by the copies to delete")
	}
}
