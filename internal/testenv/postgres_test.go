package testenv

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
)

func TestStartPostgres(t *testing.T) {
	ctx := context.Background()
	pg, err := StartPostgres(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(); err != nil {
			t.Error(err)
		}
	})
	if !strings.HasPrefix(pg.Password, "r2pw-") || !strings.Contains(pg.URL, pg.Password) {
		t.Fatalf("URL %q, password %q", pg.URL, pg.Password)
	}
	other, err := pg.CreateDatabase(ctx, "other_db")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{pg.URL, other} {
		db := mustOpen(t, u)
		var name, user string
		if err := db.QueryRowContext(ctx, "SELECT current_database(), current_user").Scan(&name, &user); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, "CREATE TABLE t (id int)"); err != nil {
			t.Errorf("%s: create table: %v", name, err)
		}
		db.Close()
		if user != PGUser {
			t.Errorf("current_user = %q", user)
		}
	}

	// The wrong password is refused: TCP really uses password authentication.
	bad := strings.Replace(pg.URL, pg.Password, "wrong", 1)
	db := mustOpen(t, bad)
	defer db.Close()
	if err := db.PingContext(ctx); err == nil {
		t.Error("ping with a wrong password succeeded")
	}

	if _, err := os.Stat(pg.LogPath()); err != nil {
		t.Error(err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
}

func mustOpen(t *testing.T, u string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestStartPostgresTLS(t *testing.T) {
	ctx := context.Background()
	pg, err := StartPostgresTLS(ctx, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Stop() })
	if pg.CAFile == "" {
		t.Fatal("no CAFile")
	}
	for mode, wantSSL := range map[string]bool{"disable": false, "verify-full&sslrootcert=" + url.QueryEscape(pg.CAFile): true} {
		u := strings.Replace(pg.URL, "sslmode=disable", "sslmode="+mode, 1)
		db := mustOpen(t, u)
		var ssl bool
		err := db.QueryRowContext(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl)
		db.Close()
		if err != nil {
			t.Fatalf("sslmode=%s: %v", mode, err)
		}
		if ssl != wantSSL {
			t.Errorf("sslmode=%s: ssl = %v, want %v", mode, ssl, wantSSL)
		}
	}
}
