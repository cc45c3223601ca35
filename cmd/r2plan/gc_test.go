package main

import (
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGCPercent(t *testing.T) {
	tests := map[string]struct {
		objects int
		want    int
	}{
		"no listing":       {0, 100},
		"bench, N/4":       {5_000, 89},
		"bench, N":         {20_000, 69},
		"old step":         {100_000, 42},
		"scale bench, N/4": {250_000, 33},
		"scale bench, N":   {1_000_000, 27},
		"ten million":      {10_000_000, 25},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, gcPercent(tt.objects)); diff != "" {
				t.Errorf("gcPercent(%d) (-want +got):\n%s", tt.objects, diff)
			}
		})
	}
	// Never tighter than 25, and tighter as the listing grows: no step from one size
	// to the next.
	prev := gcPercent(0)
	for n := gcStep; n <= 20_000_000; n += n / 8 {
		p := gcPercent(n)
		if p > prev || p < 25 {
			t.Fatalf("gcPercent(%d) = %d after %d", n, p, prev)
		}
		prev = p
	}
}

// TestPaceApplyGC: apply paces the collector at applyGCPercent, unless GOGC is set.
func TestPaceApplyGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "")
	debug.SetGCPercent(100)
	paceApplyGC()
	if got := debug.SetGCPercent(100); got != applyGCPercent {
		t.Errorf("GOGC unset: the pace is %d; want %d", got, applyGCPercent)
	}
	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	paceApplyGC()
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("GOGC=50: apply changed the pace to %d", got)
	}
}
