package s3

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/internal/faultproxy"
)

// rangeKeys are keys that make range edges hard: one prefix for most of them (so a
// split by top-level prefix would find nothing to split), keys that are prefixes of
// each other, control bytes, DEL, and UTF-8 up to the last code points.
func rangeKeys() []string {
	var keys []string
	for i := range 400 {
		keys = append(keys, fmt.Sprintf("characters/c%d/avatar.webp", i)) // not zero-padded: uneven
	}
	keys = append(keys,
		"characters/c1/av", "characters/c1/ava", "characters/c1/avatar.webp~", "characters/c1/b/c",
		"characters/c1~", "characters/c\x7f", "characters/c\x7f\x7f/x", "characters/c\t/tab",
		"characters/c\u00e9", "characters/c\uFFFD", "characters/c\U0010FFFD/z", "characters/~~~~",
		"a", "ab", "abc", "ab\x7f", "z\U0010FFFD", "~", " space",
		// More folders, for the first level's cuts (seed).
		"curated/a.webp", "curated/b.webp", "curated-x", "curated0", "stories/1/cover.webp", "stories/2/cover.webp",
	)
	slices.Sort(keys)
	return keys
}

func TestListRanges(t *testing.T) {
	b := newBucket(t, Options{})
	keys := rangeKeys()
	putMany(t, b, keys)

	collect := func(t *testing.T, b *Bucket, prefix string, workers, pageSize int) ([]string, []string) {
		t.Helper()
		var got, cuts []string
		var mu sync.Mutex
		err := b.listRanges(t.Context(), prefix, fixed(workers), pageSize, func(at string) {
			cuts = append(cuts, at) // under the lister's lock
		}, func(key string, size int64, _ string, _ time.Time) error {
			mu.Lock() // fn is called one at a time; the lock lets the race detector check it
			defer mu.Unlock()
			if size != int64(len(key)) {
				t.Errorf("%q: size %d", key, size)
			}
			got = append(got, key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return got, cuts
	}
	under := func(prefix string) []string {
		var want []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				want = append(want, k)
			}
		}
		return want
	}

	tests := map[string]struct {
		prefix            string
		workers, pageSize int
	}{
		"whole bucket, 8 workers, pages of 7":   {"", 8, 7},
		"whole bucket, 16 workers, pages of 3":  {"", 16, 3},
		"one prefix, 8 workers, pages of 5":     {"characters/", 8, 5},
		"one prefix, 2 workers, pages of 1000":  {"characters/", 2, 1000},
		"prefix without slash, pages of 2":      {"characters/c1", 4, 2},
		"nothing under the prefix":              {"nothing/", 4, 5},
		"pages of 1":                            {"characters/c3", 8, 1},
		"more workers than keys, pages of 2":    {"a", 32, 2},
		"whole bucket, 4 workers, pages of 100": {"", 4, 100},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, cuts := collect(t, b, tt.prefix, tt.workers, tt.pageSize)
			if diff := cmp.Diff(under(tt.prefix), got); diff != "" {
				t.Errorf("listRanges(%q, %d workers, pages of %d) (-want +got):\n%s", tt.prefix, tt.workers, tt.pageSize, diff)
			}
			if len(under(tt.prefix)) > 20*tt.pageSize && tt.workers > 2 && len(cuts) == 0 {
				t.Errorf("no range was cut")
			}
			t.Logf("%d cuts", len(cuts))
		})
	}

	// The cut points of one listing, as keys of their own (and one byte either side),
	// are listed exactly once by a listing cut at the same points.
	t.Run("keys at the cut points", func(t *testing.T) {
		b2 := newBucket(t, Options{})
		putMany(t, b2, keys)
		_, cuts := collect(t, b2, "", 8, 7)
		if len(cuts) == 0 {
			t.Fatal("no cuts")
		}
		// versitygw's posix backend refuses a key that is a directory of another
		// (and the other way round); those cut points cannot be keys here.
		more := slices.Clone(keys)
		for _, c := range cuts {
			for _, k := range []string{c, c + " ", c[:len(c)-1]} {
				if _, found := slices.BinarySearch(keys, k); found || strings.HasSuffix(k, "/") {
					continue
				}
				if err := b2.Put(t.Context(), k, []byte(k), "", "", nil); err == nil {
					more = append(more, k)
				}
			}
		}
		slices.Sort(more)
		more = slices.Compact(more)
		if len(more) == len(keys) {
			t.Fatal("no cut point could be a key")
		}
		got, _ := collect(t, b2, "", 8, 7)
		if diff := cmp.Diff(more, got); diff != "" {
			t.Errorf("with keys at the cut points (-want +got):\n%s", diff)
		}
	})

	// Every edge by hand: each key of the bucket as the end of a first range (and the
	// key with its last byte dropped, a prefix of it).
	t.Run("every edge", func(t *testing.T) {
		var edges []string
		for i, k := range keys {
			if i%7 == 0 || !strings.HasPrefix(k, "characters/c") || len(k) < 14 {
				edges = append(edges, k, k[:len(k)-1])
			}
		}
		for _, at := range edges {
			l := &rangeLister{b: b, pageSize: 50, level: fixed(2)}
			l.cond = sync.NewCond(&l.mu)
			var got []string
			l.fn = func(key string, _ int64, _ string, _ time.Time) error {
				got = append(got, key)
				return nil
			}
			front := &keyRange{upto: at}
			back := &keyRange{after: at, open: true}
			l.active = 2
			for _, r := range []*keyRange{front, back} {
				if err := l.listRange(t.Context(), r); err != nil {
					t.Fatal(err)
				}
			}
			slices.Sort(got)
			if diff := cmp.Diff(keys, got); diff != "" {
				t.Fatalf("cut at %q (-want +got):\n%s", at, diff)
			}
		}
	})

	t.Run("short pages", func(t *testing.T) {
		px, err := faultproxy.Start(faultproxy.Options{Target: server.Endpoint, Seed: 7,
			Rates: map[faultproxy.Kind]faultproxy.Rates{faultproxy.KindList: {faultproxy.ShortList: 0.3}}})
		if err != nil {
			t.Fatal(err)
		}
		defer px.Close()
		pb, err := Open(t.Context(), Options{
			Endpoint: px.URL(), Bucket: b.Name(), PathStyle: true, MaxAttempts: 20,
			AccessKeyID: server.AccessKey, SecretAccessKey: server.SecretKey,
		})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := collect(t, pb, "", 8, 11)
		if diff := cmp.Diff(keys, got); diff != "" {
			t.Errorf("through short pages (-want +got):\n%s", diff)
		}
		if st := px.Stats(); st.FaultsOf(faultproxy.ShortList) == 0 {
			t.Errorf("no page was cut short: %v", st)
		}
	})

	// The level as ListRanges sets it, from the pages' latency: whatever it settles on,
	// every key is listed once.
	t.Run("ramped level", func(t *testing.T) {
		var got []string
		err := b.listRanges(t.Context(), "", &ramp{limit: 1, max: 16}, 3, nil, func(key string, _ int64, _ string, _ time.Time) error {
			got = append(got, key)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if diff := cmp.Diff(keys, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	// Every worker takes part: none may find, before the first range is counted, no
	// range active and none waiting, and leave (which made a listing sequential now and
	// then). On one P the goroutine started last runs first, before the first worker.
	t.Run("every worker stays", func(t *testing.T) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		var cuts int
		err := b.listRanges(t.Context(), "characters/", fixed(2), 40, func(string) { cuts++ }, func(string, int64, string, time.Time) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if cuts == 0 {
			t.Fatal("no range was cut: the second worker left")
		}
	})

	t.Run("fn error stops", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := b.listRanges(t.Context(), "", fixed(8), 5, nil, func(string, int64, string, time.Time) error {
			n++
			if n == 30 {
				return stop
			}
			return nil
		})
		if err != stop || n != 30 {
			t.Errorf("listRanges = %v after %d calls; want the callback's error after 30, and no call after it", err, n)
		}
	})
}

// TestSeed: the first level of folders, and the second level of the folders that hold
// a few, become ranges waiting for workers, each starting where its folder does; a
// folder of many entries (more than seedSubfolders) is not read for its folders.
func TestSeed(t *testing.T) {
	b := newBucket(t, Options{})
	keys := []string{"a.png", "dev/characters/c1/a.webp", "dev/characters/c2/a.webp", "dev/curated/x.webp", "dev/stories/s1/c.webp",
		"prod/characters/c1/a.webp", "prod/stories/s1/c.webp"}
	for i := range seedSubfolders + 1 {
		keys = append(keys, fmt.Sprintf("many/f%03d/x.png", i))
	}
	putMany(t, b, keys)
	l := &rangeLister{b: b, pageSize: 1000, level: fixed(16)}
	l.cond = sync.NewCond(&l.mu)
	l.ranges = []*keyRange{{open: true, owned: true}}
	l.active = 1
	l.seed(t.Context())
	var got []string
	for _, r := range l.pending {
		got = append(got, r.after)
	}
	slices.Sort(got)
	want := []string{"dev/curated", "dev/stories", "many", "prod", "prod/stories"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ranges waiting after the seed, by start (-want +got):\n%s", diff)
	}

	// Each range is bounded by the folder that the levels listed in full say all its keys
	// are under: none for the first (it holds a.png and dev/characters/), and the first
	// level only for many/, whose own level was cut short.
	within := map[string]string{}
	for _, r := range l.ranges {
		within[r.after] = r.within
	}
	wantWithin := map[string]string{"": "", "dev/curated": "dev/curated/", "dev/stories": "dev/stories/",
		"many": "many/", "prod": "prod/characters/", "prod/stories": "prod/stories/"}
	if diff := cmp.Diff(wantWithin, within); diff != "" {
		t.Errorf("the folder bounding each range, by start (-want +got):\n%s", diff)
	}
}

// TestOnly: the folder of a level listed in full that a range's keys all lie under.
func TestOnly(t *testing.T) {
	lv := folderLevel{folders: []string{"characters/", "curated/", "stories/"}, keys: []string{"curated0", "zz"}, complete: true}
	tests := []struct {
		after, upto string
		open        bool
		want        string
	}{
		{"", "curated", false, "characters/"},
		{"", "characters/", false, "characters/"}, // upto is the folder's name, under which a key may be
		{"", "characters", false, ""},             // no key of characters/ is so low
		{"characters/c5", "curated", false, "characters/"},
		{"characters/c5", "curated/", false, ""}, // a key "curated/" is under curated/
		{"characters", "curated/x", false, ""},
		{"curated", "stories", false, ""}, // curated0 lies between
		{"curated", "curated/~", false, "curated/"},
		{"curated/x", "curated0", false, ""},
		{"curated0", "stories", false, ""}, // no key of stories/ is as low as stories
		{"curated0", "stories/", false, "stories/"},
		{"stories", "", true, ""}, // zz, above every folder
		{"stories", "zy", false, "stories/"},
		{"stories/s9", "zz", false, ""},
		{"zz", "", true, ""}, // no folder at all
	}
	for _, tt := range tests {
		got, ok := lv.only(tt.after, tt.upto, tt.open)
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("only(%q, %q, open %v) = %q, %v; want %q", tt.after, tt.upto, tt.open, got, ok, tt.want)
		}
	}
	lv.complete = false
	if f, ok := lv.only("", "curated", false); ok {
		t.Errorf("a level cut short bounds a range by %q", f)
	}
}

// TestPagePrefix: every key that a range can hold has the prefix its pages ask for.
func TestPagePrefix(t *testing.T) {
	l := &rangeLister{prefix: "characters/"}
	tests := []struct {
		r    keyRange
		want string
	}{
		{keyRange{after: "characters", open: true}, "characters/"},
		{keyRange{after: "characters/c14448/a.webp", upto: "characters/c14s~~~~"}, "characters/c14"},
		{keyRange{after: "characters/c2", upto: "characters/c33"}, "characters/c"},
		{keyRange{after: "characters/c2", upto: "characters/c2~", within: "characters/c2/"}, "characters/c2/"},
		{keyRange{after: "characters/c1/a", upto: "characters/c1/b", within: "characters/c1/"}, "characters/c1/"},
		{keyRange{after: "characters", upto: "characters0"}, "characters/"},
		// The ends share the first byte of è and é: the prefix stops before it.
		{keyRange{after: "characters/c\u00e8/x", upto: "characters/c\u00e9"}, "characters/c"},
		{keyRange{after: "characters/c\u00e9/x", upto: "characters/c\u00e9~"}, "characters/c\u00e9"},
	}
	for _, tt := range tests {
		if got := l.pagePrefix(&tt.r); got != tt.want {
			t.Errorf("pagePrefix(%q, %q, within %q) = %q; want %q", tt.r.after, tt.r.upto, tt.r.within, got, tt.want)
		}
	}
	for _, tt := range []struct {
		s, prefix string
		want      bool
	}{{"curated", "characters/", true}, {"characters/", "characters/", false}, {"characters/z", "characters/", false}, {"b", "characters/", false}} {
		if got := pastPrefix(tt.s, tt.prefix); got != tt.want {
			t.Errorf("pastPrefix(%q, %q) = %v", tt.s, tt.prefix, got)
		}
	}
}

// fixed is a level that does not move: n ranges at once.
func fixed(n int) *ramp { return &ramp{limit: n, max: n, hold: true} }

func TestRamp(t *testing.T) {
	ms := time.Millisecond
	tests := map[string]struct {
		max   int
		pages []time.Duration
		want  []int // the level after each page
	}{
		"far server: straight to the cap": {
			max:   16,
			pages: []time.Duration{300 * ms, 305 * ms, 310 * ms, 300 * ms, 320 * ms, 300 * ms},
			want:  []int{16, 16, 16, 16, 16, 16},
		},
		"far, and the server slows down at the cap: it halves": {
			max:   4,
			pages: []time.Duration{200 * ms, 700 * ms, 650 * ms, 800 * ms, 700 * ms},
			want:  []int{4, 4, 4, 4, 2},
		},
		"near server: one, four, sixteen": {
			max:   16,
			pages: []time.Duration{30 * ms, 35 * ms, 31 * ms, 30 * ms, 32 * ms, 30 * ms},
			want:  []int{4, 4, 4, 4, 16, 16},
		},
		"a slow first page (connection setup) does not hold it back": {
			max:   16,
			pages: []time.Duration{120 * ms, 30 * ms, 30 * ms, 31 * ms, 30 * ms},
			want:  []int{4, 4, 4, 4, 16},
		},
		"capped": {
			max:   3,
			pages: []time.Duration{30 * ms, 30 * ms, 30 * ms, 30 * ms},
			want:  []int{3, 3, 3, 3},
		},
		"busy server: pages slow down, the level stays": {
			max:   16,
			pages: []time.Duration{20 * ms, 40 * ms, 45 * ms, 50 * ms, 40 * ms},
			want:  []int{4, 4, 4, 4, 4},
		},
		"overloaded: the level halves": {
			max:   16,
			pages: []time.Duration{20 * ms, 80 * ms, 90 * ms, 70 * ms, 100 * ms},
			want:  []int{4, 4, 4, 4, 2},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			r := &ramp{limit: 1, max: tt.max}
			var got []int
			for _, d := range tt.pages {
				r.observe(d)
				got = append(got, r.limit)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("levels (-want +got):\n%s", diff)
			}
		})
	}
}

// TestKeySpace: the numbers keep the keys' order, and a range of ids made of digits is
// cut between digits, not in the bytes between "9" and the range's end where no key is.
func TestKeySpace(t *testing.T) {
	var sh shapes
	var keys []string
	for i := range 2000 {
		k := fmt.Sprintf("characters/c%d/avatars/avatar_%d.webp", i, 1736700000000+i*1013)
		keys = append(keys, k)
		sh.add(k)
	}
	slices.Sort(keys)
	keys = append(keys, "characters/c:", "characters/c~~~~") // past the digits
	ks := sh.space(len("characters/c"))
	for i := 1; i < len(keys); i++ {
		if a, b := ks.number(keys[i-1]), ks.number(keys[i]); a.Cmp(b) > 0 {
			t.Fatalf("number(%q) > number(%q)", keys[i-1], keys[i])
		}
	}
	// Keys of kinds no position has seen (control bytes, UTF-8, punctuation) still keep
	// their order.
	var some shapes
	all := rangeKeys()
	for _, k := range all[:len(all)/3] {
		some.add(k)
	}
	ks0 := some.space(0)
	for i := 1; i < len(all); i++ {
		if a, b := ks0.number(all[i-1]), ks0.number(all[i]); a.Cmp(b) > 0 {
			t.Fatalf("number(%q) > number(%q)", all[i-1], all[i])
		}
	}
	r := keyRange{first: "characters/c1/avatars/avatar_1736700001013.webp", after: "characters/c1499/avatars/avatar_1736701519487.webp",
		seen: 1000, upto: "characters/c~~~~", classes: sh}
	_, at := cutPoint(&r, "", 1000, 1e9)
	if len(at) <= len("characters/c") || at[len("characters/c")] < '1' || at[len("characters/c")] > '9' {
		t.Errorf("cut at %q; want characters/c followed by a digit", at)
	}
}

// TestCutStaysInKeys: a byte that every key seen has at a position (the "c" of ids
// "c123", the "s" of "stories/s…") holds for the cuts too: a range's back part is cut
// among ids, not in "characters/d…" up to the next folder, nor in "stories/t…" up to
// the end of the bucket, where no key is. A leading digit is not held: the first
// thousand ids all start with 1.
func TestCutStaysInKeys(t *testing.T) {
	for _, tt := range []struct {
		format, upto string
		open         bool
		want         string // the cut's start, then a digit
	}{
		{"characters/c%d/avatars/avatar.webp", "curated", false, "characters/c"},
		{"stories/s%d/cover.webp", "", true, "stories/s"},
	} {
		var keys []string
		for i := 1; i <= 20000; i++ {
			keys = append(keys, fmt.Sprintf(tt.format, i))
		}
		slices.Sort(keys)
		var sh shapes
		for _, k := range keys[:1000] {
			sh.add(k)
		}
		for _, ahead := range []float64{4, 1e9} {
			r := keyRange{first: keys[0], after: keys[999], seen: 1000, upto: tt.upto, open: tt.open, classes: sh}
			_, at := cutPoint(&r, "", 1000, ahead)
			if !strings.HasPrefix(at, tt.want) || len(at) == len(tt.want) || at[len(tt.want)] < '1' || at[len(tt.want)] > '9' {
				t.Errorf("%s, reach %v: cut at %q; want %s followed by a digit", tt.format, ahead, at, tt.want)
			}
		}
	}
}

func TestCutPoint(t *testing.T) {
	tests := map[string]struct {
		r        keyRange
		wantCut  bool
		maxPages float64
	}{
		"open range, dense keys far from the end": {
			r:       keyRange{after: "characters/c10965/b", first: "characters/c1/a", seen: 1000, open: true},
			wantCut: true,
		},
		"closed range, a few pages": {
			r:       keyRange{after: "k/b", first: "k/a", seen: 1000, upto: "k/f"},
			wantCut: true,
		},
		"closed range, one page left": {
			r:       keyRange{after: "k/b", first: "k/a", seen: 3, upto: "k/c"},
			wantCut: false,
		},
		"no room between after and upto": {
			r:       keyRange{after: "k/a", first: "k/", seen: 1000, upto: "k/a\x01"},
			wantCut: false,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			pages, at := cutPoint(&tt.r, "", 1000, 1e9)
			if (at != "") != tt.wantCut {
				t.Fatalf("cutPoint = %g pages, %q; want a cut: %v", pages, at, tt.wantCut)
			}
			if at == "" {
				return
			}
			if at <= tt.r.after || !tt.r.open && at >= tt.r.upto {
				t.Errorf("cut %q is not inside (%q, %q]", at, tt.r.after, tt.r.upto)
			}
			for i := commonPrefixLen(at, tt.r.after); i < len(at); i++ {
				if at[i] < 0x20 || at[i] > 0x7e {
					t.Errorf("cut %q: byte %#x is not printable ASCII", at, at[i])
				}
			}
		})
	}
}

// TestPageKeys: a page asks for a whole page, except where the range ends within a
// page by its owner's keys: then for twice the keys left, and a little more.
func TestPageKeys(t *testing.T) {
	var sh shapes
	var keys []string
	for i := range 1000 {
		keys = append(keys, fmt.Sprintf("k/%04d", i))
	}
	for _, k := range keys[:100] {
		sh.add(k)
	}
	tests := map[string]struct {
		r        keyRange
		min, max int
	}{
		"50 keys left":    {keyRange{first: keys[0], after: keys[99], seen: 100, upto: keys[149], classes: sh}, 100, 250},
		"many pages left": {keyRange{first: keys[0], after: keys[99], seen: 100, upto: "k/9999", classes: sh}, 1000, 1000},
		"open range":      {keyRange{first: keys[0], after: keys[99], seen: 100, open: true, classes: sh}, 1000, 1000},
		"nothing seen":    {keyRange{after: keys[99], upto: keys[149]}, 1000, 1000},
	}
	for name, tt := range tests {
		if got := tt.r.pageKeys("", 1000); got < tt.min || got > tt.max {
			t.Errorf("%s: pageKeys = %d; want %d to %d", name, got, tt.min, tt.max)
		}
	}
}
