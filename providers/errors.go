// Package providers holds what the bucket and database providers share with their
// users: the errors that say a precondition no longer holds. The providers themselves
// live in providers/s3 (the bucket) and providers/sqldb (the database).
package providers

import "errors"

var (
	// ErrNotFound: the object (or row) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrSourceChanged: the source object no longer has the ETag the plan saw.
	ErrSourceChanged = errors.New("source changed since the plan")
	// ErrTargetDiffers: the target key holds an object with other content; r2plan
	// never overwrites it.
	ErrTargetDiffers = errors.New("target exists with different content")
)
