package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/r2plan/r2plan/plan"
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

// MovedAt streams, for every object whose move r2plan journaled, when the move
// completed: the time of each of its copies and row rewrites. A key may come more than
// once; the latest time counts. The rows are streamed one at a time, not grouped: the
// caller keeps the latest per key anyway, and a GROUP BY of millions of keys would
// spill to the database server's disk. It never writes: without a journal table the
// history is empty.
func MovedAt(ctx context.Context, db *sqldb.DB, fn func(key string, at time.Time) error) error {
	if ok, err := tableExists(ctx, db, journalTable); err != nil || !ok {
		return err
	}
	// A batch's rows are expanded where they are stored: the fourth field of each is its
	// object's key. PostgreSQL sends the time as microseconds, cheaper to read than text.
	when := `(extract(epoch FROM applied_at) * 1000000)::bigint`
	batched := `SELECT e.value->>3, ` + when + ` FROM r2plan_journal, json_array_elements(NULLIF(batch_rows, '')::json) AS e WHERE action = ?`
	if db.Dialect() == sqldb.SQLite {
		when = "applied_at"
		batched = `SELECT json_extract(e.value, '$[3]'), applied_at FROM r2plan_journal, json_each(NULLIF(r2plan_journal.batch_rows, '')) AS e WHERE action = ?`
	}
	rows, err := db.Bun().QueryContext(ctx, `SELECT object_key, `+when+` AS at FROM r2plan_journal
		WHERE action IN (?, ?) AND object_key <> '' UNION ALL `+batched, journalCopy, journalRewrite, journalRewrites)
	if err != nil {
		return fmt.Errorf("read the journal: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var at time.Time
		if db.Dialect() == sqldb.Postgres {
			var micros int64
			err = rows.Scan(&key, &micros)
			at = time.UnixMicro(micros).UTC()
		} else {
			// A struct, so that bun converts SQLite's textual times as it wrote them.
			var r struct {
				Key string    `bun:"object_key"`
				At  time.Time `bun:"at"`
			}
			err = db.Bun().ScanRow(ctx, rows, &r)
			key, at = r.Key, r.At
		}
		if err != nil {
			return fmt.Errorf("read the journal: %w", err)
		}
		if err := fn(key, at); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the journal: %w", err)
	}
	return nil
}

// PlanEntries returns what r2plan journaled for one plan, oldest first, with each batch
// of rewrites expanded into a "rewrite" entry per row, in the batch's order.
func PlanEntries(ctx context.Context, db *sqldb.DB, planID string) ([]Entry, error) {
	if ok, err := tableExists(ctx, db, journalTable); err != nil || !ok {
		return nil, err
	}
	var stored []Entry
	err := db.Bun().NewSelect().Model(&stored).Where("plan_id = ?", planID).Order("id").Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the journal of plan %s: %w", planID, err)
	}
	var entries []Entry
	for _, e := range stored {
		if e.Action != journalRewrites {
			entries = append(entries, e)
			continue
		}
		var rows [][]string
		if err := json.Unmarshal([]byte(e.Batch), &rows); err != nil {
			return nil, fmt.Errorf("read the journal of plan %s: entry %d: %w", planID, e.ID, err)
		}
		for _, r := range rows {
			if len(r) != 5 {
				return nil, fmt.Errorf("read the journal of plan %s: entry %d: a row of %d fields, want 5", planID, e.ID, len(r))
			}
			entries = append(entries, Entry{ID: e.ID, PlanID: e.PlanID, Action: journalRewrite, Reference: e.Reference, Column: e.Column,
				PK: r[0], Old: r[1], New: r[2], Key: r[3], Target: r[4], AppliedAt: e.AppliedAt})
		}
	}
	return entries, nil
}

// RevertInputs reads what undoing an applied plan needs from its journal: the copies it
// made and the rows it rewrote (each with its object and target). Both are empty for a
// plan never applied to this database.
func RevertInputs(ctx context.Context, db *sqldb.DB, planID string) (copies []plan.Copied, rewrites []plan.Rewrite, err error) {
	entries, err := PlanEntries(ctx, db, planID)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		switch e.Action {
		case journalCopy:
			copies = append(copies, plan.Copied{Key: e.Key, Target: e.Target, TargetETag: e.ETag})
		case journalRewrite:
			rewrites = append(rewrites, plan.Rewrite{Key: e.Key, Target: e.Target, Reference: e.Reference,
				Column: e.Column, PK: e.PK, Old: e.Old, New: e.New})
		}
	}
	return copies, rewrites, nil
}

// RecordDeletes journals deleted objects in one insert.
func (j *Journal) RecordDeletes(ctx context.Context, planID string, deleted []plan.Deleted) error {
	if len(deleted) == 0 {
		return nil
	}
	now := j.now().UTC()
	entries := make([]Entry, len(deleted))
	for i, d := range deleted {
		entries[i] = Entry{PlanID: planID, Action: journalDelete, Key: d.Key, ETag: d.ETag, Reference: string(d.Reason), AppliedAt: now}
	}
	_, err := j.db.Bun().NewInsert().Model(&entries).Exec(ctx)
	return err
}
