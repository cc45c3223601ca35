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

// deleteChunk deletes a chunk of planned deletions, each only if, now: no row points at
// it, it still has the planned ETag, and the copy it was moved to (if any) still holds
// identical content. Deletions happen after every move of the plan.
func (r *runner) deleteChunk(ctx context.Context, dels []plan.Deletion) error {
	if r.interrupted() {
		r.res.Pending += len(dels)
		return nil
	}
	keys := make([]string, len(dels))
	for i, d := range dels {
		keys[i] = d.Key
	}
	referenced, err := r.referrers.Referenced(ctx, keys)
	if err != nil {
		return fmt.Errorf("re-check references before deleting: %w", err)
	}
	// Each object and its copy, looked up by listing (a request per thousand keys), the
	// few the listing did not show by HEAD.
	var lookups []string
	for _, d := range dels {
		if _, isRef := referenced[d.Key]; !isRef {
			lookups = append(lookups, d.Key)
			if d.Target != "" {
				lookups = append(lookups, d.Target)
			}
		}
	}
	seen, err := statByListing(ctx, r.b, lookups)
	if err != nil {
		return fmt.Errorf("list the objects to delete: %w", err)
	}
	ok := make([]bool, len(dels))
	reasons := make([]string, len(dels))
	var gone atomic.Int64
	var g errgroup.Group
	g.SetLimit(r.o.Parallelism)
	for i := range dels {
		d := &dels[i]
		if where, isRef := referenced[d.Key]; isRef {
			reasons[i] = "referenced again by row " + where + "; not deleted"
			continue
		}
		g.Go(func() error {
			reason, err := r.checkDeletion(ctx, d, seen)
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
	r.res.Gone += int(gone.Load())
	var doomed []string
	var deleted []Deleted
	for i, d := range dels {
		if reasons[i] != "" {
			r.res.Drift = append(r.res.Drift, Drift{Key: d.Key, Reason: reasons[i]})
			r.o.Logger.Warn("drift", "key", d.Key, "reason", reasons[i])
		}
		if ok[i] {
			doomed = append(doomed, d.Key)
			deleted = append(deleted, Deleted{Key: d.Key, ETag: d.ETag, Reason: d.Reason})
		}
	}
	if len(doomed) == 0 {
		return nil
	}
	failed, err := r.b.Delete(ctx, doomed)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	kept := deleted[:0]
	for _, d := range deleted {
		if ferr, bad := failed[d.Key]; bad {
			r.res.Failed = append(r.res.Failed, fmt.Errorf("delete %q: %w", d.Key, ferr))
			continue
		}
		kept = append(kept, d)
	}
	r.o.Hook("deleted")
	if err := r.j.RecordDeletes(ctx, r.planID, kept); err != nil {
		return fmt.Errorf("journal deletions: %w", err)
	}
	r.res.Deleted += len(kept)
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
