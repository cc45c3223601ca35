package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
	"github.com/r2plan/r2plan/state"
)

var applyCommand = command{
	name:  "apply",
	usage: "apply [--config=r2plan.hcl] [--parallelism=N] [--max-delete=N] [--var name=value]... PLANFILE",
	short: "Execute exactly the changes of a reviewed plan file: copy, verify, rewrite rows.",
}

func init() { applyCommand.run = runApply }

func runApply(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(applyCommand, stdout, stderr)
	var cf configFlags
	cf.register(fs)
	parallelism := fs.Int("parallelism", 128, "most copies in flight at once (apply adapts below it)")
	batch := fs.Int("batch-size", 1000, "rows per rewrite transaction (a row's columns together), at most 1000")
	shardSpec := fs.String("shard", "", "apply only part `i/n` of the plan (i from 1), so n machines share it")
	lockTimeout := fs.Duration("lock-timeout", 0, "wait this `long` for another apply to release the lock (default: refuse at once)")
	rate := fs.Float64("rate", 0, "send at most `N` requests per second to the bucket, retries included (0: no cap)")
	maxDelete := fs.Int("max-delete", 0, "allow up to `N` orphan deletions, for a plan over the delete budget it was made with")
	var logOpts logOptions
	logOpts.register(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError
	}
	if *parallelism < 1 || *batch < 1 {
		fmt.Fprintln(stderr, "Error: --parallelism and --batch-size must be at least 1")
		return exitError
	}
	if *batch > sqldb.MaxBatch {
		fmt.Fprintf(stderr, "Error: --batch-size must be at most %d\n", sqldb.MaxBatch)
		return exitError
	}
	shard, shardName, err := parseShard(*shardSpec)
	if err != nil {
		fmt.Fprintf(stderr, "Error: --shard: %v\n", err)
		return exitError
	}
	f, hdr, digest, err := openPlan(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "Error: refusing the plan: %v\n", err)
		return exitError
	}
	defer f.Close()
	if !cf.given(fs) && hdr.Config != nil && hdr.Config.Path != "" {
		// The plan names the configuration it was made from: 'r2plan apply PLAN' needs
		// nothing else.
		cf.path = recordedConfig(hdr.Config.Path, fs.Arg(0))
		fmt.Fprintf(stdout, "Using the configuration the plan was made from: %s\n", cf.path)
	}
	cfg, ok := cf.load(stderr)
	if !ok {
		return exitError
	}
	rawStderr := stderr
	stderr = redacting(stderr, cfg.Secrets())
	stdout = redacting(stdout, cfg.Secrets())
	log, err := logOpts.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	slog.SetDefault(log) // the bucket provider logs its retries at debug level there
	refuse := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "Error: refusing the plan: "+format+"\nNothing was changed. Make a new plan with 'r2plan plan'.\n", a...)
		return exitError
	}

	// Everything that could make this the wrong plan is checked before the first write.
	if d := cfg.Digest(); d != hdr.ConfigDigest {
		var changes []string
		if hdr.Config != nil {
			changes = cfg.Changes(hdr.Config.Settings, hdr.Variables)
		}
		if len(changes) == 0 {
			return refuse("it was made from another configuration (config digest %s, this one is %s)", hdr.ConfigDigest, d)
		}
		return refuse("the configuration %s is not the one it was made from:\n  %s", cfg.Filename, strings.Join(changes, "\n  "))
	}
	if id := bucketID(cfg); id != hdr.Bucket {
		return refuse("it is for bucket %s at %s, the configuration names %s at %s", hdr.Bucket.Name, hdr.Bucket.Endpoint, id.Name, id.Endpoint)
	}
	if hdr.Summary.DeleteBudget == 0 {
		// A plan of an earlier version: the budget then was the configuration's.
		hdr.Summary.SetDeleteBudget(deleteBudget(cfg, 0))
	}
	if s := &hdr.Summary; !s.DeletesAllowed(*maxDelete) {
		return refuse("it deletes %d orphans, more than its delete budget of %d. If that is intended, apply it with --max-delete=%d",
			s.DeletesOrphan, max(s.DeleteBudget, *maxDelete), s.DeletesOrphan)
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	defer db.Close()
	if id := databaseID(db); id != hdr.Database {
		return refuse("it is for the %s, the configuration opens the %s", databaseName(hdr.Database), databaseName(id))
	}
	bucket, err := openBucket(ctx, cfg, *parallelism, *rate)
	if err != nil {
		fmt.Fprintf(stderr, "Error: open bucket: %v\n", err)
		return exitError
	}
	if err := bucket.Probe(ctx); err != nil {
		fmt.Fprintf(stderr, "Error: %v\nNothing was changed.\n", explainBucket(cfg, err))
		return exitError
	}
	journal, err := state.Open(ctx, db)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	hook := testHook()
	journal.Hook = hook

	planID := plan.ID(digest)
	lock, err := acquireLock(ctx, db, planID, shardName, *lockTimeout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	defer lock.Release(context.WithoutCancel(ctx))
	s := &hdr.Summary
	fmt.Fprintf(stdout, "Applying plan %s: %d to copy, %d rows to rewrite, %d to delete.\n", planID, s.Copies, s.Rewrites, s.Deletes)
	if shard.N > 1 {
		fmt.Fprintf(stdout, "This run is shard %s: only the keys that hash to it.\n", shardName)
	}
	// Bars draw on the terminal itself (no secret reaches them); logs go through the
	// redactor.
	prog := newProgress(rawStderr, log, &logOpts)
	phases := map[string]*phase{}
	for _, ph := range []struct {
		name  string
		total int
	}{{"copy", s.Copies}, {"rewrite", s.Rewrites}, {"delete", s.Deletes}} {
		if ph.total > 0 {
			phases[ph.name] = prog.phase(ph.name, int64(ph.total))
		}
	}
	var urls *plan.URLs
	if hdr.PublicURL != "" {
		if urls, err = plan.NewURLs(hdr.PublicURL); err != nil {
			return refuse("its public URL %q does not parse: %v", hdr.PublicURL, err)
		}
	}
	var referrers apply.Referrers = state.NewReferrers(db, hdr.References, urls)
	if referrers, err = withUndeclared(ctx, db, cfg, hdr, referrers, stdout); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	res, err := apply.Run(ctx, planID, hdr, fileEntries(f), bucket, journal, referrers, apply.Options{
		Parallelism: *parallelism,
		Shard:       shard,
		BatchSize:   *batch,
		Stop:        stopOf(ctx),
		Logger:      log,
		Hook:        hook,
		Progress:    func(name string, n int) { phases[name].add(n) },
	})
	for _, ph := range phases {
		ph.finish()
	}
	prog.wait()
	if res != nil {
		fmt.Fprintf(stdout, "Copied %d objects (%d already in place); rewrote %d rows (%d already rewritten) in %.2fs of database time.\n",
			res.Copied, res.Present, res.Rewritten, res.Already, res.RewriteTime.Seconds())
		if s.Deletes > 0 {
			fmt.Fprintf(stdout, "Deleted %d objects (%d already gone).\n", res.Deleted, res.Gone)
		}
	}
	switch {
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(stderr, "Aborted. What finished is recorded; run the same apply command again to complete the plan.")
		return exitError
	case err != nil:
		if line, ok := explainApplyFailure(err, res); ok {
			fmt.Fprintf(stderr, "Error: %s\n", line)
			return exitError
		}
		fmt.Fprintf(stderr, "Error: %v\nRun the same apply command again to complete the plan; what finished is recorded.\n", err)
		return exitError
	}
	for _, d := range res.Drift {
		fmt.Fprintf(stderr, "Drift: %s\n", d)
	}
	// Refused writes are one cause, said once, not one line per object.
	var refused error
	nrefused := 0
	for _, e := range res.Failed {
		if _, ok := explainApplyFailure(e, res); ok {
			refused = e
			nrefused++
			continue
		}
		fmt.Fprintf(stderr, "Failed: %v\n", e)
	}
	if refused != nil {
		line, _ := explainApplyFailure(refused, res)
		fmt.Fprintf(stderr, "Error: %d change(s) refused: %s\n", nrefused, line)
		return exitError
	}
	switch {
	case res.Interrupted:
		fmt.Fprintf(stderr, "Interrupted with %d moves not started. Run the same apply command again to finish.\n", res.Pending)
		return exitError
	case len(res.Failed) > 0:
		fmt.Fprintf(stderr, "%d change(s) failed; %d moves not started. Run the same apply command again to retry them.\n", len(res.Failed), res.Pending)
		return exitError
	case len(res.Drift) > 0:
		fmt.Fprintf(stderr, "Apply finished with %d drift(s): those changes were skipped, their objects and rows left as found. Run 'r2plan plan' again to pick them up.\n", len(res.Drift))
		return exitError
	}
	fmt.Fprintln(stdout, "Apply complete.")
	return exitOK
}

// lockTTL is how long a lock holder on another host may stay silent before it counts
// as dead (holders on this host are checked by process id at once).
const lockTTL = 2 * time.Minute

// acquireLock takes the apply lock, waiting up to timeout for another apply to finish.
func acquireLock(ctx context.Context, db *sqldb.DB, planID, shard string, timeout time.Duration, stderr io.Writer) (*state.Lock, error) {
	deadline := time.Now().Add(timeout)
	said := false
	for {
		lock, err := state.Acquire(ctx, db, planID, shard, lockTTL)
		var le *state.LockedError
		if !errors.As(err, &le) {
			return lock, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w\nWait for it with --lock-timeout=10m; if that apply is dead, break its lock with 'r2plan unlock %d'", err, le.Holder.ID)
		}
		if !said {
			fmt.Fprintf(stderr, "Waiting for the lock: %v\n", err)
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// parseShard reads "i/n" (i from 1 to n) into the apply shard and its name.
func parseShard(spec string) (apply.Shard, string, error) {
	if spec == "" {
		return apply.Shard{}, "all", nil
	}
	is, ns, ok := strings.Cut(spec, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return apply.Shard{}, "", fmt.Errorf("want i/n with 1 <= i <= n, got %q", spec)
	}
	return apply.Shard{I: i - 1, N: n}, fmt.Sprintf("%d/%d", i, n), nil
}
