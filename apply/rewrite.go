package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/r2plan/r2plan/plan"
)

type rewriteOutcome struct {
	res RewriteResult
	err error
}

// waitRewrites waits for the rewrites in flight, if any, and counts them.
func (r *runner) waitRewrites() error {
	if r.rewriting == nil {
		return nil
	}
	out := <-r.rewriting
	r.rewriting = nil
	r.res.Rewritten += out.res.Swapped
	r.res.Already += out.res.Already
	r.res.RewriteTime += out.res.Time
	r.res.Drift = append(r.res.Drift, out.res.Drift...)
	return out.err
}

// rewriteAll rewrites the rows of verified moves, grouped by reference, in batches of
// at most BatchSize rows (a row's columns together), and returns their outcome (it runs
// beside the next chunk's copies, so it touches no shared counters).
func (r *runner) rewriteAll(ctx context.Context, moves []plan.Move) (RewriteResult, error) {
	groups := make(map[string][]plan.Rewrite)
	var order []string
	for _, m := range moves {
		for _, rw := range m.Rewrites {
			rw.Key, rw.Target = m.Key, m.Target
			if _, ok := groups[rw.Reference]; !ok {
				order = append(order, rw.Reference)
			}
			groups[rw.Reference] = append(groups[rw.Reference], rw)
		}
	}
	var total RewriteResult
	for _, name := range order {
		ref, ok := r.refs[name]
		if !ok {
			return total, fmt.Errorf("plan names reference %q but its header does not declare it", name)
		}
		rws := groups[name]
		for len(rws) > 0 {
			n := batchEnd(rws, r.o.BatchSize)
			r.o.Hook("rewrite-tx")
			start := time.Now()
			res, err := r.j.Rewrite(ctx, r.planID, ref, rws[:n])
			total.Time += time.Since(start)
			if err != nil {
				return total, fmt.Errorf("rewrite %s: %w", ref.Table, err)
			}
			r.o.Progress("rewrite", n)
			total.Swapped += res.Swapped
			total.Already += res.Already
			total.Drift = append(total.Drift, res.Drift...)
			for _, d := range res.Drift {
				r.o.Logger.Warn("drift", "row", d.Ref, "reason", d.Reason)
			}
			r.o.Hook("rewritten")
			rws = rws[n:]
		}
	}
	return total, nil
}

// batchEnd returns how many of rws make the next batch: as many as touch at most rows
// rows, and never the same row and column twice.
func batchEnd(rws []plan.Rewrite, rows int) int {
	type cell struct{ pk, column string }
	pks := make(map[string]bool, rows)
	cells := make(map[cell]bool, rows)
	for i, rw := range rws {
		c := cell{rw.PK, rw.Column}
		if cells[c] || !pks[rw.PK] && len(pks) == rows {
			return i
		}
		cells[c], pks[rw.PK] = true, true
	}
	return len(rws)
}
