package plan

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unsafe"
)

// The deletion guard's read of the undeclared columns is the slowest part of a plan
// that deletes when the database holds many more rows than the bucket holds objects:
// started after classify, when the doomed keys are known, the plan waits for all of it.
// So Make starts it early, beside the listing (or beside the scan of the declared
// rows), with a prefilter of a set of keys that holds every key the plan may delete:
// a wider test than the doomed keys' own, which admits every value theirs admits (each
// of its tests is a substring test on a key's first path segment, and a prefix of that
// segment is a wider one). The values it admits are kept, and guard reads them once
// the doomed keys are known, as it would have read them from the database. A plan that
// deletes nothing stops it; one whose read admits more than aheadMaxBytes, or fails,
// reads the columns again after classify with the doomed keys' own prefilter.

// aheadMaxBytes bounds the values an early read keeps; a variable for the tests.
var aheadMaxBytes = 64 << 20

// errAheadFull stops an early read that admits more than aheadMaxBytes.
var errAheadFull = errors.New("the early read of the undeclared columns admits too much")

// An ahead is an early read of the undeclared columns, running in its own goroutine.
type ahead struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error    // set before done closes
	cols   []string // the columns' names, by index
	vals   []aheadValue
	arena  []byte // the values' bytes, one after the other
}

type aheadValue struct {
	col      int32
	off, end int
}

// startAhead starts reading the values of undeclared that filter admits.
func startAhead(undeclared func(ctx context.Context, filter *Prefilter, yield func(column, value string) error) error, filter Prefilter) *ahead {
	ctx, cancel := context.WithCancel(context.Background())
	a := &ahead{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		index := map[string]int32{}
		// undeclared calls yield for one value at a time.
		a.err = undeclared(ctx, &filter, func(column, value string) error {
			if len(a.arena)+len(value) > aheadMaxBytes {
				return errAheadFull
			}
			c, ok := index[column]
			if !ok {
				c = int32(len(a.cols))
				a.cols = append(a.cols, strings.Clone(column))
				index[a.cols[c]] = c
			}
			off := len(a.arena)
			a.arena = append(a.arena, value...)
			a.vals = append(a.vals, aheadValue{col: c, off: off, end: len(a.arena)})
			return nil
		})
	}()
	return a
}

// stop ends the read, if it still runs, and waits for it. A nil ahead is stopped.
func (a *ahead) stop() {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
}

// values waits for the read to end and, if it read every value its filter admits,
// streams them in the order they were read; ok is false when it did not (too many, or
// an error), and the columns must be read again.
func (a *ahead) values() (each func(yield func(column, value string) error) error, ok bool) {
	<-a.done
	if a.err != nil {
		return nil, false
	}
	return func(yield func(column, value string) error) error {
		for _, v := range a.vals {
			b := a.arena[v.off:v.end]
			if err := yield(a.cols[v.col], unsafe.String(unsafe.SliceData(b), len(b))); err != nil {
				return err
			}
		}
		return nil
	}, true
}

// deletablePrefixes returns prefixes one of which every key the plan may delete starts
// with, known before the listing: the orphan scope's, and those of the keys the rules
// move (a moved source is deleted once settled). ok is false when a key anywhere may
// be deleted, and no scope of the plan bounds them.
func (in *Inputs) deletablePrefixes() (prefixes []string, ok bool) {
	if in.Orphans != nil {
		prefixes = append(prefixes, in.Orphans.Scope...)
	}
	for _, r := range in.Layout.Rules {
		switch {
		case r.Prefix != nil:
			prefixes = append(prefixes, *r.Prefix)
		case r.Regex != nil:
			// The rule's regex must match the whole key: its literal prefix starts it.
			p, _ := r.Regex.LiteralPrefix()
			prefixes = append(prefixes, p)
		}
	}
	if !slices.Contains(prefixes, "") {
		return prefixes, true
	}
	if in.Scope != nil && len(in.Scope.Include) > 0 && !slices.Contains(in.Scope.Include, "") {
		return in.Scope.Include, true
	}
	return nil, false
}

// mayDelete reports whether classify may delete object i, from what mapKeys knows: a
// settled source (moving, already copied, no conflict) or an object in the orphan
// scope old enough to be an orphan, in the plan's scope.
func (pl *planner) mayDelete(i int) bool {
	f := pl.objs.rec(i).flags
	settled := f&(fMoving|fCopy|fConflict) == fMoving
	if !settled && pl.in.Orphans == nil {
		return false
	}
	k := pl.objs.key(i)
	return pl.in.Scope.Contains(k) && (settled || pl.in.Orphans.covers(k) && !pl.young(i))
}

// young reports whether object i is too recent to be deleted as an orphan.
func (pl *planner) young(i int) bool {
	return pl.in.Now.Sub(pl.objs.modTime(i)) < pl.in.Orphans.MinAge
}
