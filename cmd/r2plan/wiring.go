package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/r2plan/r2plan/config"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/s3"
	"github.com/r2plan/r2plan/providers/sqldb"
)

func planFormat() string { return plan.FormatVersion }

// configFlags are the flags that name and parameterise the configuration.
type configFlags struct {
	path string
	vars varsFlag
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.path, "config", "r2plan.hcl", "the configuration `file` (apply: by default the one the plan records; its settings must match)")
	c.vars = varsFlag{}
	fs.Var(c.vars, "var", "set a variable that env() and var.NAME read (`name=value`, repeatable)")
}

// given reports whether --config was set on the command line.
func (c *configFlags) given(fs *flag.FlagSet) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == "config" })
	return set
}

// recordedConfig is where apply finds the configuration a plan recorded: the path as
// plan was given it, from here, or else beside the plan file (a plan downloaded into
// another directory of the same checkout).
func recordedConfig(recorded, planPath string) string {
	p := filepath.FromSlash(recorded)
	if filepath.IsAbs(p) {
		return p
	}
	if _, err := os.Stat(p); err != nil {
		if beside := filepath.Join(filepath.Dir(planPath), p); fileExists(beside) {
			return beside
		}
	}
	return p
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// configRecord is what a plan records of its configuration: the path relative to the
// working directory where it lies under it (an absolute path would name a machine's
// home), and the resolved, non-secret settings.
func configRecord(cfg *config.Config) *plan.ConfigRecord {
	path := cfg.Filename
	if abs, err := filepath.Abs(path); err == nil {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(wd, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				path = rel
			}
		}
	}
	return &plan.ConfigRecord{Path: filepath.ToSlash(path), Settings: cfg.Settings()}
}

// load loads and validates the config, printing its diagnostics.
func (c *configFlags) load(stderr io.Writer) (*config.Config, bool) {
	return c.loadWith(stderr, config.LoadOptions{})
}

func (c *configFlags) loadWith(stderr io.Writer, opts config.LoadOptions) (*config.Config, bool) {
	cfg, diags := config.LoadWith(c.path, c.vars, os.LookupEnv, opts)
	if len(diags) > 0 {
		config.WriteDiagnostics(stderr, diags)
	}
	if diags.HasErrors() || cfg == nil {
		return nil, false
	}
	return cfg, true
}

func layoutOf(cfg *config.Config) plan.Layout {
	l := plan.Layout{Placed: cfg.Layout.Placed}
	for _, r := range cfg.Layout.Rules {
		l.Rules = append(l.Rules, plan.Rule{Name: r.Name, Prefix: r.Prefix, Regex: r.Regex, Target: r.Target})
	}
	return l
}

func referencesOf(cfg *config.Config) []plan.Reference {
	refs := make([]plan.Reference, 0, len(cfg.References))
	for _, r := range cfg.References {
		refs = append(refs, plan.Reference{
			Name: r.Name, Schema: r.Schema, Table: r.Table, PrimaryKey: r.PrimaryKey,
			KeyColumn: r.KeyColumn, URLColumn: r.URLColumn, Where: r.Where,
		})
	}
	return refs
}

// bucketID names the configured bucket without credentials.
func bucketID(cfg *config.Config) plan.BucketID {
	host := cfg.Bucket.Endpoint
	if u, err := url.Parse(cfg.Bucket.Endpoint); err == nil && u.Host != "" {
		host = u.Host
	}
	return plan.BucketID{Endpoint: host, Name: cfg.Bucket.Name}
}

func openBucket(ctx context.Context, cfg *config.Config, parallelism int, ratePerSecond float64, log *slog.Logger) (*s3.Bucket, error) {
	return s3.Open(ctx, s3.Options{
		Endpoint:        cfg.Bucket.Endpoint,
		Region:          cfg.Bucket.Region,
		Bucket:          cfg.Bucket.Name,
		AccessKeyID:     cfg.Bucket.AccessKeyID,
		SecretAccessKey: cfg.Bucket.SecretAccessKey,
		PathStyle:       cfg.Bucket.PathStyle,
		Parallelism:     parallelism,
		NoOverwrite:     noOverwriteMode(cfg.Bucket),
		Rate:            ratePerSecond,
		Logger:          log,
	})
}

// noOverwriteMode picks how copies refuse to overwrite other content: the conditional
// header the server is known to honour (one request per copy), else a HEAD first.
func noOverwriteMode(b config.Bucket) s3.NoOverwriteMode {
	switch b.NoOverwrite {
	case "head":
		return s3.NoOverwriteByHead
	case "if-none-match":
		return s3.NoOverwriteByIfNoneMatch
	case "r2-header":
		return s3.NoOverwriteByR2Header
	}
	host := ""
	if u, err := url.Parse(b.Endpoint); err == nil {
		host = strings.ToLower(u.Hostname())
	}
	switch {
	case strings.HasSuffix(host, ".r2.cloudflarestorage.com"):
		return s3.NoOverwriteByR2Header
	case b.Endpoint == "" || strings.HasSuffix(host, ".amazonaws.com"):
		return s3.NoOverwriteByIfNoneMatch
	}
	return s3.NoOverwriteByHead
}

func openDatabase(ctx context.Context, cfg *config.Config) (*sqldb.DB, error) {
	db, err := sqldb.Open(ctx, cfg.Database.URL)
	if err != nil {
		if h := explainDatabase(cfg, err, "r2plan needs it"); h != err {
			return nil, h
		}
		return nil, fmt.Errorf("open database %s: %w", sqldb.Redact(cfg.Database.URL), err)
	}
	return db, nil
}

func databaseID(db *sqldb.DB) plan.DatabaseID {
	id := db.Identity()
	return plan.DatabaseID{Driver: id.Driver, Host: id.Host, Name: id.Name}
}

// redactor replaces every secret in text written through it. Errors from libraries
// are not trusted to leave credentials out.
type redactor struct {
	w       io.Writer
	secrets []string
}

func redacting(w io.Writer, secrets []string) io.Writer {
	var keep []string
	for _, s := range secrets {
		if len(s) >= 4 {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		return w
	}
	return &redactor{w: w, secrets: keep}
}

func (r *redactor) Write(p []byte) (int, error) {
	s := string(p)
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, "[redacted]")
	}
	if _, err := io.WriteString(r.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// testHook returns a hook that sends this process a signal at the n-th time apply
// reaches a named point: SIGKILL from R2PLAN_TEST_CRASH=point:n, SIGINT from
// R2PLAN_TEST_INTERRUPT=point:n. It exists for the tests, which prove that a kill at
// any boundary leaves a state the next run completes, and that Ctrl-C finishes and
// records what is in flight.
func testHook() func(string) {
	if h := signalAt(os.Getenv("R2PLAN_TEST_CRASH"), syscall.SIGKILL); h != nil {
		return h
	}
	if h := signalAt(os.Getenv("R2PLAN_TEST_INTERRUPT"), syscall.SIGINT); h != nil {
		return h
	}
	// R2PLAN_TEST_PAUSE=point:n[:duration] holds the run there for the duration, three
	// seconds by default (lock tests).
	return signalAt(os.Getenv("R2PLAN_TEST_PAUSE"), 0)
}

func signalAt(spec string, sig syscall.Signal) func(string) {
	point, rest, ok := strings.Cut(spec, ":")
	nstr, dstr, timed := strings.Cut(rest, ":")
	pause := 3 * time.Second
	if timed {
		d, err := time.ParseDuration(dstr)
		if err != nil || sig != 0 {
			return nil
		}
		pause = d
	}
	n, err := strconv.Atoi(nstr)
	if !ok || err != nil || n <= 0 {
		return nil
	}
	var mu sync.Mutex
	count := 0
	return func(p string) {
		if p != point {
			return
		}
		mu.Lock()
		count++
		c := count
		mu.Unlock()
		if c == n && sig == 0 {
			time.Sleep(pause)
		} else if c == n {
			syscall.Kill(os.Getpid(), sig)
			if sig == syscall.SIGKILL {
				select {}
			}
			time.Sleep(100 * time.Millisecond) // let the signal handler see it
		}
	}
}
