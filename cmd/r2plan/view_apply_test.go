package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
)

// TestOutcomeOf reads every way an apply can end, as both views tell it.
func TestOutcomeOf(t *testing.T) {
	s := &plan.Summary{Copies: 2, Rewrites: 3}
	drift := apply.Drift{Key: "a", Reason: "source changed since the plan"}
	tests := map[string]struct {
		res        *apply.Result
		err        error
		status     string
		errLine    string
		next       string
		exit       int
		driftLines int
	}{
		"complete":    {&apply.Result{Copied: 2, Rewritten: 3}, nil, statusComplete, "", "", exitOK, 0},
		"drift":       {&apply.Result{Copied: 1, Drift: []apply.Drift{drift}}, nil, statusDrift, "", "Apply finished with 1 drift(s): those changes were skipped, their objects and rows left as found. Run 'r2plan plan' again to pick them up.", exitError, 1},
		"failed":      {&apply.Result{Failed: []error{errors.New("copy a: boom")}, Pending: 4}, nil, statusFailed, "", "1 change(s) failed; 4 moves not started. Run the same apply command again to retry them.", exitError, 0},
		"interrupted": {&apply.Result{Interrupted: true, Pending: 7}, nil, statusInterrupted, "", "Interrupted with 7 moves not started. Run the same apply command again to finish.", exitError, 0},
		"aborted":     {nil, fmt.Errorf("copy: %w", context.Canceled), statusAborted, "", "What finished is recorded; run the same apply command again to complete the plan.", exitError, 0},
		"error":       {&apply.Result{}, errors.New("journal copies: disk full"), statusError, "journal copies: disk full", "Run the same apply command again to complete the plan; what finished is recorded.", exitError, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := outcomeOf("p1", s, tc.res, tc.err)
			got := []any{o.Status, o.Error, o.Next, o.exitCode(), len(o.Drift)}
			want := []any{tc.status, tc.errLine, tc.next, tc.exit, tc.driftLines}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("outcome (-want +got):\n%s", diff)
			}
		})
	}
}
