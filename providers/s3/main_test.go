package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/internal/testenv"
)

// server is the versitygw every test of this package talks to.
var server *testenv.S3Server

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "r2plan-s3-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	server, err = testenv.StartS3(ctx, dir, "", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "start versitygw:", err)
		return 1
	}
	defer server.Stop()
	return m.Run()
}

var bucketSeq atomic.Int64

// newBucket opens a fresh bucket on the test server, with o's settings.
func newBucket(t *testing.T, o Options) *Bucket {
	t.Helper()
	o.Endpoint = server.Endpoint
	o.Region = server.Region
	o.AccessKeyID = server.AccessKey
	o.SecretAccessKey = server.SecretKey
	o.PathStyle = true
	o.Bucket = fmt.Sprintf("t%d-%s", bucketSeq.Add(1), strings.ToLower(hexString(4)))
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 3
	}
	b, err := Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	return b
}

func hexString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// headers are the object headers a copy must preserve.
type headers struct {
	ContentType, CacheControl, ContentDisposition, ContentEncoding, ContentLanguage string
	Metadata                                                                        map[string]string
}

var richHeaders = headers{
	ContentType:        "image/webp",
	CacheControl:       "public, max-age=31536000, immutable",
	ContentDisposition: `attachment; filename="photo.webp"`,
	ContentEncoding:    "identity",
	ContentLanguage:    "fr-CA",
	Metadata:           map[string]string{"owner": "user-42", "origin": "upload"},
}

// putWith uploads body to key with every header a copy must preserve.
func putWith(t *testing.T, b *Bucket, key string, body []byte, h headers) string {
	t.Helper()
	out, err := b.client.PutObject(t.Context(), &s3.PutObjectInput{
		Bucket:             aws.String(b.Name()),
		Key:                aws.String(key),
		Body:               bytes.NewReader(body),
		ContentLength:      aws.Int64(int64(len(body))),
		ContentType:        aws.String(h.ContentType),
		CacheControl:       aws.String(h.CacheControl),
		ContentDisposition: aws.String(h.ContentDisposition),
		ContentEncoding:    aws.String(h.ContentEncoding),
		ContentLanguage:    aws.String(h.ContentLanguage),
		Metadata:           h.Metadata,
	})
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return unquote(aws.ToString(out.ETag))
}

// headersOf HEADs key for the headers a copy must preserve.
func headersOf(t *testing.T, b *Bucket, key string) headers {
	t.Helper()
	out, err := b.head(t.Context(), key)
	if err != nil {
		t.Fatalf("head %q: %v", key, err)
	}
	return headers{
		ContentType:        aws.ToString(out.ContentType),
		CacheControl:       aws.ToString(out.CacheControl),
		ContentDisposition: aws.ToString(out.ContentDisposition),
		ContentEncoding:    aws.ToString(out.ContentEncoding),
		ContentLanguage:    aws.ToString(out.ContentLanguage),
		Metadata:           out.Metadata,
	}
}

// get reads key's bytes.
func get(t *testing.T, b *Bucket, key string) []byte {
	t.Helper()
	out, err := b.client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(b.Name()), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return body
}

// putMany uploads a small object at each key, 16 at a time.
func putMany(t *testing.T, b *Bucket, keys []string) {
	t.Helper()
	g, ctx := errgroup.WithContext(t.Context())
	g.SetLimit(16)
	for _, k := range keys {
		g.Go(func() error { return b.Put(ctx, k, []byte(k), "text/plain", "", nil) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}
