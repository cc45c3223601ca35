package plan

import (
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/r2plan/r2plan/providers"
)

// Inputs is what the planner reads. Objects and Rows stream their items through yield
// and stop at the first error yield returns.
type Inputs struct {
	Layout     Layout
	URLs       *URLs // nil when the bucket has no public URL
	References []Reference
	Objects    func(yield func(Object) error) error
	Rows       func(ref Reference, yield func(Row) error) error
	// HoldsCopy, if set, decides whether target already holds a copy of key when the
	// listing cannot: same size, but the source's ETag is a multipart one, which a
	// copy does not keep. Called only then.
	HoldsCopy func(key, target, etag string, size int64) (bool, error)

	// Now is the plan's time; GracePeriod is how long a moved source is kept after its
	// move completed. Moved streams, from the journal, when the moves of objects
	// completed (a key may come more than once: the latest time counts); a source it
	// does not name is timed by its target's LastModified.
	Now         time.Time
	GracePeriod time.Duration
	Moved       func(yield func(key string, at time.Time) error) error
	// Orphans, when set, lets the plan delete unreferenced objects.
	Orphans *Orphans
	// Scope, when set, limits the plan to part of the bucket.
	Scope *Scope
	// Undeclared, when set, streams the values of the columns that no reference
	// declares and no ignore entry excludes, each with its column's name; Matcher reads
	// them. A plan with deletions keeps every object one of them names (see guard).
	Undeclared func(yield func(column, value string) error) error
	Matcher    *Matcher
}

// Plan is a computed change set. Its Header is completed by the caller (identity,
// digests, versions) before it is written.
type Plan struct {
	Header Header
	// Moves and Deletes hold the body of a plan built in memory (a revert); a plan that
	// Make computed streams them from body instead. Conflicts and Dangling are always
	// here.
	Moves     []Move
	Deletes   []Deletion
	Dangling  []Dangling
	Conflicts []Conflict

	body   func(fn func(Entry) error) error
	closer func() error
}

// Entries streams the plan's body in file order: moves, deletions, conflicts, then
// dangling references. It may be called more than once.
func (p *Plan) Entries(fn func(Entry) error) error {
	if p.body != nil {
		if err := p.body(fn); err != nil {
			return err
		}
	} else {
		for i := range p.Moves {
			if err := fn(Entry{Move: &p.Moves[i]}); err != nil {
				return err
			}
		}
		for i := range p.Deletes {
			if err := fn(Entry{Delete: &p.Deletes[i]}); err != nil {
				return err
			}
		}
	}
	for i := range p.Conflicts {
		if err := fn(Entry{Conflict: &p.Conflicts[i]}); err != nil {
			return err
		}
	}
	for i := range p.Dangling {
		if err := fn(Entry{Dangling: &p.Dangling[i]}); err != nil {
			return err
		}
	}
	return nil
}

// Close releases what the plan keeps on disk (Make's spilled rewrites).
func (p *Plan) Close() error {
	if p.closer == nil {
		return nil
	}
	return p.closer()
}

// A CollisionError reports keys that the layout maps onto one target, or onto keys that
// differ only in Unicode normalisation (one object on R2). Nothing can be planned until
// the layout is fixed.
type CollisionError struct {
	Collisions [][2]string // the two keys, sorted
	Targets    []string
}

func (e *CollisionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d key(s) collide: two keys, one target", len(e.Collisions))
	for i, c := range e.Collisions {
		if i == 10 {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Collisions)-i)
			break
		}
		fmt.Fprintf(&b, "\n  %+q and %+q both map to %+q", c[0], c[1], e.Targets[i])
	}
	return b.String()
}

// OutsideError reports targets that fall under no placed prefix: they would be moved
// again by the next plan.
type OutsideError struct{ Key, Target, Rule string }

func (e *OutsideError) Error() string {
	return fmt.Sprintf("rule %q maps %q to %q, outside every placed prefix (a later plan would move it again)", e.Rule, e.Key, e.Target)
}

type planner struct {
	in        Inputs
	objs      *objectSet
	conflicts map[int32]*Conflict
	spill     *rewriteSpill
	targets   *targetSet // the moving keys by their NFC targets
}

// Make computes the plan. The plan's moves and deletions are computed again from a
// compact form each time its Entries are read, and its rewrites are kept in a temporary
// file: Close releases it.
func Make(in Inputs) (p *Plan, err error) {
	p = &Plan{}
	s := &p.Header.Summary
	objs, err := collectObjects(in.Objects, s)
	if err != nil {
		return nil, err
	}
	pl := &planner{in: in, objs: objs, conflicts: make(map[int32]*Conflict)}
	if err := pl.mapKeys(s); err != nil {
		return nil, err
	}
	if in.Moved != nil {
		err := in.Moved(func(key string, at time.Time) error {
			if i, ok := objs.lookup(key); ok && !at.IsZero() {
				r := objs.rec(i)
				r.moved = max(r.moved, at.UnixNano())
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read when moves completed: %w", err)
		}
	}
	if pl.spill, err = newRewriteSpill(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			pl.spill.close()
		}
	}()
	if err := pl.scanRows(p); err != nil {
		return nil, err
	}
	if err := pl.spill.done(); err != nil {
		return nil, err
	}
	if err := pl.classify(p); err != nil {
		return nil, err
	}
	if err := pl.guard(p); err != nil {
		return nil, err
	}
	p.body = pl.entries
	p.closer = pl.spill.close
	return p, nil
}

// mapKeys maps every key and decides each move: the mapping must be injective, also
// under Unicode normalisation, and a target that exists must hold the same content.
func (pl *planner) mapKeys(s *Summary) error {
	in, objs := &pl.in, pl.objs
	// Keys not in NFC, by their NFC form (most keys are, and need no entry).
	nfcKeys := make(map[string][]int32)
	for i := range objs.len() {
		if b := objs.keyBytes(i); !norm.NFC.IsNormal(b) {
			nk := norm.NFC.String(string(b))
			nfcKeys[nk] = append(nfcKeys[nk], int32(i))
		}
	}
	targets := newTargetSet(objs.len(), objs.seed)
	pl.targets = targets
	var coll CollisionError
	for i := range objs.len() {
		k := objs.key(i)
		if in.Layout.IsPlaced(k) {
			s.Placed++
			continue
		}
		target, rule, ok := in.Layout.Map(k)
		if !ok {
			s.Unmatched++
			continue
		}
		if len(in.Layout.Placed) > 0 && !in.Layout.IsPlaced(target) {
			return &OutsideError{Key: k, Target: target, Rule: rule}
		}
		nt := norm.NFC.String(target)
		if other, dup := targets.add(nt, int32(i), pl.nfcTarget); dup {
			coll.Collisions = append(coll.Collisions, [2]string{objs.key(int(other)), k})
			coll.Targets = append(coll.Targets, target)
			continue
		}
		// A target that differs from an existing key only in normalisation is that
		// key on R2; every key whose NFC form is the target's is a target, never an
		// orphan.
		existing := nfcKeys[nt]
		if j, isKey := objs.lookup(nt); isKey {
			existing = append(existing[:len(existing):len(existing)], int32(j))
		}
		clash := ""
		for _, j := range existing {
			objs.rec(int(j)).flags |= fTarget
			if kj := objs.key(int(j)); kj != target {
				clash = kj
			}
		}
		if clash != "" {
			coll.Collisions = append(coll.Collisions, [2]string{k, clash})
			coll.Targets = append(coll.Targets, target)
			continue
		}
		objs.rec(i).flags |= fMoving
		size, etag := objs.size(i), objs.etag(i)
		if why := UnsafeKey(target); why != "" {
			pl.conflict(i, &Conflict{Key: k, Target: target, Reason: "unsafe target: " + why, Size: size, ETag: etag})
			continue
		}
		t, exists := objs.lookup(target)
		if !exists {
			objs.rec(i).flags |= fCopy
			continue
		}
		tetag := objs.etag(t)
		same := objs.size(t) == size && tetag == etag
		if !same && objs.size(t) == size && providers.MultipartETag(etag) && in.HoldsCopy != nil {
			var err error
			if same, err = in.HoldsCopy(k, target, etag, size); err != nil {
				return fmt.Errorf("compare %q with %q: %w", k, target, err)
			}
		}
		if !same {
			pl.conflict(i, &Conflict{Key: k, Target: target, Reason: ReasonTargetDiffers, Size: size, ETag: etag,
				TargetSize: objs.size(t), TargetETag: tetag})
		}
	}
	if len(coll.Collisions) > 0 {
		return &coll
	}
	return nil
}

// nfcTarget is the NFC form of the target of the key at position j.
func (pl *planner) nfcTarget(j int32) string {
	t, _, _ := pl.in.Layout.Map(pl.objs.key(int(j)))
	return norm.NFC.String(t)
}

// taken reports whether key names an object now or after the plan: a listed key, or
// (up to normalisation) the target of a move.
func (pl *planner) taken(key string) bool {
	if _, ok := pl.objs.lookup(key); ok {
		return true
	}
	_, ok := pl.targets.find(norm.NFC.String(key), pl.nfcTarget)
	return ok
}

func (pl *planner) conflict(i int, c *Conflict) {
	pl.objs.rec(i).flags |= fConflict
	pl.conflicts[int32(i)] = c
}

// scanRows reads every reference's rows: each value names an object (or none: dangling,
// foreign), marks it referenced, and is planned for rewriting when the object moves.
func (pl *planner) scanRows(p *Plan) error {
	in, objs := &pl.in, pl.objs
	s := &p.Header.Summary
	for refIdx, ref := range in.References {
		rs := RefSummary{Name: ref.Name, Table: ref.Table}
		cols := ref.Columns()
		isURL := make([]bool, len(cols))
		for i, c := range cols {
			isURL[i] = c == ref.URLColumn && ref.URLColumn != ""
		}
		if ref.KeyColumn != "" && ref.KeyColumn == ref.URLColumn {
			return fmt.Errorf("reference %q: key_column and url_column are both %q", ref.Name, ref.KeyColumn)
		}
		err := in.Rows(ref, func(r Row) error {
			if r.Outside {
				return pl.outside(r, isURL, s)
			}
			rs.Rows++
			for col, v := range r.Values {
				if v == nil {
					rs.Null++
					continue
				}
				var pu ParsedURL
				var c Candidate
				key := *v
				if isURL[col] {
					if in.URLs == nil {
						return errors.New("a url_column needs the bucket's public_url")
					}
					var ok bool
					if pu, ok = in.URLs.Parse(*v); !ok {
						rs.Foreign++
						continue
					}
					c = pu.Candidates[0]
					for _, cand := range pu.Candidates {
						if _, ok := objs.lookup(cand.Key); ok {
							c = cand
							break
						}
					}
					key = c.Key
				}
				i, exists := objs.lookup(key)
				if !exists {
					rs.Dangling++
					p.Dangling = append(p.Dangling, Dangling{Reference: ref.Name, Column: cols[col], PK: r.PK, Value: *v, Key: key})
					continue
				}
				f := &objs.rec(i).flags
				*f |= fReferenced // never an orphan
				switch {
				case *f&fMoving == 0:
					rs.Current++
					continue
				case *f&fConflict != 0:
					pl.conflicts[int32(i)].Rows++
					continue
				}
				newValue, _, _ := in.Layout.Map(key)
				reencoded := false
				if isURL[col] {
					newValue, reencoded = in.URLs.Rewrite(*v, pu, c, newValue, pl.taken)
				}
				rs.Rewrites++
				if reencoded {
					s.Reencoded++
				}
				*f |= fRewrites
				at, err := pl.spill.add(objs.rec(i).latest, refIdx, col, r.PK, *v, newValue, reencoded)
				if err != nil {
					return err
				}
				objs.rec(i).latest = at
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scan reference %q: %w", ref.Name, err)
		}
		s.Rewrites += rs.Rewrites
		s.Dangling += rs.Dangling
		s.Foreign += rs.Foreign
		s.References = append(s.References, rs)
	}
	slices.SortFunc(p.Dangling, func(a, b Dangling) int {
		return cmp.Or(cmp.Compare(a.Reference, b.Reference), cmp.Compare(a.Column, b.Column), cmp.Compare(a.PK, b.PK))
	})
	return nil
}

// outside marks the objects that a row outside its reference's where filter may name
// (every existing candidate of a URL): referenced, and held from deletion.
func (pl *planner) outside(r Row, isURL []bool, s *Summary) error {
	names := false
	mark := func(key string) {
		if i, ok := pl.objs.lookup(key); ok {
			pl.objs.rec(i).flags |= fReferenced | fHeld
			names = true
		}
	}
	for col, v := range r.Values {
		switch {
		case v == nil:
		case !isURL[col]:
			mark(*v)
		case pl.in.URLs == nil:
			return errors.New("a url_column needs the bucket's public_url")
		default:
			if pu, ok := pl.in.URLs.Parse(*v); ok {
				for _, c := range pu.Candidates {
					mark(c.Key)
				}
			}
		}
	}
	if names {
		s.Outside++
	}
	return nil
}

// classify decides what the plan does with each object (move it, delete it, report a
// conflict, or nothing) and counts it in the summary.
func (pl *planner) classify(p *Plan) error {
	in, objs := &pl.in, pl.objs
	s := &p.Header.Summary
	var firstDue, lastDue time.Time
	prefixes := make(map[string]*PrefixSummary)
	for i := range objs.len() {
		f := &objs.rec(i).flags
		if *f&(fMoving|fReferenced|fTarget) == fReferenced {
			continue // referenced and in place: nothing to do
		}
		k := objs.key(i)
		if !in.Scope.Contains(k) {
			continue
		}
		moving := *f&fMoving != 0
		orphan := *f&(fReferenced|fTarget) == 0 && in.Orphans.covers(k)
		young := orphan && in.Now.Sub(objs.modTime(i)) < in.Orphans.MinAge
		orphan = orphan && !young
		switch {
		case moving && *f&fConflict != 0:
			p.Conflicts = append(p.Conflicts, *pl.conflicts[int32(i)])
		case moving && *f&(fCopy|fRewrites|fHeld) == fHeld:
			s.Held++ // already copied, but a row outside a where filter names it
		case moving && *f&(fCopy|fRewrites) == 0:
			// Already copied and nothing points at it: the source waits for its grace
			// period, counted from when its move completed.
			at := objs.movedAt(i)
			if at.IsZero() {
				target, _, _ := in.Layout.Map(k)
				t, _ := objs.lookup(target)
				at = objs.modTime(t)
			}
			due := at.Add(in.GracePeriod)
			if !at.IsZero() && !in.Now.Before(due) {
				*f |= fEmitDelete
				s.DeletesMoved++
				s.Deletes++
				s.DeleteBytes += objs.size(i)
				continue
			}
			s.Kept++
			if at.IsZero() {
				continue // when the move completed is unknown: kept, no due date
			}
			if firstDue.IsZero() || due.Before(firstDue) {
				firstDue = due
			}
			if due.After(lastDue) {
				lastDue = due
			}
		case orphan && (!moving || *f&fCopy != 0):
			// An unreferenced object old enough to go: deleted, not copied.
			*f |= fEmitDelete | fOrphanDelete
			s.DeletesOrphan++
			s.Deletes++
			s.DeleteBytes += objs.size(i)
		case !moving:
			if young {
				s.OrphansYoung++
			}
		default:
			*f |= fEmitMove
			if young && *f&fCopy != 0 {
				s.OrphansYoung++ // not deleted yet: moved with the rest
			}
			if *f&fCopy != 0 {
				s.Copies++
				s.CopyBytes += objs.size(i)
				tp := topPrefix(k)
				ps := prefixes[tp]
				if ps == nil {
					ps = &PrefixSummary{Prefix: tp}
					prefixes[tp] = ps
				}
				ps.Objects++
				ps.Bytes += objs.size(i)
			}
		}
	}
	if !firstDue.IsZero() {
		s.KeptFirstDue, s.KeptLastDue = &firstDue, &lastDue
	}
	if in.Scope != nil {
		s.Partial, s.Scope = true, in.Scope
		// Rewrites cover exactly the rows of the objects in scope.
		s.Rewrites, s.Reencoded = 0, 0
		perRef := make([]int, len(in.References))
		for i := range objs.len() {
			if objs.rec(i).flags&fEmitMove == 0 {
				continue
			}
			if err := pl.spill.chain(objs.rec(i).latest, func(r spilled) error {
				perRef[r.ref]++
				if r.reencoded {
					s.Reencoded++
				}
				return nil
			}); err != nil {
				return err
			}
		}
		for i := range s.References {
			s.References[i].Rewrites = perRef[i]
			s.Rewrites += perRef[i]
		}
	}
	s.Conflicts = len(p.Conflicts)
	for _, ps := range prefixes {
		s.Prefixes = append(s.Prefixes, *ps)
	}
	slices.SortFunc(s.Prefixes, func(a, b PrefixSummary) int {
		return cmp.Or(cmp.Compare(b.Objects, a.Objects), cmp.Compare(a.Prefix, b.Prefix))
	})
	return nil
}

// entries streams the plan's moves, then its deletions, in key order.
func (pl *planner) entries(fn func(Entry) error) error {
	objs := pl.objs
	for i := range objs.len() {
		if objs.rec(i).flags&fEmitMove == 0 {
			continue
		}
		m, err := pl.move(i)
		if err != nil {
			return err
		}
		if err := fn(Entry{Move: &m}); err != nil {
			return err
		}
	}
	for i := range objs.len() {
		f := objs.rec(i).flags
		if f&fEmitDelete == 0 {
			continue
		}
		d := Deletion{Key: objs.key(i), Reason: ReasonOrphan, Size: objs.size(i), ETag: objs.etag(i), Modified: objs.modTime(i)}
		if f&fOrphanDelete == 0 {
			d.Reason = ReasonMoved
			d.Target, _, _ = pl.in.Layout.Map(d.Key)
			t, _ := objs.lookup(d.Target)
			d.TargetETag = objs.etag(t)
		}
		if err := fn(Entry{Delete: &d}); err != nil {
			return err
		}
	}
	return nil
}

// move rebuilds object i's move, its rewrites read back from the spill.
func (pl *planner) move(i int) (Move, error) {
	objs := pl.objs
	k := objs.key(i)
	target, rule, _ := pl.in.Layout.Map(k)
	m := Move{Key: k, Target: target, Rule: rule, Size: objs.size(i), ETag: objs.etag(i), Copy: objs.rec(i).flags&fCopy != 0}
	if !m.Copy {
		t, _ := objs.lookup(target)
		m.TargetETag = objs.etag(t)
	}
	err := pl.spill.chain(objs.rec(i).latest, func(r spilled) error {
		ref := &pl.in.References[r.ref]
		m.Rewrites = append(m.Rewrites, Rewrite{Reference: ref.Name, Column: ref.Columns()[r.col], PK: r.pk, Old: r.old, New: r.new,
			Reencoded: r.reencoded})
		return nil
	})
	slices.SortFunc(m.Rewrites, compareRewrites)
	return m, err
}

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

func compareRewrites(a, b Rewrite) int {
	return cmp.Or(cmp.Compare(a.Reference, b.Reference), cmp.Compare(a.Column, b.Column), cmp.Compare(a.PK, b.PK))
}

// ReasonTargetDiffers is the reason of a conflict whose target holds other content.
const ReasonTargetDiffers = "target exists with different content"

// UnsafeKey says why r2plan will not write an object at key, or "" when it will: a key
// longer than S3's 1,024 bytes, not valid UTF-8, with a control character, starting
// with "/", or with a "." or ".." path segment (browsers and CDNs resolve those in a
// URL, so its public URL would name another object).
func UnsafeKey(key string) string {
	switch {
	case len(key) > 1024:
		return fmt.Sprintf("%d bytes, longer than the 1024 an S3 key may have", len(key))
	case !utf8.ValidString(key):
		return "not valid UTF-8"
	case strings.HasPrefix(key, "/"):
		return `starts with "/"`
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("control character %U", r)
		}
	}
	for _, seg := range strings.Split(key, "/") {
		if seg == "." || seg == ".." {
			return fmt.Sprintf("a %q path segment, which a URL resolves away", seg)
		}
	}
	return ""
}
