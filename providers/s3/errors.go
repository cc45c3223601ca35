package s3

import (
	"errors"
	"net/http"

	"github.com/aws/smithy-go"
)

// httpStatus is the HTTP status code of a failed request, or 0.
func httpStatus(err error) int {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode is the S3 error code (NoSuchKey, PreconditionFailed, …), or "".
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

func isNotFound(err error) bool {
	return httpStatus(err) == http.StatusNotFound
}

// isNoSuchKey reports a 404 about the object, not the bucket.
func isNoSuchKey(err error) bool {
	if !isNotFound(err) {
		return false
	}
	switch errorCode(err) {
	case "NoSuchBucket":
		return false
	}
	return true
}

func isPreconditionFailed(err error) bool {
	return httpStatus(err) == http.StatusPreconditionFailed || errorCode(err) == "PreconditionFailed"
}
