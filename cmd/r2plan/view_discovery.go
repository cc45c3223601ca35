package main

import (
	"fmt"
	"strings"

	"github.com/r2plan/r2plan/plan"
)

// discoveryLine says loudly that a plan was made without reading the columns no
// reference declares.
func discoveryLine(s *plan.Summary) string {
	if !s.DiscoverySkipped {
		return ""
	}
	return "DISCOVERY SKIPPED (--skip-discovery): the columns no reference declares were not read; " +
		"an object that only they name may be deleted, and apply does not re-read them either."
}

// undeclaredFindings says which objects a plan keeps because a column no reference
// declares names them.
func undeclaredFindings(s *plan.Summary) []string {
	if s.KeptUndeclared == 0 {
		return nil
	}
	out := []string{fmt.Sprintf("%d object(s) not deleted: a column that no reference declares names them (declare the column, or list it in ignore once checked; 'r2plan discover' shows them).", s.KeptUndeclared)}
	for _, c := range s.Undeclared {
		if c.Objects == 0 {
			// Every object it names is also named by a column before it by name, which
			// is credited with it.
			out = append(out, fmt.Sprintf("Undeclared column %s (%d rows) names objects kept above, each counted under the first column by name that names it.", c.Column, c.Rows))
			continue
		}
		keys := make([]string, len(c.Keys))
		for i, k := range c.Keys {
			keys[i] = fmt.Sprintf("%q", k)
		}
		more := ""
		if c.Objects > len(c.Keys) {
			more = fmt.Sprintf(" and %d more", c.Objects-len(c.Keys))
		}
		out = append(out, fmt.Sprintf("%d kept: named by undeclared column %s (%d rows): %s%s.", c.Objects, c.Column, c.Rows, strings.Join(keys, ", "), more))
	}
	return out
}
