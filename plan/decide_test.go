package plan

import (
	"testing"
	"time"
)

// TestDecide is the planner's decision table, one row per kind of object.
func TestDecide(t *testing.T) {
	tests := map[string]struct {
		f    facts
		want fate
	}{
		"referenced, in place":                    {facts{flags: fReferenced}, fateNone},
		"unmatched, unreferenced, no orphans":     {facts{}, fateNone},
		"unmatched, someone's target":             {facts{flags: fTarget, orphanScope: true}, fateNone},
		"moving, to copy, referenced":             {facts{flags: fMoving | fCopy | fReferenced | fRewrites}, fateMove},
		"moving, copy in place, rows to rewrite":  {facts{flags: fMoving | fReferenced | fRewrites}, fateMove},
		"moving, to copy, unreferenced":           {facts{flags: fMoving | fCopy}, fateMove},
		"moving, conflict":                        {facts{flags: fMoving | fCopy | fConflict | fReferenced}, fateConflict},
		"moved, a row outside the filter":         {facts{flags: fMoving | fReferenced | fHeld}, fateHeld},
		"moved, unreferenced":                     {facts{flags: fMoving}, fateSettled},
		"moved, unreferenced, in orphan scope":    {facts{flags: fMoving, orphanScope: true}, fateSettled},
		"orphan, old enough":                      {facts{orphanScope: true}, fateDeleteOrphan},
		"orphan, young":                           {facts{orphanScope: true, young: true}, fateYoung},
		"orphan that the layout would move":       {facts{flags: fMoving | fCopy, orphanScope: true}, fateDeleteOrphan},
		"young orphan that the layout would move": {facts{flags: fMoving | fCopy, orphanScope: true, young: true}, fateMove},
		"referenced, in orphan scope":             {facts{flags: fReferenced, orphanScope: true}, fateNone},
		"held source in orphan scope":             {facts{flags: fMoving | fReferenced | fHeld, orphanScope: true}, fateHeld},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := decide(tc.f); got != tc.want {
				t.Errorf("decide(%+v) = %d, want %d", tc.f, got, tc.want)
			}
		})
	}
}

func TestGraceOver(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	tests := map[string]struct {
		at   time.Time
		want bool
	}{
		"unknown":              {time.Time{}, false},
		"a day ago":            {now.Add(-24 * time.Hour), false},
		"exactly a week ago":   {now.Add(-week), true},
		"eight days ago":       {now.Add(-8 * 24 * time.Hour), true},
		"in the future (skew)": {now.Add(time.Hour), false},
	}
	for name, tc := range tests {
		if got := graceOver(tc.at, week, now); got != tc.want {
			t.Errorf("%s: graceOver = %v, want %v", name, got, tc.want)
		}
	}
}
