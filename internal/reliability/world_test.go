package reliability

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/internal/faultproxy"
	"github.com/r2plan/r2plan/providers/s3"
)

const publicURL = "https://media.charhub.app"

// world is one scenario's bucket, database, proxy and plan.
type world struct {
	t        *testing.T
	name     string
	bucket   string
	dbURL    string
	db       *sql.DB
	direct   *s3.Bucket // the real server, never through the proxy
	px       *faultproxy.Proxy
	dir      string
	planPath string

	objects map[string]string // key → ETag before any apply
	before  map[string]bool   // references unresolved before any apply (dangling by design)
	sum     summary
}

var worldSeq atomic.Int64

// newWorld makes a bucket and a database seeded with the CharHub case of about n
// objects (deterministic for n), and a fault proxy in front of the bucket.
func newWorld(t *testing.T, scenario string, n int, o faultproxy.Options) *world {
	t.Helper()
	ctx := t.Context()
	i := worldSeq.Add(1)
	w := &world{t: t, name: scenario, dir: t.TempDir(), sum: summary{Scenario: scenario}}
	w.bucket = fmt.Sprintf("rel-%d-%d", i, time.Now().UnixNano()%1e9)
	var err error
	w.direct, err = s3.Open(ctx, s3.Options{Endpoint: s3srv.Endpoint, Bucket: w.bucket, PathStyle: true,
		AccessKeyID: s3srv.AccessKey, SecretAccessKey: s3srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.direct.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	w.dbURL, err = pgsrv.CreateDatabase(ctx, fmt.Sprintf("rel_%d", i))
	if err != nil {
		t.Fatal(err)
	}
	w.db = openDB(w.dbURL)
	t.Cleanup(func() { w.db.Close() })
	w.seed(ctx, n)

	o.Target = s3srv.Endpoint
	w.px, err = faultproxy.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.px.Close() })
	w.planPath = filepath.Join(w.dir, "move.plan")

	w.objects = w.listObjects()
	w.before = map[string]bool{}
	for _, r := range w.unresolved() {
		w.before[r] = true
	}
	return w
}

// escapeKey is the public URL path of a key, written independently of package plan:
// every byte but A-Za-z0-9-_.~/ percent-encoded.
func escapeKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

var awkward = []string{"my avatar %d.webp", "a+b %d.webp", "100%% %d.webp", "what? %d.webp", "#%d.webp", "café %d.webp", "日本 %d.webp", "x&y=%d.webp"}

// seed loads the schema, uploads the objects and inserts the rows.
func (w *world) seed(ctx context.Context, n int) {
	t := w.t
	schema, err := os.ReadFile("../../testdata/charhub/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(string(schema), ";\n") {
		if strings.TrimSpace(stmt) != "" {
			if _, err := w.db.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("schema: %v", err)
			}
		}
	}
	rnd := rand.New(rand.NewPCG(uint64(n), 42))
	objs := map[string][]byte{}
	type img struct{ id, char, url, key string }
	var imgs []img
	nChars := n * 7 / 10
	for i := range nChars {
		name := fmt.Sprintf("avatar_%d.webp", 1736700000000+int64(i)*1000)
		if i%5 == 0 {
			name = fmt.Sprintf(awkward[(i/5)%len(awkward)], i)
		}
		key := fmt.Sprintf("characters/c%04d/avatars/%s", i, name)
		objs[key] = nil
		u := publicURL + "/" + escapeKey(key)
		var k any = key
		switch i % 11 {
		case 3:
			u += "?v=2"
		case 6:
			k = nil // URL only
		case 9:
			u = "https://cdn.example.com/" + escapeKey(key) // foreign URL, key still ours
		}
		id := fmt.Sprintf("i%04d", i)
		ks, _ := k.(string)
		imgs = append(imgs, img{id, fmt.Sprintf("c%04d", i), u, ks})
		if i%13 == 0 { // a second image row pointing at the same object
			imgs = append(imgs, img{id + "b", fmt.Sprintf("c%04d", i), publicURL + "/" + escapeKey(key), key})
		}
	}
	for i := range max(2, n/50) { // dangling from the start
		key := fmt.Sprintf("characters/gone%d/missing.webp", i)
		imgs = append(imgs, img{fmt.Sprintf("g%03d", i), "gone", publicURL + "/" + escapeKey(key), key})
	}
	nStories := n / 10
	var stories [][2]any
	for i := range nStories {
		key := fmt.Sprintf("stories/s%03d/cover.webp", i)
		if i%4 == 1 {
			key = fmt.Sprintf("stories/s%03d/cover %d (final).webp", i, i)
		}
		objs[key] = nil
		var cover any = publicURL + "/" + escapeKey(key)
		if i%7 == 3 {
			cover = nil
		}
		stories = append(stories, [2]any{fmt.Sprintf("s%03d", i), cover})
	}
	nCurated := n / 10
	type cur struct {
		id       string
		url, key any
		uploaded bool
	}
	var curated []cur
	for i := range nCurated {
		key := fmt.Sprintf("curated/k%03d.webp", i)
		objs[key] = nil
		curated = append(curated, cur{fmt.Sprintf("k%03d", i), publicURL + "/" + escapeKey(key), key, i%3 != 2})
	}
	for i := range max(2, n/20) { // already placed, and orphans
		objs[fmt.Sprintf("dev/characters/old/%d.webp", i)] = nil
		objs[fmt.Sprintf("prod/characters/p/%d.webp", i)] = nil
		objs[fmt.Sprintf("orphan/nobody %d.webp", i)] = nil
	}
	keys := make([]string, 0, len(objs))
	for k := range objs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		body := make([]byte, 64+rnd.IntN(2048))
		for j := range body {
			body[j] = byte(rnd.UintN(256))
		}
		objs[k] = body
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, k := range keys {
		g.Go(func() error {
			return w.direct.Put(gctx, k, objs[k], "image/webp", "public, max-age=31536000", map[string]string{"seeded-by": "reliability"})
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, r := range imgs {
		var k any
		if r.key != "" {
			k = r.key
		}
		if _, err := w.db.ExecContext(ctx, `INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES ($1, $2, $3, $4)`, r.id, r.char, r.url, k); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stories {
		if _, err := w.db.ExecContext(ctx, `INSERT INTO "Story" ("id", "title", "coverImage") VALUES ($1, 'title', $2)`, s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range curated {
		if _, err := w.db.ExecContext(ctx, `INSERT INTO "CuratedImage" ("id", "r2Url", "r2Key", "uploadedToR2") VALUES ($1, $2, $3, $4)`, c.id, c.url, c.key, c.uploaded); err != nil {
			t.Fatal(err)
		}
	}
}

// result is one finished r2plan process.
type result struct {
	code           int
	stdout, stderr string
	killed         bool
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (killed %v)\nstdout:\n%s\nstderr:\n%s", r.code, r.killed, r.stdout, r.stderr)
}

// env is the environment of an r2plan child: the example's variables, with the
// endpoint on the proxy.
func (w *world) env(extra ...string) []string {
	env := append(os.Environ(),
		"R2_ENDPOINT_URL="+w.px.URL(),
		"R2_BUCKET_NAME="+w.bucket,
		"R2_ACCESS_KEY_ID="+s3srv.AccessKey,
		"R2_SECRET_ACCESS_KEY="+s3srv.SecretKey,
		"DATABASE_URL="+w.dbURL,
		"NODE_ENV=development",
		// Exhaust the retries in seconds, not minutes (the waits only, not the limiter).
		"R2PLAN_TEST_BACKOFF_SCALE=0.05",
		"R2PLAN_TEST_CRASH=", "R2PLAN_TEST_INTERRUPT=",
	)
	return append(env, extra...)
}

// run runs r2plan with args; killAfter > 0 SIGKILLs it after that long.
func (w *world) run(killAfter time.Duration, extraEnv []string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r2planBin, args...)
	cmd.Env = w.env(extraEnv...)
	cmd.Dir = w.dir
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.sum.Runs++
	var killed atomic.Bool
	if killAfter > 0 {
		tm := time.AfterFunc(killAfter, func() {
			killed.Store(true)
			cmd.Process.Signal(syscall.SIGKILL)
		})
		defer tm.Stop()
	}
	start := time.Now()
	err := cmd.Wait()
	w.t.Logf("r2plan %s: %v, exit %d", args[0], time.Since(start).Round(time.Millisecond), cmd.ProcessState.ExitCode())
	r := result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.killed = true
		r.code = -1
		if !killed.Load() && !strings.Contains(strings.Join(extraEnv, " "), "R2PLAN_TEST_CRASH=") {
			w.t.Fatalf("r2plan %s died of %v (%v)\n%s", args[0], ws.Signal(), err, r)
		}
	}
	if strings.Contains(r.stdout+r.stderr, s3srv.SecretKey) || strings.Contains(r.stdout+r.stderr, pgsrv.Password) {
		w.t.Errorf("r2plan %s printed a secret", args[0])
	}
	if strings.Contains(r.stderr, "quota") {
		w.t.Errorf("r2plan %s ran out of a retry quota:\n%s", args[0], r.stderr)
	}
	return r
}

// plan writes the plan, and fails the test unless it succeeds.
func (w *world) plan() {
	w.t.Helper()
	r := w.run(0, nil, "plan", "--config", configPath, "--out", w.planPath)
	if r.code != 0 && r.code != 2 {
		w.t.Fatalf("plan: %s", r)
	}
	if !strings.Contains(r.stdout, "Plan: ") {
		w.t.Fatalf("plan printed no summary: %s", r)
	}
}

// apply runs apply once (killAfter > 0 SIGKILLs it after that long).
func (w *world) apply(killAfter time.Duration, extraEnv []string, flags ...string) result {
	w.t.Helper()
	args := []string{"apply", "--config", configPath}
	args = append(args, applyLockArg...)
	args = append(args, flags...)
	args = append(args, w.planPath)
	return w.run(killAfter, extraEnv, args...)
}

// applyUntilDone applies until an apply exits 0, at most n times, checking after each.
func (w *world) applyUntilDone(n int, flags ...string) result {
	w.t.Helper()
	var r result
	for i := range n {
		r = w.apply(0, nil, flags...)
		w.check()
		if r.code == 0 {
			return r
		}
		w.t.Logf("apply %d exited %d; running it again:\n%s", i+1, r.code, tail(r.stderr, 1500))
	}
	w.t.Fatalf("apply did not complete in %d runs: %s", n, r)
	return r
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// refColumn is one column the checker reads (the example's references).
type refColumn struct {
	table, column, where string
	url                  bool
}

var refColumns = []refColumn{
	{"CharacterImage", "key", "", false},
	{"CharacterImage", "url", "", true},
	{"Story", "coverImage", "", true},
	{"CuratedImage", "r2Key", `WHERE "uploadedToR2" = true`, false},
	{"CuratedImage", "r2Url", `WHERE "uploadedToR2" = true`, true},
}

// unresolved lists every reference (Table.column[pk]) whose object does not exist on
// the real server: a key column names its object; a URL on the public host names the
// percent-decoded path before any query string; NULLs and foreign URLs are skipped.
func (w *world) unresolved() []string {
	t := w.t
	ctx := t.Context()
	type ref struct{ name, key string }
	var refs []ref
	for _, c := range refColumns {
		rows, err := w.db.QueryContext(ctx, fmt.Sprintf(`SELECT "id", "%s" FROM "%s" %s`, c.column, c.table, c.where))
		if err != nil {
			t.Fatalf("checker: %v", err)
		}
		for rows.Next() {
			var pk string
			var v sql.NullString
			if err := rows.Scan(&pk, &v); err != nil {
				t.Fatal(err)
			}
			if !v.Valid {
				continue
			}
			key := v.String
			if c.url {
				rest, ok := strings.CutPrefix(key, publicURL+"/")
				if !ok {
					continue // foreign
				}
				rest, _, _ = strings.Cut(rest, "?")
				if k, err := url.PathUnescape(rest); err == nil {
					key = k
				} else {
					key = rest
				}
			}
			refs = append(refs, ref{fmt.Sprintf("%s.%s[%s]", c.table, c.column, pk), key})
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	var mu sync.Mutex
	var bad []string
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, r := range refs {
		g.Go(func() error {
			if _, _, err := w.direct.Head(gctx, r.key); err != nil {
				mu.Lock()
				bad = append(bad, r.name+" → "+r.key)
				mu.Unlock()
			}
			return nil
		})
	}
	g.Wait()
	slices.Sort(bad)
	return bad
}

func (w *world) listObjects() map[string]string {
	objs := map[string]string{}
	err := w.direct.List(w.t.Context(), "", func(key string, size int64, etag string, modified time.Time) error {
		objs[key] = etag
		return nil
	})
	if err != nil {
		w.t.Fatalf("checker: list: %v", err)
	}
	return objs
}

// check runs the invariant checker: every reference that resolved before resolves,
// and every object there before is still there with its ETag.
func (w *world) check() {
	w.t.Helper()
	for _, r := range w.unresolved() {
		if !w.before[r] {
			w.sum.Dangling++
			w.t.Errorf("DANGLING: %s no longer resolves", r)
		}
	}
	now := w.listObjects()
	for k, etag := range w.objects {
		if got, ok := now[k]; !ok || got != etag {
			w.sum.Lost++
			w.t.Errorf("LOST: %q (ETag %s) is now %q", k, etag, got)
		}
	}
}

// snapshot is the end state: every row of the three tables and every object with
// its ETag, as sorted text lines.
func (w *world) snapshot() []string {
	t := w.t
	ctx := t.Context()
	var out []string
	for _, q := range []string{
		`SELECT 'img', "id", coalesce("key", 'NULL'), "url" FROM "CharacterImage"`,
		`SELECT 'story', "id", coalesce("coverImage", 'NULL'), '' FROM "Story"`,
		`SELECT 'cur', "id", coalesce("r2Key", 'NULL'), coalesce("r2Url", 'NULL') || ' ' || "uploadedToR2"::text FROM "CuratedImage"`,
	} {
		rows, err := w.db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b, c, d string
			if err := rows.Scan(&a, &b, &c, &d); err != nil {
				t.Fatal(err)
			}
			out = append(out, strings.Join([]string{a, b, c, d}, "\t"))
		}
		rows.Close()
	}
	for k, e := range w.listObjects() {
		out = append(out, "obj\t"+k+"\t"+e)
	}
	slices.Sort(out)
	return out
}

// verified counts the plan's copies whose target holds the source's bytes (same ETag).
func (w *world) verified() int {
	now := w.listObjects()
	n := 0
	for k, etag := range w.objects {
		for _, prefix := range []string{"dev/", "prod/"} {
			if strings.HasPrefix(k, prefix) {
				goto next
			}
		}
		if now["dev/"+k] == etag {
			n++
		}
	next:
	}
	return n
}

// finish checks the end state against a fault-free run's (for the same n), that a new
// plan has no changes, and records the summary.
func (w *world) finish(n int, compare bool) {
	w.t.Helper()
	w.check()
	if compare {
		want := cleanSnapshot(w.t, n)
		got := w.snapshot()
		if d := diffLines(want, got); d != "" {
			w.t.Errorf("the end state differs from a fault-free run's:\n%s", d)
		}
	}
	w.sum.Verified = w.verified()
	s := w.px.Stats()
	w.sum.Faults += s.TotalFaults()
	w.sum.Retries += s.TotalRetries()
	w.t.Logf("proxy: %s", s)
	record(w.t, w.sum)
}

// noChanges runs a fresh plan through a quiet proxy and expects "No changes."
func (w *world) noChanges() {
	w.t.Helper()
	r := w.run(0, nil, "plan", "--config", configPath, "--detailed-exitcode")
	if r.code != 0 || !strings.Contains(r.stdout, "No changes.") {
		w.t.Errorf("a fresh plan after the apply has changes: %s", r)
	}
}

func diffLines(want, got []string) string {
	var b strings.Builder
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j >= len(got) || i < len(want) && want[i] < got[j]:
			fmt.Fprintf(&b, "- %q\n", want[i])
			i++
		case i >= len(want) || got[j] < want[i]:
			fmt.Fprintf(&b, "+ %q\n", got[j])
			j++
		default:
			i++
			j++
		}
		if b.Len() > 4000 {
			b.WriteString("…\n")
			break
		}
	}
	return b.String()
}

// The fault-free end state per size, computed once by the first test that needs it.
var clean struct {
	sync.Mutex
	snap map[int][]string
}

// cleanSnapshot is the end state of one uninterrupted, fault-free plan and apply of the
// world of size n. Worlds differ only in bucket and database names, which the snapshot
// does not hold.
func cleanSnapshot(t *testing.T, n int) []string {
	t.Helper()
	clean.Lock()
	defer clean.Unlock()
	if s, ok := clean.snap[n]; ok {
		return s
	}
	w := newWorld(t, "clean", n, faultproxy.Options{})
	w.plan()
	r := w.apply(0, nil, "--parallelism=8", "--batch-size=10")
	if r.code != 0 {
		t.Fatalf("fault-free apply: %s", r)
	}
	w.check()
	if clean.snap == nil {
		clean.snap = map[int][]string{}
	}
	clean.snap[n] = w.snapshot()
	return clean.snap[n]
}

// openDB opens u with pgx's database/sql driver; sql.Open only fails for an unknown
// driver name, and a bad URL fails at the first query.
func openDB(u string) *sql.DB {
	db, err := sql.Open("pgx", u)
	if err != nil {
		panic(err)
	}
	return db
}
