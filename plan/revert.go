package plan

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// A Copied object is one that an applied plan copied: Key to Target, whose ETag was then
// TargetETag. Apply journals it; a revert reads it back.
type Copied struct {
	Key, Target, TargetETag string
}

// A Deleted object is one that an applied plan deleted, with its ETag then and why
// (a Reason). Apply journals it.
type Deleted struct {
	Key, ETag string
	Reason    Reason
}

// RevertInputs is what undoing an applied plan needs: the bucket as it is now and what
// the plan's journal recorded.
type RevertInputs struct {
	PlanID   string
	Objects  func(yield func(Object) error) error
	Copies   []Copied
	Rewrites []Rewrite // with Key and Target set
	// Undeclared and Matcher, when Undeclared is set, keep the copies that a column no
	// reference declares names, as Inputs' do for a forward plan's deletions.
	Undeclared func(ctx context.Context, filter *Prefilter, yield func(column, value string) error) error
	Matcher    *Matcher
}

// A RevertError says why a plan cannot be reverted.
type RevertError struct {
	PlanID  string
	Missing []string // sources that no longer exist
}

func (e *RevertError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot revert plan %s: %d of its sources no longer exist (deleted after the grace period?), so its rows cannot point back at them", e.PlanID, len(e.Missing))
	for i, k := range e.Missing {
		if i == 5 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Missing)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %+q", k)
	}
	return b.String()
}

// Revert makes the plan that undoes an applied one: each row it rewrote is swapped back
// (compare-and-swap on the value the plan wrote), then each copy it made is deleted, if
// it is still the copy the plan made and nothing points at it. Every source must still
// exist.
func Revert(in RevertInputs) (*Plan, error) {
	p := &Plan{}
	s := &p.Header.Summary
	s.Revert = in.PlanID
	objects, err := collectObjects(in.Objects, s)
	if err != nil {
		return nil, err
	}
	type pair struct{ source, copy string }
	back := make(map[pair][]Rewrite)
	for _, c := range in.Copies {
		back[pair{c.Key, c.Target}] = nil
	}
	for _, rw := range in.Rewrites {
		pr := pair{rw.Key, rw.Target}
		back[pr] = append(back[pr], Rewrite{Reference: rw.Reference, Column: rw.Column, PK: rw.PK, Old: rw.New, New: rw.Old})
	}
	pairs := make([]pair, 0, len(back))
	var missing []string
	for pr := range back {
		pairs = append(pairs, pr)
		if _, ok := objects.lookup(pr.source); !ok {
			missing = append(missing, pr.source)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, &RevertError{PlanID: in.PlanID, Missing: missing}
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Or(cmp.Compare(a.copy, b.copy), cmp.Compare(a.source, b.source)) })
	rows := make(map[[2]string]bool) // reference and primary key: a row's key and URL count once
	for _, pr := range pairs {
		rws := back[pr]
		if len(rws) == 0 {
			continue
		}
		slices.SortFunc(rws, compareRewrites)
		src, _ := objects.lookup(pr.source)
		var copyETag string // none when the copy is gone: its rows point back all the same
		if cp, ok := objects.lookup(pr.copy); ok {
			copyETag = objects.etag(cp)
		}
		p.Moves = append(p.Moves, Move{Key: pr.copy, Target: pr.source, Rule: "revert", Size: objects.size(src),
			ETag: copyETag, TargetETag: objects.etag(src), Rewrites: rws})
		s.Rewrites += len(rws)
		for _, rw := range rws {
			rows[[2]string{rw.Reference, rw.PK}] = true
		}
	}
	s.RewriteRows = len(rows)
	copies := slices.Clone(in.Copies)
	slices.SortFunc(copies, func(a, b Copied) int {
		return cmp.Or(cmp.Compare(a.Target, b.Target), cmp.Compare(a.Key, b.Key), cmp.Compare(a.TargetETag, b.TargetETag))
	})
	// A journal written before copies were journaled once per plan may hold one twice.
	copies = slices.Compact(copies)
	for _, c := range copies {
		t, exists := objects.lookup(c.Target)
		if !exists {
			continue // already gone
		}
		if objects.etag(t) != c.TargetETag {
			continue // no longer the copy the plan made: not r2plan's to delete
		}
		src, _ := objects.lookup(c.Key)
		p.Deletes = append(p.Deletes, Deletion{Key: c.Target, Reason: ReasonRevert, Size: objects.size(t), ETag: c.TargetETag,
			Modified: objects.modTime(t), Target: c.Key, TargetETag: objects.etag(src)})
		s.Deletes++
		s.DeletesRevert++
		s.DeleteBytes += objects.size(t)
		s.DeleteBytesRevert += objects.size(t)
	}
	if err := in.keepUndeclared(p); err != nil {
		return nil, err
	}
	return p, nil
}

// keepUndeclared drops the deletions of copies that a column no reference declares
// names (a row written since the plan was applied, pointing at the copy), reading the
// rows that Matcher.Prefilter of those copies admits; the summary counts them kept,
// by column, as a forward plan's guard does.
func (in *RevertInputs) keepUndeclared(p *Plan) error {
	if in.Undeclared == nil || len(p.Deletes) == 0 {
		return nil
	}
	m := in.Matcher
	if m == nil {
		m = NewMatcher()
	}
	doomed := make(map[string]bool, len(p.Deletes))
	for _, d := range p.Deletes {
		doomed[d.Key] = true
	}
	var filter *Prefilter
	if f, ok := m.Prefilter(func(yield func(string) bool) {
		for _, d := range p.Deletes {
			if !yield(d.Key) {
				return
			}
		}
	}); ok {
		filter = &f
	}
	t := newUndeclaredTally()
	values := func(yield func(column, value string) error) error {
		return in.Undeclared(context.Background(), filter, yield)
	}
	if err := t.read(values, m, func(key string) bool { return doomed[key] }); err != nil {
		return err
	}
	if len(t.credit) == 0 {
		return nil
	}
	s := &p.Header.Summary
	left := p.Deletes[:0]
	for _, d := range p.Deletes {
		if !t.kept(d.Key) {
			left = append(left, d)
			continue
		}
		s.Deletes--
		s.DeletesRevert--
		s.DeleteBytes -= d.Size
		s.DeleteBytesRevert -= d.Size
		s.KeptUndeclared++
	}
	p.Deletes = left
	s.Undeclared = t.columns()
	return nil
}
