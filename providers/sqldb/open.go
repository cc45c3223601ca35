package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
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
}

// Open connects to a database URL: postgres:// or postgresql:// (bun + pgdialect) or
// sqlite:PATH / sqlite://PATH / sqlite::memory: (modernc.org/sqlite + sqlitedialect;
// files get a busy timeout, WAL journal and immediate write transactions). It pings the
// database before returning. No secret of the URL appears in an error.
//
// PostgreSQL connections have no read or write timeout unless the URL sets
// read_timeout / write_timeout: a scan of a large table may take long.
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
		return nil, fmt.Errorf("open database %s: %w", db.id, scrub(err, rawURL))
	}
	return db, nil
}

func openPostgres(rawURL string) (db *DB, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL: never wrap it.
		return nil, errors.New("open database: invalid postgres URL")
	}
	id := Identity{Driver: Postgres, Host: u.Host, Name: strings.TrimPrefix(u.Path, "/")}
	if u.Port() == "" && u.Hostname() != "" {
		id.Host = net.JoinHostPort(u.Hostname(), "5432")
	}
	if h := u.Query().Get("host"); h != "" { // a unix socket directory or a host name
		id.Host = h
	}
	defer func() {
		// pgdriver.WithDSN panics on a URL it cannot parse.
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("open database %s: %v", id, r)
		}
	}()
	connector := pgdriver.NewConnector(
		pgdriver.WithReadTimeout(0),
		pgdriver.WithWriteTimeout(0),
		pgdriver.WithDSN(rawURL), // the URL's read_timeout, write_timeout win
	)
	sqldb := sql.OpenDB(connector)
	return &DB{bun: bun.NewDB(sqldb, pgdialect.New()), dialect: Postgres, id: id}, nil
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

// Dialect returns "postgres" or "sqlite".
func (db *DB) Dialect() string { return db.dialect }

// InTx runs fn in one transaction: commit if fn returns nil, rollback otherwise.
// On SQLite files the transaction takes the write lock at its start (BEGIN IMMEDIATE).
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error) error {
	return db.bun.RunInTx(ctx, nil, fn)
}
