package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithytime "github.com/aws/smithy-go/time"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The SDK decodes a ListObjectsV2 answer token by token with encoding/xml, about 13 µs
// a key (BenchmarkListPage): more than half of a plan's CPU, which at R2's latency is what the plan waits
// for once its listings run in parallel, and at ten million keys minutes of a CI
// runner's time. listPageDecoder reads the answer's bytes in one pass instead, into the
// same output, and leaves to the SDK every answer it does not read exactly as the SDK
// would: a syntax it does not know (a comment, CDATA, a character reference out of
// XML's range, an element it has no field for, a malformed number), in which case the
// SDK decodes or refuses it as before. Error answers (not 2xx) never reach it.

// useListPageDecoder puts listPageDecoder in the place of the SDK's decoder in the
// middleware stack of ListObjectsV2 calls; other operations keep theirs.
func useListPageDecoder(stack *middleware.Stack) error {
	if stack.ID() != "ListObjectsV2" {
		return nil
	}
	d := &listPageDecoder{}
	sdk, err := stack.Deserialize.Swap("OperationDeserializer", d)
	if err != nil {
		return err
	}
	d.sdk = sdk
	return nil
}

// listPageFallbacks counts the answers left to the SDK's decoder (for tests).
var listPageFallbacks atomic.Int64

// listPageDecoder wraps the SDK's decoder: it reads a successful answer's body itself and
// hands the SDK an empty one, so that the SDK decodes the headers alone, then fills in
// the body's fields.
type listPageDecoder struct {
	sdk middleware.DeserializeMiddleware
}

func (*listPageDecoder) ID() string { return "OperationDeserializer" }

func (d *listPageDecoder) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	out middleware.DeserializeOutput, md middleware.Metadata, err error,
) {
	var doc *s3.ListObjectsV2Output
	read := middleware.DeserializeHandlerFunc(func(ctx context.Context, in middleware.DeserializeInput) (middleware.DeserializeOutput, middleware.Metadata, error) {
		out, md, err := next.HandleDeserialize(ctx, in)
		resp, ok := out.RawResponse.(*smithyhttp.Response)
		if err != nil || !ok || resp.StatusCode < 200 || resp.StatusCode >= 300 || resp.Body == nil {
			return out, md, err
		}
		var buf bytes.Buffer
		if n := resp.ContentLength; n > 0 && n < 64<<20 {
			buf.Grow(int(n) + bytes.MinRead)
		}
		_, rerr := buf.ReadFrom(resp.Body)
		resp.Body.Close()
		body := buf.Bytes()
		if rerr == nil {
			doc = &s3.ListObjectsV2Output{}
			if decodeListPage(body, doc) {
				resp.Body = http.NoBody
				return out, md, nil
			}
			doc = nil
			listPageFallbacks.Add(1)
		}
		// The SDK reads what was read, and then the read's error, as it would have.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{rerr}))
		return out, md, nil
	})
	out, md, err = d.sdk.HandleDeserialize(ctx, in, read)
	if err != nil || doc == nil {
		return out, md, err
	}
	o, ok := out.Result.(*s3.ListObjectsV2Output)
	if !ok {
		return out, md, err
	}
	o.CommonPrefixes, o.Contents = doc.CommonPrefixes, doc.Contents
	o.ContinuationToken, o.NextContinuationToken = doc.ContinuationToken, doc.NextContinuationToken
	o.Delimiter, o.EncodingType, o.IsTruncated = doc.Delimiter, doc.EncodingType, doc.IsTruncated
	o.KeyCount, o.MaxKeys, o.Name = doc.KeyCount, doc.MaxKeys, doc.Name
	o.Prefix, o.StartAfter = doc.Prefix, doc.StartAfter
	return out, md, nil
}

// errReader returns err, or io.EOF when err is nil.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) {
	if r.err == nil {
		return 0, io.EOF
	}
	return 0, r.err
}

// decodeListPage reads a ListObjectsV2 answer's body into out's body fields, as the
// SDK's decoder would, and says whether it could; when it says false, out is to be
// dropped.
func decodeListPage(body []byte, out *s3.ListObjectsV2Output) bool {
	x := xmlReader{b: body}
	if !x.prolog() {
		return false
	}
	root, empty, ok := x.startTag(true)
	if !ok {
		return false
	}
	if empty {
		return true
	}
	return x.children(root, func(name []byte, empty bool) bool {
		k := known(name)
		switch k {
		case "Contents":
			return !empty && x.object(name, out)
		case "CommonPrefixes":
			return !empty && x.commonPrefix(name, out)
		case "":
			return false
		}
		v, ok := x.value(name, empty)
		if !ok {
			return false
		}
		switch k {
		case "Name":
			out.Name = &v
		case "Prefix":
			out.Prefix = &v
		case "Delimiter":
			out.Delimiter = &v
		case "StartAfter":
			out.StartAfter = &v
		case "ContinuationToken":
			out.ContinuationToken = &v
		case "NextContinuationToken":
			out.NextContinuationToken = &v
		case "EncodingType":
			out.EncodingType = types.EncodingType(v)
		case "IsTruncated":
			t, err := strconv.ParseBool(v)
			if err != nil {
				return false
			}
			out.IsTruncated = &t
		case "KeyCount", "MaxKeys":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return false
			}
			n32 := int32(n)
			if k == "KeyCount" {
				out.KeyCount = &n32
			} else {
				out.MaxKeys = &n32
			}
		default:
			return false
		}
		return true
	})
}

// object reads a Contents element, whose start tag was read, and appends it.
func (x *xmlReader) object(tag []byte, out *s3.ListObjectsV2Output) bool {
	var o types.Object
	ok := x.children(tag, func(name []byte, empty bool) bool {
		v, ok := x.value(name, empty)
		if !ok {
			return false
		}
		switch known(name) {
		case "Key":
			o.Key = &v
		case "ETag":
			o.ETag = &v
		case "Size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return false
			}
			o.Size = &n
		case "LastModified":
			t, ok := parseTime(v)
			if !ok {
				return false
			}
			o.LastModified = &t
		case "StorageClass":
			o.StorageClass = types.ObjectStorageClass(v)
		case "ChecksumAlgorithm":
			o.ChecksumAlgorithm = append(o.ChecksumAlgorithm, types.ChecksumAlgorithm(v))
		case "ChecksumType":
			o.ChecksumType = types.ChecksumType(v)
		default: // Owner, RestoreStatus: the SDK's
			return false
		}
		return true
	})
	if !ok {
		return false
	}
	if out.Contents == nil {
		// A page's worth at once, rather than growing to it.
		out.Contents = make([]types.Object, 0, 1+bytes.Count(x.b[x.i:], []byte("<Contents>")))
	}
	out.Contents = append(out.Contents, o)
	return true
}

// parseTime is smithytime.ParseDateTime, with a shortcut for the form S3 servers write
// (2026-12-03T09:21:54.123Z).
func parseTime(v string) (time.Time, bool) {
	if len(v) == 24 && v[4] == '-' && v[7] == '-' && v[10] == 'T' && v[13] == ':' && v[16] == ':' && v[19] == '.' && v[23] == 'Z' {
		num := func(i, j int) int {
			n := 0
			for ; i < j; i++ {
				if v[i] < '0' || v[i] > '9' {
					return -1
				}
				n = n*10 + int(v[i]-'0')
			}
			return n
		}
		y, mo, d, h, mi, sec, ms := num(0, 4), num(5, 7), num(8, 10), num(11, 13), num(14, 16), num(17, 19), num(20, 23)
		t := time.Date(y, time.Month(mo), d, h, mi, sec, ms*1e6, time.UTC)
		// Out of range fields (February 30th) are normalised by time.Date, refused by
		// time.Parse: those go the long way.
		if y >= 0 && ms >= 0 && t.Year() == y && int(t.Month()) == mo && t.Day() == d && t.Hour() == h && t.Minute() == mi && t.Second() == sec {
			return t, true
		}
	}
	t, err := smithytime.ParseDateTime(v)
	return t, err == nil
}

// commonPrefix reads a CommonPrefixes element, whose start tag was read, and appends it.
func (x *xmlReader) commonPrefix(tag []byte, out *s3.ListObjectsV2Output) bool {
	var p types.CommonPrefix
	ok := x.children(tag, func(name []byte, empty bool) bool {
		if known(name) != "Prefix" {
			return false
		}
		v, ok := x.value(name, empty)
		p.Prefix = &v
		return ok
	})
	if ok {
		out.CommonPrefixes = append(out.CommonPrefixes, p)
	}
	return ok
}

// knownNames are the elements listPageDecoder reads, each with its fields' name.
var knownNames = []string{
	"Contents", "Key", "ETag", "Size", "LastModified", "StorageClass", "ChecksumAlgorithm", "ChecksumType",
	"CommonPrefixes", "Prefix",
	"Name", "Delimiter", "StartAfter", "ContinuationToken", "NextContinuationToken", "EncodingType",
	"IsTruncated", "KeyCount", "MaxKeys",
}

// known is the name in knownNames that name is, ignoring ASCII case as the SDK does
// (names of other bytes are never read here), or "".
func known(name []byte) string {
	for _, k := range knownNames {
		if len(k) == len(name) && foldEqual(name, k) {
			return k
		}
	}
	return ""
}

func foldEqual(b []byte, s string) bool {
	for i := range b {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// xmlReader reads the subset of XML that S3 servers write: a declaration, one root
// element with attributes, and below it elements without attributes that hold either
// elements or text, with whitespace between them. Every method says false at anything
// else.
type xmlReader struct {
	b []byte
	i int
}

func (x *xmlReader) space() {
	for x.i < len(x.b) {
		switch x.b[x.i] {
		case ' ', '\t', '\n', '\r':
			x.i++
		default:
			return
		}
	}
}

// xmlDecl is an XML declaration encoding/xml accepts without a CharsetReader.
var xmlDecl = regexp.MustCompile(`^<\?xml\s+version=("1\.0"|'1\.0')(\s+encoding=("(?i:utf-8)"|'(?i:utf-8)'))?(\s+standalone=("yes"|"no"|'yes'|'no'))?\s*\?>`)

// prolog skips the whitespace and XML declaration before the root element.
func (x *xmlReader) prolog() bool {
	x.space()
	if bytes.HasPrefix(x.b[x.i:], []byte("<?")) {
		m := xmlDecl.Find(x.b[x.i:])
		if m == nil {
			return false
		}
		x.i += len(m)
		x.space()
	}
	return x.i < len(x.b) && x.b[x.i] == '<'
}

// startTag reads a start tag at x.i: its name (ASCII letters only), and whether it
// closes itself. Only the root (attrs) may have attributes, which are skipped.
func (x *xmlReader) startTag(attrs bool) (name []byte, empty, ok bool) {
	if x.i >= len(x.b) || x.b[x.i] != '<' {
		return nil, false, false
	}
	j := x.i + 1
	for j < len(x.b) && isLetter(x.b[j]) {
		j++
	}
	if j == x.i+1 || j == len(x.b) {
		return nil, false, false
	}
	name = x.b[x.i+1 : j]
	x.i = j
	for {
		sp := x.i
		x.space()
		if x.i >= len(x.b) {
			return nil, false, false
		}
		switch x.b[x.i] {
		case '>':
			x.i++
			return name, false, true
		case '/':
			if x.i+1 < len(x.b) && x.b[x.i+1] == '>' {
				x.i += 2
				return name, true, true
			}
			return nil, false, false
		}
		if !attrs || x.i == sp || !x.attribute() {
			return nil, false, false
		}
	}
}

// attribute skips name="value" (or 'value'), whose value is printable ASCII without
// references.
func (x *xmlReader) attribute() bool {
	j := x.i
	for j < len(x.b) && (isLetter(x.b[j]) || x.b[j] == ':' || x.b[j] == '_' || x.b[j] == '-' || x.b[j] == '.' || j > x.i && '0' <= x.b[j] && x.b[j] <= '9') {
		j++
	}
	if j == x.i || j+1 >= len(x.b) || x.b[j] != '=' {
		return false
	}
	q := x.b[j+1]
	if q != '"' && q != '\'' {
		return false
	}
	for k := j + 2; k < len(x.b); k++ {
		switch c := x.b[k]; {
		case c == q:
			x.i = k + 1
			return true
		case c < 0x20 || c >= 0x7f || c == '<' || c == '&':
			return false
		}
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// children reads the children of parent, whose start tag was read, up to and with its
// end tag: fn reads each child past its start tag (name; empty when it closed itself)
// and says whether it could.
func (x *xmlReader) children(parent []byte, fn func(name []byte, empty bool) bool) bool {
	for {
		x.space()
		if bytes.HasPrefix(x.b[x.i:], []byte("</")) {
			return x.endTag(parent)
		}
		name, empty, ok := x.startTag(false)
		if !ok || !fn(name, empty) {
			return false
		}
	}
}

// endTag reads </name>.
func (x *xmlReader) endTag(name []byte) bool {
	n := len(name)
	if len(x.b)-x.i < n+3 || x.b[x.i] != '<' || x.b[x.i+1] != '/' || !bytes.Equal(x.b[x.i+2:x.i+2+n], name) || x.b[x.i+2+n] != '>' {
		return false
	}
	x.i += n + 3
	return true
}

// value reads the text of an element whose start tag was read, and its end tag.
func (x *xmlReader) value(name []byte, empty bool) (string, bool) {
	if empty {
		return "", true
	}
	end := bytes.IndexByte(x.b[x.i:], '<')
	if end < 0 {
		return "", false
	}
	raw := x.b[x.i : x.i+end]
	x.i += end
	v, ok := text(raw)
	if !ok || !x.endTag(name) {
		return "", false
	}
	return v, true
}

// text is raw character data with its references replaced, as encoding/xml reads it.
// It says false where encoding/xml would change the text otherwise (a carriage return
// becomes a line feed) or refuse it.
func text(raw []byte) (string, bool) {
	plain := true
	for _, c := range raw {
		if c < 0x20 || c >= utf8.RuneSelf || c == '&' || c == ']' {
			plain = false
			break
		}
	}
	if plain {
		return string(raw), true
	}
	if bytes.Contains(raw, []byte("]]>")) {
		return "", false
	}
	buf := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '&':
			semi := bytes.IndexByte(raw[i:], ';')
			if semi < 0 {
				return "", false
			}
			r, ok := reference(raw[i+1 : i+semi])
			if !ok {
				return "", false
			}
			buf = utf8.AppendRune(buf, r)
			i += semi + 1
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && n == 1 || !inXMLRange(r) {
				return "", false
			}
			buf = append(buf, raw[i:i+n]...)
			i += n
		case c < 0x20 && c != '\t' && c != '\n':
			return "", false // '\r', which encoding/xml turns into '\n', or a control character
		default:
			buf = append(buf, c)
			i++
		}
	}
	if len(buf) == 0 {
		return "", true
	}
	// buf is this string's alone from here on.
	return unsafe.String(&buf[0], len(buf)), true
}

// reference is the character of a reference's name (between & and ;).
func reference(name []byte) (rune, bool) {
	switch string(name) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "apos":
		return '\'', true
	case "quot":
		return '"', true
	}
	if len(name) < 2 || name[0] != '#' {
		return 0, false
	}
	digits, base := name[1:], 10
	if digits[0] == 'x' {
		digits, base = digits[1:], 16
	}
	if len(digits) == 0 || len(digits) > 8 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(digits), base, 32)
	if err != nil || !inXMLRange(rune(n)) || n > utf8.MaxRune {
		return 0, false
	}
	return rune(n), true
}

// inXMLRange is XML 1.0's Char production, as encoding/xml checks it.
func inXMLRange(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}
