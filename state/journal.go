package state

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
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

// The journal's actions: a verified copy, a deleted object and one rewritten row carry
// plan's names for them; a batch of rewritten rows is the journal's own.
var (
	journalCopy    = plan.ActionCopy.String()
	journalDelete  = plan.ActionDelete.String()
	journalRewrite = plan.ActionRewrite.String() // one row, as earlier versions wrote
)

const journalRewrites = "rewrites"

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

// RecordCopies journals verified copies in one insert, each once per plan: a copy that
// an earlier run of the plan journaled already (a re-apply, or a run resumed after a
// crash) is not journaled again, so its time stays the first completion (the grace
// period's start) and a revert lists it once.
func (j *Journal) RecordCopies(ctx context.Context, planID string, copies []plan.Copied) error {
	if len(copies) == 0 {
		return nil
	}
	journaled, err := j.journaledCopies(ctx, planID, copies)
	if err != nil {
		return err
	}
	now := j.now().UTC()
	entries := make([]Entry, 0, len(copies))
	for _, c := range copies {
		if journaled[[2]string{c.Key, c.Target}] {
			continue
		}
		journaled[[2]string{c.Key, c.Target}] = true
		entries = append(entries, Entry{PlanID: planID, Action: journalCopy, Key: c.Key, Target: c.Target, ETag: c.TargetETag, AppliedAt: now})
	}
	if len(entries) == 0 {
		return nil
	}
	_, err = j.db.Bun().NewInsert().Model(&entries).Exec(ctx)
	return err
}

// journaledCopies returns which of copies the plan's journal holds already, as
// (key, target) pairs: one indexed look-up per key (r2plan_journal_key_idx).
func (j *Journal) journaledCopies(ctx context.Context, planID string, copies []plan.Copied) (map[[2]string]bool, error) {
	have := make(map[[2]string]bool)
	for chunk := range slices.Chunk(copies, sqldb.MaxBatch) {
		keys := make([]string, len(chunk))
		for i, c := range chunk {
			keys[i] = c.Key
		}
		var found []Entry
		err := j.db.Bun().NewSelect().Model(&found).Column("object_key", "target_key").
			Where("plan_id = ? AND action = ? AND object_key IN (?)", planID, journalCopy, bun.In(keys)).Scan(ctx)
		if err != nil {
			return nil, fmt.Errorf("read the journaled copies of plan %s: %w", planID, err)
		}
		for _, e := range found {
			have[[2]string{e.Key, e.Target}] = true
		}
	}
	return have, nil
}

// Rewrite swaps each row's columns from Old to New where they still hold Old, and
// journals the swapped values, in one transaction. rws are of one reference, of any of
// its columns, at most one per row and column, of at most sqldb.MaxBatch rows.
//
// The columns of a row are swapped together by one statement (see
// sqldb.CompareAndSwapRows): one lookup and one new version of the row for all its
// values. The rows of which some value changed since the plan are then swapped column
// by column, so that each value that still holds Old is swapped. Values that already
// hold New count as done (a resumed run); values holding anything else, or whose row
// is gone, are drift. The journal is a row per column (see Entry).
func (j *Journal) Rewrite(ctx context.Context, planID string, ref plan.Reference, rws []plan.Rewrite) (apply.RewriteResult, error) {
	var res apply.RewriteResult
	t := sqldb.Table{Schema: ref.Schema, Name: ref.Table}
	columns, rows, err := rowSwaps(ref, rws)
	if err != nil {
		return res, err
	}
	dialect := j.db.Dialect()
	err = j.db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res = apply.RewriteResult{}
		swapped, err := sqldb.CompareAndSwapRows(ctx, tx, dialect, t, ref.PrimaryKey, columns, rows)
		if err != nil {
			return err
		}
		whole := make(map[string]bool, len(swapped))
		for _, pk := range swapped {
			whole[pk] = true
		}
		for _, column := range columns {
			var rest []plan.Rewrite
			for _, rw := range rws {
				if rw.Column == column && !whole[rw.PK] {
					rest = append(rest, rw)
				}
			}
			alone := make(map[string]bool, len(rest))
			if len(columns) > 1 && len(rest) > 0 {
				// Rows not swapped whole: this column alone.
				swaps := make([]sqldb.Swap, len(rest))
				for i, rw := range rest {
					swaps[i] = sqldb.Swap{PK: rw.PK, Old: rw.Old, New: rw.New}
				}
				pks, err := sqldb.CompareAndSwap(ctx, tx, dialect, t, ref.PrimaryKey, column, swaps)
				if err != nil {
					return err
				}
				for _, pk := range pks {
					alone[pk] = true
				}
			}
			var batch, left []plan.Rewrite // swapped, in the order of rws; not swapped
			for _, rw := range rws {
				switch {
				case rw.Column != column:
				case whole[rw.PK] || alone[rw.PK]:
					batch = append(batch, rw)
				default:
					left = append(left, rw)
				}
			}
			if err := j.drift(ctx, tx, &res, t, ref, column, left); err != nil {
				return err
			}
			res.Swapped += len(batch)
			if err := j.journalBatch(ctx, tx, planID, ref.Name, column, batch); err != nil {
				return fmt.Errorf("journal %d rewrites of %s.%s: %w", len(batch), ref.Name, column, err)
			}
		}
		if j.Hook != nil {
			j.Hook("in-rewrite-tx")
		}
		return nil
	})
	return res, err
}

// rowSwaps gathers rws by row: the columns they rewrite (in the reference's order),
// and a swap per row, in the order of each row's first rewrite.
func rowSwaps(ref plan.Reference, rws []plan.Rewrite) ([]string, []sqldb.RowSwap, error) {
	var columns []string
	for _, c := range ref.Columns() {
		if slices.ContainsFunc(rws, func(rw plan.Rewrite) bool { return rw.Column == c }) {
			columns = append(columns, c)
		}
	}
	at := make(map[string]int, len(rws))
	var rows []sqldb.RowSwap
	for k := range rws {
		rw := &rws[k]
		ci := slices.Index(columns, rw.Column)
		if ci < 0 {
			return nil, nil, fmt.Errorf("rewrite %s.%s: reference %s has no column %q", ref.Table, rw.Column, ref.Name, rw.Column)
		}
		i, ok := at[rw.PK]
		if !ok {
			i = len(rows)
			at[rw.PK] = i
			rows = append(rows, sqldb.RowSwap{PK: rw.PK, Old: make([]*string, len(columns)), New: make([]*string, len(columns))})
		}
		if rows[i].Old[ci] != nil {
			return nil, nil, fmt.Errorf("rewrite %s.%s: pk %q twice in one batch", ref.Table, rw.Column, rw.PK)
		}
		rows[i].Old[ci], rows[i].New[ci] = &rw.Old, &rw.New
	}
	return columns, rows, nil
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
	e := Entry{PlanID: planID, Action: journalRewrites, Reference: ref, Column: column, Batch: string(data), AppliedAt: j.now().UTC()}
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

// drift sorts the rewrites of column that were not swapped into res: those whose row
// holds New already count as done, the others (changed, or gone) as drift.
func (j *Journal) drift(ctx context.Context, tx bun.Tx, res *apply.RewriteResult, t sqldb.Table, ref plan.Reference, column string, rws []plan.Rewrite) error {
	if len(rws) == 0 {
		return nil
	}
	pks := make([]string, len(rws))
	for i, rw := range rws {
		pks[i] = rw.PK
	}
	cur, err := sqldb.Current(ctx, tx, j.db.Dialect(), t, ref.PrimaryKey, column, pks)
	if err != nil {
		return err
	}
	for _, rw := range rws {
		v, exists := cur[rw.PK]
		switch {
		case exists && v != nil && *v == rw.New:
			res.Already++
		default:
			reason := "row deleted since the plan"
			if exists {
				reason = "value changed since the plan; not overwritten"
			}
			res.Drift = append(res.Drift, apply.Drift{Ref: ref.RowLabel(column, rw.PK), Reason: reason})
		}
	}
	return nil
}
