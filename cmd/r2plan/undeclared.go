package main

import (
	"context"
	"fmt"
	"io"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/config"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
	"github.com/r2plan/r2plan/state"
)

// matcherOf reads values as keys and as URLs under the public URL and the bucket's own
// endpoint (path and virtual-host style).
func matcherOf(cfg *config.Config) *plan.Matcher {
	b := cfg.Bucket
	return plan.NewMatcher(append([]string{b.PublicURL}, plan.EndpointURLs(b.Endpoint, b.Name, b.Region)...)...)
}

// declares reports whether one of refs declares column of t.
func declares(refs []plan.Reference, t sqldb.Table, column string) bool {
	for _, r := range refs {
		if (r.Schema == "" || r.Schema == t.Schema) && r.Table == t.Name && (column == r.KeyColumn || column == r.URLColumn) {
			return true
		}
	}
	return false
}

// undeclaredTables lists the text-like columns of the database that no reference
// declares and no ignore entry excludes, by table: the columns the deletion guard reads.
func undeclaredTables(ctx context.Context, db *sqldb.DB, cfg *config.Config, refs []plan.Reference) ([]sqldb.TextTable, error) {
	all, err := db.TextTables(ctx)
	if err != nil {
		return nil, err
	}
	var out []sqldb.TextTable
	for _, t := range all {
		schema := t.Table.Schema
		if schema == "" {
			schema = "main"
		}
		keep := t
		keep.Columns = nil
		for _, c := range t.Columns {
			if !declares(refs, t.Table, c.Name) && !cfg.Ignores(schema, t.Table.Name, c.Name) {
				keep.Columns = append(keep.Columns, c)
			}
		}
		if len(keep.Columns) > 0 {
			out = append(out, keep)
		}
	}
	return out, nil
}

// scanParallelism is how many tables discovery and the deletion guard read at once,
// each on a connection of its own.
const scanParallelism = 4

// eachTable calls fn for each of tables, up to scanParallelism at once, and returns the
// first error (which cancels the others' ctx).
func eachTable(ctx context.Context, tables []sqldb.TextTable, fn func(ctx context.Context, i int, t sqldb.TextTable) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(scanParallelism)
	for i, t := range tables {
		g.Go(func() error { return fn(ctx, i, t) })
	}
	return g.Wait()
}

// undeclaredValues is the planner's Inputs.Undeclared: it lists the undeclared columns
// when called (only a plan that may delete calls it) and streams the values of the
// rows that filter admits, reading a few tables at once; yield is called by one table
// at a time. It stops when ctx or the planner's pctx ends.
func undeclaredValues(ctx context.Context, db *sqldb.DB, cfg *config.Config, refs []plan.Reference, prog *progress) func(pctx context.Context, filter *plan.Prefilter, yield func(column, value string) error) error {
	return func(pctx context.Context, filter *plan.Prefilter, yield func(column, value string) error) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(pctx, cancel)()
		tables, err := undeclaredTables(ctx, db, cfg, refs)
		if err != nil {
			return err
		}
		tf := state.TextFilter(filter)
		var mu sync.Mutex // yield is the planner's: one value at a time
		return eachTable(ctx, tables, func(ctx context.Context, _ int, t sqldb.TextTable) error {
			labels := make([]string, len(t.Columns))
			for i, c := range t.Columns {
				labels[i] = t.ColumnLabel(c.Name)
			}
			ph := prog.phase("discover "+t.Table.String(), 0)
			err := db.ScanValues(ctx, t, 0, tf, func() { ph.add(1) }, func(col int, value string) error {
				mu.Lock()
				defer mu.Unlock()
				return yield(labels[col], value)
			})
			ph.finish()
			if err != nil {
				return fmt.Errorf("discovery: %w", err)
			}
			return nil
		})
	}
}

// withUndeclared adds to the declared references the re-read of the undeclared columns,
// for a plan that deletes, unless the plan was made with --skip-discovery (which apply
// then says).
func withUndeclared(ctx context.Context, db *sqldb.DB, cfg *config.Config, hdr plan.Header, declared apply.Referrers, stdout io.Writer) (apply.Referrers, error) {
	s := &hdr.Summary
	if s.Deletes == 0 {
		return declared, nil
	}
	if s.DiscoverySkipped {
		fmt.Fprintln(stdout, discoveryLine(s))
		return declared, nil
	}
	tables, err := undeclaredTables(ctx, db, cfg, hdr.References)
	if err != nil {
		return nil, err
	}
	return state.AnyReferrers{declared, state.NewUndeclared(db, tables, matcherOf(cfg))}, nil
}
