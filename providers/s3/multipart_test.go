package s3

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/providers"
)

// smallParts makes a 12 MiB object a three-part copy.
var smallParts = Options{MultipartThreshold: 6 << 20, PartSize: 5 << 20}

func TestCopyMultipart(t *testing.T) {
	b := newBucket(t, smallParts)
	body := randomBytes(12 << 20)
	src := "big/video file+1.bin"
	srcETag := putWith(t, b, src, body, richHeaders)
	size := int64(len(body))

	dst := "moved/" + src
	etag, _, err := b.Copy(t.Context(), src, dst, srcETag, size)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(etag, "-3") {
		t.Errorf("multipart copy ETag %q; want a 3-part ETag", etag)
	}
	gotSize, headETag, err := b.Head(t.Context(), dst)
	if err != nil || gotSize != size || headETag != etag {
		t.Errorf("Head(dst) = %d, %q, %v; want %d, %q", gotSize, headETag, err, size, etag)
	}
	want := richHeaders
	want.Metadata = map[string]string{"owner": "user-42", "origin": "upload", SourceETagMeta: srcETag}
	if diff := cmp.Diff(want, headersOf(t, b, dst)); diff != "" {
		t.Errorf("dst headers (-want +got):\n%s", diff)
	}
	if got := get(t, b, dst); !bytes.Equal(got, body) {
		t.Errorf("dst bytes differ from the source's (%d vs %d bytes)", len(got), len(body))
	}

	// A resumed run finds its own multipart copy and does not copy again.
	again, _, err := b.Copy(t.Context(), src, dst, srcETag, size)
	if err != nil || again != etag {
		t.Errorf("second Copy = %q, %v; want %q, nil", again, err, etag)
	}

	// A different target of the same size is not replaced.
	putWith(t, b, "taken.bin", randomBytes(int(size)), headers{})
	if _, _, err := b.Copy(t.Context(), src, "taken.bin", srcETag, size); !errors.Is(err, providers.ErrTargetDiffers) {
		t.Errorf("Copy onto a different target = %v; want ErrTargetDiffers", err)
	}

	// A stale source ETag: nothing created, no upload left behind.
	_, _, err = b.Copy(t.Context(), src, "stale.bin", strings.Repeat("0", 32), size)
	if !errors.Is(err, providers.ErrSourceChanged) {
		t.Errorf("Copy with a stale ETag = %v; want ErrSourceChanged", err)
	}
	if _, _, err := b.Head(t.Context(), "stale.bin"); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("target after failed copy: %v; want ErrNotFound", err)
	}
	assertNoUploads(t, b)
}

func TestCopyMultipartSourceChangesDuringParts(t *testing.T) {
	// The source is replaced after the planner saw it: the HEAD that reads its
	// headers sees another ETag, and no upload is started or left behind.
	b := newBucket(t, smallParts)
	body := randomBytes(12 << 20)
	srcETag := putWith(t, b, "src.bin", body, richHeaders)
	putWith(t, b, "src.bin", randomBytes(12<<20), richHeaders)
	_, _, err := b.Copy(t.Context(), "src.bin", "dst.bin", srcETag, int64(len(body)))
	if !errors.Is(err, providers.ErrSourceChanged) {
		t.Errorf("Copy = %v; want ErrSourceChanged", err)
	}
	assertNoUploads(t, b)
}

func TestCopyMultipartETagSource(t *testing.T) {
	// A source uploaded in parts, below the copy threshold: one CopyObject, but its
	// target ETag is not the source's, so Copy records the source ETag in metadata.
	b := newBucket(t, Options{})
	body := randomBytes(6 << 20)
	create, err := b.client.CreateMultipartUpload(t.Context(), &s3.CreateMultipartUploadInput{
		Bucket: aws.String(b.Name()), Key: aws.String("parts.bin"),
		ContentType: aws.String("video/mp4"), Metadata: map[string]string{"owner": "u1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, chunk := range [][]byte{body[:5<<20], body[5<<20:]} {
		out, err := b.client.UploadPart(t.Context(), &s3.UploadPartInput{
			Bucket: aws.String(b.Name()), Key: aws.String("parts.bin"), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(chunk), ContentLength: aws.Int64(int64(len(chunk))),
		})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	done, err := b.client.CompleteMultipartUpload(t.Context(), &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(b.Name()), Key: aws.String("parts.bin"), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		t.Fatal(err)
	}
	srcETag := unquote(aws.ToString(done.ETag))
	if !providers.MultipartETag(srcETag) {
		t.Fatalf("source ETag %q is not a multipart ETag", srcETag)
	}

	etag, _, err := b.Copy(t.Context(), "parts.bin", "copy.bin", srcETag, int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("multipart source ETag %s; its single-request copy has ETag %s", srcETag, etag)
	h := headersOf(t, b, "copy.bin")
	if h.ContentType != "video/mp4" || h.Metadata["owner"] != "u1" || h.Metadata[SourceETagMeta] != srcETag {
		t.Errorf("copy headers = %+v", h)
	}
	if got := get(t, b, "copy.bin"); !bytes.Equal(got, body) {
		t.Error("copy bytes differ")
	}
	again, _, err := b.Copy(t.Context(), "parts.bin", "copy.bin", srcETag, int64(len(body)))
	if err != nil || again != etag {
		t.Errorf("second Copy = %q, %v; want %q, nil", again, err, etag)
	}
}

func TestPartSizeFor(t *testing.T) {
	tests := map[string]struct {
		size, part, want int64
	}{
		"small":          {12 << 20, 5 << 20, 5 << 20},
		"exactly 10000":  {10_000 * (5 << 20), 5 << 20, 5 << 20},
		"grows to a MiB": {10_001 * (5 << 20), 5 << 20, 6 << 20},
		"5 TiB":          {5 << 40, 256 << 20, 525 << 20},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := partSizeFor(tt.size, tt.part)
			if got != tt.want {
				t.Errorf("partSizeFor(%d, %d) = %d, want %d", tt.size, tt.part, got, tt.want)
			}
			if n := (tt.size + got - 1) / got; n > maxParts {
				t.Errorf("%d parts", n)
			}
		})
	}
}

func assertNoUploads(t *testing.T, b *Bucket) {
	t.Helper()
	out, err := b.client.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(b.Name())})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Uploads {
		t.Errorf("upload left behind: %q %s", aws.ToString(u.Key), aws.ToString(u.UploadId))
	}
}
