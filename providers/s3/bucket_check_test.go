package s3

import "github.com/r2plan/r2plan/apply"

// Bucket is what apply needs of a bucket. The check lives in a test, so that the
// provider does not import apply (and plan through it).
var _ apply.Bucket = (*Bucket)(nil)
