package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/r2plan/r2plan/apply"
	"github.com/r2plan/r2plan/config"
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

func runApply(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(applyCommand, stdout, stderr)
	var sf sessionFlags
	sf.register(fs)
	parallelism := fs.Int("parallelism", 128, "the most copies in flight at once (apply adapts below it)")
	batch := fs.Int("batch-size", 1000, "rows per rewrite transaction (a row's columns together), at most 1000")
	shardSpec := fs.String("shard", "", "apply only part `i/n` of the plan (i from 1), so n machines share it")
	lockTimeout := fs.Duration("lock-timeout", 0, "wait this `long` for another apply to release the lock (default: refuse at once)")
	rate := fs.Float64("rate", 0, "send at most `N` requests per second to the bucket, retries included (0: no cap)")
	maxDelete := fs.Int("max-delete", 0, "allow up to `N` orphan deletions, for a plan over the delete budget it was made with")
	format := fs.String("format", "text", "how to report the outcome on stdout: `text` or json")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError
	}
	switch {
	case *parallelism < 1 || *batch < 1:
		return sf.log.fail(stderr, "--parallelism and --batch-size must be at least 1")
	case *batch > sqldb.MaxBatch:
		return sf.log.fail(stderr, "--batch-size must be at most %d", sqldb.MaxBatch)
	case *format != "text" && *format != "json":
		return sf.log.fail(stderr, "--format: want text or json, not %q", *format)
	}
	shard, shardName, err := parseShard(*shardSpec)
	if err != nil {
		return sf.log.fail(stderr, "--shard: %v", err)
	}
	paceApplyGC()
	p, err := plan.Open(fs.Arg(0))
	if err != nil {
		return sf.log.fail(stderr, "refusing the plan: %v", err)
	}
	defer p.Close()
	hdr := p.Header()
	var usingConfig string
	if !sf.config.given(fs) && hdr.Config != nil && hdr.Config.Path != "" {
		// The plan names the configuration it was made from: 'r2plan apply PLAN' needs
		// nothing else.
		sf.config.path = recordedConfig(hdr.Config.Path, fs.Arg(0))
		usingConfig = sf.config.path
	}
	s, ok := sf.start(stdout, stderr)
	if !ok {
		return exitError
	}
	var view applyView = &applyText{stdout: s.stdout, stderr: s.stderr, log: s.opts}
	if *format == "json" {
		view = &applyJSON{stdout: s.stdout, stderr: s.stderr}
	}
	if usingConfig != "" {
		view.usingConfig(usingConfig)
	}
	cfg := s.cfg

	// Everything that could make this the wrong plan is checked before the first write.
	if why := refusal(cfg, hdr, *maxDelete); why != "" {
		return view.refused(why)
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return s.fail("%v", err)
	}
	defer db.Close()
	if id := databaseID(db); id != hdr.Database {
		return view.refused(fmt.Sprintf("it is for the %s, the configuration opens the %s", databaseName(hdr.Database), databaseName(id)))
	}
	var urls *plan.URLs
	if hdr.PublicURL != "" {
		if urls, err = plan.NewURLs(hdr.PublicURL); err != nil {
			return view.refused(fmt.Sprintf("its public URL %q does not parse: %v", hdr.PublicURL, err))
		}
	}
	bucket, err := openBucket(ctx, cfg, *parallelism, *rate, s.log)
	if err != nil {
		return s.fail("open bucket: %v", err)
	}
	if err := bucket.Probe(ctx); err != nil {
		return s.fail("%v\nNothing was changed.", explainBucket(cfg, err))
	}
	journal, err := state.Open(ctx, db)
	if err != nil {
		return s.fail("%v", err)
	}
	hook := testHook()
	journal.Hook = hook
	lock, err := acquireLock(ctx, db, p.ID(), shardName, *lockTimeout, s.stderr)
	if err != nil {
		return s.fail("%v", err)
	}
	defer lock.Release(context.WithoutCancel(ctx))

	sum := &hdr.Summary
	view.started(p.ID(), sum, shard, shardName)
	phases := map[string]*phase{}
	for _, ph := range []struct {
		name  string
		total int
	}{{"copy", sum.Copies}, {"rewrite", sum.Rewrites}, {"delete", sum.Deletes}} {
		if ph.total > 0 {
			total := int64(ph.total)
			if shard.N > 1 {
				total = 0 // this shard's part of the plan's total is not known: a counter
			}
			phases[ph.name] = s.prog.phase(ph.name, total)
		}
	}
	referrers, err := withUndeclared(ctx, db, cfg, *hdr, state.NewReferrers(db, hdr.References, urls), view.notes())
	if err != nil {
		return s.fail("%v", err)
	}
	res, err := apply.Run(ctx, p, apply.Deps{Bucket: bucket, Journal: journal, Referrers: referrers}, apply.Options{
		Parallelism: *parallelism,
		Shard:       shard,
		BatchSize:   *batch,
		Stop:        stop,
		Logger:      s.log,
		Hook:        hook,
		Progress:    func(name string, n int) { phases[name].add(n) },
	})
	for _, ph := range phases {
		ph.finish()
	}
	s.prog.wait()
	return view.finished(outcomeOf(p.ID(), sum, res, err))
}

// refusal says why cfg and the plan's header do not go together (another
// configuration, another bucket, orphans beyond the budget), or "" when they do.
func refusal(cfg *config.Config, hdr *plan.Header, maxDelete int) string {
	if d := cfg.Digest(); d != hdr.ConfigDigest {
		var changes []string
		if hdr.Config != nil {
			changes = cfg.Changes(hdr.Config.Settings, hdr.Variables)
		}
		if len(changes) == 0 {
			return fmt.Sprintf("it was made from another configuration (config digest %s, this one is %s)", hdr.ConfigDigest, d)
		}
		return fmt.Sprintf("the configuration %s is not the one it was made from:\n  %s", cfg.Filename, strings.Join(changes, "\n  "))
	}
	if id := bucketID(cfg); id != hdr.Bucket {
		return fmt.Sprintf("it is for bucket %s at %s, the configuration names %s at %s", hdr.Bucket.Name, hdr.Bucket.Endpoint, id.Name, id.Endpoint)
	}
	s := hdr.Summary
	if s.DeleteBudget == 0 {
		// A plan of an earlier version: the budget then was the configuration's.
		s.SetDeleteBudget(deleteBudget(cfg, 0))
	}
	if !s.DeletesAllowed(maxDelete) {
		return fmt.Sprintf("it deletes %d orphans, more than its delete budget of %d. If that is intended, apply it with --max-delete=%d",
			s.DeletesOrphan, max(s.DeleteBudget, maxDelete), s.DeletesOrphan)
	}
	return ""
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
