package sqldb

import (
	"strings"
)

// A TextFilter selects rows for ScanText in SQL: a row is read when one of its columns,
// as text, contains one of Any; or contains one of Gate and also starts with one of
// Prefixes, contains one of Contains, or, with its letters A-Z lower-cased (and no
// other character), contains one of ContainsFold, each of which the caller gives in
// lower case. Gate is the cheap first test that most values fail. The comparisons are
// byte for byte, whatever the columns' collations. On SQLite a column value stored as
// a REAL, whose text SQLite and the driver may spell apart, is always read.
//
// PostgreSQL tries each column's text against LIKE patterns, all of a kind at once
// (LIKE ANY), so that a column is cast to text once per test rather than once per
// string; SQLite uses instr() and its ASCII-only lower(). The strings travel as bind
// parameters, never inside the SQL text.
type TextFilter struct {
	Any, Gate                        []string
	Prefixes, Contains, ContainsFold []string
}

// where returns the condition for columns and its arguments.
func (f *TextFilter) where(dialect string, columns []string) (string, []any) {
	if len(f.Any) == 0 && len(f.Gate) == 0 {
		return "1 = 0", nil
	}
	var conds []string
	if dialect == Postgres {
		// $1: Any and Gate; $2: Any, Prefixes and Contains; $3: ContainsFold.
		var first, exact, fold []string
		for _, s := range f.Any {
			first = append(first, "%"+likeQuote(s)+"%")
			exact = append(exact, "%"+likeQuote(s)+"%")
		}
		for _, s := range f.Gate {
			first = append(first, "%"+likeQuote(s)+"%")
		}
		for _, s := range f.Prefixes {
			exact = append(exact, likeQuote(s)+"%")
		}
		for _, s := range f.Contains {
			exact = append(exact, "%"+likeQuote(s)+"%")
		}
		for _, s := range f.ContainsFold {
			fold = append(fold, "%"+likeQuote(s)+"%")
		}
		texts := make([]string, len(columns))
		for i, col := range columns {
			texts[i] = quoteIdent(col) + "::text"
			// COLLATE "C": byte comparisons, an ASCII-only lower(), and no error on a
			// column of a nondeterministic collation.
			e := "(" + texts[i] + ` COLLATE "C")`
			conds = append(conds, "("+e+" LIKE ANY ($1::text[]) AND ("+e+" LIKE ANY ($2::text[]) OR lower("+e+") LIKE ANY ($3::text[])))")
		}
		where := "(" + strings.Join(conds, "\n OR ") + ")"
		if len(columns) > 1 {
			// A row none of whose columns passes the first test (most rows) is turned
			// away by one test of all its columns joined, rather than one per column:
			// half the server's time on a table of a few text columns. Every column
			// passing it is a substring of the join, so the join passes too: the rows
			// read are the same. CASE, because PostgreSQL orders the terms of an AND
			// by its own estimate of their cost.
			where = `CASE WHEN concat_ws(chr(1), ` + strings.Join(texts, ", ") + `) COLLATE "C" LIKE ANY ($1::text[]) THEN ` + where + " ELSE false END"
		}
		return where, []any{nonNil(first), nonNil(exact), nonNil(fold)}
	}
	// SQLite: one "?" per use. instr compares bytes, whatever the collation.
	var args []any
	for _, col := range columns {
		e := quoteIdent(col)
		var anyOf, gate, tests []string
		// each adds cond, with one "?", once per string of vals.
		each := func(to *[]string, vals []string, cond string) {
			for _, s := range vals {
				*to = append(*to, cond)
				args = append(args, s)
			}
		}
		each(&anyOf, f.Any, "instr("+e+", ?) > 0")
		each(&gate, f.Gate, "instr("+e+", ?) > 0")
		each(&tests, f.Prefixes, "instr("+e+", ?) = 1")
		each(&tests, f.Contains, "instr("+e+", ?) > 0")
		each(&tests, f.ContainsFold, "instr(lower("+e+"), ?) > 0")
		conds = append(conds, "typeof("+e+") = 'real'")
		conds = append(conds, anyOf...)
		if len(gate) > 0 && len(tests) > 0 {
			conds = append(conds, "(("+strings.Join(gate, " OR ")+") AND ("+strings.Join(tests, " OR ")+"))")
		}
	}
	return "(" + strings.Join(conds, "\n OR ") + ")", args
}

// likeQuote escapes the characters of s that LIKE reads: "%", "_" and the escape
// character "\".
func likeQuote(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
}

// nonNil is s, or an empty slice for nil (an empty array, not NULL, for PostgreSQL).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
