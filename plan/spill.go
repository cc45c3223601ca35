package plan

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// rewriteSpill keeps the planned rewrites in an unlinked temporary file rather than in
// memory: a plan of millions of rows would otherwise hold every old and new value. The
// rewrites of one object form a chain through the file, newest first: each record
// starts with the offset+1 of the object's previous record (0 ends the chain), so the
// planner needs only each object's latest offset.
//
// Record: prev uint64, length uint32, then the payload: the reference's index and the
// column's index (uvarints), then pk, old and new, each a uvarint length and bytes, then
// a byte of flags (1: the URL was re-encoded).
type rewriteSpill struct {
	f   *os.File
	w   *bufio.Writer
	off int64
	buf []byte
}

func newRewriteSpill() (*rewriteSpill, error) {
	f, err := unlinkedTemp("r2plan-rewrites-*")
	if err != nil {
		return nil, fmt.Errorf("spill rewrites: %w", err)
	}
	return &rewriteSpill{f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// unlinkedTemp creates a temporary file and unlinks it at once: it lives as long as it
// is open, and no crash leaves it behind.
func unlinkedTemp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

const spillHeader = 12

// add appends a rewrite whose object's previous record is prev (0 for none) and returns
// the value to keep as the object's latest (offset+1).
func (s *rewriteSpill) add(prev int64, ref, col int, pk, old, new string, reencoded bool) (int64, error) {
	b := s.buf[:0]
	b = binary.LittleEndian.AppendUint64(b, uint64(prev))
	b = binary.LittleEndian.AppendUint32(b, 0) // the length, set below
	b = binary.AppendUvarint(b, uint64(ref))
	b = binary.AppendUvarint(b, uint64(col))
	for _, v := range []string{pk, old, new} {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	var flags byte
	if reencoded {
		flags |= 1
	}
	b = append(b, flags)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)-spillHeader))
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return 0, fmt.Errorf("spill rewrites: %w", err)
	}
	at := s.off + 1
	s.off += int64(len(b))
	return at, nil
}

// done flushes what add buffered; reads may follow.
func (s *rewriteSpill) done() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spill rewrites: %w", err)
	}
	return nil
}

// spilled is one record read back.
type spilled struct {
	ref, col     int
	pk, old, new string
	reencoded    bool
}

// chain reads the records of the chain that ends at last (offset+1), newest first.
// The records of one row (its key's and its URL's rewrites) are written one after the
// other and chained back to front, so each read takes a window that reaches back
// before the record as well: most chains are read in one call.
func (s *rewriteSpill) chain(last int64, fn func(spilled) error) error {
	var win [chainBack + chainAhead]byte
	var start, end int64 // the file's bytes in win[:end-start]
	for at := last; at != 0; {
		off := at - 1
		if off < start || off+spillHeader > end {
			start = max(0, off-chainBack)
			n, err := s.f.ReadAt(win[:], start)
			if int64(n) < off-start+spillHeader {
				return fmt.Errorf("read spilled rewrites at %d: %w", off, err)
			}
			end = start + int64(n)
		}
		rec := win[off-start : end-start]
		prev := int64(binary.LittleEndian.Uint64(rec))
		size := int(binary.LittleEndian.Uint32(rec[8:]))
		payload := rec[spillHeader:]
		if len(payload) < size {
			payload = make([]byte, size)
			if _, err := s.f.ReadAt(payload, off+spillHeader); err != nil {
				return fmt.Errorf("read spilled rewrites at %d: %w", off, err)
			}
		}
		r, err := decodeSpilled(payload[:size])
		if err != nil {
			return fmt.Errorf("read spilled rewrites at %d: %w", off, err)
		}
		if err := fn(r); err != nil {
			return err
		}
		at = prev
	}
	return nil
}

// chainBack and chainAhead are how far a read of a chain's record reaches before and
// after it.
const (
	chainBack  = 768
	chainAhead = 256
)

func decodeSpilled(b []byte) (spilled, error) {
	var r spilled
	next := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, io.ErrUnexpectedEOF
		}
		b = b[n:]
		return v, nil
	}
	ref, err := next()
	if err != nil {
		return r, err
	}
	col, err := next()
	if err != nil {
		return r, err
	}
	r.ref, r.col = int(ref), int(col)
	for _, dst := range []*string{&r.pk, &r.old, &r.new} {
		n, err := next()
		if err != nil {
			return r, err
		}
		if uint64(len(b)) < n {
			return r, io.ErrUnexpectedEOF
		}
		*dst = string(b[:n])
		b = b[n:]
	}
	if len(b) < 1 {
		return r, io.ErrUnexpectedEOF
	}
	r.reencoded = b[0]&1 != 0
	return r, nil
}

func (s *rewriteSpill) close() error { return s.f.Close() }
