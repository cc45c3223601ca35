package s3

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/r2plan/r2plan/providers"
)

// SourceETagMeta is the user-metadata key (x-amz-meta-r2plan-source-etag) that Copy
// adds to a target whose ETag cannot equal its source's: a multipart copy, or any
// copy of a source that was itself uploaded in parts. It lets a resumed run see that
// such a target is already the copy it wanted.
const SourceETagMeta = "r2plan-source-etag"

// Copy copies src to dst server-side and returns the ETag of dst.
//
// The copy is conditional on src still having srcETag (CopySourceIfMatch); if it no
// longer has it, or is gone, the error wraps providers.ErrSourceChanged (and
// providers.ErrNotFound when it is gone) and nothing is written. The target gets the
// source's metadata, Content-Type, Cache-Control, Content-Disposition,
// Content-Encoding and Content-Language.
//
// Copy never replaces a dst that holds other content: it HEADs dst first, in every
// NoOverwrite mode, since a server may ignore the conditional header a mode sends
// (versitygw and MinIO ignore both). If dst already holds the source's content (same
// size, and its ETag is srcETag or it records srcETag in SourceETagMeta) Copy returns
// its ETag without copying (a resumed run); if it holds anything else the error wraps
// providers.ErrTargetDiffers. The mode's header then guards the copy itself, on the
// servers that honour it, against a dst written between the HEAD and the copy.
//
// A single-part source no larger than MultipartThreshold costs a HEAD of dst and one
// CopyObject, and dst gets the source's ETag (the content MD5). Larger sources are copied in parts (CreateMultipartUpload, UploadPartCopy in
// parallel, CompleteMultipartUpload with If-None-Match: *, aborted on failure), and
// sources with a multipart ETag are copied with their headers set explicitly: both
// HEAD the source first and record SourceETagMeta on dst.
func (b *Bucket) Copy(ctx context.Context, src, dst, srcETag string, size int64) (etag string, copied bool, err error) {
	return b.copy(ctx, src, dst, srcETag, size, true)
}

// CopyAbsent is Copy for a dst that the caller has just seen absent (in a listing):
// it skips the HEAD of dst, and so costs one request. The conditional header of the
// NoOverwrite mode is still sent: where the server honours it, a dst written by
// someone else since the listing is not overwritten (ErrTargetDiffers); where it does
// not (NoOverwriteByHead, or a server that ignores the header), such a dst is
// overwritten. That window, from the listing to the copy, is the one Copy has from its
// HEAD to its copy.
func (b *Bucket) CopyAbsent(ctx context.Context, src, dst, srcETag string, size int64) (etag string, err error) {
	etag, _, err = b.copy(ctx, src, dst, srcETag, size, false)
	return etag, err
}

func (b *Bucket) copy(ctx context.Context, src, dst, srcETag string, size int64, checkFirst bool) (etag string, copied bool, err error) {
	srcETag = unquote(srcETag)
	if src == dst {
		return "", false, fmt.Errorf("copy %q onto itself", src)
	}
	if srcETag == "" {
		return "", false, fmt.Errorf("copy %q to %q: no source ETag", src, dst)
	}
	explicit := size > b.opts.MultipartThreshold || providers.MultipartETag(srcETag)
	if checkFirst {
		etag, done, err := b.checkTarget(ctx, dst, srcETag, size)
		if err != nil {
			return "", false, fmt.Errorf("copy %q to %q: %w", src, dst, err)
		}
		if done {
			return etag, false, nil
		}
	}
	if explicit {
		etag, copied, err = b.copyExplicit(ctx, src, dst, srcETag, size)
	} else {
		etag, copied, err = b.copyObject(ctx, src, dst, srcETag, size, nil)
	}
	if err != nil {
		return "", false, fmt.Errorf("copy %q to %q: %w", src, dst, err)
	}
	return etag, copied, nil
}

// HoldsCopy reports whether dst already holds a copy of a source with srcETag and
// size: the same ETag, or the source ETag recorded in SourceETagMeta by an earlier
// Copy (a source uploaded in parts, whose copy gets another ETag).
func (b *Bucket) HoldsCopy(ctx context.Context, dst, srcETag string, size int64) (bool, error) {
	_, done, err := b.checkTarget(ctx, dst, unquote(srcETag), size)
	if errors.Is(err, providers.ErrTargetDiffers) {
		return false, nil
	}
	return done, err
}

// checkTarget HEADs dst: done with its ETag if it already holds the source's content,
// an error wrapping providers.ErrTargetDiffers if it holds other content, and neither
// if it does not exist.
func (b *Bucket) checkTarget(ctx context.Context, dst, srcETag string, size int64) (etag string, done bool, err error) {
	out, err := b.head(ctx, dst)
	if errors.Is(err, providers.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("head target: %w", err)
	}
	dstETag := unquote(aws.ToString(out.ETag))
	dstSize := aws.ToInt64(out.ContentLength)
	if dstSize == size && (dstETag == srcETag || out.Metadata[SourceETagMeta] == srcETag) {
		return dstETag, true, nil
	}
	return "", false, fmt.Errorf("%w (target: %d bytes, ETag %s; source: %d bytes, ETag %s)",
		providers.ErrTargetDiffers, dstSize, dstETag, size, srcETag)
}

// copyObject is one CopyObject of src to dst, conditional on srcETag and, by the
// NoOverwrite mode, on dst not existing. With hdr nil, dst takes src's metadata and
// headers (MetadataDirective COPY); otherwise hdr replaces them.
func (b *Bucket) copyObject(ctx context.Context, src, dst, srcETag string, size int64, hdr *objectHeaders) (string, bool, error) {
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(b.opts.Bucket),
		Key:               aws.String(dst),
		CopySource:        aws.String(encodeCopySource(b.opts.Bucket, src)),
		CopySourceIfMatch: aws.String(quote(srcETag)),
		MetadataDirective: types.MetadataDirectiveCopy,
	}
	if hdr != nil {
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.ContentType = hdr.contentType
		in.CacheControl = hdr.cacheControl
		in.ContentDisposition = hdr.contentDisposition
		in.ContentEncoding = hdr.contentEncoding
		in.ContentLanguage = hdr.contentLanguage
		in.Expires = hdr.expires
		in.Metadata = hdr.metadata
	}
	var optFns []func(*s3.Options)
	switch b.opts.NoOverwrite {
	case NoOverwriteByIfNoneMatch:
		in.IfNoneMatch = aws.String("*")
	case NoOverwriteByR2Header:
		optFns = append(optFns, s3.WithAPIOptions(smithyhttp.AddHeaderValue("cf-copy-destination-if-none-match", "*")))
	}
	out, err := b.client.CopyObject(ctx, in, optFns...)
	if err == nil {
		return unquote(aws.ToString(out.CopyObjectResult.ETag)), true, nil
	}
	switch {
	case isPreconditionFailed(err) && b.opts.NoOverwrite != NoOverwriteByHead:
		// Either condition may have failed: look at both objects.
		etag, err := b.classifyPreconditionFailed(ctx, src, dst, srcETag, size, err)
		return etag, false, err
	case isPreconditionFailed(err):
		return "", false, fmt.Errorf("%w: %w", providers.ErrSourceChanged, err)
	case isNoSuchKey(err):
		return "", false, fmt.Errorf("%w: source gone: %w: %w", providers.ErrSourceChanged, providers.ErrNotFound, err)
	}
	return "", false, err
}

// classifyPreconditionFailed finds which condition of a conditional copy failed: the
// target exists (identical: done; different: ErrTargetDiffers) or the source changed.
func (b *Bucket) classifyPreconditionFailed(ctx context.Context, src, dst, srcETag string, size int64, cause error) (string, error) {
	etag, done, err := b.checkTarget(ctx, dst, srcETag, size)
	if err != nil || done {
		return etag, err
	}
	out, err := b.head(ctx, src)
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return "", fmt.Errorf("%w: source gone: %w", providers.ErrSourceChanged, err)
	case err != nil:
		return "", fmt.Errorf("head source after %w: %w", cause, err)
	case unquote(aws.ToString(out.ETag)) != srcETag:
		return "", fmt.Errorf("%w (now ETag %s): %w", providers.ErrSourceChanged, unquote(aws.ToString(out.ETag)), cause)
	}
	// Both conditions hold now: the target was there and has gone again.
	return "", fmt.Errorf("precondition failed, but now the source is unchanged and the target absent (retry): %w", cause)
}

// objectHeaders are what a copy must carry over when it cannot let the server do it.
type objectHeaders struct {
	contentType        *string
	cacheControl       *string
	contentDisposition *string
	contentEncoding    *string
	contentLanguage    *string
	expires            *time.Time
	metadata           map[string]string
}

// sourceHeaders HEADs src, checks it still has srcETag and size, and returns its
// headers with SourceETagMeta added to its metadata.
func (b *Bucket) sourceHeaders(ctx context.Context, src, srcETag string, size int64) (*objectHeaders, error) {
	out, err := b.head(ctx, src)
	if errors.Is(err, providers.ErrNotFound) {
		return nil, fmt.Errorf("%w: source gone: %w", providers.ErrSourceChanged, err)
	}
	if err != nil {
		return nil, fmt.Errorf("head source: %w", err)
	}
	if got := unquote(aws.ToString(out.ETag)); got != srcETag || aws.ToInt64(out.ContentLength) != size {
		return nil, fmt.Errorf("%w (now %d bytes, ETag %s)", providers.ErrSourceChanged, aws.ToInt64(out.ContentLength), got)
	}
	md := maps.Clone(out.Metadata)
	if md == nil {
		md = make(map[string]string)
	}
	md[SourceETagMeta] = srcETag
	h := &objectHeaders{
		contentType:        out.ContentType,
		cacheControl:       out.CacheControl,
		contentDisposition: out.ContentDisposition,
		contentEncoding:    out.ContentEncoding,
		contentLanguage:    out.ContentLanguage,
		metadata:           md,
	}
	if s := aws.ToString(out.ExpiresString); s != "" {
		if t, err := http.ParseTime(s); err == nil {
			h.expires = &t
		}
	}
	return h, nil
}

// copyExplicit copies a source whose target ETag will not be the source's: HEAD the
// source for its headers, then one CopyObject that sets them, or a multipart copy.
func (b *Bucket) copyExplicit(ctx context.Context, src, dst, srcETag string, size int64) (string, bool, error) {
	hdr, err := b.sourceHeaders(ctx, src, srcETag, size)
	if err != nil {
		return "", false, err
	}
	if size <= b.opts.MultipartThreshold {
		return b.copyObject(ctx, src, dst, srcETag, size, hdr)
	}
	etag, err := b.copyMultipart(ctx, src, dst, srcETag, size, hdr)
	return etag, err == nil, err
}
