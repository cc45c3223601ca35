package s3

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// answer is an HTTP client whose every answer is 200 with body, then err if set: the SDK's
// decoder and listPageDecoder are compared on the same bytes, with no server between.
type answer struct {
	body []byte
	err  error
}

func (a answer) Do(r *http.Request) (*http.Response, error) {
	var body io.Reader = bytes.NewReader(a.body)
	if a.err != nil {
		body = io.MultiReader(body, errReader{a.err})
	}
	return &http.Response{
		StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/xml"}, "X-Amz-Request-Charged": {"requester"}},
		Body: io.NopCloser(body), ContentLength: -1, Request: r,
	}, nil
}

// decodeAnswer is what ListObjectsV2 returns for a, decoded by listPageDecoder (fast) or
// by the SDK alone.
func decodeAnswer(t testing.TB, a answer, fast bool) (*s3.ListObjectsV2Output, error) {
	t.Helper()
	return answering(a, fast).ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("b")})
}

// answering is a client that a answers, with listPageDecoder (fast) or the SDK's.
func answering(a answer, fast bool) *s3.Client {
	o := s3.Options{
		Region: "auto", BaseEndpoint: aws.String("http://127.0.0.1:9"), UsePathStyle: true,
		HTTPClient: a, Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1,
	}
	if fast {
		o.APIOptions = append(o.APIOptions, useListPageDecoder)
	}
	return s3.New(o)
}

var outputCmp = cmp.Options{
	cmpopts.IgnoreUnexported(s3.ListObjectsV2Output{}, types.Object{}, types.CommonPrefix{}, types.Owner{}),
	cmpopts.IgnoreFields(s3.ListObjectsV2Output{}, "ResultMetadata"),
}

// sameAsSDK checks that listPageDecoder's answer to a is the SDK's, and returns whether
// it read the body itself.
func sameAsSDK(t testing.TB, a answer) (read bool) {
	t.Helper()
	want, wantErr := decodeAnswer(t, a, false)
	before := listPageFallbacks.Load()
	got, err := decodeAnswer(t, a, true)
	read = listPageFallbacks.Load() == before
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("error %v; the SDK's: %v", err, wantErr)
	}
	if diff := cmp.Diff(want, got, outputCmp); diff != "" {
		t.Fatalf("output differs from the SDK's (-sdk +fast):\n%s", diff)
	}
	return read
}

// listDoc is a ListObjectsV2 answer as AWS writes it, with contents as its Contents.
func listDoc(contents ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix></Prefix>` +
		`<KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>` +
		strings.Join(contents, "") +
		`<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>`
}

// object is a Contents element of key, escaped as Go's encoding/xml escapes text (as
// versitygw does).
func object(key string) string {
	var k bytes.Buffer
	xml.EscapeText(&k, []byte(key))
	return `<Contents><Key>` + k.String() + `</Key><LastModified>2026-12-03T09:21:54.123Z</LastModified>` +
		`<ETag>&#34;fba9dede5f27731c9771645a39863328&#34;</ETag><Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>`
}

func TestListPageDecoder(t *testing.T) {
	// Answers listPageDecoder reads itself, as the SDK would.
	read := map[string]string{
		"AWS": listDoc(
			`<Contents><Key>a/b.txt</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>`+
				`<Size>434234</Size><StorageClass>STANDARD</StorageClass><ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumAlgorithm>CRC32</ChecksumAlgorithm>`+
				`<ChecksumType>FULL_OBJECT</ChecksumType></Contents>`,
			object("a/c.txt")),
		"awkward keys": listDoc(object("my avatar 1.webp"), object("a+b 2.webp"), object("100% 3.webp"), object("what? 4.webp"),
			object("#5.webp"), object("café-ü 6.webp"), object("tab\tnl\ncr\r.webp"), object(`<&>"'.webp`), object("😀 ]]> .webp"),
			object("dev/characters/c1/avatars/avatar_1736700001013.webp")),
		"references": listDoc(`<Contents><Key>&#x41;&#66;&amp;&lt;&gt;&apos;&quot;&#x1F600;&#13;</Key></Contents>`),
		"all fields": `<ListBucketResult><Name>b</Name><Prefix>p/</Prefix><Delimiter>/</Delimiter><StartAfter>p/a</StartAfter>` +
			`<ContinuationToken>t1</ContinuationToken><NextContinuationToken>t2</NextContinuationToken><EncodingType>url</EncodingType>` +
			`<IsTruncated>false</IsTruncated><KeyCount>+3</KeyCount><MaxKeys>1000</MaxKeys>` +
			`<CommonPrefixes><Prefix>p/a/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>p/b/</Prefix></CommonPrefixes><CommonPrefixes></CommonPrefixes></ListBucketResult>`,
		"indented":          "<?xml version='1.0' encoding='utf-8' standalone='yes'?>\r\n<ListBucketResult a='1' b=\"2\">\r\n  <Name>b</Name>\n\t<Contents>\n    <Key>k</Key>\n    <Size>1</Size>\n  </Contents>\n</ListBucketResult>\n",
		"empty elements":    `<ListBucketResult><Prefix/><Delimiter></Delimiter><StartAfter /><Contents><Key/><ETag></ETag></Contents></ListBucketResult>`,
		"names in any case": `<ListBucketResult><contents><KEY>k</KEY><size>7</size></contents><istruncated>1</istruncated></ListBucketResult>`,
		"empty root":        `<ListBucketResult/>`,
		"other times": listDoc(`<Contents><Key>a</Key><LastModified>2026-12-03T09:21:54Z</LastModified></Contents>`,
			`<Contents><Key>b</Key><LastModified>2026-12-03T09:21:54.123456789Z</LastModified></Contents>`,
			`<Contents><Key>c</Key><LastModified>2026-12-03T09:21:54.123+01:00</LastModified></Contents>`,
			`<Contents><Key>d</Key><LastModified>2024-02-29T23:59:59.999Z</LastModified></Contents>`),
		"no declaration": listDoc(object("k"))[len(`<?xml version="1.0" encoding="UTF-8"?>`):],
	}
	// Answers it leaves to the SDK, which reads or refuses them.
	left := map[string]string{
		"empty body":               ``,
		"comment between elements": listDoc(`<!-- c -->`, object("k")),
		"comment in a key":         listDoc(`<Contents><Key>a<!-- c -->b</Key></Contents>`),
		"CDATA":                    listDoc(`<Contents><Key><![CDATA[a<b]]></Key></Contents>`),
		"owner":                    listDoc(`<Contents><Key>k</Key><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner></Contents>`),
		"carriage return":          listDoc("<Contents><Key>a\r\nb\rc</Key></Contents>"),
		"invalid UTF-8":            listDoc("<Contents><Key>a\xffb</Key></Contents>"),
		"NUL by reference":         listDoc(`<Contents><Key>a&#0;b</Key></Contents>`),
		"surrogate by reference":   listDoc(`<Contents><Key>a&#xD800;b</Key></Contents>`),
		"control character":        listDoc("<Contents><Key>a\x01b</Key></Contents>"),
		"unknown entity":           listDoc(`<Contents><Key>a&nbsp;b</Key></Contents>`),
		"reference without ;":      listDoc(`<Contents><Key>a&amp b</Key></Contents>`),
		"]]> in text":              listDoc(`<Contents><Key>a]]>b</Key></Contents>`),
		"bad size":                 listDoc(`<Contents><Key>k</Key><Size>12x</Size></Contents>`),
		"bad time":                 listDoc(`<Contents><Key>k</Key><LastModified>yesterday</LastModified></Contents>`),
		"February 30th":            listDoc(`<Contents><Key>k</Key><LastModified>2026-02-30T09:21:54.123Z</LastModified></Contents>`),
		"second 60":                listDoc(`<Contents><Key>k</Key><LastModified>2026-02-03T09:21:60.123Z</LastModified></Contents>`),
		"bad bool":                 `<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>`,
		"cut short":                listDoc(object("abc"))[:200],
		"unknown element":          `<ListBucketResult><Foo>bar</Foo><Name>b</Name></ListBucketResult>`,
		"doctype":                  `<!DOCTYPE x><ListBucketResult><Name>b</Name></ListBucketResult>`,
		"namespaced":               `<s3:ListBucketResult xmlns:s3="x"><s3:Name>b</s3:Name></s3:ListBucketResult>`,
		"attribute on a child":     `<ListBucketResult><Name a="1">b</Name></ListBucketResult>`,
		"self-closed contents":     `<ListBucketResult><Contents/></ListBucketResult>`,
		"mismatched end":           `<ListBucketResult><Name>b</name></ListBucketResult>`,
		"text between elements":    `<ListBucketResult>x<Name>b</Name></ListBucketResult>`,
	}
	for name, body := range read {
		t.Run(name, func(t *testing.T) {
			if !sameAsSDK(t, answer{body: []byte(body)}) {
				t.Error("left to the SDK; want it read by listPageDecoder")
			}
		})
	}
	for name, body := range left {
		t.Run(name, func(t *testing.T) {
			if sameAsSDK(t, answer{body: []byte(body)}) {
				t.Error("read by listPageDecoder; want it left to the SDK")
			}
		})
	}
	// Answers the SDK refuses or takes for an error before either decoder sees them.
	for name, body := range map[string]string{
		"other encoding":            `<?xml version="1.0" encoding="ISO-8859-1"?><ListBucketResult><Name>b</Name></ListBucketResult>`,
		"invalid UTF-8 in the root": "<ListBucketResult a=\"\xff\"><Name>b</Name></ListBucketResult>",
		"error with 200":            `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>try again</Message></Error>`,
	} {
		t.Run(name, func(t *testing.T) {
			sameAsSDK(t, answer{body: []byte(body)})
		})
	}
	t.Run("body read fails", func(t *testing.T) {
		sameAsSDK(t, answer{body: []byte(listDoc(object("k")))[:150], err: errors.New("connection reset")})
	})
	t.Run("headers", func(t *testing.T) {
		got, err := decodeAnswer(t, answer{body: []byte(listDoc(object("k")))}, true)
		if err != nil || got.RequestCharged != types.RequestChargedRequester {
			t.Errorf("RequestCharged %q, %v; want %q from the header", got.RequestCharged, err, types.RequestChargedRequester)
		}
	})
}

// FuzzListPageDecoder: whatever body listPageDecoder reads itself, the SDK reads the same.
func FuzzListPageDecoder(f *testing.F) {
	f.Add([]byte(listDoc(object("a/b.txt"), object("tab\t<&>\"' 😀"))))
	f.Add([]byte(`<ListBucketResult><Prefix/><CommonPrefixes><Prefix>p/a/</Prefix></CommonPrefixes><KeyCount>+3</KeyCount></ListBucketResult>`))
	f.Add([]byte("<?xml version='1.0'?>\n<R a='1'>\n <contents><KEY>&#x41;&#13;</KEY></contents></R>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast s3.ListObjectsV2Output
		if !decodeListPage(body, &fast) {
			return
		}
		want, err := decodeAnswer(t, answer{body: body}, false)
		if err != nil {
			t.Fatalf("read %q, which the SDK refuses: %v", body, err)
		}
		want.RequestCharged = ""
		if diff := cmp.Diff(want, &fast, outputCmp); diff != "" {
			t.Fatalf("%q: output differs from the SDK's (-sdk +fast):\n%s", body, diff)
		}
	})
}

// TestListPageDecoderReadsServer: versitygw's answers, awkward keys and all, are read by
// listPageDecoder, with every key, size and ETag as stored.
func TestListPageDecoderReadsServer(t *testing.T) {
	b := newBucket(t, Options{})
	keys := []string{"a b.txt", "a+b.txt", "100%.txt", "what?.txt", "#1.txt", "café-ü.txt", "tab\t.txt", "nl\n.txt", "cr\r.txt", `<&>"'.txt`, "😀.txt"}
	for i := range 1200 {
		keys = append(keys, fmt.Sprintf("p/%05d.txt", i))
	}
	putMany(t, b, keys)
	before := listPageFallbacks.Load()
	var got []string
	err := b.ListRanges(t.Context(), "", 4, func(key string, size int64, etag string, modified time.Time) error {
		if size != int64(len(key)) || len(etag) != 32 || modified.IsZero() {
			t.Errorf("%q: size %d, ETag %q, modified %v", key, size, etag, modified)
		}
		got = append(got, key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if diff := cmp.Diff(keys, got); diff != "" {
		t.Errorf("keys (-put +listed):\n%s", diff)
	}
	if n := listPageFallbacks.Load() - before; n != 0 {
		t.Errorf("%d answers left to the SDK's decoder; want none", n)
	}
}

// BenchmarkListPage decodes a page of 1000 keys, as versitygw writes it, through the
// whole ListObjectsV2 call.
func BenchmarkListPage(b *testing.B) {
	var contents []string
	for i := range 1000 {
		contents = append(contents, object(fmt.Sprintf("characters/c%d/avatars/avatar_%d.webp", i, 1736700000000+i*1013)))
	}
	a := answer{body: []byte(listDoc(contents...))}
	for _, fast := range []bool{false, true} {
		b.Run(map[bool]string{false: "sdk", true: "listPageDecoder"}[fast], func(b *testing.B) {
			c := answering(a, fast)
			in := &s3.ListObjectsV2Input{Bucket: aws.String("b")}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.ListObjectsV2(b.Context(), in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
