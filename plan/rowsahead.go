package plan

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// The rows of the declared references are read beside the listing, not after it. What a
// row means (which object it names, whether that object moves) needs the whole listing,
// so the rows are kept, in an unlinked temporary file rather than in memory, and the
// planner reads them back once the keys are mapped. The database's part of the scans
// (the query, the network, the driver's decoding) then overlaps the listing, which on R2
// mostly waits on the network; what is left after it is reading a local file.
//
// The plan is a snapshot as before: a row read before the listing ends is as current as
// one read just after it, and apply checks every row it rewrites (compare-and-swap) and
// every object it deletes (no reference) again. An early read that fails (a full disk
// too), or that holds more than rowsAheadMaxBytes, is dropped at once, its file with
// it, and the rows are read from the database after the listing, as without it; a real
// error of the database then shows there.

// rowsAheadMaxBytes bounds the file an early read of the rows writes: about 20 million
// rows of the motivating case's, whose rewrites the plan's own spill holds as well. A
// variable for the tests.
var rowsAheadMaxBytes int64 = 4 << 30

// errRowsAheadFull stops an early read whose rows hold more than rowsAheadMaxBytes.
var errRowsAheadFull = errors.New("the early read of the rows holds too much")

// A rowsAhead is an early read of the references' rows, running in its own goroutine.
//
// Record: a byte of flags (1: outside the reference's where filter), the number of
// values (a uvarint), then the primary key and each value, each a uvarint length+1 (0:
// NULL) and bytes. The references' rows follow one another in the order of References.
type rowsAhead struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error    // set before done closes
	f      *os.File // nil once closed
	refs   []Reference
	counts []int // rows per reference
}

// startRowsAhead starts reading the rows of refs with rows.
func startRowsAhead(refs []Reference, rows func(ctx context.Context, ref Reference, yield func(Row) error) error) *rowsAhead {
	ctx, cancel := context.WithCancel(context.Background())
	a := &rowsAhead{cancel: cancel, done: make(chan struct{}), refs: refs, counts: make([]int, len(refs))}
	go func() {
		defer close(a.done)
		if a.err = a.read(ctx, rows); a.err != nil && a.f != nil {
			a.f.Close() // its space is free for the plan's own spill
			a.f = nil
		}
	}()
	return a
}

// read writes the rows of every reference to an unlinked temporary file.
func (a *rowsAhead) read(ctx context.Context, rows func(ctx context.Context, ref Reference, yield func(Row) error) error) error {
	f, err := unlinkedTemp("r2plan-rows-*")
	if err != nil {
		return err
	}
	a.f = f
	w := bufio.NewWriterSize(f, 1<<16)
	var size int64
	var b []byte
	for i, ref := range a.refs {
		err := rows(ctx, ref, func(r Row) error {
			b = b[:0]
			var flags byte
			if r.Outside {
				flags |= 1
			}
			b = append(b, flags)
			b = binary.AppendUvarint(b, uint64(len(r.Values)))
			b = appendValue(b, &r.PK)
			for _, v := range r.Values {
				b = appendValue(b, v)
			}
			if size += int64(len(b)); size > rowsAheadMaxBytes {
				return errRowsAheadFull
			}
			a.counts[i]++
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			return err
		}
	}
	return w.Flush()
}

// stop ends the read, if it still runs, waits for it and releases its file. A nil
// rowsAhead is stopped.
func (a *rowsAhead) stop() {
	if a == nil {
		return
	}
	a.cancel()
	<-a.done
	if a.f != nil {
		a.f.Close()
		a.f = nil
	}
}

// rows waits for the read to end and, if it read every row, returns a reader of them:
// a call streams the rows of the reference of index i, and the calls come in the order
// of the references. nil when the read failed or was dropped (the rows are to be read
// from the database).
func (a *rowsAhead) rows() func(i int, yield func(Row) error) error {
	if a == nil {
		return nil
	}
	<-a.done
	if a.err != nil {
		return nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(a.f, 0, 1<<62), 1<<16)
	next := 0
	var buf []byte
	str := func() (string, bool, error) { // a uvarint length+1 and bytes; false for NULL
		n, err := binary.ReadUvarint(br)
		if err != nil || n == 0 {
			return "", false, err
		}
		if cap(buf) < int(n-1) {
			buf = make([]byte, n-1)
		}
		buf = buf[:n-1]
		_, err = io.ReadFull(br, buf)
		return string(buf), true, err
	}
	return func(i int, yield func(Row) error) error {
		if i != next {
			return fmt.Errorf("read back the rows: reference %d asked for before %d", i, next)
		}
		next++
		for range a.counts[i] {
			flags, err := br.ReadByte()
			var n uint64
			if err == nil {
				n, err = binary.ReadUvarint(br)
			}
			if err != nil {
				return fmt.Errorf("read back the rows: %w", err)
			}
			r := Row{Outside: flags&1 != 0, Values: make([]*string, n)}
			r.PK, _, err = str()
			for c := range r.Values {
				if err != nil {
					break
				}
				var v string
				var ok bool
				if v, ok, err = str(); ok {
					r.Values[c] = &v
				}
			}
			if err != nil {
				return fmt.Errorf("read back the rows: %w", err)
			}
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}
}

// appendValue appends v as a uvarint length+1 and its bytes, or 0 for NULL.
func appendValue(b []byte, v *string) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(*v))+1)
	return append(b, *v...)
}
