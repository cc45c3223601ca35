package apply

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// listing is an in-memory, sorted listing: statByListing's logic is pure over it (the
// request path is tested against versitygw by the deletion scripts).
type listing struct {
	Bucket
	keys  []string
	walks atomic.Int64
}

func (l *listing) ListFrom(ctx context.Context, prefix, startAfter string, fn func(string, int64, string, time.Time) error) error {
	l.walks.Add(1)
	for _, k := range l.keys {
		if !strings.HasPrefix(k, prefix) || k <= startAfter {
			continue
		}
		if err := fn(k, int64(len(k)), "etag-"+k, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}

func TestStatByListing(t *testing.T) {
	var keys []string
	for _, p := range []string{"characters/", "dev/characters/", "stories/"} {
		for i := range 50 {
			keys = append(keys, p+strings.Repeat("x", i%7)+string(rune('a'+i%26))+".webp")
		}
	}
	keys = append(keys, "root.txt")
	slices.Sort(keys)
	keys = slices.Compact(keys)
	l := &listing{keys: keys}
	want := []string{keys[0], keys[5], keys[len(keys)-1], "characters/absent.webp", keys[60], "root.txt"}
	seen, err := statByListing(t.Context(), l, want)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for k, st := range seen.found {
		if st.etag != "etag-"+k || st.size != int64(len(k)) {
			t.Errorf("%q: %+v", k, st)
		}
		got = append(got, k)
	}
	slices.Sort(got)
	wantFound := []string{keys[0], keys[5], keys[60], keys[len(keys)-1], "root.txt"}
	slices.Sort(wantFound)
	if diff := cmp.Diff(wantFound, got); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	if l.walks.Load() > 4 {
		t.Errorf("%d walks for 4 runs", l.walks.Load())
	}
	if diff := cmp.Diff(map[string]bool{"characters/absent.webp": true}, seen.absent); diff != "" {
		t.Errorf("absent (-want +got):\n%s", diff)
	}

	// A server seen listing out of order proves nothing absent.
	shuffled := &listing{keys: []string{"characters/c.webp", "characters/a.webp", "characters/b.webp", "characters/e.webp"}}
	seen, err = statByListing(t.Context(), shuffled, []string{"characters/b.webp", "characters/d.webp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen.absent) != 0 {
		t.Errorf("out-of-order listing proved %v absent", seen.absent)
	}
}
