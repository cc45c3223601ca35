package plan

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"time"
	"unsafe"
)

// objectSet is the listing, held as compactly as planning allows: ten million objects
// must plan on one machine. Keys are packed into arena blocks as they were listed,
// each object's attributes are a fixed-size record in chunks, in byte order of the keys
// (neither ever grows by copying), and an open-addressing hash table of positions finds
// a key. An object costs its key's bytes plus about 70 bytes.
type objectSet struct {
	arena chunks[byte]
	recs  chunks[objRec]
	// odd holds the ETags that are not 32 lowercase hex digits (multipart, other
	// servers), by position; md5 is unused for them.
	odd map[int32]string

	n int // objects

	seed  maphash.Seed
	index []uint32 // position+1, 0 for an empty slot; len is a power of two
}

// objRec is one listed object, and what the planner decides of it.
type objRec struct {
	start  uint32 // of the key in arena
	keyLen uint16
	flags  uint16
	size   int64
	mod    int64 // Unix nanoseconds, 0 for unknown
	moved  int64 // when its move completed (the journal), Unix nanoseconds; 0 for unknown
	md5    [16]byte
	// latest is where the chain of the object's rewrites ends in the spill (offset+1),
	// 0 for none.
	latest int64
}

// chunks is an append-only sequence kept in blocks of 1<<bits items, each allocated
// whole when the one before is full: growing it never copies. (Blocks grown by append
// from a small start copied themselves on their way to full size: 8 MB allocated for
// the 2 MB that 20,000 objects keep, all garbage for the collector.)
type chunks[T any] struct {
	bits   uint8
	blocks [][]T
}

// Block sizes: keys in blocks of 64 KiB (a key, at most 64 KiB, never spans two),
// records 4,096 to a block (224 KiB).
const (
	arenaBits  = 16
	recordBits = 12
)

func (c *chunks[T]) at(i int) *T { return &c.blocks[i>>c.bits][i&(1<<c.bits-1)] }

// appendRun appends vs (at most a block) within one block and returns the position of
// the first. Runs of one item leave no gaps: positions then count the items.
func (c *chunks[T]) appendRun(vs ...T) int {
	size := 1 << c.bits
	last := len(c.blocks) - 1
	if last < 0 || len(c.blocks[last])+len(vs) > size {
		// The rest of the block stays unused: a run never spans two blocks.
		c.blocks = append(c.blocks, make([]T, 0, size))
		last++
	}
	at := last*size + len(c.blocks[last])
	c.blocks[last] = append(c.blocks[last], vs...)
	return at
}

// Per-object flags.
const (
	fMoving       uint16 = 1 << iota // the layout moves it
	fCopy                            // its target must be copied (not already identical)
	fConflict                        // its move cannot happen (see the conflicts map)
	fReferenced                      // a row points at it: never an orphan
	fTarget                          // some move's target: never an orphan
	fRewrites                        // rows pointing at it are to be rewritten
	fOddETag                         // its ETag is in odd, not md5
	fEmitMove                        // the plan moves it
	fEmitDelete                      // the plan deletes it (reason by fOrphanDelete)
	fOrphanDelete                    // deleted as an orphan rather than as a moved source
	fHeld                            // a row outside a where filter names it: never deleted
	fUndeclared                      // a column no reference declares names it: never deleted
)

// collectObjects reads the listing into an objectSet, counting it in s. Listings come
// in byte order; one that does not is sorted.
func collectObjects(list func(yield func(Object) error) error, s *Summary) (*objectSet, error) {
	o := &objectSet{
		arena: chunks[byte]{bits: arenaBits},
		recs:  chunks[objRec]{bits: recordBits},
		odd:   make(map[int32]string),
		seed:  maphash.MakeSeed(),
	}
	sorted := true
	var prev string
	err := list(func(obj Object) error {
		n := o.n
		if len(obj.Key) > math.MaxUint16 {
			return fmt.Errorf("key %.100q…: %d bytes, longer than any S3 key", obj.Key, len(obj.Key))
		}
		if n > 0 && sorted && obj.Key <= prev {
			sorted = false
		}
		prev = obj.Key
		start := o.arena.appendRun([]byte(obj.Key)...)
		if n >= math.MaxInt32-1 || start+len(obj.Key) > math.MaxUint32 {
			return fmt.Errorf("more objects than one plan holds (%d keys): plan parts of the bucket with --target", n)
		}
		r := objRec{start: uint32(start), keyLen: uint16(len(obj.Key)), size: obj.Size}
		if !obj.Modified.IsZero() {
			r.mod = obj.Modified.UnixNano()
		}
		if len(obj.ETag) != 32 || !isLowerHex(obj.ETag) {
			o.odd[int32(n)] = obj.ETag
			r.flags = fOddETag
		} else {
			hex.Decode(r.md5[:], []byte(obj.ETag))
		}
		o.recs.appendRun(r)
		o.n++
		s.Objects++
		s.Bytes += obj.Size
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list bucket: %w", err)
	}
	if !sorted {
		o.sort()
	}
	for i := 1; i < o.len(); i++ {
		if bytes.Equal(o.keyBytes(i), o.keyBytes(i-1)) {
			return nil, fmt.Errorf("list bucket: %q listed twice", o.key(i))
		}
	}
	o.buildIndex()
	return o, nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (o *objectSet) len() int { return o.n }

// rec returns object i's record.
func (o *objectSet) rec(i int) *objRec { return o.recs.at(i) }

// keysWhere streams the keys of the objects i for which pred(i) holds, as strings that
// share the arena's bytes (no copy: the caller must not keep them past the set).
func (o *objectSet) keysWhere(pred func(i int) bool) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for i := range o.len() {
			if !pred(i) {
				continue
			}
			k := o.keyBytes(i)
			if !yield(unsafe.String(unsafe.SliceData(k), len(k))) {
				return
			}
		}
	}
}

// keyBytes returns key i without copying it; it must not be kept.
func (o *objectSet) keyBytes(i int) []byte {
	r := o.recs.at(i)
	start := int(r.start)
	b := o.arena.blocks[start>>arenaBits]
	start &= 1<<arenaBits - 1
	return b[start : start+int(r.keyLen)]
}

func (o *objectSet) key(i int) string { return string(o.keyBytes(i)) }

func (o *objectSet) size(i int) int64 { return o.recs.at(i).size }

func (o *objectSet) etag(i int) string {
	r := o.recs.at(i)
	if r.flags&fOddETag != 0 {
		return o.odd[int32(i)]
	}
	return hex.EncodeToString(r.md5[:])
}

func (o *objectSet) modTime(i int) time.Time {
	r := o.recs.at(i)
	if r.mod == 0 {
		return time.Time{}
	}
	return time.Unix(0, r.mod).UTC()
}

func (o *objectSet) movedAt(i int) time.Time {
	r := o.recs.at(i)
	if r.moved == 0 {
		return time.Time{}
	}
	return time.Unix(0, r.moved).UTC()
}

// lookup returns the position of key, if it was listed.
func (o *objectSet) lookup(key string) (int, bool) {
	mask := uint64(len(o.index) - 1)
	for h := maphash.String(o.seed, key) & mask; ; h = (h + 1) & mask {
		p := o.index[h]
		if p == 0 {
			return 0, false
		}
		if int(o.recs.at(int(p-1)).keyLen) == len(key) && string(o.keyBytes(int(p-1))) == key {
			return int(p - 1), true
		}
	}
}

func (o *objectSet) buildIndex() {
	size := 16
	for size < 2*o.len() {
		size *= 2
	}
	o.index = make([]uint32, size)
	mask := uint64(size - 1)
	for i := range o.len() {
		h := maphash.Bytes(o.seed, o.keyBytes(i)) & mask
		for o.index[h] != 0 {
			h = (h + 1) & mask
		}
		o.index[h] = uint32(i + 1)
	}
}

// sort puts the objects in byte order of their keys. The records are permuted in place
// and the keys stay where they are in the arena (a record holds its key's offset), so
// a listing that arrives out of order (listed by ranges at once) costs 4 bytes an
// object to sort, not a second copy of the set.
func (o *objectSet) sort() {
	perm := make([]int32, o.len())
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortFunc(perm, func(a, b int32) int { return bytes.Compare(o.keyBytes(int(a)), o.keyBytes(int(b))) })
	if len(o.odd) > 0 {
		odd := make(map[int32]string, len(o.odd))
		for n, p := range perm {
			if e, ok := o.odd[p]; ok {
				odd[int32(n)] = e
			}
		}
		o.odd = odd
	}
	// Position n takes the record at perm[n]: each cycle of the permutation is followed
	// once, its entries marked done (-1) as they are moved.
	for n := range perm {
		if perm[n] < 0 {
			continue
		}
		saved := *o.rec(n)
		j := n
		for {
			k := int(perm[j])
			perm[j] = -1
			if k == n {
				*o.rec(j) = saved
				break
			}
			*o.rec(j) = *o.rec(k)
			j = k
		}
	}
}
