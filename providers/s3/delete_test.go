package s3

import (
	"fmt"
	"testing"
	"time"
)

func TestDelete(t *testing.T) {
	b := newBucket(t, Options{})
	var keys []string
	for i := range 2100 { // three batches
		keys = append(keys, fmt.Sprintf("d/%04d", i))
	}
	keep := []string{"keep/a", "keep/b"}
	putMany(t, b, append(keys, keep...))

	failed, err := b.Delete(t.Context(), append(keys, "d/never-existed"))
	if err != nil || len(failed) != 0 {
		t.Fatalf("Delete = %v, %v; want no failures", failed, err)
	}
	var left []string
	err = b.List(t.Context(), "", func(key string, _ int64, _ string, _ time.Time) error {
		left = append(left, key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(left) != fmt.Sprint(keep) {
		t.Errorf("after Delete the bucket holds %q; want %q", left, keep)
	}

	failed, err = b.Delete(t.Context(), nil)
	if err != nil || len(failed) != 0 {
		t.Errorf("Delete(nil) = %v, %v", failed, err)
	}
}
