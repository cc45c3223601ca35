package apply

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/plan"
)

// objStat is what a listing says of one object.
type objStat struct {
	size int64
	etag string
}

// listed is what a listing walk learnt of some keys: those it saw, and those it proved
// absent (it walked past where they would sort without seeing them).
type listed struct {
	found  map[string]objStat
	absent map[string]bool
}

// errWalked stops a listing walk.
var errWalked = errors.New("walked far enough")

// statByListing looks keys up through ListObjectsV2 rather than one HEAD each: the keys
// are sorted and split into runs by their first path segment, and each run is walked
// from just before its first key to its last, at most a few times the run's length of
// keys (beyond that, listing costs more than HEADs would). A key the walk passed without
// seeing is absent, but only while the server lists in byte order, as S3 promises: a
// walk that sees keys out of order proves nothing absent. A key neither found nor proved
// absent is for the caller to HEAD.
func statByListing(ctx context.Context, b Bucket, keys []string) (listed, error) {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	// A run lists under its keys' top prefix ("" for keys at the root: the walk from the
	// first to the last is bounded all the same). The runs are walked at once: a batch
	// of deletions has its sources under one prefix and their copies under another, and
	// where each page takes hundreds of milliseconds, one walk after the other doubles
	// the wait.
	var runs [][]string
	for len(sorted) > 0 {
		seg := plan.TopPrefix(sorted[0])
		n := 1
		for n < len(sorted) && plan.TopPrefix(sorted[n]) == seg {
			n++
		}
		runs = append(runs, sorted[:n])
		sorted = sorted[n:]
	}
	walks := make([]listed, len(runs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(maxRunWalks)
	for i, run := range runs {
		g.Go(func() (err error) {
			walks[i], err = walkRun(gctx, b, run)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return listed{}, err
	}
	l := listed{found: make(map[string]objStat, len(keys)), absent: make(map[string]bool)}
	for _, w := range walks {
		maps.Copy(l.found, w.found)
		maps.Copy(l.absent, w.absent)
	}
	return l, nil
}

// maxRunWalks bounds the walks of one statByListing in flight.
const maxRunWalks = 4

// walkRun walks one run of sorted keys that share their top prefix.
func walkRun(ctx context.Context, b Bucket, run []string) (listed, error) {
	l := listed{found: make(map[string]objStat, len(run)), absent: make(map[string]bool)}
	seg := plan.TopPrefix(run[0])
	want := make(map[string]struct{}, len(run))
	for _, k := range run {
		want[k] = struct{}{}
	}
	first, last := run[0], run[len(run)-1]
	budget := 2*len(run) + 100
	var prev string
	ordered, passed := true, false
	// StartAfter is exclusive: a proper prefix of the first key sorts before it.
	err := b.ListFrom(ctx, seg, first[:len(first)-1], func(key string, size int64, etag string, _ time.Time) error {
		switch {
		case key < prev:
			ordered = false
			return errWalked
		case key > last:
			passed = true
			return errWalked
		case budget == 0:
			return errWalked
		}
		budget--
		prev = key
		if _, ok := want[key]; ok {
			l.found[key] = objStat{size, etag}
			if delete(want, key); len(want) == 0 {
				// Every key of the run seen: no need to walk past the last one
				// (which may cost another page).
				return errWalked
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errWalked) {
		return listed{}, err
	}
	if !ordered {
		return l, nil
	}
	exhausted := err == nil
	for _, k := range run {
		if _, ok := l.found[k]; !ok && (exhausted || passed || k < prev) {
			l.absent[k] = true
		}
	}
	return l, nil
}
