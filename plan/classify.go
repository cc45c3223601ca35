package plan

import (
	"cmp"
	"slices"
	"time"
)

// classify decides each object's fate (decide), marks what the plan emits (a move or a
// deletion) and counts it in the summary.
func (pl *planner) classify(p *Plan) error {
	in, objs := &pl.in, pl.objs
	s := &p.Header.Summary
	var firstDue, lastDue time.Time
	prefixes := make(map[string]*PrefixSummary)
	for i := range objs.len() {
		f := &objs.rec(i).flags
		if *f&(fMoving|fReferenced|fTarget) == fReferenced {
			continue // referenced and in place: nothing to do (decide says so too)
		}
		k := objs.key(i)
		if !in.Scope.Contains(k) {
			continue
		}
		fc := facts{flags: *f, orphanScope: in.Orphans.covers(k)}
		fc.young = fc.candidate() && pl.young(i)
		switch decide(fc) {
		case fateConflict:
			p.Conflicts = append(p.Conflicts, *pl.conflicts[int32(i)])
		case fateHeld:
			s.Held++
		case fateSettled:
			at := objs.movedAt(i)
			if at.IsZero() {
				// Not journaled (moved by hand, or by an earlier tool): the copy's age.
				target, _, _ := in.Layout.Map(k)
				t, _ := objs.lookup(target)
				at = objs.modTime(t)
			}
			if graceOver(at, in.GracePeriod, in.Now) {
				*f |= fEmitDelete
				s.DeletesMoved++
				s.Deletes++
				s.DeleteBytes += objs.size(i)
				s.DeleteBytesMoved += objs.size(i)
				continue
			}
			s.Kept++
			if at.IsZero() {
				continue // when the move completed is unknown: kept, no due date
			}
			due := at.Add(in.GracePeriod)
			if firstDue.IsZero() || due.Before(firstDue) {
				firstDue = due
			}
			if due.After(lastDue) {
				lastDue = due
			}
		case fateDeleteOrphan:
			*f |= fEmitDelete | fOrphanDelete
			s.DeletesOrphan++
			s.Deletes++
			s.DeleteBytes += objs.size(i)
			s.DeleteBytesOrphan += objs.size(i)
		case fateYoung:
			s.OrphansYoung++
		case fateMove:
			*f |= fEmitMove
			if fc.youngOrphan() && *f&fCopy != 0 {
				s.OrphansYoung++ // not deleted yet: moved with the rest
			}
			if *f&fCopy != 0 {
				s.Copies++
				s.CopyBytes += objs.size(i)
				tp := TopPrefix(k)
				ps := prefixes[tp]
				if ps == nil {
					ps = &PrefixSummary{Prefix: tp}
					prefixes[tp] = ps
				}
				ps.Objects++
				ps.Bytes += objs.size(i)
			}
		}
	}
	if !firstDue.IsZero() {
		s.KeptFirstDue, s.KeptLastDue = &firstDue, &lastDue
	}
	if in.Scope != nil {
		s.Partial, s.Scope = true, in.Scope
		// Rewrites cover exactly the rows of the objects in scope.
		s.Rewrites, s.Reencoded = 0, 0
		perRef := make([]int, len(in.References))
		for i := range objs.len() {
			if objs.rec(i).flags&fEmitMove == 0 {
				continue
			}
			if err := pl.spill.chain(objs.rec(i).latest, func(r spilled) error {
				perRef[r.ref]++
				if r.reencoded {
					s.Reencoded++
				}
				return nil
			}); err != nil {
				return err
			}
		}
		for i := range s.References {
			s.References[i].Rewrites = perRef[i]
			s.Rewrites += perRef[i]
		}
	}
	s.Conflicts = len(p.Conflicts)
	for _, ps := range prefixes {
		s.Prefixes = append(s.Prefixes, *ps)
	}
	slices.SortFunc(s.Prefixes, func(a, b PrefixSummary) int {
		return cmp.Or(cmp.Compare(b.Objects, a.Objects), cmp.Compare(a.Prefix, b.Prefix))
	})
	return nil
}
