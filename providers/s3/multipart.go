package s3

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/r2plan/r2plan/providers"
)

// maxPartCopies bounds the UploadPartCopy requests of one object in flight: enough to
// fill the pipe, few enough that a handful of large objects do not take every
// connection of the pool.
const maxPartCopies = 8

// partSizeFor is the part size for an object of size bytes: Options.PartSize, grown
// to a whole MiB when the object would need more than 10,000 parts. All parts have it
// but the last (R2 requires equal parts).
func partSizeFor(size, partSize int64) int64 {
	if (size+partSize-1)/partSize <= maxParts {
		return partSize
	}
	const mib = 1 << 20
	p := (size + maxParts - 1) / maxParts
	return (p + mib - 1) / mib * mib
}

// copyMultipart copies src to dst with CreateMultipartUpload (setting hdr itself,
// since UploadPartCopy carries no metadata), UploadPartCopy of each range
// (conditional on srcETag, several at a time), and CompleteMultipartUpload with
// If-None-Match: * so that a target written meanwhile is not replaced. On failure the
// upload is aborted.
func (b *Bucket) copyMultipart(ctx context.Context, src, dst, srcETag string, size int64, hdr *objectHeaders) (etag string, err error) {
	create, err := b.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:             aws.String(b.opts.Bucket),
		Key:                aws.String(dst),
		ContentType:        hdr.contentType,
		CacheControl:       hdr.cacheControl,
		ContentDisposition: hdr.contentDisposition,
		ContentEncoding:    hdr.contentEncoding,
		ContentLanguage:    hdr.contentLanguage,
		Expires:            hdr.expires,
		Metadata:           hdr.metadata,
	})
	if err != nil {
		return "", fmt.Errorf("create multipart upload: %w", err)
	}
	uploadID := create.UploadId
	completed := false
	defer func() {
		if completed {
			return
		}
		// Abort even when ctx is cancelled, or the parts are billed until a lifecycle
		// rule removes them.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		if _, aerr := b.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
			Bucket:   aws.String(b.opts.Bucket),
			Key:      aws.String(dst),
			UploadId: uploadID,
		}); aerr != nil && !isNotFound(aerr) && err != nil {
			err = fmt.Errorf("%w (and abort upload: %v)", err, aerr)
		}
	}()

	partSize := partSizeFor(size, b.opts.PartSize)
	n := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, n)
	copySource := aws.String(encodeCopySource(b.opts.Bucket, src))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(min(b.opts.Parallelism, maxPartCopies))
	for i := range n {
		first := int64(i) * partSize
		last := min(first+partSize, size) - 1
		num := int32(i + 1)
		g.Go(func() error {
			out, err := b.client.UploadPartCopy(gctx, &s3.UploadPartCopyInput{
				Bucket:            aws.String(b.opts.Bucket),
				Key:               aws.String(dst),
				UploadId:          uploadID,
				PartNumber:        aws.Int32(num),
				CopySource:        copySource,
				CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", first, last)),
				CopySourceIfMatch: aws.String(quote(srcETag)),
			})
			switch {
			case err == nil:
			case isPreconditionFailed(err):
				return fmt.Errorf("part %d: %w: %w", num, providers.ErrSourceChanged, err)
			case isNoSuchKey(err):
				return fmt.Errorf("part %d: %w: source gone: %w: %w", num, providers.ErrSourceChanged, providers.ErrNotFound, err)
			default:
				return fmt.Errorf("part %d: %w", num, err)
			}
			parts[i] = types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(num)}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return "", err
	}

	done, err := b.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(b.opts.Bucket),
		Key:             aws.String(dst),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     aws.String("*"),
	})
	if err != nil {
		if isPreconditionFailed(err) {
			// The target appeared while the parts were copied.
			// The deferred abort drops this upload either way.
			etag, ok, cerr := b.checkTarget(ctx, dst, srcETag, size)
			if cerr != nil {
				return "", cerr
			}
			if ok {
				return etag, nil
			}
		}
		return "", fmt.Errorf("complete multipart upload: %w", err)
	}
	completed = true
	return unquote(aws.ToString(done.ETag)), nil
}

// abortTimeout bounds the AbortMultipartUpload after a failed multipart copy.
const abortTimeout = 30 * time.Second
