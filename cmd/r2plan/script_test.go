package main

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/r2plan/r2plan/internal/faultproxy"
	"github.com/r2plan/r2plan/internal/testenv"
	"github.com/r2plan/r2plan/providers/s3"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// The servers are shared by every script of this test binary, started on first use
// (never in the re-executed r2plan processes) and stopped when the tests end.
var (
	serversOnce sync.Once
	serversErr  error
	s3srv       *testenv.S3Server
	pgsrv       *testenv.Postgres
	serversDir  string
)

func TestMain(m *testing.M) {
	// The scripts run the real entry point, main, as the command r2plan.
	testscript.Main(stopServersAfter{m}, map[string]func(){"r2plan": main})
}

// stopServersAfter runs the tests, then stops the servers they started.
type stopServersAfter struct{ m *testing.M }

func (s stopServersAfter) Run() int {
	code := s.m.Run()
	if s3srv != nil {
		s3srv.Stop()
	}
	if pgsrv != nil {
		pgsrv.Stop()
	}
	if serversDir != "" {
		os.RemoveAll(serversDir)
	}
	return code
}

func startServers() error {
	serversOnce.Do(func() {
		ctx := context.Background()
		serversDir, serversErr = os.MkdirTemp("", "r2plan-script-")
		if serversErr != nil {
			return
		}
		os.Chmod(serversDir, 0o755)
		s3srv, serversErr = testenv.StartS3(ctx, filepath.Join(serversDir, "s3"), "", "")
		if serversErr != nil {
			return
		}
		pgsrv, serversErr = testenv.StartPostgres(ctx, filepath.Join(serversDir, "pg"), "")
	})
	return serversErr
}

func TestScript(t *testing.T) {
	if err := startServers(); err != nil {
		t.Fatalf("start servers: %v", err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: false,
		Setup:               setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"seed-objects": cmdSeedObjects,
			"objects":      cmdObjects,
			"get":          cmdGet,
			"sql":          cmdSQL,
			"unresolved":   cmdUnresolved,
			"ci-run":       cmdCIRun,
			"pg-role":      cmdPGRole,
			"readme-sql":   cmdReadmeSQL,
			"deny-proxy":   cmdDenyProxy,
			"json-schema":  cmdJSONSchema,
			"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
				d, err := time.ParseDuration(args[0])
				ts.Check(err)
				time.Sleep(d)
			},
		},
	})
}

var scriptSeq struct {
	sync.Mutex
	n int
}

// setupScript gives each script its own bucket and PostgreSQL database, and the
// environment the examples read.
func setupScript(env *testscript.Env) error {
	ctx := context.Background()
	scriptSeq.Lock()
	scriptSeq.n++
	n := scriptSeq.n
	scriptSeq.Unlock()
	bucketName := fmt.Sprintf("script-%d-%s", n, randomHex(4))
	b, err := s3.Open(ctx, s3.Options{Endpoint: s3srv.Endpoint, Region: "auto", Bucket: bucketName,
		AccessKeyID: s3srv.AccessKey, SecretAccessKey: s3srv.SecretKey, PathStyle: true})
	if err != nil {
		return err
	}
	if err := b.CreateBucket(ctx); err != nil {
		return err
	}
	pgURL, err := pgsrv.CreateDatabase(ctx, fmt.Sprintf("script_%d", n))
	if err != nil {
		return err
	}
	prisma, err := url.Parse(pgURL)
	if err != nil {
		return err
	}
	// As a Prisma .env holds it: its scheme, its parameters, no sslmode.
	prisma.Scheme, prisma.RawQuery = "postgresql", "schema=public&connection_limit=5&pool_timeout=10"
	examples, err := filepath.Abs("../../examples")
	if err != nil {
		return err
	}
	schema, err := filepath.Abs("../../testdata/charhub")
	if err != nil {
		return err
	}
	for k, v := range map[string]string{
		"R2_ENDPOINT_URL":       s3srv.Endpoint,
		"R2_BUCKET_NAME":        bucketName,
		"R2_ACCESS_KEY_ID":      s3srv.AccessKey,
		"R2_SECRET_ACCESS_KEY":  s3srv.SecretKey,
		"PG_URL":                pgURL,
		"PRISMA_DATABASE_URL":   prisma.String(),
		"PG_PASSWORD":           pgsrv.Password,
		"PG_URL_WRONG_PASSWORD": strings.Replace(pgURL, ":"+pgsrv.Password+"@", ":wrong-password-0000@", 1),
		"SQLITE_URL":            "sqlite:" + filepath.Join(env.WorkDir, "app.db"),
		"EXAMPLES":              examples,
		"SCHEMA":                schema,
	} {
		env.Setenv(k, v)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func scriptBucket(ts *testscript.TestScript) *s3.Bucket {
	b, err := s3.Open(context.Background(), s3.Options{Endpoint: ts.Getenv("R2_ENDPOINT_URL"), Region: "auto",
		Bucket: ts.Getenv("R2_BUCKET_NAME"), AccessKeyID: ts.Getenv("R2_ACCESS_KEY_ID"),
		SecretAccessKey: ts.Getenv("R2_SECRET_ACCESS_KEY"), PathStyle: true})
	ts.Check(err)
	return b
}

// seed-objects FILE uploads one object per line of FILE: a Go-quoted key, then
// optionally a Go-quoted body (default: "body of " + key) and a content type.
func cmdSeedObjects(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: seed-objects FILE")
	}
	b := scriptBucket(ts)
	sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(args[0])))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := quotedFields(ts, line)
		key, body, ctype := fields[0], "body of "+fields[0], "image/webp"
		if len(fields) > 1 {
			body = fields[1]
		}
		if len(fields) > 2 {
			ctype = fields[2]
		}
		ts.Check(b.Put(context.Background(), key, []byte(body), ctype, "public, max-age=31536000", map[string]string{"seeded-by": "r2plan-test"}))
	}
}

func quotedFields(ts *testscript.TestScript, line string) []string {
	var out []string
	for line = strings.TrimSpace(line); line != ""; line = strings.TrimSpace(line) {
		q, err := strconv.QuotedPrefix(line)
		if err != nil {
			ts.Fatalf("bad quoted field in %q: %v", line, err)
		}
		s, _ := strconv.Unquote(q)
		out = append(out, s)
		line = line[len(q):]
	}
	return out
}

// objects prints every key of the bucket, Go-quoted, sorted, one a line.
func cmdObjects(ts *testscript.TestScript, neg bool, args []string) {
	b := scriptBucket(ts)
	var keys []string
	ts.Check(b.List(context.Background(), "", func(key string, size int64, etag string, modified time.Time) error {
		keys = append(keys, strconv.Quote(key))
		return nil
	}))
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintln(ts.Stdout(), k)
	}
}

// get KEY [BODY] fails unless the object exists (with !, unless it does not) and, with
// BODY, holds exactly those bytes (its ETag is their MD5: objects seeded in one part).
func cmdGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 && len(args) != 2 {
		ts.Fatalf("usage: get KEY [BODY]")
	}
	key, err := strconv.Unquote(args[0])
	if err != nil {
		key = args[0]
	}
	_, etag, err := scriptBucket(ts).Head(context.Background(), key)
	if neg {
		if err == nil {
			ts.Fatalf("object %q exists", key)
		}
		return
	}
	ts.Check(err)
	if len(args) == 2 {
		if want := fmt.Sprintf("%x", md5.Sum([]byte(args[1]))); etag != want {
			ts.Fatalf("object %q has ETag %s, not the MD5 of %q (%s)", key, etag, args[1], want)
		}
	}
}

// sql URL FILE|-q QUERY runs a SQL file (or with -q prints a query's rows, tab
// separated, NULL as NULL) against the database at URL.
func cmdSQL(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: sql URL FILE | sql URL -q QUERY")
	}
	ctx := context.Background()
	db, err := sqldb.Open(ctx, args[0])
	ts.Check(err)
	defer db.Close()
	if args[1] != "-q" {
		for _, stmt := range strings.Split(ts.ReadFile(args[1]), ";\n") {
			if onlyComments(stmt) {
				continue
			}
			_, err := db.Bun().ExecContext(ctx, stmt)
			if neg {
				if err == nil {
					ts.Fatalf("sql succeeded unexpectedly")
				}
				return
			}
			ts.Check(err)
		}
		return
	}
	rows, err := db.Bun().QueryContext(ctx, strings.Join(args[2:], " "))
	ts.Check(err)
	defer rows.Close()
	cols, err := rows.Columns()
	ts.Check(err)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		ts.Check(rows.Scan(ptrs...))
		out := make([]string, len(cols))
		for i, v := range vals {
			switch v := v.(type) {
			case nil:
				out[i] = "NULL"
			case []byte:
				out[i] = string(v)
			default:
				out[i] = fmt.Sprint(v)
			}
		}
		fmt.Fprintln(ts.Stdout(), strings.Join(out, "\t"))
	}
	ts.Check(rows.Err())
}

// onlyComments reports whether a SQL chunk holds nothing but blank and -- lines.
func onlyComments(stmt string) bool {
	for line := range strings.Lines(stmt) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "--") {
			return false
		}
	}
	return true
}

// unresolved URL prints, sorted, every reference of the charhub schema at URL that does
// not resolve to an object of the bucket: Table.column[pk]. It is the invariant checker
// of the crash tests, written independently of the planner: a key column names its
// object; a URL on https://media.charhub.app names the percent-decoded path before any
// query string; NULLs, foreign URLs and rows filtered out by uploadedToR2 are skipped.
func cmdUnresolved(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: unresolved URL")
	}
	ctx := context.Background()
	db, err := sqldb.Open(ctx, args[0])
	ts.Check(err)
	defer db.Close()
	b := scriptBucket(ts)
	type col struct {
		table, column, where string
		url                  bool
	}
	cols := []col{
		{"CharacterImage", "key", "", false},
		{"CharacterImage", "url", "", true},
		{"Story", "coverImage", "", true},
		{"CuratedImage", "r2Key", `WHERE "uploadedToR2" = true`, false},
		{"CuratedImage", "r2Url", `WHERE "uploadedToR2" = true`, true},
	}
	var bad []string
	for _, c := range cols {
		rows, err := db.Bun().QueryContext(ctx, fmt.Sprintf(`SELECT "id", "%s" FROM "%s" %s`, c.column, c.table, c.where))
		ts.Check(err)
		type ref struct{ pk, value string }
		var refs []ref
		for rows.Next() {
			var pk string
			var v *string
			ts.Check(rows.Scan(&pk, &v))
			if v != nil {
				refs = append(refs, ref{pk, *v})
			}
		}
		ts.Check(rows.Err())
		rows.Close()
		for _, r := range refs {
			key := r.value
			if c.url {
				rest, ok := strings.CutPrefix(key, "https://media.charhub.app/")
				if !ok {
					continue // foreign
				}
				rest, _, _ = strings.Cut(rest, "?")
				if key, err = url.PathUnescape(rest); err != nil {
					key = rest
				}
			}
			if _, _, err := b.Head(ctx, key); err != nil {
				bad = append(bad, fmt.Sprintf("%s.%s[%s]", c.table, c.column, r.pk))
			}
		}
	}
	slices.Sort(bad)
	for _, s := range bad {
		fmt.Fprintln(ts.Stdout(), s)
	}
}

// pg-role NAME VAR creates a PostgreSQL login role NAME with no rights beyond PUBLIC's
// (roles are the server's: one script only may use a name) and sets VAR to the URL of
// the script's database for it.
func cmdPGRole(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: pg-role NAME VAR")
	}
	u, err := pgsrv.CreateRole(context.Background(), args[0], ts.Getenv("PG_URL"))
	ts.Check(err)
	ts.Setenv(args[1], u)
}

// deny-proxy KIND VAR starts a fault proxy in front of the S3 server that answers
// every request of KIND (copy, head, list, delete) with 403 AccessDenied, as a server
// does to a token without that permission, and sets VAR to its endpoint. It stops
// when the script ends.
func cmdDenyProxy(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: deny-proxy KIND VAR")
	}
	kind := slices.IndexFunc(faultproxy.Kinds, func(k faultproxy.Kind) bool { return k.String() == args[0] })
	if kind < 0 {
		ts.Fatalf("deny-proxy: unknown kind %q", args[0])
	}
	deny := faultproxy.Kinds[kind]
	px, err := faultproxy.Start(faultproxy.Options{Target: s3srv.Endpoint, Schedule: func(_ *http.Request, k faultproxy.Kind, _ int64) faultproxy.Fault {
		if k == deny {
			return faultproxy.Denied403
		}
		return faultproxy.None
	}})
	ts.Check(err)
	ts.Defer(func() { px.Close() })
	ts.Setenv(args[1], px.URL())
}

// readme-sql FILE writes to FILE the README's SQL block that creates r2plan's tables
// (the one that starts with a comment naming r2plan_journal and r2plan_lock), so
// that the scripts run exactly what the README tells a database owner to run.
func cmdReadmeSQL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: readme-sql FILE")
	}
	readme, err := os.ReadFile("../../README.md")
	ts.Check(err)
	block, err := readmeSchemaSQL(string(readme))
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(block), 0o644))
}

// readmeSchemaSQL returns the README's SQL block that creates r2plan's tables.
func readmeSchemaSQL(readme string) (string, error) {
	for _, part := range strings.Split(readme, "```sql\n")[1:] {
		block, _, ok := strings.Cut(part, "```")
		if ok && strings.Contains(block, `CREATE TABLE IF NOT EXISTS "r2plan_lock"`) {
			return block, nil
		}
	}
	return "", fmt.Errorf("README.md has no SQL block that creates r2plan_lock")
}
