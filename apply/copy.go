package apply

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers"
)

// copyOne copies (if the plan says so) and verifies one move's target. It returns the
// target's ETag and whether it copied now; a *driftError when the world changed since
// the plan.
func (r *runner) copyOne(ctx context.Context, m *plan.Move, seen listed) (etag string, copied bool, err error) {
	if !m.Copy {
		return r.verify(ctx, m, m.TargetETag)
	}
	switch st, found := seen.found[m.Target]; {
	case found && st.size == m.Size && st.etag == m.ETag && !providers.MultipartETag(m.ETag):
		// Copied by an earlier run: the listing shows the source's MD5 there.
		r.o.Hook("copied")
		r.o.Hook("verified")
		return st.etag, false, nil
	case seen.absent[m.Target]:
		etag, err = r.b.CopyAbsent(ctx, m.Key, m.Target, m.ETag, m.Size)
		copied = err == nil
	default:
		// Seen with other content (or not seen): Copy HEADs the target first in every
		// no-overwrite mode, and refuses a target with other content.
		etag, copied, err = r.b.Copy(ctx, m.Key, m.Target, m.ETag, m.Size)
	}
	switch {
	case errors.Is(err, providers.ErrSourceChanged):
		return "", false, &driftError{"source changed since the plan (ETag no longer " + m.ETag + ")"}
	case errors.Is(err, providers.ErrNotFound):
		return "", false, &driftError{"source no longer exists"}
	case errors.Is(err, providers.ErrTargetDiffers):
		return "", false, &driftError{fmt.Sprintf("target %q exists with different content; not overwritten", m.Target)}
	case err != nil:
		return "", false, fmt.Errorf("copy %q to %q: %w", m.Key, m.Target, err)
	}
	r.o.Hook("copied")
	if etag == m.ETag && !providers.MultipartETag(m.ETag) {
		// A single-part copy's ETag is the MD5 of its bytes: identical to the source.
		r.o.Hook("verified")
		return etag, copied, nil
	}
	etag, _, err = r.verify(ctx, m, "")
	return etag, copied && err == nil, err
}

// verify checks the target with a HEAD: the size must match, and the ETag must be
// wantETag when given, or the source's when the source is single-part.
func (r *runner) verify(ctx context.Context, m *plan.Move, wantETag string) (string, bool, error) {
	size, etag, err := r.b.Head(ctx, m.Target)
	if errors.Is(err, providers.ErrNotFound) {
		return "", false, &driftError{fmt.Sprintf("target %q is missing", m.Target)}
	}
	if err != nil {
		return "", false, fmt.Errorf("verify %q: %w", m.Target, err)
	}
	if wantETag == "" && !providers.MultipartETag(m.ETag) {
		wantETag = m.ETag
	}
	if size != m.Size || (wantETag != "" && etag != wantETag) {
		return "", false, &driftError{fmt.Sprintf("target %q does not match its source (size %d, ETag %s)", m.Target, size, etag)}
	}
	r.o.Hook("verified")
	return etag, false, nil
}

// copyBatch is one chunk's copies, in flight or done.
type copyBatch struct {
	moves    []plan.Move
	verified []string // per move, the verified target ETag or "" (drift or failure)
	drift    []*Drift
	failed   []error
	started  int
	copied   atomic.Int64
	present  atomic.Int64
	err      error // listing the targets, or the context
	// dispatched is closed when the batch has started its last copy (or stopped
	// starting them); the next batch starts its copies only then.
	dispatched chan struct{}
	done       chan struct{}
}

// startCopies lists a chunk's targets and copies its moves in the background, under
// the shared pacer. The listing starts at once; the copies start when prev (the chunk
// before, nil for none) has started its last one. So the pacer's slots go to the older
// chunk first, which finishes (and has its rows rewritten) as early as it can, and
// this chunk's listing is done before the pipe has room for its copies: the pipe never
// drains between chunks.
func (r *runner) startCopies(ctx context.Context, moves []plan.Move, prev *copyBatch) *copyBatch {
	b := &copyBatch{
		moves:      moves,
		verified:   make([]string, len(moves)),
		drift:      make([]*Drift, len(moves)),
		failed:     make([]error, len(moves)),
		dispatched: make(chan struct{}),
		done:       make(chan struct{}),
	}
	go func() {
		defer close(b.done)
		b.err = r.copyAll(ctx, b, prev)
	}()
	return b
}

// copyAll copies and verifies b's moves, recording per-move outcomes in b; its copies
// start once prev's have all started.
func (r *runner) copyAll(ctx context.Context, b *copyBatch, prev *copyBatch) error {
	defer close(b.dispatched)
	// One listing per thousand targets tells which are absent (copied without a HEAD
	// first) and which are already there (an earlier run).
	var targets []string
	for _, m := range b.moves {
		if m.Copy {
			targets = append(targets, m.Target)
		}
	}
	seen, err := statByListing(ctx, r.b, targets)
	if err != nil {
		return fmt.Errorf("list the targets: %w", err)
	}
	r.o.Hook("listed")
	if prev != nil {
		select {
		case <-prev.dispatched:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Per-move outcomes are recorded, not returned: one move's failure must not cancel
	// the copies in flight beside it.
	var wg sync.WaitGroup
	for i := range b.moves {
		if ctx.Err() != nil || r.stopRequested() || r.failing.Load() || !r.pace.acquire(ctx) {
			break
		}
		b.started++
		wg.Go(func() {
			defer r.pace.release()
			m := &b.moves[i]
			etag, did, err := r.copyOne(ctx, m, seen)
			if m.Copy {
				defer r.o.Progress("copy", 1)
			}
			switch {
			case err == nil:
				b.verified[i] = etag
				if did {
					b.copied.Add(1)
				} else {
					b.present.Add(1)
				}
			case isDrift(err):
				b.drift[i] = &Drift{Key: m.Key, Reason: err.Error()}
			default:
				b.failed[i] = err
				r.failing.Store(true)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// finishCopies waits for b and counts its outcomes; it returns per move the verified
// target ETag or "" when the move must not proceed.
func (r *runner) finishCopies(b *copyBatch) ([]string, error) {
	<-b.done
	if b.err != nil {
		return nil, b.err
	}
	if b.started < len(b.moves) {
		r.interrupted() // records an interrupt as the reason, if it was one
	}
	r.res.Pending += len(b.moves) - b.started
	r.res.Copied += int(b.copied.Load())
	r.res.Present += int(b.present.Load())
	for i, m := range b.moves {
		if b.drift[i] != nil {
			r.res.Drift = append(r.res.Drift, *b.drift[i])
			r.o.Logger.Warn("drift", "key", m.Key, "reason", b.drift[i].Reason)
		}
		if b.failed[i] != nil {
			r.res.Failed = append(r.res.Failed, b.failed[i])
			r.o.Logger.Error("copy failed", "key", m.Key, "err", b.failed[i])
		}
	}
	return b.verified, nil
}

func isDrift(err error) bool {
	var d *driftError
	return errors.As(err, &d)
}

type driftError struct{ reason string }

func (e *driftError) Error() string { return e.reason }
