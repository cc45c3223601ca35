package apply

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/r2plan/r2plan/plan"
)

// Bucket is what apply needs of the bucket.
type Bucket interface {
	// Copy copies src to dst if src still has srcETag, never overwriting different
	// content at dst, and returns dst's ETag and whether it copied now (false: dst
	// already held the source's content).
	Copy(ctx context.Context, src, dst, srcETag string, size int64) (etag string, copied bool, err error)
	// CopyAbsent is Copy for a dst just seen absent in a listing: it may skip its own
	// check of dst.
	CopyAbsent(ctx context.Context, src, dst, srcETag string, size int64) (etag string, err error)
	Head(ctx context.Context, key string) (size int64, etag string, err error)
	// Delete deletes keys in batches and returns the keys the server refused.
	Delete(ctx context.Context, keys []string) (failed map[string]error, err error)
	// ListFrom streams the objects under prefix that sort after startAfter until fn
	// returns an error, which it returns.
	ListFrom(ctx context.Context, prefix, startAfter string, fn func(key string, size int64, etag string, modified time.Time) error) error
}

// Referrers re-reads the reference rows: which of keys does a row point at now?
type Referrers interface {
	Referenced(ctx context.Context, keys []string) (map[string]string, error)
}

// Journal is what apply needs of the state store.
type Journal interface {
	// RecordCopies journals verified copies.
	RecordCopies(ctx context.Context, planID string, copies []plan.Copied) error
	// Rewrite applies a batch of rewrites of one reference, of any of its columns (at
	// most one per row and column, of at most BatchSize rows), as compare-and-swap, and
	// journals the swapped ones, in one transaction.
	Rewrite(ctx context.Context, planID string, ref plan.Reference, rws []plan.Rewrite) (RewriteResult, error)
	// RecordDeletes journals deleted objects.
	RecordDeletes(ctx context.Context, planID string, deleted []plan.Deleted) error
}

// RewriteResult is the outcome of one batch of rewrites.
type RewriteResult struct {
	Swapped int // rows rewritten now
	Already int // rows that already held the new value (a resumed run)
	Drift   []Drift
	Time    time.Duration
}

// Drift is a planned change skipped because the world changed since the plan.
type Drift struct {
	Key    string // the object
	Ref    string // reference.column[pk] for a row, empty for an object
	Reason string
}

func (d Drift) String() string {
	if d.Ref != "" {
		return fmt.Sprintf("row %s: %s", d.Ref, d.Reason)
	}
	return fmt.Sprintf("object %q: %s", d.Key, d.Reason)
}

// Options tune a run.
type Options struct {
	Parallelism int // concurrent copies (default 16)
	BatchSize   int // rows per rewrite transaction, a row's columns together (default 1000)
	ChunkSize   int // moves copied before their rows are rewritten (default 1000)
	// DeleteChunk is how many deletions share one re-read of the references (default:
	// see deleteChunk).
	DeleteChunk int
	// Stop, when closed, lets in-flight work finish and be journaled, and starts
	// nothing new.
	Stop   <-chan struct{}
	Logger *slog.Logger
	// Shard, when N > 1, limits the run to the moves and deletions whose key hashes to
	// shard I of N, so that several machines share a plan.
	Shard Shard
	// Progress, if set, is told how many items of a phase ("copy", "rewrite",
	// "delete") were handled, whatever their outcome. It must be safe for concurrent use.
	Progress func(phase string, n int)
	// Hook, if set, is called at named points ("copied", "verified", "rewrite-tx",
	// "rewritten") so tests can crash the process at a boundary.
	Hook func(point string)
}

// Shard is part I (from 0) of N of a plan.
type Shard struct{ I, N int }

// Owns reports whether key belongs to the shard (every key when N <= 1).
func (s Shard) Owns(key string) bool {
	if s.N <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32()%uint32(s.N)) == s.I
}

// Result counts what a run did.
type Result struct {
	Copied    int // objects copied now
	Present   int // targets already in place (earlier run or plan)
	Rewritten int
	Already   int // rows already rewritten by an earlier run
	Deleted   int
	Gone      int // objects to delete that were already gone (an earlier run)
	// RewriteTime is the time spent in rewrite transactions (rows and their journal),
	// which run beside the copies.
	RewriteTime time.Duration
	Drift       []Drift
	Failed      []error
	Interrupted bool
	Pending     int // moves not attempted (interrupted or stopped by failures)
}

// OK reports whether the run did everything the plan asked.
func (r *Result) OK() bool {
	return len(r.Drift) == 0 && len(r.Failed) == 0 && !r.Interrupted && r.Pending == 0
}

// Plan is what Run executes: a verified plan file (*plan.File), or any plan in tests.
type Plan interface {
	ID() string
	Header() *plan.Header
	// Entries streams the plan's entries in file order.
	Entries(fn func(plan.Entry) error) error
}

// Deps are what a run works with: the bucket, the journal, and the live reference rows
// that deletions are checked against.
type Deps struct {
	Bucket    Bucket
	Journal   Journal
	Referrers Referrers
}

// Run executes p in file order: every move (copy, verify, rewrite), then every deletion
// (re-check, delete).
func Run(ctx context.Context, p Plan, d Deps, o Options) (*Result, error) {
	hdr, b := p.Header(), d.Bucket
	if o.Parallelism <= 0 {
		o.Parallelism = 16
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = 1000
	}
	if o.DeleteChunk <= 0 {
		o.DeleteChunk = deleteChunk(hdr.Summary.Deletes)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Hook == nil {
		o.Hook = func(string) {}
	}
	if o.Progress == nil {
		o.Progress = func(string, int) {}
	}
	byName := make(map[string]plan.Reference, len(hdr.References))
	for _, r := range hdr.References {
		byName[r.Name] = r
	}
	r := &runner{planID: p.ID(), refs: byName, b: b, j: d.Journal, referrers: d.Referrers, o: o, res: &Result{}}
	var throttled func() int64
	if t, ok := b.(interface{ Throttled() int64 }); ok {
		throttled = t.Throttled
	}
	r.pace = newPacer(o.Parallelism, throttled)
	moves := make([]plan.Move, 0, o.ChunkSize)
	var dels []plan.Deletion
	stopped := false
	flush := func() error {
		var err error
		switch {
		case stopped:
			r.res.Pending += len(moves) + len(dels)
		case len(moves) > 0:
			err = r.chunk(ctx, moves)
		case len(dels) > 0:
			// Every copy and rewrite completes before the first deletion.
			if err = r.finishChunk(ctx); err == nil {
				err = r.waitRewrites()
			}
			if err == nil {
				err = r.deleteChunk(ctx, dels)
			}
		}
		moves, dels = moves[:0], dels[:0]
		stopped = stopped || r.stopping()
		return err
	}
	err := p.Entries(func(e plan.Entry) error {
		a := e.Action()
		if !a.Writes() || !o.Shard.Owns(e.Key()) {
			return nil // a report, or another shard's
		}
		switch a {
		case plan.ActionCopy, plan.ActionRewrite:
			moves = append(moves, *e.Move)
			if len(moves) >= o.ChunkSize {
				return flush()
			}
		case plan.ActionDelete:
			if len(moves) > 0 {
				// Every move completes before the first deletion.
				if err := flush(); err != nil {
					return err
				}
			}
			dels = append(dels, *e.Delete)
			if len(dels) >= o.DeleteChunk {
				return flush()
			}
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if cerr := r.finishChunk(ctx); err == nil {
		err = cerr
	}
	if werr := r.waitRewrites(); err == nil {
		err = werr
	}
	if derr := r.waitDeletes(); err == nil {
		err = derr
	}
	if r.pace.peak > 0 {
		o.Logger.Info("copies in flight", "limit", r.pace.level(), "peak", r.pace.peak, "cap", o.Parallelism)
	}
	return r.res, err
}

// deleteChunk returns how many of a plan's deletions share one re-read of the
// references: 10,000, or a hundredth of them when that is more. Each re-read scans
// every reference table whole (the only way to see every form a row may spell a key
// in), so the number of scans is bounded, at 100 for a plan of any size; the time a
// chunk's check stays fresh grows with its size instead (100,000 keys of a plan of
// ten million delete in about half a minute here).
func deleteChunk(deletes int) int {
	return max(10000, (deletes+99)/100)
}

type runner struct {
	copying   *copyBatch          // the last chunk's copies, in flight
	pace      *pacer              // copies in flight, shared by the chunks
	failing   atomic.Bool         // a copy failed: start no more
	rewriting chan rewriteOutcome // the previous chunk's rewrites, in flight
	deleting  *deletions          // batches of deletions, in flight
	planID    string
	refs      map[string]plan.Reference
	b         Bucket
	j         Journal
	referrers Referrers
	o         Options
	res       *Result
}

// stopping reports whether to start no further chunk: after a failure or an interrupt.
func (r *runner) stopping() bool {
	return len(r.res.Failed) > 0 || r.failing.Load() || (r.deleting != nil && r.deleting.refused.Load()) || r.interrupted()
}

// stopRequested reports whether the first interrupt has arrived, without recording it
// (safe from any goroutine).
func (r *runner) stopRequested() bool {
	select {
	case <-r.o.Stop:
		return true
	default:
		return false
	}
}

// interrupted reports (and records) whether the first interrupt has arrived.
func (r *runner) interrupted() bool {
	select {
	case <-r.o.Stop:
		r.res.Interrupted = true
		return true
	default:
		return false
	}
}

// chunk starts the copies of a chunk of moves (its targets listed, then copied in
// parallel) and finishes the chunk before it: journals its copies and starts the
// rewrites of the rows of every verified move. At most two chunks copy at once.
func (r *runner) chunk(ctx context.Context, moves []plan.Move) error {
	next := r.startCopies(ctx, slices.Clone(moves), r.copying)
	err := r.finishChunk(ctx)
	r.copying = next
	if err != nil {
		<-next.done
		r.copying = nil
	}
	return err
}

// finishChunk waits for the chunk in flight, if any, journals its copies and starts
// its rewrites.
func (r *runner) finishChunk(ctx context.Context) error {
	if r.copying == nil {
		return nil
	}
	b := r.copying
	r.copying = nil
	moves := b.moves
	verified, err := r.finishCopies(b)
	if err != nil {
		return err
	}
	var copies []plan.Copied
	var ready []plan.Move
	for i, m := range moves {
		if verified[i] == "" {
			continue
		}
		ready = append(ready, m)
		if m.Copy {
			copies = append(copies, plan.Copied{Key: m.Key, Target: m.Target, TargetETag: verified[i]})
		}
	}
	if len(copies) > 0 {
		if err := r.j.RecordCopies(ctx, r.planID, copies); err != nil {
			return fmt.Errorf("journal copies: %w", err)
		}
	}
	// The rows of this chunk are rewritten while the next chunk copies: the database
	// and the bucket work at once. Rewrites stay in order, one chunk at a time.
	if err := r.waitRewrites(); err != nil {
		return err
	}
	done := make(chan rewriteOutcome, 1)
	r.rewriting = done
	go func() {
		res, err := r.rewriteAll(ctx, ready)
		done <- rewriteOutcome{res, err}
	}()
	return nil
}
