package state

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// tableExists reports whether one of r2plan's tables exists, so that a plan (which may
// run with read-only credentials) reads an empty history instead of creating it.
func tableExists(ctx context.Context, db *sqldb.DB, name string) (bool, error) {
	q := `SELECT to_regclass(?) IS NOT NULL`
	if db.Dialect() == sqldb.SQLite {
		q = `SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?`
	}
	var ok bool
	if err := db.Bun().QueryRowContext(ctx, q, name).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, err)
	}
	return ok, nil
}

// MovedAt streams, for every object whose move r2plan journaled, when the move last
// completed: its latest copy or row rewrite. The rows are read one at a time (a bucket
// of millions has millions). It never writes: without a journal table the history is
// empty.
func MovedAt(ctx context.Context, db *sqldb.DB, fn func(key string, at time.Time) error) error {
	if ok, err := tableExists(ctx, db, "r2plan_journal"); err != nil || !ok {
		return err
	}
	rows, err := db.Bun().NewSelect().TableExpr("r2plan_journal").
		ColumnExpr("object_key").ColumnExpr("MAX(applied_at) AS at").
		Where("action IN (?)", bun.In([]string{"copy", "rewrite"})).Where("object_key <> ''").
		Group("object_key").Rows(ctx)
	if err != nil {
		return fmt.Errorf("read the journal: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		// A struct, so that bun converts SQLite's textual times as it wrote them.
		var r struct {
			Key string    `bun:"object_key"`
			At  time.Time `bun:"at"`
		}
		if err := db.Bun().ScanRow(ctx, rows, &r); err != nil {
			return fmt.Errorf("read the journal: %w", err)
		}
		if err := fn(r.Key, r.At); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the journal: %w", err)
	}
	return nil
}

// PlanEntries returns what r2plan journaled for one plan, oldest first.
func PlanEntries(ctx context.Context, db *sqldb.DB, planID string) ([]Entry, error) {
	if ok, err := tableExists(ctx, db, "r2plan_journal"); err != nil || !ok {
		return nil, err
	}
	var entries []Entry
	err := db.Bun().NewSelect().Model(&entries).Where("plan_id = ?", planID).Order("id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the journal of plan %s: %w", planID, err)
	}
	return entries, nil
}

// RecordDeletes journals deleted objects in one insert.
func (j *Journal) RecordDeletes(ctx context.Context, planID string, deleted []apply.Deleted) error {
	if len(deleted) == 0 {
		return nil
	}
	now := j.now().UTC()
	entries := make([]Entry, len(deleted))
	for i, d := range deleted {
		entries[i] = Entry{PlanID: planID, Action: "delete", Key: d.Key, ETag: d.ETag, Reference: d.Reason, AppliedAt: now}
	}
	_, err := j.db.Bun().NewInsert().Model(&entries).Exec(ctx)
	return err
}
