// Package sqldb is the database provider: it opens PostgreSQL and SQLite databases by
// URL, checks that the tables and columns a config names exist, streams the values that
// reference objects, and rewrites them with compare-and-swap in batches.
//
// Identifiers (tables, columns) are always quoted, and values are always bound
// parameters. The one exception is a reference's where clause, which is raw SQL written
// by the config's author and pasted into the query as is.
//
// No secret of a database URL appears in an error or an Identity; use Redact to show a URL.
package sqldb
