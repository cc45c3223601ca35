package apply

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

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

// copyAll returns, per move, the verified target ETag or "" when the move must not
// proceed (drift or failure, recorded in the result).
func (r *runner) copyAll(ctx context.Context, moves []plan.Move) ([]string, error) {
	verified := make([]string, len(moves))
	drift := make([]*Drift, len(moves))
	failed := make([]error, len(moves))
	// One listing per thousand targets tells which are absent (copied without a HEAD
	// first) and which are already there (an earlier run).
	var targets []string
	for _, m := range moves {
		if m.Copy {
			targets = append(targets, m.Target)
		}
	}
	seen, err := statByListing(ctx, r.b, targets)
	if err != nil {
		return nil, fmt.Errorf("list the targets: %w", err)
	}
	r.o.Hook("listed")
	var copied, present atomic.Int64
	// Per-move outcomes are recorded, not returned: one move's failure must not cancel
	// the copies in flight beside it.
	var g errgroup.Group
	g.SetLimit(r.o.Parallelism)
	started := 0
	for i := range moves {
		if ctx.Err() != nil || r.interrupted() {
			break
		}
		started++
		g.Go(func() error {
			m := &moves[i]
			etag, did, err := r.copyOne(ctx, m, seen)
			if m.Copy {
				defer r.o.Progress("copy", 1)
			}
			switch {
			case err == nil:
				verified[i] = etag
				if did {
					copied.Add(1)
				} else {
					present.Add(1)
				}
			case isDrift(err):
				drift[i] = &Drift{Key: m.Key, Reason: err.Error()}
			default:
				failed[i] = err
			}
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.res.Pending += len(moves) - started
	r.res.Copied += int(copied.Load())
	r.res.Present += int(present.Load())
	for i := range moves {
		if drift[i] != nil {
			r.res.Drift = append(r.res.Drift, *drift[i])
			r.o.Logger.Warn("drift", "key", moves[i].Key, "reason", drift[i].Reason)
		}
		if failed[i] != nil {
			r.res.Failed = append(r.res.Failed, failed[i])
			r.o.Logger.Error("copy failed", "key", moves[i].Key, "err", failed[i])
		}
	}
	return verified, nil
}

func isDrift(err error) bool {
	var d *driftError
	return errors.As(err, &d)
}

type driftError struct{ reason string }

func (e *driftError) Error() string { return e.reason }
