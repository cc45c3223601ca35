// Package plan computes r2plan's change set: from the desired layout, the objects listed
// in the bucket and the references scanned from the database, it derives which objects
// to copy where and which rows to rewrite, and it reads and writes the plan file that a
// human reviews and apply executes.
//
// It is pure: no network, no SQL. Its inputs arrive through callbacks, so the same code
// serves a bucket of ten objects and one of ten million.
package plan
