package sqldb

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestExplainOpen: the errors of Open against a closed port and with a wrong password
// are classified, and hold no password.
func TestExplainOpen(t *testing.T) {
	good := newURL(t, Postgres)
	tests := map[string]struct {
		url  string
		want Problem
	}{
		"closed port": {
			url:  "postgres://r2plan:pw-closed-0000@127.0.0.1:1/db?sslmode=disable",
			want: Problem{Reason: ReasonUnreachable, Addr: "127.0.0.1:1", Cause: "connection refused"},
		},
		"wrong password": {
			url: strings.Replace(good, ":"+pg.Password+"@", ":wrong-password-0000@", 1),
			want: Problem{Reason: ReasonAuthentication, SQLState: "28P01",
				Cause: `password authentication failed for user "r2plan"`},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.url)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			got, ok := Explain(err)
			if !ok {
				t.Errorf("Explain(%v): not classified", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Explain mismatch (-want +got):\n%s", diff)
			}
			for _, secret := range []string{"pw-closed-0000", "wrong-password-0000", pg.Password} {
				if strings.Contains(err.Error(), secret) || strings.Contains(got.Cause, secret) {
					t.Errorf("the error shows a password: %v", err)
				}
			}
		})
	}
}

func TestExplainPermission(t *testing.T) {
	err := fmt.Errorf("rewrite Story: %w", &pgconn.PgError{Code: "42501", Message: `permission denied for table Story`})
	got, ok := Explain(err)
	want := Problem{Reason: ReasonPermission, SQLState: "42501", Cause: "permission denied for table Story", Table: "Story"}
	if diff := cmp.Diff(want, got); !ok || diff != "" {
		t.Errorf("Explain = %v (-want +got):\n%s", ok, diff)
	}
	if _, ok := Explain(&pgconn.PgError{Code: "23505"}); ok {
		t.Errorf("a unique violation is classified")
	}
}
