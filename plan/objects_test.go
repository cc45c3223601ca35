package plan

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestObjectSetUnsortedListing(t *testing.T) {
	listed := []Object{
		{Key: "b/2", Size: 2, ETag: "0123456789abcdef0123456789abcdef", Modified: time.Unix(20, 0)},
		{Key: "a/1", Size: 1, ETag: "abc-3"},
		{Key: "c", Size: 3, ETag: "0123456789ABCDEF0123456789ABCDEF"}, // upper case: kept as is
		{Key: "a/0", Size: 0, ETag: ""},
	}
	var s Summary
	objs, err := collectObjects(listing(listed), &s)
	if err != nil {
		t.Fatal(err)
	}
	if s.Objects != 4 || s.Bytes != 6 {
		t.Errorf("summary %d objects, %d bytes; want 4, 6", s.Objects, s.Bytes)
	}
	var keys []string
	for i := range objs.len() {
		keys = append(keys, objs.key(i))
	}
	if got := strings.Join(keys, " "); got != "a/0 a/1 b/2 c" {
		t.Errorf("keys in order %q", got)
	}
	for _, o := range listed {
		i, ok := objs.lookup(o.Key)
		if !ok {
			t.Fatalf("%q not found", o.Key)
		}
		if objs.etag(i) != o.ETag || objs.size(i) != o.Size || !objs.modTime(i).Equal(o.Modified) {
			t.Errorf("%q: %q %d %v; want %q %d %v", o.Key, objs.etag(i), objs.size(i), objs.modTime(i), o.ETag, o.Size, o.Modified)
		}
	}
	for _, k := range []string{"", "a", "a/", "a/00", "d"} {
		if _, ok := objs.lookup(k); ok {
			t.Errorf("%q found", k)
		}
	}
}

func TestObjectSetListedTwice(t *testing.T) {
	_, err := collectObjects(func(yield func(Object) error) error {
		yield(Object{Key: "b"})
		yield(Object{Key: "a"})
		return yield(Object{Key: "b"})
	}, &Summary{})
	if err == nil || !strings.Contains(err.Error(), `"b" listed twice`) {
		t.Errorf("err = %v", err)
	}
}

func TestRewriteSpillChains(t *testing.T) {
	s, err := newRewriteSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	long := strings.Repeat("é/", 400) // longer than one read
	latest := make([]int64, 3)
	want := make([][]spilled, 3)
	for n := range 30 {
		obj := n % 3
		r := spilled{ref: n % 2, col: n % 3, pk: fmt.Sprint(n), old: "old" + long[:n*40], new: "", reencoded: n%4 == 1}
		if latest[obj], err = s.add(latest[obj], r.ref, r.col, r.pk, r.old, r.new, r.reencoded); err != nil {
			t.Fatal(err)
		}
		want[obj] = append([]spilled{r}, want[obj]...) // newest first
	}
	if err := s.done(); err != nil {
		t.Fatal(err)
	}
	for obj := range 3 {
		var got []spilled
		if err := s.chain(latest[obj], func(r spilled) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want[obj]) {
			t.Errorf("object %d: got %v\nwant %v", obj, got, want[obj])
		}
	}
	if err := s.chain(0, func(spilled) error { t.Error("empty chain read"); return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestObjectSetSortLarge: a listing in no order (as ranges listed at once deliver it),
// long enough to fill several blocks and to make the permutation's cycles long, comes
// out sorted with every record and odd ETag still its key's.
func TestObjectSetSortLarge(t *testing.T) {
	const n = 3*(1<<arenaBits) + 17
	want := map[string]Object{}
	listed := make([]Object, n)
	for i := range n {
		// i*7919 mod n visits every position once (7919 is prime and does not divide n).
		j := i * 7919 % n
		o := Object{Key: fmt.Sprintf("k/%06d/%s", j, strings.Repeat("x", j%5)), Size: int64(j), Modified: time.Unix(int64(j)+1, 0)}
		if j%7 == 0 {
			o.ETag = fmt.Sprintf("odd-%d", j)
		} else {
			o.ETag = fmt.Sprintf("%032x", j)
		}
		listed[i] = o
		want[o.Key] = o
	}
	var s Summary
	objs, err := collectObjects(listing(listed), &s)
	if err != nil {
		t.Fatal(err)
	}
	if objs.len() != n {
		t.Fatalf("%d objects, want %d", objs.len(), n)
	}
	for i := range objs.len() {
		k := objs.key(i)
		if i > 0 && objs.key(i-1) >= k {
			t.Fatalf("position %d: %q after %q", i, k, objs.key(i-1))
		}
		w := want[k]
		if objs.size(i) != w.Size || objs.etag(i) != w.ETag || !objs.modTime(i).Equal(w.Modified) {
			t.Fatalf("%q: size %d, etag %q, modified %v; want %d, %q, %v", k, objs.size(i), objs.etag(i), objs.modTime(i), w.Size, w.ETag, w.Modified)
		}
		if p, ok := objs.lookup(k); !ok || p != i {
			t.Fatalf("lookup(%q) = %d, %v; want %d", k, p, ok, i)
		}
	}
}
