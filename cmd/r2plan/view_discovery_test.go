package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/plan"
)

// TestUndeclaredFindings: each column that keeps objects gets a line with its first
// keys; a column whose kept objects are all credited to a column before it by name
// says so, rather than "0 kept" and an empty list.
func TestUndeclaredFindings(t *testing.T) {
	s := &plan.Summary{KeptUndeclared: 4, Undeclared: []plan.UndeclaredColumn{
		{Column: "Page.body", Rows: 2, Objects: 4, Keys: []string{"a.webp", "b.webp", "c.webp"}},
		{Column: "User.avatarUrl", Rows: 3, Objects: 0},
	}}
	got := undeclaredFindings(s)
	want := []string{
		"4 object(s) not deleted: a column that no reference declares names them (declare the column, or list it in ignore once checked; 'r2plan discover' shows them).",
		`4 kept: named by undeclared column Page.body (2 rows): "a.webp", "b.webp", "c.webp" and 1 more.`,
		"Undeclared column User.avatarUrl (3 rows) names objects kept above, each counted under the first column by name that names it.",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if got := undeclaredFindings(&plan.Summary{}); got != nil {
		t.Errorf("findings of a plan that keeps nothing: %q", strings.Join(got, "\n"))
	}
}
