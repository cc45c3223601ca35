package providers

import "strings"

// MultipartETag reports whether an S3 ETag is a multipart upload's ("<md5 of the part
// MD5s>-<parts>"), which is not the MD5 of the content: it cannot prove two objects
// identical, and a copy of such an object gets another ETag.
func MultipartETag(etag string) bool { return strings.Contains(etag, "-") }
