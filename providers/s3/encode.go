package s3

import (
	"strings"

	"golang.org/x/text/unicode/norm"
)

// encodeCopySource builds the x-amz-copy-source value bucket/key, percent-encoding
// every byte of both except the unreserved characters A-Z a-z 0-9 - _ . ~ and the
// slash. The SDK sends the header as given, and servers disagree on how they decode
// anything looser (R2 and AWS both accept this strict form).
func encodeCopySource(bucket, key string) string {
	const hex = "0123456789ABCDEF"
	s := bucket + "/" + key
	var sb strings.Builder
	sb.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if copySourceSafe(c) {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&0xf])
	}
	return sb.String()
}

func copySourceSafe(c byte) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '~', '/':
		return true
	}
	return false
}

// NFC returns key in Unicode normalisation form C. R2 normalises keys to NFC, so two
// keys that differ only in normalisation (é as one code point or as e + U+0301) name
// one object there: the planner uses NFC to find such pairs.
func NFC(key string) string {
	return norm.NFC.String(key)
}

// unquote strips the double quotes around an ETag.
func unquote(etag string) string {
	if len(etag) >= 2 && etag[0] == '"' && etag[len(etag)-1] == '"' {
		return etag[1 : len(etag)-1]
	}
	return etag
}

// quote puts an ETag between double quotes, as conditional headers expect.
func quote(etag string) string {
	return `"` + unquote(etag) + `"`
}
