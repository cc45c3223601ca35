package s3

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// deleteBatch is the most keys one DeleteObjects request may name.
const deleteBatch = 1000

// maxDeleteRequests bounds the DeleteObjects requests in flight.
const maxDeleteRequests = 8

// Delete removes keys with DeleteObjects, at most 1000 keys a request, in quiet mode
// (the server reports only failures). failed holds the keys the server refused, each
// with its error code and message; err is a request that failed as a whole, after
// which the keys of unsent or failed batches are in an unknown state (deleting is
// idempotent: run it again). Deleting a key that does not exist succeeds.
func (b *Bucket) Delete(ctx context.Context, keys []string) (failed map[string]error, err error) {
	failed = make(map[string]error)
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(min(b.opts.Parallelism, maxDeleteRequests))
	for start := 0; start < len(keys); start += deleteBatch {
		batch := keys[start:min(start+deleteBatch, len(keys))]
		g.Go(func() error {
			objs := make([]types.ObjectIdentifier, len(batch))
			for i, k := range batch {
				objs[i] = types.ObjectIdentifier{Key: aws.String(k)}
			}
			out, err := b.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: aws.String(b.opts.Bucket),
				Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
			})
			if err != nil {
				return fmt.Errorf("delete %d objects from %q (first %q): %w", len(batch), b.opts.Bucket, batch[0], err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, e := range out.Errors {
				failed[aws.ToString(e.Key)] = fmt.Errorf("delete %q: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
			return nil
		})
	}
	err = g.Wait()
	return failed, err
}
