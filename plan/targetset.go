package plan

import "hash/maphash"

// targetSet finds two keys mapped onto one target: an open-addressing table of the
// moving keys' positions by a hash of their NFC targets, which it recomputes only when
// two hashes agree.
type targetSet struct {
	seed  maphash.Seed
	slots []targetSlot
}

type targetSlot struct {
	hash uint32
	pos  int32 // position+1; 0 for an empty slot
}

func newTargetSet(n int, seed maphash.Seed) *targetSet {
	size := 16
	for size < 2*n {
		size *= 2
	}
	return &targetSet{seed: seed, slots: make([]targetSlot, size)}
}

// add records that pos maps to target, or returns the position already mapped to it.
// targetOf recomputes a recorded position's target.
func (t *targetSet) add(target string, pos int32, targetOf func(int32) string) (int32, bool) {
	h := maphash.String(t.seed, target)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.pos == 0 {
			*sl = targetSlot{hash: uint32(h >> 32), pos: pos + 1}
			return 0, false
		}
		if sl.hash == uint32(h>>32) && targetOf(sl.pos-1) == target {
			return sl.pos - 1, true
		}
	}
}

// find returns the position mapped to target, if any.
func (t *targetSet) find(target string, targetOf func(int32) string) (int32, bool) {
	h := maphash.String(t.seed, target)
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := &t.slots[i]
		if sl.pos == 0 {
			return 0, false
		}
		if sl.hash == uint32(h>>32) && targetOf(sl.pos-1) == target {
			return sl.pos - 1, true
		}
	}
}
