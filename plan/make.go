package plan

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

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
	// Rows is called beside the listing (see rowsahead.go), and again after it if that
	// read failed; ctx ends when its rows are no longer needed.
	Rows func(ctx context.Context, ref Reference, yield func(Row) error) error
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
	// filter, when not nil, is a test that every value naming a doomed object passes
	// (Matcher.Prefilter): Undeclared may leave out the rows none of whose values it
	// admits, or stream every row.
	// Undeclared may be called early, beside the listing, with a wider filter (see
	// ahead.go); ctx ends when its values are no longer needed.
	Undeclared func(ctx context.Context, filter *Prefilter, yield func(column, value string) error) error
	Matcher    *Matcher
}

// matcher is in.Matcher, or one without URLs.
func (in *Inputs) matcher() *Matcher {
	if in.Matcher == nil {
		return NewMatcher()
	}
	return in.Matcher
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
	// The deletion guard's read starts now if the config bounds what the plan may
	// delete, or else once the listing says it (ahead.go).
	var early *ahead
	defer func() { early.stop() }()
	var rows *rowsAhead
	if len(in.References) > 0 {
		rows = startRowsAhead(in.References, in.Rows)
		defer rows.stop()
	}
	if in.Undeclared != nil {
		if prefixes, ok := in.deletablePrefixes(); ok {
			if f, ok := in.matcher().Prefilter(slices.Values(prefixes)); ok {
				early = startAhead(in.Undeclared, f)
			}
		}
	}
	objs, err := collectObjects(in.Objects, s)
	if err != nil {
		return nil, err
	}
	pl := &planner{in: in, objs: objs, conflicts: make(map[int32]*Conflict)}
	if err := pl.mapKeys(s); err != nil {
		return nil, err
	}
	if in.Undeclared != nil && early == nil {
		if f, ok := in.matcher().Prefilter(objs.keysWhere(pl.mayDelete)); ok {
			early = startAhead(in.Undeclared, f)
		}
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
	if err := pl.scanRows(p, rows); err != nil {
		return nil, err
	}
	if err := pl.spill.done(); err != nil {
		return nil, err
	}
	if err := pl.classify(p); err != nil {
		return nil, err
	}
	if err := pl.guard(p, early); err != nil {
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

func compareRewrites(a, b Rewrite) int {
	return cmp.Or(cmp.Compare(a.Reference, b.Reference), cmp.Compare(a.Column, b.Column), cmp.Compare(a.PK, b.PK))
}
