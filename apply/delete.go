package apply

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers"
)

// deleteBatch is how many deletions are listed, checked and deleted together: one
// DeleteObjects request.
const deleteBatch = 1000

// maxDeleteRequests bounds the DeleteObjects requests in flight.
const maxDeleteRequests = 8

// listAhead is how many batches may list and check their objects while every
// DeleteObjects slot is taken, so that the next request is ready when one returns.
const listAhead = 2

// deletions runs batches of deletions in the background, across chunks: while the last
// batches of one chunk delete, the next chunk re-reads the references and lists.
type deletions struct {
	g       *errgroup.Group
	ctx     context.Context // g's, cancelled by the first error
	sending chan struct{}   // a token per DeleteObjects request in flight
	outs    []*deleteOutcome
	refused atomic.Bool // the server refused a key: start no further batch
}

// deleteOutcome is what one batch did; it is counted once every batch has finished.
type deleteOutcome struct {
	deleted, gone, pending int
	drift                  []Drift
	failed                 []error
}

// referenced is one chunk's fresh read of the references, which its batches wait for.
type referenced struct {
	done  chan struct{}
	found map[string]string // key -> a row that points at it
	err   error
}

// deleteChunk starts the deletion of a chunk of planned deletions: one fresh read of
// the references for the whole chunk and, beside it, batches that each list their
// objects, then delete those that, now, no row points at, still have the planned ETag
// and size, and whose copy (if any) still holds identical content. It returns once
// every batch has started; waitDeletes waits for them. Deletions happen after every
// move of the plan.
func (r *runner) deleteChunk(ctx context.Context, dels []plan.Deletion) error {
	d := r.deletions(ctx)
	if d.halted(r) {
		r.res.Pending += len(dels)
		return nil
	}
	dels = slices.Clone(dels) // the caller reuses its slice
	keys := make([]string, len(dels))
	for i, del := range dels {
		keys[i] = del.Key
	}
	refs := &referenced{done: make(chan struct{})}
	d.g.Go(func() error {
		defer close(refs.done)
		refs.found, refs.err = r.referrers.Referenced(d.ctx, keys)
		if refs.err != nil {
			refs.err = fmt.Errorf("re-check references before deleting: %w", refs.err)
		}
		return refs.err
	})
	for start := 0; start < len(dels); start += deleteBatch {
		batch := dels[start:min(start+deleteBatch, len(dels))]
		if d.halted(r) {
			r.res.Pending += len(dels) - start
			break
		}
		out := &deleteOutcome{}
		d.outs = append(d.outs, out)
		d.g.Go(func() error { return r.deleteBatch(d.ctx, d, refs, batch, out) })
	}
	return nil
}

// deletions returns the background deletions, starting them on first use.
func (r *runner) deletions(ctx context.Context) *deletions {
	if r.deleting == nil {
		requests := min(r.o.Parallelism, maxDeleteRequests)
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(requests + listAhead)
		r.deleting = &deletions{g: g, ctx: gctx, sending: make(chan struct{}, requests)}
	}
	return r.deleting
}

// halted reports whether to start no further batch: after an interrupt, a key the
// server refused, or an error.
func (d *deletions) halted(r *runner) bool {
	return r.interrupted() || d.refused.Load() || d.ctx.Err() != nil
}

// waitDeletes waits for the deletions in flight, if any, and counts them in plan order.
func (r *runner) waitDeletes() error {
	d := r.deleting
	if d == nil {
		return nil
	}
	r.deleting = nil
	err := d.g.Wait()
	for _, out := range d.outs {
		r.res.Pending += out.pending
		if out.pending > 0 {
			r.interrupted() // records the interrupt that left the batch pending, if one did
		}
		r.res.Deleted += out.deleted
		r.res.Gone += out.gone
		r.res.Drift = append(r.res.Drift, out.drift...)
		r.res.Failed = append(r.res.Failed, out.failed...)
	}
	return err
}

// deleteBatch lists a batch's objects and their copies, waits for the chunk's read of
// the references, checks each deletion, deletes the objects that passed in one request
// and journals them. It records its outcome in out.
func (r *runner) deleteBatch(ctx context.Context, d *deletions, refs *referenced, dels []plan.Deletion, out *deleteOutcome) error {
	select {
	case <-r.o.Stop:
		// Interrupted while this batch waited for its turn.
		out.pending = len(dels)
		return nil
	default:
	}
	if d.refused.Load() {
		out.pending = len(dels)
		return nil
	}
	lookups := make([]string, 0, 2*len(dels))
	for _, del := range dels {
		lookups = append(lookups, del.Key)
		if del.Target != "" {
			lookups = append(lookups, del.Target)
		}
	}
	seen, err := statByListing(ctx, r.b, lookups)
	if err != nil {
		return fmt.Errorf("list the objects to delete: %w", err)
	}
	<-refs.done
	if refs.err != nil {
		return refs.err
	}
	ok := make([]bool, len(dels))
	reasons := make([]string, len(dels))
	var gone atomic.Int64
	var g errgroup.Group
	g.SetLimit(r.o.Parallelism)
	for i := range dels {
		del := &dels[i]
		if where, isRef := refs.found[del.Key]; isRef {
			reasons[i] = "referenced again by row " + where + "; not deleted"
			if strings.HasPrefix(where, "undeclared column ") {
				reasons[i] = "named by " + where + "; not deleted"
			}
			continue
		}
		g.Go(func() error {
			reason, err := r.checkDeletion(ctx, del, seen)
			switch {
			case errors.Is(err, providers.ErrNotFound):
				gone.Add(1)
			case err != nil:
				reasons[i] = err.Error()
			case reason != "":
				reasons[i] = reason
			default:
				ok[i] = true
			}
			return nil
		})
	}
	g.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	defer r.o.Progress("delete", len(dels))
	out.gone = int(gone.Load())
	var doomed []string
	var deleted []plan.Deleted
	for i, del := range dels {
		if reasons[i] != "" {
			out.drift = append(out.drift, Drift{Key: del.Key, Reason: reasons[i]})
			r.o.Logger.Warn("drift", "key", del.Key, "reason", reasons[i])
		}
		if ok[i] {
			doomed = append(doomed, del.Key)
			deleted = append(deleted, plan.Deleted{Key: del.Key, ETag: del.ETag, Reason: del.Reason})
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	select {
	case d.sending <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	failed, err := r.b.Delete(ctx, doomed)
	<-d.sending
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	kept := deleted[:0]
	for _, del := range deleted {
		if ferr, bad := failed[del.Key]; bad {
			out.failed = append(out.failed, fmt.Errorf("delete %q: %w", del.Key, ferr))
			continue
		}
		kept = append(kept, del)
	}
	if len(out.failed) > 0 {
		d.refused.Store(true)
	}
	r.o.Hook("deleted")
	if err := r.j.RecordDeletes(ctx, r.planID, kept); err != nil {
		return fmt.Errorf("journal deletions: %w", err)
	}
	out.deleted = len(kept)
	return nil
}

// checkDeletion checks the object (and its copy) and returns why it must not be
// deleted, or "" when it may. An object already gone returns providers.ErrNotFound.
func (r *runner) checkDeletion(ctx context.Context, d *plan.Deletion, seen listed) (string, error) {
	st, err := r.stat(ctx, d.Key, seen)
	if err != nil {
		return "", err
	}
	if st.etag != d.ETag || st.size != d.Size {
		return fmt.Sprintf("changed since the plan (ETag %s, %d bytes); not deleted", st.etag, st.size), nil
	}
	if d.Target == "" {
		return "", nil
	}
	t, err := r.stat(ctx, d.Target, seen)
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return fmt.Sprintf("its copy %q is missing; not deleted", d.Target), nil
	case err != nil:
		return "", err
	case t.size != d.Size || t.etag != d.TargetETag:
		return fmt.Sprintf("its copy %q changed (ETag %s, %d bytes); not deleted", d.Target, t.etag, t.size), nil
	}
	return "", nil
}

// stat returns what the listing showed of key, or HEADs it.
func (r *runner) stat(ctx context.Context, key string, seen listed) (objStat, error) {
	if st, ok := seen.found[key]; ok {
		return st, nil
	}
	if seen.absent[key] {
		return objStat{}, fmt.Errorf("%q: %w", key, providers.ErrNotFound)
	}
	size, etag, err := r.b.Head(ctx, key)
	if err != nil && !errors.Is(err, providers.ErrNotFound) {
		err = fmt.Errorf("head %q: %w", key, err)
	}
	return objStat{size, etag}, err
}
