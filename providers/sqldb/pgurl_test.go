package sqldb

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/r2plan/r2plan/internal/testenv"
)

// plainURL returns a fresh database's URL without the sslmode=disable newURL gives
// it, in the postgresql:// spelling Prisma's examples use, and its database name.
func plainURL(t *testing.T) (string, string) {
	t.Helper()
	u, err := url.Parse(newURL(t, Postgres))
	if err != nil {
		t.Fatal(err)
	}
	u.Scheme, u.RawQuery = "postgresql", ""
	return u.String(), strings.TrimPrefix(u.Path, "/")
}

// usesTLS reports whether db's connection is encrypted.
func usesTLS(t *testing.T, db *DB) bool {
	t.Helper()
	var ssl bool
	if err := db.Bun().DB.QueryRowContext(t.Context(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	return ssl
}

// TestOpenPrismaURL opens the URL forms a Prisma .env holds against a server without
// TLS, and checks what each parameter does.
func TestOpenPrismaURL(t *testing.T) {
	tests := map[string]struct {
		query string
		check func(t *testing.T, db *DB)
	}{
		"no sslmode falls back to plain": {
			check: func(t *testing.T, db *DB) {
				if usesTLS(t, db) {
					t.Error("TLS on a server without it")
				}
			},
		},
		"sslmode=prefer": {query: "sslmode=prefer"},
		"schema=public and pool parameters": {
			query: "schema=public&connection_limit=5&pool_timeout=10&connect_timeout=5&socket_timeout=30&statement_cache_size=0&max_idle_connection_lifetime=60&application_name=r2plan-test",
			check: func(t *testing.T, db *DB) {
				if n := db.Bun().Stats().MaxOpenConnections; n != 5 {
					t.Errorf("MaxOpenConnections = %d, want 5 (connection_limit)", n)
				}
				var app, path string
				if err := db.Bun().DB.QueryRowContext(t.Context(), "SELECT current_setting('application_name'), current_setting('search_path')").Scan(&app, &path); err != nil {
					t.Fatal(err)
				}
				if app != "r2plan-test" || path != `"public"` && path != "public" {
					t.Errorf("application_name %q, search_path %q", app, path)
				}
			},
		},
		"pgbouncer=true": {
			query: "pgbouncer=true&schema=public",
			check: func(t *testing.T, db *DB) {
				// Bound values go in the text: nothing is prepared on the server.
				mustExec(t, db, `CREATE TABLE bouncer (id bigint PRIMARY KEY, k text)`)
				mustExec(t, db, `INSERT INTO bouncer VALUES (1, 'it''s {a,"b"}'), (2, 'x')`)
				got, err := CompareAndSwap(t.Context(), db.Bun(), Postgres, Table{Name: "bouncer"}, "id", "k",
					[]Swap{{PK: "1", Old: `it's {a,"b"}`, New: `new\one`}, {PK: "2", Old: "stale", New: "y"}})
				if err != nil || len(got) != 1 || got[0] != "1" {
					t.Fatalf("CompareAndSwap = %q, %v", got, err)
				}
				cur, err := Current(t.Context(), db.Bun(), Postgres, Table{Name: "bouncer"}, "id", "k", []string{"1", "2"})
				if err != nil || *cur["1"] != `new\one` || *cur["2"] != "x" {
					t.Fatalf("Current = %v, %v", cur, err)
				}
				var prepared int
				if err := db.Bun().DB.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_prepared_statements").Scan(&prepared); err != nil || prepared != 0 {
					t.Errorf("%d prepared statements, %v", prepared, err)
				}
			},
		},
		"pgbouncer=false": {query: "pgbouncer=false"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			u, dbName := plainURL(t)
			if tt.query != "" {
				u += "?" + tt.query
			}
			db, err := Open(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			want := Identity{Driver: Postgres, Host: "127.0.0.1:" + strconv.Itoa(pg.Port()), Name: dbName}
			if db.Identity() != want {
				t.Errorf("Identity() = %+v, want %+v", db.Identity(), want)
			}
			if tt.check != nil {
				tt.check(t, db)
			}
		})
	}
}

func TestOpenBadPrismaParameters(t *testing.T) {
	u, _ := plainURL(t)
	tests := map[string]string{
		"connection_limit=many":        "connection_limit",
		"pool_timeout=-1":              "pool_timeout",
		"pgbouncer=maybe":              "pgbouncer",
		"sslaccept=sometimes":          "sslaccept",
		"sslidentity=client.p12":       "sslidentity",
		"sslmode=bogus":                "sslmode is invalid",
		"schema=nowhere":               `schema "nowhere"`,
		"sslmode=require":              "server refused TLS",
		"sslmode=verify-full&schema=x": "server refused TLS",
	}
	for query, want := range tests {
		t.Run(query, func(t *testing.T) {
			db, err := Open(t.Context(), u+"?"+query)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
			if strings.Contains(err.Error(), pg.Password) || strings.Contains(err.Error(), "postgresql://") {
				t.Errorf("error %q quotes the URL", err)
			}
		})
	}
}

// TestOpenSchema: with schema=, r2plan finds the tables of that schema and not
// those of public.
func TestOpenSchema(t *testing.T) {
	u, _ := plainURL(t)
	setup, err := Open(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close()
	for _, q := range []string{
		`CREATE SCHEMA "my-app"`,
		`CREATE TABLE "my-app"."User" (id int PRIMARY KEY, avatar text)`,
		`INSERT INTO "my-app"."User" VALUES (1, 'a.webp')`,
		`CREATE TABLE public."Other" (id int PRIMARY KEY)`,
	} {
		mustExec(t, setup, q)
	}
	db, err := Open(t.Context(), u+"?schema=my-app&connection_limit=2")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Schema() != "my-app" {
		t.Errorf("Schema() = %q", db.Schema())
	}
	user := Table{Name: "User"}
	if err := db.Check(t.Context(), user, "id", []string{"avatar"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Check(t.Context(), Table{Name: "Other"}, "id", nil); err == nil {
		t.Error(`found public."Other" through search_path "my-app"`)
	}
	got, err := CompareAndSwap(t.Context(), db.Bun(), Postgres, user, "id", "avatar", []Swap{{PK: "1", Old: "a.webp", New: "b.webp"}})
	if err != nil || len(got) != 1 {
		t.Fatalf("CompareAndSwap = %q, %v", got, err)
	}
	var v string
	if err := setup.Bun().DB.QueryRowContext(t.Context(), `SELECT avatar FROM "my-app"."User"`).Scan(&v); err != nil || v != "b.webp" {
		t.Errorf("avatar = %q, %v", v, err)
	}
}

// TestOpenSocketAndEnvironment: host= names a unix socket directory, and the PG*
// variables fill in what the URL leaves out.
func TestOpenSocketAndEnvironment(t *testing.T) {
	_, dbName := plainURL(t)
	port := strconv.Itoa(pg.Port())
	t.Run("host=socket directory", func(t *testing.T) {
		// Prisma's form: a host in the authority, the socket in host=.
		db, err := Open(t.Context(), "postgresql://r2plan@localhost:"+port+"/"+dbName+"?host="+url.QueryEscape(pg.SocketDir()))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if want := (Identity{Driver: Postgres, Host: pg.SocketDir(), Name: dbName}); db.Identity() != want {
			t.Errorf("Identity() = %+v, want %+v", db.Identity(), want)
		}
		var addr *string
		if err := db.Bun().DB.QueryRowContext(t.Context(), "SELECT inet_client_addr()::text").Scan(&addr); err != nil || addr != nil {
			t.Errorf("client address %v, %v: not over the socket", addr, err)
		}
	})
	t.Run("PGUSER and PGPASSWORD", func(t *testing.T) {
		t.Setenv("PGUSER", testenv.PGUser)
		t.Setenv("PGPASSWORD", pg.Password)
		db, err := Open(t.Context(), "postgresql://127.0.0.1:"+port+"/"+dbName+"?schema=public")
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
	})
	t.Run("PGHOST PGPORT PGDATABASE", func(t *testing.T) {
		t.Setenv("PGHOST", "127.0.0.1")
		t.Setenv("PGPORT", port)
		t.Setenv("PGDATABASE", dbName)
		t.Setenv("PGSSLMODE", "disable")
		db, err := Open(t.Context(), "postgresql://r2plan:"+url.QueryEscape(pg.Password)+"@")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if want := (Identity{Driver: Postgres, Host: "127.0.0.1:" + port, Name: dbName}); db.Identity() != want {
			t.Errorf("Identity() = %+v, want %+v", db.Identity(), want)
		}
	})
	t.Run("a wrong PGPASSWORD stays out of the error", func(t *testing.T) {
		const secret = "env-s3cret-pw"
		t.Setenv("PGPASSWORD", secret)
		_, err := Open(t.Context(), "postgresql://r2plan@127.0.0.1:"+port+"/"+dbName+"?sslmode=disable")
		if err == nil || strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "password authentication failed") {
			t.Errorf("error %v", err)
		}
	})
}

// TestOpenTLS runs each sslmode against a server with TLS on, whose password holds
// every character a URL must escape.
func TestOpenTLS(t *testing.T) {
	const password = `p@ss:w/o%rd#1 ?&=`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := testenv.StartPostgresTLS(ctx, t.TempDir(), password)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	dbURL, err := srv.CreateDatabase(ctx, "tls_db")
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := strings.Cut(strings.Replace(dbURL, "postgres://", "postgresql://", 1), "?")
	if !strings.Contains(base, "%40") { // the @ is escaped
		t.Fatalf("URL %q does not escape the password", base)
	}
	localhost := strings.Replace(base, "@127.0.0.1:", "@localhost:", 1)
	ca := url.QueryEscape(srv.CAFile)
	wrongCA, _, _, err := testenv.WriteTestCA(t.TempDir(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		url     string
		wantTLS bool
		wantErr string
	}{
		"no sslmode (prefer)":         {url: base, wantTLS: true},
		"prefer":                      {url: base + "?sslmode=prefer", wantTLS: true},
		"require":                     {url: base + "?sslmode=require&schema=public&connection_limit=3", wantTLS: true},
		"disable":                     {url: base + "?sslmode=disable", wantTLS: false},
		"verify-ca":                   {url: base + "?sslmode=verify-ca&sslrootcert=" + ca, wantTLS: true},
		"verify-full 127.0.0.1":       {url: base + "?sslmode=verify-full&sslrootcert=" + ca, wantTLS: true},
		"verify-full localhost":       {url: localhost + "?sslmode=verify-full&sslrootcert=" + ca, wantTLS: true},
		"prisma sslcert, strict":      {url: localhost + "?sslmode=require&sslcert=" + ca + "&sslaccept=strict", wantTLS: true},
		"verify-full, wrong CA":       {url: base + "?sslmode=verify-full&sslrootcert=" + url.QueryEscape(wrongCA), wantErr: "is the server's certificate signed by the CA of sslrootcert?"},
		"verify-full, no CA":          {url: base + "?sslmode=verify-full&sslrootcert=" + url.QueryEscape(t.TempDir()+"/none.pem"), wantErr: "postgres URL: failed to configure TLS (unable to read CA file"},
		"prisma sslcert, wrong CA":    {url: base + "?sslmode=require&sslcert=" + url.QueryEscape(wrongCA), wantErr: "certificate signed by unknown authority"},
		"strict without a CA":         {url: base + "?sslaccept=strict", wantErr: "certificate signed by unknown authority"},
		"escaped password, wrong one": {url: strings.Replace(base, "%40", "%41", 1), wantErr: "password authentication failed"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.url)
			if tt.wantErr != "" {
				if err == nil {
					db.Close()
					t.Fatal("Open succeeded")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not mention %q", err, tt.wantErr)
				}
				for _, s := range []string{password, url.QueryEscape(password), "p@ss"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q holds the password", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got := usesTLS(t, db); got != tt.wantTLS {
				t.Errorf("TLS = %v, want %v", got, tt.wantTLS)
			}
		})
	}
}
