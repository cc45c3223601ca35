package s3

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/r2plan/r2plan/providers"
)

// longKey is a 1000-byte key. versitygw stores keys as paths, so no segment exceeds
// the 255 bytes a file name may have.
var longKey = func() string {
	seg := strings.Repeat("k", 199)
	k := strings.Join([]string{seg, seg, seg, seg, seg}, "/") // 999 bytes
	return k + "x"
}()

func TestCopyAwkwardKeys(t *testing.T) {
	keys := map[string]string{
		"space":        "dir/my photo.jpg",
		"plus":         "dir/a+b.jpg",
		"percent":      "dir/100%.jpg",
		"percent hex":  "dir/a%20b.jpg",
		"question":     "dir/a?b=c.jpg",
		"hash":         "dir/a#b.jpg",
		"double slash": "dir//a.jpg",
		"nfc":          "dir/caf\u00e9.jpg",
		"nfd":          "dir/cafe\u0301.jpg",
		"reserved":     "dir/!$&'()*,;=:@.jpg",
		"1000 bytes":   longKey,
	}
	for _, mode := range []NoOverwriteMode{NoOverwriteByHead, NoOverwriteByIfNoneMatch} {
		t.Run(mode.String(), func(t *testing.T) {
			b := newBucket(t, Options{NoOverwrite: mode})
			for name, src := range keys {
				t.Run(name, func(t *testing.T) {
					body := []byte("body of " + src)
					srcETag := putWith(t, b, src, body, richHeaders)
					dst := "moved/" + src
					if len(dst) > 1024 {
						t.Fatalf("test key too long: %d", len(dst))
					}
					etag, _, err := b.Copy(t.Context(), src, dst, srcETag, int64(len(body)))
					if err != nil {
						t.Fatal(err)
					}
					// versitygw (like AWS) gives a single-part copy the source's ETag.
					if etag != srcETag {
						t.Errorf("Copy returned ETag %q; source has %q", etag, srcETag)
					}
					size, headETag, err := b.Head(t.Context(), dst)
					if err != nil || size != int64(len(body)) || headETag != etag {
						t.Errorf("Head(dst) = %d, %q, %v; want %d, %q", size, headETag, err, len(body), etag)
					}
					if diff := cmp.Diff(richHeaders, headersOf(t, b, dst)); diff != "" {
						t.Errorf("dst headers (-want +got):\n%s", diff)
					}
					if got := get(t, b, dst); !bytes.Equal(got, body) {
						t.Errorf("dst body = %q, want %q", got, body)
					}
				})
			}
		})
	}
}

func TestCopyNFCAndNFDAreDistinct(t *testing.T) {
	// versitygw keeps the bytes of a key, so NFC and NFD name two objects there (R2
	// would make them one); NFC tells the planner they collide.
	b := newBucket(t, Options{})
	nfc, nfd := "caf\u00e9", "cafe\u0301"
	e1 := putWith(t, b, nfc, []byte("one"), richHeaders)
	e2 := putWith(t, b, nfd, []byte("two"), richHeaders)
	if e1 == e2 {
		t.Fatal("same ETag for different bodies")
	}
	if NFC(nfc) != NFC(nfd) {
		t.Errorf("NFC(%q) != NFC(%q)", nfc, nfd)
	}
	if _, _, err := b.Copy(t.Context(), nfd, "x/"+nfd, e2, 3); err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, "x/"+nfd); string(got) != "two" {
		t.Errorf("copy of the NFD key holds %q", got)
	}
	if _, _, err := b.Head(t.Context(), "x/"+nfc); !errors.Is(err, providers.ErrNotFound) {
		t.Errorf("Head(NFC target) = %v; want ErrNotFound", err)
	}
}

// allModes are the NoOverwrite modes. versitygw ignores both conditional headers, so
// it stands for the servers that do: every mode must still refuse to overwrite.
var allModes = []NoOverwriteMode{NoOverwriteByHead, NoOverwriteByIfNoneMatch, NoOverwriteByR2Header}

func TestCopyConditions(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			b := newBucket(t, Options{NoOverwrite: mode})
			body := []byte("source body")
			srcETag := putWith(t, b, "src.txt", body, richHeaders)
			size := int64(len(body))

			t.Run("source changed", func(t *testing.T) {
				wrong := strings.Repeat("0", 32)
				_, _, err := b.Copy(t.Context(), "src.txt", "changed.txt", wrong, size)
				if !errors.Is(err, providers.ErrSourceChanged) {
					t.Errorf("Copy with a stale ETag = %v; want ErrSourceChanged", err)
				}
				if _, _, err := b.Head(t.Context(), "changed.txt"); !errors.Is(err, providers.ErrNotFound) {
					t.Errorf("target after failed copy: %v; want ErrNotFound", err)
				}
			})

			t.Run("source gone", func(t *testing.T) {
				_, _, err := b.Copy(t.Context(), "nope.txt", "gone.txt", srcETag, size)
				if !errors.Is(err, providers.ErrSourceChanged) || !errors.Is(err, providers.ErrNotFound) {
					t.Errorf("Copy of a missing source = %v; want ErrSourceChanged and ErrNotFound", err)
				}
			})

			t.Run("identical target", func(t *testing.T) {
				putWith(t, b, "same.txt", body, headers{ContentType: "text/plain"})
				etag, _, err := b.Copy(t.Context(), "src.txt", "same.txt", srcETag, size)
				if err != nil || etag != srcETag {
					t.Errorf("Copy onto an identical target = %q, %v; want %q, nil", etag, err, srcETag)
				}
				// A resumed run: copy again onto its own earlier copy.
				if _, _, err := b.Copy(t.Context(), "src.txt", "copy.txt", srcETag, size); err != nil {
					t.Fatal(err)
				}
				etag, _, err = b.Copy(t.Context(), "src.txt", "copy.txt", srcETag, size)
				if err != nil || etag != srcETag {
					t.Errorf("second Copy = %q, %v; want %q, nil", etag, err, srcETag)
				}
			})

			t.Run("different target", func(t *testing.T) {
				other := []byte("other content")
				otherETag := putWith(t, b, "other.txt", other, headers{ContentType: "text/csv"})
				_, _, err := b.Copy(t.Context(), "src.txt", "other.txt", srcETag, size)
				if !errors.Is(err, providers.ErrTargetDiffers) {
					t.Errorf("Copy onto a different target = %v; want ErrTargetDiffers", err)
				}
				if got := get(t, b, "other.txt"); !bytes.Equal(got, other) {
					t.Errorf("target now holds %q", got)
				}
				if _, e, _ := b.Head(t.Context(), "other.txt"); e != otherETag {
					t.Errorf("target ETag now %q, was %q", e, otherETag)
				}
				// Same size, other bytes.
				putWith(t, b, "samesize.txt", bytes.ToUpper(body), headers{})
				if _, _, err := b.Copy(t.Context(), "src.txt", "samesize.txt", srcETag, size); !errors.Is(err, providers.ErrTargetDiffers) {
					t.Errorf("Copy onto a same-size target = %v; want ErrTargetDiffers", err)
				}
			})

			t.Run("onto itself", func(t *testing.T) {
				if _, _, err := b.Copy(t.Context(), "src.txt", "src.txt", srcETag, size); err == nil {
					t.Error("Copy onto itself succeeded")
				}
			})
		})
	}
}

// TestCopyAbsentWindow records what a copy does to a target written after the caller
// saw it absent, on a server that ignores the conditional headers (versitygw, like
// MinIO): it is overwritten in every mode. This is the window the README names; only
// a server that honours the mode's header closes it.
func TestCopyAbsentWindow(t *testing.T) {
	for _, mode := range allModes {
		t.Run(mode.String(), func(t *testing.T) {
			b := newBucket(t, Options{NoOverwrite: mode})
			srcETag := putWith(t, b, "src.txt", []byte("source"), headers{})
			putWith(t, b, "dst.txt", []byte("existing"), headers{})
			_, err := b.CopyAbsent(t.Context(), "src.txt", "dst.txt", srcETag, 6)
			got := string(get(t, b, "dst.txt"))
			switch {
			case errors.Is(err, providers.ErrTargetDiffers) && got == "existing":
				t.Logf("versitygw honours the %s header: the window is closed here", mode)
			case err == nil && got == "source":
				t.Logf("versitygw ignores the %s header: the target written in the window was overwritten", mode)
			default:
				t.Errorf("CopyAbsent = %v, target holds %q", err, got)
			}
		})
	}
}
