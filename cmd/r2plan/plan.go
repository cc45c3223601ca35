package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/r2plan/r2plan/config"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/s3"
	"github.com/r2plan/r2plan/providers/sqldb"
	"github.com/r2plan/r2plan/state"
)

var planCommand = command{
	name:  "plan",
	usage: "plan [--config=r2plan.hcl] [--out=FILE] [--detailed-exitcode] [--max-delete=N] [--var name=value]...",
	short: "List the bucket, scan the references and compute the changes that bring them to the layout.",
}

func init() { planCommand.run = runPlan }

func runPlan(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(planCommand, stdout, stderr)
	var sf sessionFlags
	sf.register(fs)
	out := fs.String("out", "", "write the plan to `file`, for review and apply")
	detailed := fs.Bool("detailed-exitcode", false, "exit 2 when the plan has changes (0 when none, 1 on error)")
	maxDelete := fs.Int("max-delete", 0, "allow up to `N` orphan deletions in this plan (default: the config's orphans.max_delete, else 1000); a plan over it is written, exits 2, and apply refuses it")
	var include, exclude listFlag
	fs.Var(&include, "target", "plan only keys under this `prefix` (repeatable): a partial plan")
	fs.Var(&exclude, "exclude", "leave keys under this `prefix` out of the plan (repeatable): a partial plan")
	rate := fs.Float64("rate", 0, "send at most `N` requests per second to the bucket (0: no cap)")
	revert := fs.String("revert", "", "plan the undoing of an applied plan, given by its `id` or plan file")
	skipDiscovery := fs.Bool("skip-discovery", false, "do not read the columns no reference declares before deleting: an object only they name may be deleted (every view says so)")
	format := fs.String("format", "table", "how to show the plan on stdout: `table`, markdown or json (as 'r2plan show')")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	v, err := viewFor(*format, stdout, false, *out)
	if err != nil {
		return sf.log.fail(stderr, "%v", err)
	}
	var scope *plan.Scope
	if len(include) > 0 || len(exclude) > 0 {
		scope = &plan.Scope{Include: include, Exclude: exclude}
	}
	if *revert != "" && scope != nil {
		return sf.log.fail(stderr, "--revert undoes a whole plan; it takes no --target or --exclude")
	}
	if *out != "" {
		// Refused now rather than after a listing of millions of keys.
		if err := checkWritableDir(filepath.Dir(*out)); err != nil {
			return sf.log.fail(stderr, "--out %s: %v", *out, err)
		}
	}
	s, ok := sf.start(stdout, stderr)
	if !ok {
		return exitError
	}
	v, _ = viewFor(*format, s.stdout, false, *out) // the same view, writing through the redactor
	p, err := makePlan(ctx, s.cfg, scope, *revert, *rate, !*skipDiscovery, s.prog)
	s.prog.wait()
	if err != nil {
		return s.fail("%v", err)
	}
	defer p.Close()
	sum := &p.Header.Summary
	sum.SetDeleteBudget(deleteBudget(s.cfg, *maxDelete))
	digest := digestOf("")
	viewEntries, viewDone := p.Entries, func() {}
	if *out != "" {
		// The plan file is written while the view reads the entries it shows, which it
		// does before it asks for the digest (the table view) or shows anything. The
		// table view reads the writer's entries (Tee): a plan's moves are rebuilt once,
		// in a goroutine of their own, while the writer encodes them.
		n := 1
		if _, ok := v.(tableView); ok {
			n = 2
		}
		streams, done := plan.Tee(p.Entries, n)
		if n == 2 {
			viewEntries, viewDone = streams[1], func() { done(1) }
		}
		written := make(chan struct{})
		var d string
		var werr error
		go func() {
			defer close(written)
			defer done(0)
			if d, werr = writePlanFile(*out, &p.Header, streams[0]); werr != nil {
				werr = fmt.Errorf("write plan: %w", werr)
			}
		}()
		digest = func() (string, error) {
			<-written
			return d, werr
		}
	}
	rerr := v.render(&p.Header, viewEntries, digest)
	viewDone() // a view that failed before it read its entries no longer holds up the writer
	// Waited for even when the view failed first: the plan is closed after.
	d, err := digest()
	if err != nil {
		return s.fail("%v", err)
	}
	if *out != "" {
		// The table is for a person, who is told where the plan went after it; the other
		// formats are documents, so the line goes to stderr.
		saved := s.stderr
		if *format == "table" {
			saved = s.stdout
		}
		defer fmt.Fprintf(saved, "Saved the plan to %s (id %s). Review it with 'r2plan show %s'; apply it with 'r2plan apply %s'.\n",
			*out, plan.ID(d), *out, *out)
	}
	if rerr != nil {
		return s.fail("%v", rerr)
	}
	if sum.OverBudget {
		// Written and shown in full, so that reviewers see every deletion; apply refuses
		// it unless its --max-delete covers the orphans.
		fmt.Fprintf(s.stderr, "Warning: %s\n", budgetLine(sum))
		return exitChanges
	}
	if *detailed && sum.Changes() > 0 {
		return exitChanges
	}
	return exitOK
}

// makePlan lists the bucket, scans the references and computes the plan with its header.
func makePlan(ctx context.Context, cfg *config.Config, scope *plan.Scope, revert string, ratePerSecond float64, discovery bool, prog *progress) (*plan.Plan, error) {
	refs := referencesOf(cfg)
	var urls *plan.URLs
	if cfg.Bucket.PublicURL != "" {
		u, err := plan.NewURLs(cfg.Bucket.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("public_url: %w", err)
		}
		urls = u
	}
	bucket, err := openBucket(ctx, cfg, 32, ratePerSecond, prog.log)
	if err != nil {
		return nil, fmt.Errorf("open bucket: %w", err)
	}
	// No probe of the bucket first: the listing's first request is as small a test of
	// the endpoint, keys and name, fails as fast and is explained the same way, and a
	// probe would cost every plan one more request's wait (hundreds of milliseconds on
	// R2) before the listing starts.
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	for i, r := range refs {
		if err := db.Check(ctx, sqldb.Table{Schema: r.Schema, Name: r.Table}, r.PrimaryKey, r.Columns()); err != nil {
			return nil, explainReference(cfg, cfg.References[i], err)
		}
	}
	objects := func(yield func(plan.Object) error) error {
		ph := prog.phase("list", 0)
		defer ph.finish()
		n := 0
		var yieldErr error
		err := bucket.ListConcurrent(ctx, "", cfg.Bucket.ListConcurrency, func(key string, size int64, etag string, modified time.Time) error {
			ph.add(1)
			if n++; n%gcStep == 0 {
				paceGC(n)
			}
			yieldErr = yield(plan.Object{Key: key, Size: size, ETag: etag, Modified: modified})
			return yieldErr
		})
		if err != nil && err != yieldErr {
			err = explainBucket(cfg, err)
		}
		return err
	}
	start := time.Now()
	var p *plan.Plan
	if revert != "" {
		var undeclared func(ctx context.Context, filter *plan.Prefilter, yield func(column, value string) error) error
		if discovery {
			undeclared = undeclaredValues(ctx, db, cfg, refs, prog)
		}
		p, err = revertPlan(ctx, db, revert, objects, undeclared, matcherOf(cfg))
	} else {
		p, err = forwardPlan(ctx, cfg, db, bucket, refs, urls, scope, objects, start, discovery, prog)
	}
	if h := (*hint)(nil); errors.As(err, &h) {
		return nil, h // it says what failed and what to fix: no context on top
	}
	if err != nil {
		return nil, err
	}
	prog.log.Info("planned", "objects", p.Header.Summary.Objects, "changes", p.Header.Summary.Changes(), "elapsed_seconds", seconds(time.Since(start)))
	p.Header.Type, p.Header.FormatVersion = "header", plan.FormatVersion // as the file will say
	p.Header.ToolVersion = version
	p.Header.CreatedAt = time.Now().UTC().Truncate(time.Second)
	p.Header.ConfigDigest = cfg.Digest()
	p.Header.Config = configRecord(cfg)
	p.Header.Bucket = bucketID(cfg)
	p.Header.Database = databaseID(db)
	p.Header.Variables = cfg.Vars
	p.Header.PublicURL = cfg.Bucket.PublicURL
	p.Header.References = refs
	p.Header.Summary.DiscoverySkipped = !discovery
	return p, nil
}

// writePlanFile writes a plan of header h and entries next to path and renames it into
// place, so a reader never sees half a plan.
func writePlanFile(path string, h *plan.Header, entries func(func(plan.Entry) error) error) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".r2plan-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	digest, err := plan.WriteEntries(f, h, entries)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return digest, os.Rename(f.Name(), path)
}

// checkWritableDir fails unless a file can be created in dir: it creates one and
// removes it.
func checkWritableDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist: create it, or write the plan elsewhere", dir)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".r2plan-probe-*")
	if err != nil {
		return fmt.Errorf("cannot write in directory %s (%v): fix its permissions, or write the plan elsewhere", dir, errors.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// defaultDeleteBudget applies when neither the config nor the command line sets one.
const defaultDeleteBudget = 1000

func deleteBudget(cfg *config.Config, flag int) int {
	switch {
	case flag > 0:
		return flag
	case cfg.Orphans != nil && cfg.Orphans.MaxDelete > 0:
		return cfg.Orphans.MaxDelete
	}
	return defaultDeleteBudget
}

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// forwardPlan computes the changes that bring the bucket and the rows to the layout.
func forwardPlan(ctx context.Context, cfg *config.Config, db *sqldb.DB, bucket *s3.Bucket, refs []plan.Reference, urls *plan.URLs,
	scope *plan.Scope, objects func(func(plan.Object) error) error, now time.Time, discovery bool, prog *progress) (*plan.Plan, error) {
	var orphans *plan.Orphans
	if o := cfg.Orphans; o != nil {
		orphans = &plan.Orphans{Scope: o.Scope, Protect: o.Protect, MinAge: o.MinAge}
	}
	var undeclared func(ctx context.Context, filter *plan.Prefilter, yield func(column, value string) error) error
	if discovery {
		undeclared = undeclaredValues(ctx, db, cfg, refs, prog)
	}
	return plan.Make(plan.Inputs{
		Undeclared:  undeclared,
		Matcher:     matcherOf(cfg),
		Now:         now,
		GracePeriod: cfg.Layout.GracePeriod,
		Moved: func(yield func(string, time.Time) error) error {
			return state.MovedAt(ctx, db, yield)
		},
		Orphans:    orphans,
		Scope:      scope,
		Layout:     layoutOf(cfg),
		URLs:       urls,
		References: refs,
		Objects:    objects,
		HoldsCopy: func(key, target, etag string, size int64) (bool, error) {
			return bucket.HoldsCopy(ctx, target, etag, size)
		},
		Rows: func(pctx context.Context, ref plan.Reference, yield func(plan.Row) error) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(pctx, cancel)()
			t := sqldb.Table{Schema: ref.Schema, Name: ref.Table}
			ph := prog.phase("scan "+ref.Name, 0)
			defer ph.finish()
			// Rows outside the where filter are read too: never rewritten, they still
			// keep the objects they name.
			var yieldErr error
			err := db.ScanMarked(ctx, t, ref.PrimaryKey, ref.Columns(), ref.Where, func(pk string, values []*string, selected bool) error {
				ph.add(1)
				yieldErr = yield(plan.Row{PK: pk, Values: values, Outside: !selected})
				return yieldErr
			})
			if err != nil && err != yieldErr {
				err = explainDatabase(cfg, err, "plan needs SELECT on it")
			}
			return err
		},
	})
}

// revertPlan computes the undoing of an applied plan, named by its id or its file, from
// what the journal recorded of it; undeclared, when set, keeps the copies that a column
// no reference declares names.
func revertPlan(ctx context.Context, db *sqldb.DB, which string, objects func(func(plan.Object) error) error,
	undeclared func(context.Context, *plan.Prefilter, func(column, value string) error) error, m *plan.Matcher) (*plan.Plan, error) {
	id := which
	if _, err := os.Stat(which); err == nil {
		p, err := plan.Open(which)
		if err != nil {
			return nil, err
		}
		p.Close()
		id = p.ID()
	}
	in := plan.RevertInputs{PlanID: id, Objects: objects, Undeclared: undeclared, Matcher: m}
	var err error
	if in.Copies, in.Rewrites, err = state.RevertInputs(ctx, db, id); err != nil {
		return nil, err
	}
	if len(in.Copies)+len(in.Rewrites) == 0 {
		return nil, fmt.Errorf("plan %s has no copies or rewrites in this database's journal: it was never applied here", id)
	}
	return plan.Revert(in)
}
