package plan

import "time"

// graceOver reports whether a settled source whose move completed at movedAt (zero
// when unknown: never) may go now.
func graceOver(movedAt time.Time, grace time.Duration, now time.Time) bool {
	return !movedAt.IsZero() && !now.Before(movedAt.Add(grace))
}

// A fate is what the plan does with one listed object: the planner's one decision,
// made by decide from the facts it gathered while mapping keys and scanning rows.
type fate uint8

const (
	fateNone         fate = iota // in place and referenced, or unmatched and not an orphan: nothing to do
	fateConflict                 // its move cannot happen: reported
	fateHeld                     // copied, but a row outside a where filter names it: kept
	fateSettled                  // copied and unreferenced: deleted once graceOver, kept until then
	fateDeleteOrphan             // unreferenced, in the orphans scope, old enough: deleted
	fateYoung                    // would be an orphan, but younger than min_age: kept
	fateMove                     // copied and/or its rows rewritten
)

// facts is what the planner knows of one listed object when it decides its fate.
type facts struct {
	flags uint16 // the object record's flags (fMoving, fCopy, fReferenced, …)
	// orphanScope: the orphans block covers the key (in scope, not protected); young:
	// it is younger than min_age.
	orphanScope, young bool
}

// candidate reports whether the object would be an orphan: unreferenced, no move's
// target, and covered by the orphans block.
func (f facts) candidate() bool { return f.flags&(fReferenced|fTarget) == 0 && f.orphanScope }

// youngOrphan reports whether it is an orphan candidate younger than min_age.
func (f facts) youngOrphan() bool { return f.candidate() && f.young }

// decide is the planner's decision for one object, a pure function of its facts.
func decide(f facts) fate {
	moving := f.flags&fMoving != 0
	orphan := f.candidate() && !f.young
	switch {
	case f.flags&(fMoving|fReferenced|fTarget) == fReferenced:
		return fateNone // referenced and in place
	case moving && f.flags&fConflict != 0:
		return fateConflict
	case moving && f.flags&(fCopy|fRewrites|fHeld) == fHeld:
		return fateHeld
	case moving && f.flags&(fCopy|fRewrites) == 0:
		// Already copied and nothing points at it: the source waits for its grace
		// period (graceOver), counted from when its move completed.
		return fateSettled
	case orphan && (!moving || f.flags&fCopy != 0):
		return fateDeleteOrphan // an unreferenced object old enough to go: deleted, not copied
	case !moving && f.youngOrphan():
		return fateYoung
	case !moving:
		return fateNone
	}
	return fateMove
}
