package sqldb

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOpenIdentity(t *testing.T) {
	pgURL := newURL(t, Postgres)
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sqlitePath := dir + "/sub/../app.db"
	tests := map[string]struct {
		url     string
		dialect string
		want    Identity
	}{
		"postgres": {
			url: pgURL, dialect: Postgres,
			want: Identity{Driver: Postgres, Host: u.Host, Name: strings.TrimPrefix(u.Path, "/")},
		},
		"postgresql scheme": {
			url: strings.Replace(pgURL, "postgres://", "postgresql://", 1), dialect: Postgres,
			want: Identity{Driver: Postgres, Host: u.Host, Name: strings.TrimPrefix(u.Path, "/")},
		},
		"sqlite:PATH": {
			url: "sqlite:" + sqlitePath, dialect: SQLite,
			want: Identity{Driver: SQLite, Name: filepath.Join(dir, "app.db")},
		},
		"sqlite://PATH": {
			url: "sqlite://" + sqlitePath, dialect: SQLite,
			want: Identity{Driver: SQLite, Name: filepath.Join(dir, "app.db")},
		},
		"sqlite memory": {
			url: "sqlite::memory:", dialect: SQLite,
			want: Identity{Driver: SQLite, Name: ":memory:"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if name == "sqlite:PATH" || name == "sqlite://PATH" {
				if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(t.Context(), tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if diff := cmp.Diff(tt.want, db.Identity()); diff != "" {
				t.Errorf("Identity() mismatch (-want +got):\n%s", diff)
			}
			if db.Dialect() != tt.dialect {
				t.Errorf("Dialect() = %q, want %q", db.Dialect(), tt.dialect)
			}
			if s := fmt.Sprintf("%+v %s", db.Identity(), db.Identity()); strings.Contains(s, pg.Password) {
				t.Errorf("identity %s holds the password", s)
			}
			var one int
			if err := db.Bun().QueryRowContext(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Errorf("SELECT 1 = %d, %v", one, err)
			}
		})
	}
}

func TestOpenErrorsHideSecrets(t *testing.T) {
	const secret = "s3cr3t-Pa55word"
	good, err := url.Parse(pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	wrongPassword := *good
	wrongPassword.User = url.UserPassword("r2plan", secret)
	wrongUser := *good
	wrongUser.User = url.UserPassword("nobody", secret)
	closedPort := *good
	closedPort.Host = net.JoinHostPort("127.0.0.1", "1")
	closedPort.User = url.UserPassword("r2plan", secret)

	tests := map[string]struct {
		url  string
		want string // a part of the error
	}{
		"wrong password":     {url: wrongPassword.String(), want: "password authentication failed"},
		"wrong user":         {url: wrongUser.String(), want: "nobody"},
		"nothing listening":  {url: closedPort.String(), want: "127.0.0.1:1"},
		"unparsable URL":     {url: "postgres://r2plan:" + secret + "@127.0.0.1:notaport/db", want: "invalid postgres URL"},
		"bad sslmode":        {url: "postgres://r2plan:" + secret + "@127.0.0.1:1/db?sslmode=bogus", want: "sslmode"},
		"secret in query":    {url: "postgres://r2plan@127.0.0.1:1/db?password=" + secret, want: "127.0.0.1:1"},
		"unsupported scheme": {url: "mysql://r2plan:" + secret + "@127.0.0.1/db", want: "unsupported URL scheme"},
		"sqlite no path":     {url: "sqlite:", want: "no path"},
		"sqlite bad dir":     {url: "sqlite:" + filepath.Join(t.TempDir(), "missing", "x.db"), want: "sqlite"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			db, err := Open(t.Context(), tt.url)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not mention %q", msg, tt.want)
			}
			for _, s := range []string{secret, pg.Password} {
				if strings.Contains(msg, s) {
					t.Errorf("error %q holds a password", msg)
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := map[string]struct{ in, want string }{
		"password":          {"postgres://u:pw@h:5432/db?sslmode=disable", "postgres://u:xxxxx@h:5432/db?sslmode=disable"},
		"no password":       {"postgres://u@h/db", "postgres://u@h/db"},
		"escaped password":  {"postgres://u:p%40ss%2Fw@h/db", "postgres://u:xxxxx@h/db"},
		"at in password":    {"postgres://u:p@ss@h/db", "postgres://u:xxxxx@h/db"},
		"empty password":    {"postgres://u:@h/db", "postgres://u:xxxxx@h/db"},
		"query password":    {"postgres://h/db?user=u&password=pw&sslmode=require", "postgres://h/db?user=u&password=xxxxx&sslmode=require"},
		"query secret":      {"postgres://h/db?client_secret=abc#frag", "postgres://h/db?client_secret=xxxxx#frag"},
		"query token":       {"postgres://h/db?AuthToken=abc", "postgres://h/db?AuthToken=xxxxx"},
		"sslpassword":       {"postgresql://h/db?sslcert=c.pem&sslpassword=abc", "postgresql://h/db?sslcert=c.pem&sslpassword=xxxxx"},
		"sqlite":            {"sqlite:/var/db/app.db", "sqlite:/var/db/app.db"},
		"sqlite memory":     {"sqlite::memory:", "sqlite::memory:"},
		"not a URL":         {"::::", "::::"},
		"unparsable secret": {"postgres://u:pw@h:bad/db", "postgres://u:xxxxx@h:bad/db"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Redact(tt.in)); diff != "" {
				t.Errorf("Redact(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	base := errors.New(`connect as "u" with password "p@ss/w": refused`)
	err := scrub(base, "postgres://u:p%40ss%2Fw@h/db")
	if diff := cmp.Diff(`connect as "u" with password "xxxxx": refused`, err.Error()); diff != "" {
		t.Errorf("scrub mismatch (-want +got):\n%s", diff)
	}
	if !errors.Is(err, base) {
		t.Error("scrubbed error does not unwrap to the original")
	}
}
