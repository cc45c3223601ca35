package main

import (
	"os"
	"runtime/debug"
)

// A plan's heap is mostly its listing once the bucket is big: about listedBytes an
// object (a 56-byte record, the key's bytes, slots in two hash tables; 138 B measured
// at 20,000 objects of the bench's keys), in large blocks without pointers, which a
// collection marks in no time. Go's default, GOGC=100, lets the heap grow by as much as
// it holds before collecting, so at the peak every listed object would cost twice that.
// A plan instead leaves the rest of its heap (clients, listing pages in flight, the
// database driver) the slack Go gives a small heap, baseHeap (Go's minimum heap goal),
// and gives the listing's blocks a quarter of their size: a small plan still collects
// rarely (collections run beside the SDK's XML decoding, where they cost CPU), and the
// peak of a big one stays near what it holds, with no step from one size to the next.
const (
	listedBytes = 140
	baseHeap    = 4 << 20
	gcStep      = 1000 // listed objects between two adjustments
)

// gcPercent is the GOGC for a listing of n objects so far: the heap may grow by
// baseHeap and a quarter of the listing's bytes, as a share of both. 100 for no
// objects, 89 at 5,000, 69 at 20,000, 42 at 100,000, 27 at a million, toward 25.
func gcPercent(n int) int {
	listing := int64(n) * listedBytes
	return int(100 * (baseHeap + listing/4) / (baseHeap + listing))
}

// paceGC sets the collector's pace for a listing of n objects, unless GOGC is set.
func paceGC(n int) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent(n))
	}
}

// applyGCPercent is the collector's pace during apply, unless GOGC is set. Apply's live
// heap is small and bounded (a batch of moves, the requests in flight, not the plan),
// and every request allocates through the SDK's middleware, so at GOGC=100 it collected
// every few MiB allocated, each time scanning the deep stacks of a hundred copies in
// flight. At 400 apply in the latency benchmark took 14 to 24 % less CPU, for a
// peak RSS still far below the 512 MiB that apply is held to (see the README).
const applyGCPercent = 400

// paceApplyGC sets the collector's pace for apply, unless GOGC is set.
func paceApplyGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(applyGCPercent)
	}
}
