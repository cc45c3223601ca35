package state

import (
	"context"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// Undeclared re-reads, at apply time, the columns that no reference declares (and no
// ignore entry excludes), so that no object is deleted while one of them names it:
// the deletion guard of the plan, run again on the rows as they are now.
type Undeclared struct {
	db     *sqldb.DB
	tables []sqldb.TextTable
	m      *plan.Matcher
}

var _ apply.Referrers = (*Undeclared)(nil)

// NewUndeclared reads the columns of tables from db, matching values with m.
func NewUndeclared(db *sqldb.DB, tables []sqldb.TextTable, m *plan.Matcher) *Undeclared {
	return &Undeclared{db: db, tables: tables, m: m}
}

// Referenced returns, for each of keys that a value of an undeclared column names now
// (as a key, a URL of the bucket, or inside text or JSON), that column as
// "undeclared column table.column". One pass over every column per call, reading only
// the rows that the matcher's prefilter of keys admits (see plan.Matcher.Prefilter),
// a few tables at once.
func (u *Undeclared) Referenced(ctx context.Context, keys []string) (map[string]string, error) {
	if len(keys) == 0 {
		return map[string]string{}, nil
	}
	want := make(map[string]string, len(keys)) // each key to itself: a string to keep
	for _, k := range keys {
		want[k] = k
	}
	isWanted := func(k string) bool {
		_, ok := want[k]
		return ok
	}
	var filter *sqldb.TextFilter
	if p, ok := u.m.Prefilter(slices.Values(keys)); ok {
		filter = TextFilter(&p)
	}
	// Each table's finds, merged in table order: the first table that names a key is
	// the one reported, as when the tables are read one after the other.
	byTable := make([]map[string]string, len(u.tables))
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(undeclaredParallelism)
	for ti, t := range u.tables {
		found := make(map[string]string)
		byTable[ti] = found
		g.Go(func() error {
			err := u.db.ScanValues(ctx, t, 0, filter, nil, func(col int, v string) error {
				u.m.Match(v, isWanted, func(key string, _ plan.MatchKind) {
					// Keep the caller's string, not the driver's bytes.
					k := want[key]
					if _, seen := found[k]; !seen {
						found[k] = "undeclared column " + t.ColumnLabel(t.Columns[col].Name)
					}
				})
				return nil
			})
			if err != nil {
				return fmt.Errorf("re-read undeclared columns: %w", err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	found := make(map[string]string)
	for _, f := range byTable {
		for k, where := range f {
			if _, seen := found[k]; !seen {
				found[k] = where
			}
		}
	}
	return found, nil
}

// undeclaredParallelism is how many tables Referenced reads at once, each on a
// connection of its own.
const undeclaredParallelism = 4

// AnyReferrers asks each of its Referrers in turn: a key that any of them finds is
// referenced (by the first that found it).
type AnyReferrers []apply.Referrers

var _ apply.Referrers = AnyReferrers(nil)

// Referenced merges what each Referrers finds.
func (rs AnyReferrers) Referenced(ctx context.Context, keys []string) (map[string]string, error) {
	found := make(map[string]string)
	for _, r := range rs {
		f, err := r.Referenced(ctx, keys)
		if err != nil {
			return nil, err
		}
		for k, where := range f {
			if _, seen := found[k]; !seen {
				found[k] = where
			}
		}
	}
	return found, nil
}

// TextFilter is a plan's prefilter as the database evaluates it; nil for nil (read
// every row).
func TextFilter(p *plan.Prefilter) *sqldb.TextFilter {
	if p == nil {
		return nil
	}
	return &sqldb.TextFilter{Any: p.Escapes, Gate: p.Segments, Prefixes: p.Prefixes, Contains: p.Contains, ContainsFold: p.ContainsFold}
}
