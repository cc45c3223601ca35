package apply

import (
	"testing"

	"github.com/r2plan/r2plan/plan"
)

func TestBatchEnd(t *testing.T) {
	rw := func(pk, column string) plan.Rewrite { return plan.Rewrite{PK: pk, Column: column} }
	tests := map[string]struct {
		rws  []plan.Rewrite
		rows int
		want int
	}{
		"empty":                    {rws: nil, rows: 2, want: 0},
		"a row's columns together": {rws: []plan.Rewrite{rw("a", "url"), rw("a", "key"), rw("b", "url"), rw("b", "key"), rw("c", "url")}, rows: 2, want: 4},
		"fewer rows than the size": {rws: []plan.Rewrite{rw("a", "url"), rw("b", "url")}, rows: 5, want: 2},
		"a row again, later":       {rws: []plan.Rewrite{rw("a", "url"), rw("b", "url"), rw("a", "key"), rw("c", "key")}, rows: 2, want: 3},
		"the same value twice":     {rws: []plan.Rewrite{rw("a", "url"), rw("a", "url")}, rows: 5, want: 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := batchEnd(tt.rws, tt.rows); got != tt.want {
				t.Errorf("batchEnd = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestDeleteChunk(t *testing.T) {
	for deletes, want := range map[int]int{0: 10000, 20000: 10000, 1_000_000: 10000, 1_000_001: 10001, 10_000_000: 100_000} {
		if got := deleteChunk(deletes); got != want {
			t.Errorf("deleteChunk(%d) = %d, want %d", deletes, got, want)
		}
	}
}
