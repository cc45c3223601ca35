package state

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// journalTable is the table of Entry.
const journalTable = "r2plan_journal"

// Entry is one journal row: a verified copy or a rewritten row.
type Entry struct {
	bun.BaseModel `bun:"table:r2plan_journal"`

	ID        int64     `bun:"id,pk,autoincrement"`
	PlanID    string    `bun:"plan_id,notnull"`
	Action    string    `bun:"action,notnull"` // "copy" or "rewrite"
	Key       string    `bun:"object_key,notnull"`
	Target    string    `bun:"target_key,notnull,default:''"`
	ETag      string    `bun:"etag,notnull,default:''"`
	Reference string    `bun:"reference,notnull,default:''"`
	Column    string    `bun:"column_name,notnull,default:''"`
	PK        string    `bun:"pk,notnull,default:''"`
	Old       string    `bun:"old_value,notnull,default:''"`
	New       string    `bun:"new_value,notnull,default:''"`
	AppliedAt time.Time `bun:"applied_at,notnull"`
}

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
		if _, err := tx.NewCreateIndex().Model((*Entry)(nil)).Index("r2plan_journal_plan_idx").IfNotExists().Column("plan_id", "action").Exec(ctx); err != nil {
			return fmt.Errorf("create journal index: %w", err)
		}
		if _, err := tx.NewCreateTable().Model((*LockInfo)(nil)).IfNotExists().Exec(ctx); err != nil {
			return fmt.Errorf("create lock table: %w", err)
		}
		return nil
	})
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
// the swapped rows, in one transaction. Rows that already hold New count as done (a
// resumed run); rows holding anything else, or gone, are drift.
//
// On PostgreSQL one statement swaps the rows and inserts their journal rows (see
// sqldb.CompareAndSwapRecord); on SQLite the journal rows follow in a second one.
func (j *Journal) Rewrite(ctx context.Context, planID string, ref plan.Reference, column string, rws []plan.Rewrite) (apply.RewriteResult, error) {
	var res apply.RewriteResult
	t := sqldb.Table{Schema: ref.Schema, Name: ref.Table}
	swaps := make([]sqldb.Swap, len(rws))
	for i, rw := range rws {
		swaps[i] = sqldb.Swap{PK: rw.PK, Old: rw.Old, New: rw.New, Extra: []string{rw.Key, rw.Target}}
	}
	dialect := j.db.Dialect()
	err := j.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res = apply.RewriteResult{}
		now := j.now().UTC()
		var swapped []string
		var err error
		if dialect == sqldb.Postgres {
			rec := sqldb.Record{
				Table: sqldb.Table{Name: journalTable},
				Fixed: []sqldb.Value{{Column: "plan_id", Value: planID}, {Column: "action", Value: "rewrite"},
					{Column: "etag", Value: ""}, {Column: "reference", Value: ref.Name},
					{Column: "column_name", Value: column}, {Column: "applied_at", Value: now}},
				PK: "pk", Old: "old_value", New: "new_value",
				Extra: []string{"object_key", "target_key"},
			}
			swapped, err = sqldb.CompareAndSwapRecord(ctx, tx, dialect, t, ref.PrimaryKey, column, swaps, rec)
		} else {
			swapped, err = sqldb.CompareAndSwap(ctx, tx, dialect, t, ref.PrimaryKey, column, swaps)
		}
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
		var entries []Entry
		for _, rw := range rws {
			if done[rw.PK] {
				res.Swapped++
				if dialect != sqldb.Postgres {
					entries = append(entries, Entry{PlanID: planID, Action: "rewrite", Key: rw.Key, Target: rw.Target,
						Reference: ref.Name, Column: column, PK: rw.PK, Old: rw.Old, New: rw.New, AppliedAt: now})
				}
			}
		}
		if len(entries) > 0 {
			if _, err := tx.NewInsert().Model(&entries).Exec(ctx); err != nil {
				return fmt.Errorf("journal %d rewrites of %s.%s: %w", len(entries), ref.Name, column, err)
			}
		}
		if j.Hook != nil {
			j.Hook("in-rewrite-tx")
		}
		return nil
	})
	return res, err
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
