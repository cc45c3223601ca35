// Package apply executes a reviewed plan: for each object it copies (conditional on the
// planned source ETag), verifies the target, then rewrites the rows that point at the
// source in compare-and-swap batches journaled in the same transaction. Nothing is ever
// overwritten that the plan did not see; what changed since the plan is skipped and
// reported as drift. Killed at any instant and run again, it completes.
package apply
