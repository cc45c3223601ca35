// Package s3 is r2plan's bucket: it lists, heads, copies (server-side, with multipart
// copy for large objects), and batch-deletes objects in an S3-compatible bucket,
// Cloudflare R2 first, with the conditional requests and R2 quirks that keep apply
// from overwriting or losing an object.
//
// ETags cross this package's API without their surrounding quotes; Copy accepts them
// with or without.
//
// No error or log message from this package carries a credential.
package s3
