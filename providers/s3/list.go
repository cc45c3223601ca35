package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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

// ListConcurrent is ListRanges: the key space under prefix listed by up to workers at
// once, in ranges of keys rather than by top-level prefix. workers <= 1 is List.
func (b *Bucket) ListConcurrent(ctx context.Context, prefix string, workers int, fn func(key string, size int64, etag string, modified time.Time) error) error {
	return b.ListRanges(ctx, prefix, workers, fn)
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
