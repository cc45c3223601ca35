package apply

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
)

// objStat is what a listing says of one object.
type objStat struct {
	size int64
	etag string
}

// errWalked stops a listing walk.
var errWalked = errors.New("walked far enough")

// statByListing looks keys up through ListObjectsV2 rather than one HEAD each: the keys
// are sorted and split into runs by their first path segment, and each run is walked
// from just before its first key to its last, at most a few times the run's length of
// keys (beyond that, listing costs more than HEADs would). It returns what it found;
// a key it did not see is not proved missing (a server may list in another order, or the
// walk may stop early), and the caller HEADs it.
func statByListing(ctx context.Context, b Bucket, keys []string) (map[string]objStat, error) {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	found := make(map[string]objStat, len(sorted))
	for len(sorted) > 0 {
		seg := firstSegment(sorted[0])
		n := 1
		for n < len(sorted) && firstSegment(sorted[n]) == seg {
			n++
		}
		run := sorted[:n]
		sorted = sorted[n:]
		want := make(map[string]struct{}, len(run))
		for _, k := range run {
			want[k] = struct{}{}
		}
		last := run[len(run)-1]
		budget := 2*len(run) + 100
		// StartAfter is exclusive: a proper prefix of the first key sorts before it.
		first := run[0]
		err := b.ListFrom(ctx, seg, first[:len(first)-1], func(key string, size int64, etag string, _ time.Time) error {
			if key > last || budget == 0 {
				return errWalked
			}
			budget--
			if _, ok := want[key]; ok {
				found[key] = objStat{size, etag}
			}
			return nil
		})
		if err != nil && !errors.Is(err, errWalked) {
			return nil, err
		}
	}
	return found, nil
}

// firstSegment is the key's first path segment with its slash, or the whole key.
func firstSegment(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return key
}
