package state

import (
	"context"
	"fmt"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// Referrers re-reads the reference rows at apply time, so that no object is deleted
// while a row points at it, whatever happened since the plan.
type Referrers struct {
	db   *sqldb.DB
	refs []plan.Reference
	urls *plan.URLs
}

var _ apply.Referrers = (*Referrers)(nil)

// NewReferrers reads refs from db; urls parses URL columns (nil if there are none).
func NewReferrers(db *sqldb.DB, refs []plan.Reference, urls *plan.URLs) *Referrers {
	return &Referrers{db: db, refs: refs, urls: urls}
}

// Referenced returns, for each of keys that a row points at now (any row of the table:
// the where filter chooses the rows to rewrite, not the rows that count), one such row as
// "reference.column[pk]". A URL counts for every key it may name, not only the first
// that exists: a deletion errs on the side of keeping.
//
// It reads every reference column in one pass per call (the planner's own parsing, so
// both agree on what a row names); callers pass large chunks of keys.
func (r *Referrers) Referenced(ctx context.Context, keys []string) (map[string]string, error) {
	want := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		want[k] = struct{}{}
	}
	found := make(map[string]string)
	for _, ref := range r.refs {
		cols := ref.Columns()
		t := sqldb.Table{Schema: ref.Schema, Name: ref.Table}
		// Every row counts, also one outside the reference's where filter: a row that
		// names an object keeps it, whether or not r2plan rewrites that row.
		err := r.db.Scan(ctx, t, ref.PrimaryKey, cols, "", func(pk string, values []*string) error {
			for i, v := range values {
				if v == nil {
					continue
				}
				note := func(key string) {
					if _, ok := want[key]; ok {
						if _, seen := found[key]; !seen {
							found[key] = ref.RowLabel(cols[i], pk)
						}
					}
				}
				if cols[i] != ref.URLColumn || ref.URLColumn == "" {
					note(*v)
					continue
				}
				if r.urls == nil {
					continue
				}
				if pu, ok := r.urls.Parse(*v); ok {
					for _, c := range pu.Candidates {
						note(c.Key)
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("re-read reference %q: %w", ref.Name, err)
		}
	}
	return found, nil
}
