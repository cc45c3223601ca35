package state

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/r2plan/r2plan/providers/sqldb"
)

// A ddl is a statement that creates one of r2plan's tables or indexes, run only when
// that object is missing.
type ddl struct {
	name string // the table or index it creates
	sql  string
}

// ddls returns the statements that create r2plan's tables and index, in order, as
// r2plan runs them (and as the README gives them to a database owner).
func ddls(idb bun.IDB) []ddl {
	index := func(name string, columns ...string) string {
		q, err := idb.NewCreateIndex().Model((*Entry)(nil)).Index(name).IfNotExists().Column(columns...).
			AppendQuery(schema.NewQueryGen(idb.Dialect()), nil)
		if err != nil {
			panic(err) // a fixed model and statement: only a bug gets here
		}
		return string(q)
	}
	return []ddl{
		{journalTable, idb.NewCreateTable().Model((*Entry)(nil)).IfNotExists().String()},
		{journalIndex, index(journalIndex, "plan_id", "action")},
		// RecordCopies looks up what a plan journaled of a chunk's keys.
		{journalKeyIndex, index(journalKeyIndex, "plan_id", "object_key")},
		{lockTable, idb.NewCreateTable().Model((*LockInfo)(nil)).IfNotExists().String()},
	}
}

// Schema returns the SQL that creates r2plan's tables and index in db's dialect: what
// a database's owner runs once, so that r2plan needs no right to create or alter.
func Schema(db *sqldb.DB) []string {
	var out []string
	for _, d := range ddls(db.Bun()) {
		out = append(out, d.sql)
	}
	return out
}

// journalIndex is the index of the journal by plan and action; journalKeyIndex by plan
// and object key.
const (
	journalIndex    = "r2plan_journal_plan_idx"
	journalKeyIndex = "r2plan_journal_key_idx"
)

// ensureTables creates r2plan's tables and index where they are missing, and adds what
// journals of earlier versions lack, once even when several applies (shards) start
// together: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent
// one. It looks in the catalog first and issues DDL only for what is missing, so a role
// with no right to create or alter can apply once the owner created them (PostgreSQL
// checks the right to create before it looks whether IF NOT EXISTS applies).
func ensureTables(ctx context.Context, db *sqldb.DB) error {
	return db.InTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if err := serialise(ctx, db, tx); err != nil {
			return err
		}
		for _, d := range ddls(tx) {
			ok, err := relationExists(ctx, tx, db.Dialect(), d.name)
			if err != nil {
				return err
			}
			if !ok {
				if _, err := tx.ExecContext(ctx, d.sql); err != nil {
					return fmt.Errorf("create %s: %w", d.name, err)
				}
			}
			if d.name != journalTable {
				continue
			}
			if err := ensureBatchColumn(ctx, db, tx); err != nil {
				return err
			}
			if db.Dialect() == sqldb.Postgres {
				if err := compressBatches(ctx, tx); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// relationExists reports whether a table or index of r2plan exists.
func relationExists(ctx context.Context, idb bun.IDB, dialect, name string) (bool, error) {
	q := `SELECT to_regclass(?) IS NOT NULL`
	if dialect == sqldb.SQLite {
		q = `SELECT count(*) > 0 FROM sqlite_master WHERE type IN ('table', 'index') AND name = ?`
	}
	var ok bool
	if err := idb.QueryRowContext(ctx, q, name).Scan(&ok); err != nil {
		return false, fmt.Errorf("look for %s: %w", name, err)
	}
	return ok, nil
}

// ensureBatchColumn adds Entry.Batch to a journal that an earlier version created.
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
		return fmt.Errorf("add the %s column to the journal (this needs the table's owner, once): %w", batchColumn, err)
	}
	return nil
}

// compressBatches has PostgreSQL compress the journal's batches with lz4, once, if
// the server has lz4 and r2plan's role owns the journal: as fast as storing them raw,
// and about a fifth of their size (pglz, the default, costs a tenth of the rewrite's
// time). Otherwise the default stays. It never fails apply: an ALTER the server
// refuses is rolled back to a savepoint, and the default stays.
func compressBatches(ctx context.Context, tx bun.Tx) error {
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		return fmt.Errorf("read the server's version: %w", err)
	}
	if version < 140000 {
		return nil // column compression methods came with PostgreSQL 14
	}
	var want bool
	err := tx.QueryRowContext(ctx, `SELECT a.attcompression <> 'l' AND pg_has_role(c.relowner, 'USAGE')
			AND EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE a.attrelid = to_regclass(?) AND a.attname = ?`, journalTable, batchColumn).Scan(&want)
	if err != nil {
		return fmt.Errorf("look up the compression of the journal's batches: %w", err)
	}
	if !want {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT r2plan_lz4`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, compressSQL); err != nil {
		_, err = tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT r2plan_lz4`)
		return err
	}
	_, err = tx.ExecContext(ctx, `RELEASE SAVEPOINT r2plan_lz4`)
	return err
}

// compressSQL has the journal's batches compressed with lz4 (PostgreSQL 14 and later).
var compressSQL = fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN %s SET COMPRESSION lz4`, journalTable, batchColumn)

// serialise makes concurrent r2plan transactions that change its own tables take turns.
func serialise(ctx context.Context, db *sqldb.DB, tx bun.Tx) error {
	if db.Dialect() != sqldb.Postgres {
		return nil // SQLite's write transactions already are serial
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7271726100)")
	return err
}
