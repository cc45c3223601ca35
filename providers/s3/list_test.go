package s3

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/providers"
)

func TestList(t *testing.T) {
	b := newBucket(t, Options{})
	var pKeys []string
	for i := range 1100 { // more than one page of 1000
		pKeys = append(pKeys, fmt.Sprintf("p/%04d.txt", i))
	}
	qKeys := []string{"q/a b.txt", "q/a+b.txt", "q/caf\u00e9.txt", "q/sub/x.txt", "qq.txt"}
	putMany(t, b, append(slices.Clone(pKeys), qKeys...))

	list := func(prefix string) []string {
		t.Helper()
		var keys []string
		err := b.List(t.Context(), prefix, func(key string, size int64, etag string, modified time.Time) error {
			sum := md5.Sum([]byte(key))
			if size != int64(len(key)) || etag != hex.EncodeToString(sum[:]) {
				t.Errorf("%q: size %d, ETag %q; want %d, %x", key, size, etag, len(key), sum)
			}
			if time.Since(modified) > time.Hour || modified.After(time.Now().Add(time.Minute)) {
				t.Errorf("%q: modified %v", key, modified)
			}
			keys = append(keys, key)
			return nil
		})
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		return keys
	}

	all := append(slices.Clone(pKeys), qKeys...)
	slices.Sort(all)
	tests := map[string]struct {
		prefix string
		want   []string
	}{
		"everything":    {"", all},
		"paged prefix":  {"p/", pKeys},
		"small prefix":  {"q/", qKeys[:4]},
		"prefix no dir": {"q", qKeys},
		"nothing":       {"r/", nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, list(tt.prefix)); diff != "" {
				t.Errorf("List(%q) (-want +got):\n%s", tt.prefix, diff)
			}
			// ListConcurrent finds the same objects, in some order.
			for _, workers := range []int{1, 2, 8} {
				var got []string
				err := b.ListConcurrent(t.Context(), tt.prefix, workers, func(key string, _ int64, _ string, _ time.Time) error {
					got = append(got, key)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				slices.Sort(got)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("ListConcurrent(%q, %d) (-want +got):\n%s", tt.prefix, workers, diff)
				}
			}
		})
	}

	t.Run("fn error stops", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := b.List(t.Context(), "", func(string, int64, string, time.Time) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if err != stop || n != 3 {
			t.Errorf("List = %v after %d calls; want the callback's error after 3", err, n)
		}
		n = 0
		err = b.ListConcurrent(t.Context(), "", 4, func(string, int64, string, time.Time) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		if err != stop || n != 3 {
			t.Errorf("ListConcurrent = %v after %d calls; want the callback's error after 3, and no call after it", err, n)
		}
	})
}

func TestHead(t *testing.T) {
	b := newBucket(t, Options{})
	etag := putWith(t, b, "here.txt", []byte("hello"), richHeaders)

	size, got, err := b.Head(t.Context(), "here.txt")
	if err != nil || size != 5 || got != etag {
		t.Errorf("Head(here.txt) = %d, %q, %v; want 5, %q, nil", size, got, err, etag)
	}
	sum := md5.Sum([]byte("hello"))
	if etag != hex.EncodeToString(sum[:]) {
		t.Errorf("ETag %q is not the MD5 %x", etag, sum)
	}

	_, _, err = b.Head(t.Context(), "missing.txt")
	if !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Head(missing.txt) = %v; want ErrNotFound", err)
	}
}
