package sqldb

import (
	"strconv"
	"strings"
)

// A TextFilter selects rows for ScanText in SQL: a row is read when one of its columns,
// as text, starts with one of Prefixes, contains one of Contains, or, with its letters
// A-Z lower-cased (and no other character: PostgreSQL's lower() under COLLATE "C",
// SQLite's lower()), contains one of ContainsFold, each of which the caller gives in
// lower case. The comparisons are byte for byte, whatever the columns' collations. On
// SQLite a column value stored as a REAL, whose text SQLite and the driver may spell
// apart, is always read.
//
// The strings travel as bind parameters, never inside the SQL text.
type TextFilter struct {
	Prefixes, Contains, ContainsFold []string
}

// where returns the condition for columns and its arguments.
func (f *TextFilter) where(dialect string, columns []string) (string, []any) {
	var args []any
	var conds []string
	if dialect == Postgres {
		// One parameter per string, shared by every column: $n.
		param := func(s string) string {
			args = append(args, s)
			return "$" + strconv.Itoa(len(args))
		}
		var pre, con, fold []string
		for _, s := range f.Prefixes {
			pre = append(pre, param(s))
		}
		for _, s := range f.Contains {
			con = append(con, param(s))
		}
		for _, s := range f.ContainsFold {
			fold = append(fold, param(s))
		}
		for _, col := range columns {
			// COLLATE "C": byte comparisons, an ASCII-only lower(), and no error on a
			// column of a nondeterministic collation.
			e := "(" + quoteIdent(col) + `::text COLLATE "C")`
			for _, p := range pre {
				conds = append(conds, "starts_with("+e+", "+p+")")
			}
			for _, p := range con {
				conds = append(conds, "strpos("+e+", "+p+") > 0")
			}
			for _, p := range fold {
				conds = append(conds, "strpos(lower("+e+"), "+p+") > 0")
			}
		}
	} else {
		// SQLite: one "?" per use. instr compares bytes, whatever the collation.
		for _, col := range columns {
			e := quoteIdent(col)
			conds = append(conds, "typeof("+e+") = 'real'")
			for _, s := range f.Prefixes {
				conds = append(conds, "instr("+e+", ?) = 1")
				args = append(args, s)
			}
			for _, s := range f.Contains {
				conds = append(conds, "instr("+e+", ?) > 0")
				args = append(args, s)
			}
			for _, s := range f.ContainsFold {
				conds = append(conds, "instr(lower("+e+"), ?) > 0")
				args = append(args, s)
			}
		}
	}
	if len(conds) == 0 || len(args) == 0 {
		return "1 = 0", nil
	}
	return "(" + strings.Join(conds, "\n OR ") + ")", args
}
