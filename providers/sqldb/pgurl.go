package sqldb

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgOptions is what r2plan does itself with a PostgreSQL URL, beyond what pgx takes.
type pgOptions struct {
	schema   string        // schema=: the search_path of every connection; "" leaves the server's
	maxConns int           // connection_limit; 0: no limit
	maxLife  time.Duration // max_connection_lifetime; 0: forever
	maxIdle  time.Duration // max_idle_connection_lifetime; 0: forever
}

// pgConfig turns a postgres:// or postgresql:// URL as libpq or Prisma writes it into a
// pgx configuration. Prisma's own parameters are taken out first (pgx would send any
// parameter it does not know to the server, which refuses it) and honoured here or
// ignored; everything else (sslmode and the other ssl* parameters, host= for a unix
// socket directory, connect_timeout, application_name, options, the PG* environment
// variables, ~/.pgpass) is libpq's, as pgx.ParseConfig implements it.
//
// Its errors hold no part of the URL but parameter names and non-secret values.
func pgConfig(rawURL string) (*pgx.ConnConfig, pgOptions, Identity, error) {
	var opts pgOptions
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the whole URL: never wrap it.
		return nil, opts, Identity{}, errors.New("invalid postgres URL")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, opts, Identity{}, errors.New("invalid postgres URL: its query string does not parse")
	}
	pop := func(key string) (string, bool) {
		v, ok := q[key]
		if !ok {
			return "", false
		}
		delete(q, key)
		return v[len(v)-1], true
	}
	number := func(key string) (int, error) {
		s, ok := pop(key)
		if !ok {
			return 0, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s=%q: want a whole number", key, s)
		}
		return n, nil
	}
	if s, ok := pop("schema"); ok && s != "" {
		opts.schema = s
	}
	if opts.maxConns, err = number("connection_limit"); err != nil {
		return nil, opts, Identity{}, err
	}
	var life, idle int
	if life, err = number("max_connection_lifetime"); err != nil {
		return nil, opts, Identity{}, err
	}
	if idle, err = number("max_idle_connection_lifetime"); err != nil {
		return nil, opts, Identity{}, err
	}
	opts.maxLife, opts.maxIdle = time.Duration(life)*time.Second, time.Duration(idle)*time.Second
	// Accepted and ignored: database/sql waits for a free connection as long as the
	// context lets it; a scan of a large table may take long; r2plan keeps no prepared
	// statements. read_timeout and write_timeout are the earlier driver's (pgdriver).
	for _, key := range []string{"pool_timeout", "socket_timeout", "statement_cache_size", "read_timeout", "write_timeout"} {
		if _, err := number(key); err != nil {
			return nil, opts, Identity{}, err
		}
	}
	pgbouncer := false
	if s, ok := pop("pgbouncer"); ok {
		if pgbouncer, err = strconv.ParseBool(s); err != nil {
			return nil, opts, Identity{}, fmt.Errorf("pgbouncer=%q: want true or false", s)
		}
	}
	if _, ok := pop("sslidentity"); ok {
		return nil, opts, Identity{}, errors.New("sslidentity (a PKCS#12 client identity) is not supported: give the client certificate and key as PEM files with sslcert and sslkey")
	}
	// Prisma's sslcert is the CA that signed the server's certificate, libpq's
	// sslrootcert; libpq's sslcert is the client's certificate and comes with an sslkey.
	if q.Has("sslcert") && !q.Has("sslkey") && !q.Has("sslrootcert") && os.Getenv("PGSSLKEY") == "" {
		q["sslrootcert"] = q["sslcert"]
		delete(q, "sslcert")
	}
	if s, ok := pop("sslaccept"); ok {
		switch s {
		case "strict":
			// Prisma checks the certificate and the host name: verify-full.
			switch mode := q.Get("sslmode"); mode {
			case "", "prefer", "require":
				q.Set("sslmode", "verify-full")
			}
		case "accept_invalid_certs":
		default:
			return nil, opts, Identity{}, fmt.Errorf("sslaccept=%q: want strict or accept_invalid_certs", s)
		}
	}
	execMode := q.Has("default_query_exec_mode")
	u.RawQuery = q.Encode()

	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, opts, Identity{}, parseError(err)
	}
	switch {
	case pgbouncer:
		// PgBouncer in transaction mode may run each statement on another server
		// connection, where a prepared statement does not exist: bind client-side.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	case !execMode:
		// One round trip a query, parameters bound by the server, and no statement
		// cache: bun writes its values into the SQL, so few texts ever repeat.
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	if opts.schema != "" {
		cfg.RuntimeParams["search_path"] = quoteIdent(opts.schema)
	}
	return cfg, opts, pgIdentity(cfg), nil
}

// pgIdentity is the database's identity: "host:port" (a unix socket's directory as
// is) and the database name, the one the server takes if the URL names none.
func pgIdentity(cfg *pgx.ConnConfig) Identity {
	id := Identity{Driver: Postgres, Host: cfg.Host, Name: cfg.Database}
	if !strings.HasPrefix(cfg.Host, "/") {
		id.Host = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	}
	if id.Name == "" {
		id.Name = cfg.User
	}
	return id
}

// parseError is pgx's configuration error without the URL it quotes.
func parseError(err error) error {
	var pce *pgconn.ParseConfigError
	if !errors.As(err, &pce) {
		return err
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "cannot parse `"); ok {
		if _, after, ok := strings.Cut(rest, "`: "); ok {
			msg = after
		}
	}
	return &scrubbed{msg: "postgres URL: " + msg, err: err}
}

// tlsHint adds to a connection error what to check when the server's certificate did
// not verify.
func tlsHint(err error) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (sslmode verify-ca, verify-full or sslaccept=strict: is the server's certificate signed by the CA of sslrootcert?)", err)
	case errors.As(err, &host):
		return fmt.Errorf("%w (sslmode=verify-full: the URL's host must be a name the server's certificate holds)", err)
	}
	return err
}
