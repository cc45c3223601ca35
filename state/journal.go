package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// journalTable is the table of Entry.
const journalTable = "r2plan_journal"

// Entry is one journal row: a verified copy, a deleted object, a batch of rewritten
// rows ("rewrites"), or one rewritten row ("rewrite").
//
// A batch is one row whatever its size: its rows travel in Batch, as a JSON array of
// [pk, old, new, object key, target key] arrays in the order the batch gave them (a
// row per rewritten row cost as much as the rewrite itself). Earlier versions wrote a
// "rewrite" row per rewritten row; PlanEntries returns both as "rewrite" entries.
type Entry struct {
	bun.BaseModel `bun:"table:r2plan_journal"`

	ID        int64     `bun:"id,pk,autoincrement"`
	PlanID    string    `bun:"plan_id,notnull"`
	Action    string    `bun:"action,notnull"` // "copy", "delete", "rewrites" or "rewrite"
	Key       string    `bun:"object_key,notnull"`
	Target    string    `bun:"target_key,notnull,default:''"`
	ETag      string    `bun:"etag,notnull,default:''"`
	Reference string    `bun:"reference,notnull,default:''"`
	Column    string    `bun:"column_name,notnull,default:''"`
	PK        string    `bun:"pk,notnull,default:''"`
	Old       string    `bun:"old_value,notnull,default:''"`
	New       string    `bun:"new_value,notnull,default:''"`
	AppliedAt time.Time `bun:"applied_at,notnull"`
	Batch     string    `bun:"batch_rows,notnull,default:''"`
}

// batchColumn is the column of Entry.Batch, which journals of earlier versions lack.
const batchColumn = "batch_rows"

// Journal stores entries in the database.
type Journal struct {
	db  *sqldb.DB
	now func() time.Time
	// Hook, if set, is called inside each rewrite transaction, after the rows are
	// swapped and journaled and before the commit (crash tests).
	Hook func(point string)
}

var _ apply.Journal = (*Journal)(nil)

// Open creates r2plan's tables (the journal and the apply lock) if they do not exist.
func Open(ctx context.Context, db *sqldb.DB) (*Journal, error) {
	if err := ensureTables(ctx, db); err != nil {
		return nil, err
	}
	return &Journal{db: db, now: time.Now}, nil
}

// ensureTables creates r2plan's tables, once even when several applies (shards) start
// together: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent
// twin, so creators take an advisory lock (SQLite serialises write transactions).
func ensureTables(ctx context.Context, db *sqldb.DB) error {
	return db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := serialise(ctx, db, tx); err != nil {
			return err
		}
		if _, err := tx.NewCreateTable().Model((*Entry)(nil)).IfNotExists().Exec(ctx); err != nil {
			return fmt.Errorf("create journal table: %w", err)
		}
		if err := ensureBatchColumn(ctx, db, tx); err != nil {
			return err
		}
		if db.Dialect() == sqldb.Postgres {
			if err := compressBatches(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.NewCreateIndex().Model((*Entry)(nil)).Index("r2plan_journal_plan_idx").IfNotExists().Column("plan_id", "action").Exec(ctx); err != nil {
			return fmt.Errorf("create journal index: %w", err)
		}
		if _, err := tx.NewCreateTable().Model((*LockInfo)(nil)).IfNotExists().Exec(ctx); err != nil {
			return fmt.Errorf("create lock table: %w", err)
		}
		return nil
	})
}

// ensureBatchColumn adds Entry.Batch to a journal that an earlier version created.
// PostgreSQL compresses a new column's batches with lz4 where the server has it: as
// fast as storing them raw, and about a fifth of their size (pglz, the default, costs
// a tenth of the rewrite's time).
func ensureBatchColumn(ctx context.Context, db *sqldb.DB, tx bun.Tx) error {
	q := `SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass(?) AND attname = ? AND NOT attisdropped`
	if db.Dialect() == sqldb.SQLite {
		q = `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`
	}
	var n int
	if err := tx.QueryRowContext(ctx, q, journalTable, batchColumn).Scan(&n); err != nil {
		return fmt.Errorf("look for the journal's %s column: %w", batchColumn, err)
	}
	if n > 0 {
		return nil // created with it, by this version or an earlier run of it
	}
	add := fmt.Sprintf(`ALTER TABLE %s ADD COLUMN %s TEXT NOT NULL DEFAULT ''`, journalTable, batchColumn)
	if _, err := tx.ExecContext(ctx, add); err != nil {
		return fmt.Errorf("add the %s column to the journal: %w", batchColumn, err)
	}
	return nil
}

// compressBatches asks PostgreSQL to compress the journal's batches with lz4, once: a
// server built without lz4, or a role that does not own the journal, keeps the default.
func compressBatches(ctx context.Context, tx bun.Tx) error {
	var method string
	err := tx.QueryRowContext(ctx, `SELECT attcompression::text FROM pg_attribute WHERE attrelid = to_regclass(?) AND attname = ?`,
		journalTable, batchColumn).Scan(&method)
	if err != nil {
		return fmt.Errorf("look up the compression of the journal's batches: %w", err)
	}
	if method == "l" {
		return nil
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT r2plan_lz4"); err != nil {
		return err
	}
	alter := fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN %s SET COMPRESSION lz4`, journalTable, batchColumn)
	if _, err := tx.ExecContext(ctx, alter); err != nil {
		_, err = tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT r2plan_lz4")
		return err
	}
	_, err = tx.ExecContext(ctx, "RELEASE SAVEPOINT r2plan_lz4")
	return err
}

// serialise makes concurrent r2plan transactions that change its own tables take turns.
func serialise(ctx context.Context, db *sqldb.DB, tx bun.Tx) error {
	if db.Dialect() != sqldb.Postgres {
		return nil // SQLite's write transactions already are serial
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7271726100)")
	return err
}

// RecordCopies journals verified copies in one insert.
func (j *Journal) RecordCopies(ctx context.Context, planID string, copies []plan.Copied) error {
	now := j.now().UTC()
	entries := make([]Entry, len(copies))
	for i, c := range copies {
		entries[i] = Entry{PlanID: planID, Action: "copy", Key: c.Key, Target: c.Target, ETag: c.TargetETag, AppliedAt: now}
	}
	_, err := j.db.Bun().NewInsert().Model(&entries).Exec(ctx)
	return err
}

// Rewrite swaps each row's column from Old to New if it still holds Old, and journals
// the swapped rows, in one transaction: the swap is one statement (see
// sqldb.CompareAndSwap), the journal one row for the batch (see Entry). Rows that
// already hold New count as done (a resumed run); rows holding anything else, or gone,
// are drift.
func (j *Journal) Rewrite(ctx context.Context, planID string, ref plan.Reference, column string, rws []plan.Rewrite) (apply.RewriteResult, error) {
	var res apply.RewriteResult
	t := sqldb.Table{Schema: ref.Schema, Name: ref.Table}
	swaps := make([]sqldb.Swap, len(rws))
	for i, rw := range rws {
		swaps[i] = sqldb.Swap{PK: rw.PK, Old: rw.Old, New: rw.New}
	}
	err := j.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res = apply.RewriteResult{}
		swapped, err := sqldb.CompareAndSwap(ctx, tx, j.db.Dialect(), t, ref.PrimaryKey, column, swaps)
		if err != nil {
			return err
		}
		done := make(map[string]bool, len(swapped))
		for _, pk := range swapped {
			done[pk] = true
		}
		if err := j.drift(ctx, tx, &res, t, ref, column, rws, done); err != nil {
			return err
		}
		var batch []plan.Rewrite
		for _, rw := range rws {
			if done[rw.PK] {
				batch = append(batch, rw)
			}
		}
		res.Swapped = len(batch)
		if err := j.journalBatch(ctx, tx, planID, ref.Name, column, batch); err != nil {
			return fmt.Errorf("journal %d rewrites of %s.%s: %w", len(batch), ref.Name, column, err)
		}
		if j.Hook != nil {
			j.Hook("in-rewrite-tx")
		}
		return nil
	})
	return res, err
}

// journalBatch inserts the journal row of a batch of swapped rows, if any. On
// PostgreSQL its values are bound (see sqldb.Insert); SQLite parses in process, and
// bun writes its times as bun reads them back.
func (j *Journal) journalBatch(ctx context.Context, tx bun.Tx, planID, ref, column string, batch []plan.Rewrite) error {
	if len(batch) == 0 {
		return nil
	}
	rows := make([][5]string, len(batch))
	for i, rw := range batch {
		rows[i] = [5]string{rw.PK, rw.Old, rw.New, rw.Key, rw.Target}
	}
	data, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	e := Entry{PlanID: planID, Action: "rewrites", Reference: ref, Column: column, Batch: string(data), AppliedAt: j.now().UTC()}
	if j.db.Dialect() != sqldb.Postgres {
		_, err := tx.NewInsert().Model(&e).Exec(ctx)
		return err
	}
	return sqldb.Insert(ctx, tx, sqldb.Postgres, sqldb.Table{Name: journalTable}, []sqldb.Value{
		{Column: "plan_id", Value: e.PlanID}, {Column: "action", Value: e.Action},
		{Column: "object_key", Value: ""}, {Column: "reference", Value: e.Reference},
		{Column: "column_name", Value: e.Column}, {Column: "batch_rows", Value: e.Batch},
		{Column: "applied_at", Value: e.AppliedAt},
	})
}

// drift sorts the rows that were not swapped (not in done) into res: those that hold
// New already count as done, the others (changed, or gone) as drift.
func (j *Journal) drift(ctx context.Context, tx bun.Tx, res *apply.RewriteResult, t sqldb.Table, ref plan.Reference, column string, rws []plan.Rewrite, done map[string]bool) error {
	var rest []string
	for _, rw := range rws {
		if !done[rw.PK] {
			rest = append(rest, rw.PK)
		}
	}
	if len(rest) == 0 {
		return nil
	}
	cur, err := sqldb.Current(ctx, tx, j.db.Dialect(), t, ref.PrimaryKey, column, rest)
	if err != nil {
		return err
	}
	for _, rw := range rws {
		if done[rw.PK] {
			continue
		}
		v, exists := cur[rw.PK]
		switch {
		case exists && v != nil && *v == rw.New:
			res.Already++
		default:
			reason := "row deleted since the plan"
			if exists {
				reason = "value changed since the plan; not overwritten"
			}
			res.Drift = append(res.Drift, apply.Drift{Ref: fmt.Sprintf("%s.%s[%s]", ref.Name, column, rw.PK), Reason: reason})
		}
	}
	return nil
}
