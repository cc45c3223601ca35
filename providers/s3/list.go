package s3

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

// listPageSize is the most keys one ListObjectsV2 page returns.
const listPageSize = 1000

// List streams every object under prefix to fn, in the server's (lexicographic)
// order, a page of 1000 at a time with ListObjectsV2. An error from fn stops the
// listing and is returned as is.
func (b *Bucket) List(ctx context.Context, prefix string, fn func(key string, size int64, etag string, modified time.Time) error) error {
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket:  aws.String(b.opts.Bucket),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(listPageSize),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q in %s: %w", prefix, b.identity, err)
		}
		for _, o := range page.Contents {
			err := fn(aws.ToString(o.Key), aws.ToInt64(o.Size), unquote(aws.ToString(o.ETag)), aws.ToTime(o.LastModified))
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// ListFrom streams the objects under prefix whose keys sort after startAfter, in the
// server's order, until fn returns an error (returned as is, so a sentinel stops it).
func (b *Bucket) ListFrom(ctx context.Context, prefix, startAfter string, fn func(key string, size int64, etag string, modified time.Time) error) error {
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket:     aws.String(b.opts.Bucket),
		Prefix:     aws.String(prefix),
		StartAfter: aws.String(startAfter),
		MaxKeys:    aws.Int32(listPageSize),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %q after %q in %s: %w", prefix, startAfter, b.identity, err)
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key), aws.ToInt64(o.Size), unquote(aws.ToString(o.ETag)), aws.ToTime(o.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListConcurrent is List with the top-level prefixes under prefix ("a/", "b/", … as a
// "/" delimiter shows them) listed up to workers at a time. fn is called from one
// goroutine at a time, but not in key order. workers <= 1 is List. It helps where the
// server answers parallel listings faster (R2, S3) and the keys spread over several
// prefixes; a bucket whose keys share one prefix gains nothing.
func (b *Bucket) ListConcurrent(ctx context.Context, prefix string, workers int, fn func(key string, size int64, etag string, modified time.Time) error) error {
	if workers <= 1 {
		return b.List(ctx, prefix, fn)
	}
	// fn is called one at a time, and never again once it has returned an error.
	var mu sync.Mutex
	var stopped error
	locked := func(key string, size int64, etag string, modified time.Time) error {
		mu.Lock()
		defer mu.Unlock()
		if stopped == nil {
			stopped = fn(key, size, etag, modified)
		}
		return stopped
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(b.opts.Bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
		MaxKeys:   aws.Int32(listPageSize),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(gctx)
		if err != nil {
			if werr := g.Wait(); werr != nil {
				return werr // a prefix's listing failed and cancelled this one
			}
			return fmt.Errorf("list %q by prefix in %s: %w", prefix, b.identity, err)
		}
		for _, o := range page.Contents {
			if err := locked(aws.ToString(o.Key), aws.ToInt64(o.Size), unquote(aws.ToString(o.ETag)), aws.ToTime(o.LastModified)); err != nil {
				g.Wait()
				return err
			}
		}
		for _, cp := range page.CommonPrefixes {
			sub := aws.ToString(cp.Prefix)
			g.Go(func() error { return b.List(gctx, sub, locked) })
		}
	}
	return g.Wait()
}

// Probe lists at most one key: one small request that fails at once when the
// endpoint cannot be reached, the credentials are refused or the bucket does not
// exist, before a command starts any longer work. Explain classifies its error.
func (b *Bucket) Probe(ctx context.Context) error {
	_, err := b.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(b.opts.Bucket),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return fmt.Errorf("list bucket %s: %w", b.identity, err)
	}
	return nil
}
