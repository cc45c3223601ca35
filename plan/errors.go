package plan

import (
	"fmt"
	"strings"
)

// A CollisionError reports keys that the layout maps onto one target, or onto keys that
// differ only in Unicode normalisation (one object on R2). Nothing can be planned until
// the layout is fixed.
type CollisionError struct {
	Collisions [][2]string // the two keys, sorted
	Targets    []string
}

func (e *CollisionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d key(s) collide: two keys, one target", len(e.Collisions))
	for i, c := range e.Collisions {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Collisions)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %+q and %+q both map to %+q", c[0], c[1], e.Targets[i])
	}
	return b.String()
}

// OutsideError reports targets that fall under no placed prefix: they would be moved
// again by the next plan.
type OutsideError struct{ Key, Target, Rule string }

func (e *OutsideError) Error() string {
	return fmt.Sprintf("rule %q maps %q to %q, outside every placed prefix (a later plan would move it again)", e.Rule, e.Key, e.Target)
}
