package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect names, as returned by (*DB).Dialect and taken by CompareAndSwap and Current.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DB is an open database.
type DB struct {
	bun     *bun.DB
	dialect string
	id      Identity
	schema  string // a PostgreSQL URL's schema=, the search_path; "" otherwise
}

// Open connects to a database URL: postgres:// or postgresql:// (pgx under bun's
// pgdialect; the URL as libpq or Prisma writes it, see pgConfig) or sqlite:PATH /
// sqlite://PATH / sqlite::memory: (modernc.org/sqlite + sqlitedialect; files get a busy
// timeout, WAL journal and immediate write transactions). It pings the database before
// returning, and checks that a PostgreSQL URL's schema= exists. No secret of the URL
// appears in an error.
//
// PostgreSQL connections have no read or write timeout: a scan of a large table may
// take long.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	var (
		db  *DB
		err error
	)
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		db, err = openPostgres(rawURL)
	case strings.HasPrefix(rawURL, "sqlite:"):
		db, err = openSQLite(rawURL)
	default:
		return nil, fmt.Errorf("open database %s: unsupported URL scheme (want postgres://, postgresql:// or sqlite:)", schemeOf(rawURL))
	}
	if err != nil {
		return nil, scrub(err, rawURL)
	}
	if err := db.bun.PingContext(ctx); err != nil {
		db.bun.Close()
		return nil, fmt.Errorf("open database %s: %w", db.id, scrub(tlsHint(err), rawURL))
	}
	if db.schema != "" {
		if err := db.checkSchema(ctx); err != nil {
			db.bun.Close()
			return nil, scrub(err, rawURL)
		}
	}
	return db, nil
}

func openPostgres(rawURL string) (*DB, error) {
	cfg, opts, id, err := pgConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqldb := sql.OpenDB(stdlib.GetConnector(*cfg))
	sqldb.SetMaxOpenConns(opts.maxConns)
	sqldb.SetConnMaxLifetime(opts.maxLife)
	sqldb.SetConnMaxIdleTime(opts.maxIdle)
	return &DB{bun: bun.NewDB(sqldb, pgdialect.New()), dialect: Postgres, id: id, schema: opts.schema}, nil
}

// checkSchema fails unless the URL's schema= exists: every table r2plan looks up or
// creates is in it.
func (db *DB) checkSchema(ctx context.Context) error {
	var ok bool
	err := queryRow(ctx, db.bun.DB, Postgres, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, []any{db.schema}, &ok)
	if err != nil {
		return fmt.Errorf("open database %s: look up schema %q: %w", db.id, db.schema, err)
	}
	if !ok {
		return fmt.Errorf("open database %s: schema %q (the URL's schema=) does not exist", db.id, db.schema)
	}
	return nil
}

func openSQLite(rawURL string) (*DB, error) {
	rest := strings.TrimPrefix(rawURL, "sqlite:")
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ := strings.Cut(rest, "?")
	if path == "" {
		return nil, errors.New("open database: sqlite URL has no path (want sqlite:PATH, sqlite://PATH or sqlite::memory:)")
	}
	id := Identity{Driver: SQLite}
	params := []string{"_pragma=busy_timeout(10000)"}
	memory := path == ":memory:"
	if memory {
		id.Name = ":memory:"
	} else {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, fmt.Errorf("open database sqlite %s: %w", path, err)
		}
		id.Name = filepath.Clean(abs)
		params = append(params, "_pragma=journal_mode(WAL)", "_txlock=immediate")
	}
	if query != "" {
		params = append(params, query)
	}
	sqldb, err := sql.Open("sqlite", path+"?"+strings.Join(params, "&"))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", id, err)
	}
	if memory {
		// Every connection to :memory: is a database of its own.
		sqldb.SetMaxOpenConns(1)
	}
	return &DB{bun: bun.NewDB(sqldb, sqlitedialect.New()), dialect: SQLite, id: id}, nil
}

func schemeOf(rawURL string) string {
	if i := strings.Index(rawURL, ":"); i > 0 {
		return rawURL[:i]
	}
	return "(none)"
}

// Close closes the database and forgets what was cached about it.
func (db *DB) Close() error {
	forgetTypes(db.bun)
	return db.bun.Close()
}

// Bun returns the bun handle, for other packages' own queries (the journal).
func (db *DB) Bun() *bun.DB { return db.bun }

// Schema returns the schema a PostgreSQL URL's schema= names, which every connection
// has as its search_path, or "" (the server's search_path; SQLite).
func (db *DB) Schema() string { return db.schema }

// Dialect returns "postgres" or "sqlite".
func (db *DB) Dialect() string { return db.dialect }

// InTx runs fn in one transaction: commit if fn returns nil, rollback otherwise.
// On SQLite files the transaction takes the write lock at its start (BEGIN IMMEDIATE).
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.bun.RunInTx(ctx, nil, fn)
}
