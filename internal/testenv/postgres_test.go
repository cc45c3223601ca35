package testenv

import (
	"context"
	"database/sql"
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
