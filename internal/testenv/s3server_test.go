package testenv_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"testing"
	"time"

	"github.com/r2plan/r2plan/internal/testenv"
	"github.com/r2plan/r2plan/providers/s3"
)

// Objects written straight into the backend's directory are the server's own: listed
// with their MD5 ETag, and copied like any other.
func TestWriteObject(t *testing.T) {
	ctx := context.Background()
	srv, err := testenv.StartS3(ctx, t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	b, err := s3.Open(ctx, s3.Options{Endpoint: srv.Endpoint, Bucket: "seeded", AccessKeyID: srv.AccessKey,
		SecretAccessKey: srv.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	bodies := map[string]string{
		"characters/c1/avatars/my avatar 1.webp": "one",
		"stories/s2/cover.webp":                  "two",
		"café-ü 3.webp":                          "three",
	}
	for k, body := range bodies {
		if err := srv.WriteObject("seeded", k, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	listed := map[string]string{}
	err = b.List(ctx, "", func(key string, size int64, etag string, _ time.Time) error {
		listed[key] = etag
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, body := range bodies {
		sum := md5.Sum([]byte(body))
		if want := hex.EncodeToString(sum[:]); listed[k] != want {
			t.Errorf("%q listed with ETag %q, want %q", k, listed[k], want)
		}
	}
	if len(listed) != len(bodies) {
		t.Errorf("listed %v", listed)
	}
	k := "stories/s2/cover.webp"
	if _, _, err := b.Copy(ctx, k, "dev/"+k, listed[k], int64(len(bodies[k]))); err != nil {
		t.Fatalf("copy a written object: %v", err)
	}
	if _, etag, err := b.Head(ctx, "dev/"+k); err != nil || etag != listed[k] {
		t.Errorf("the copy: ETag %q, %v; want %q", etag, err, listed[k])
	}
}
