package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
	// move completed, which Moved tells from the journal (ok false: not journaled; the
	// target's LastModified is used then).
	Now         time.Time
	GracePeriod time.Duration
	Moved       func(key string) (at time.Time, ok bool)
	// Orphans, when set, lets the plan delete unreferenced objects.
	Orphans *Orphans
	// Scope, when set, limits the plan to part of the bucket.
	Scope *Scope
}

// Plan is a computed change set. Its Header is completed by the caller (identity,
// digests, versions) before it is written.
type Plan struct {
	Header    Header
	Moves     []Move
	Deletes   []Deletion
	Dangling  []Dangling
	Conflicts []Conflict
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

type objInfo struct {
	size       int64
	etag       string
	modified   int64 // Unix nanoseconds: a time.Time is three times the size
	referenced bool  // a row points at it
}

func (o objInfo) modTime() time.Time {
	if o.modified == 0 {
		return time.Time{}
	}
	return time.Unix(0, o.modified).UTC()
}

type moveState struct {
	move     *Move
	conflict *Conflict
}

// Make computes the plan.
func Make(in Inputs) (*Plan, error) {
	p := &Plan{}
	s := &p.Header.Summary
	objects, err := collect(in.Objects, s)
	if err != nil {
		return nil, err
	}

	// Map every key; the mapping must be injective, also under Unicode normalisation.
	moves := make(map[string]*moveState)
	// Keys not in NFC, by their NFC form (most keys are, and need no entry).
	nfcKeys := make(map[string]string)
	for k := range objects {
		if !norm.NFC.IsNormalString(k) {
			nfcKeys[norm.NFC.String(k)] = k
		}
	}
	byTarget := make(map[string]string)
	var coll CollisionError
	keys := sortedKeys(objects)
	for _, k := range keys {
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
			return nil, &OutsideError{Key: k, Target: target, Rule: rule}
		}
		nt := norm.NFC.String(target)
		if other, dup := byTarget[nt]; dup {
			coll.Collisions = append(coll.Collisions, [2]string{other, k})
			coll.Targets = append(coll.Targets, target)
			continue
		}
		byTarget[nt] = k
		// A target that differs from an existing key only in normalisation is that
		// key on R2.
		existing, ok := nfcKeys[nt]
		if _, isKey := objects[nt]; !ok && isKey {
			existing, ok = nt, true
		}
		if ok && existing != target {
			coll.Collisions = append(coll.Collisions, [2]string{k, existing})
			coll.Targets = append(coll.Targets, target)
			continue
		}
		o := objects[k]
		m := &Move{Key: k, Target: target, Rule: rule, Size: o.size, ETag: o.etag, Copy: true}
		st := &moveState{move: m}
		if why := UnsafeKey(target); why != "" {
			st.conflict = &Conflict{Key: k, Target: target, Reason: "unsafe target: " + why, Size: o.size, ETag: o.etag}
		} else if t, exists := objects[target]; exists {
			same := t.size == o.size && t.etag == o.etag
			if !same && t.size == o.size && isMultipart(o.etag) && in.HoldsCopy != nil {
				var err error
				if same, err = in.HoldsCopy(k, target, o.etag, o.size); err != nil {
					return nil, fmt.Errorf("compare %q with %q: %w", k, target, err)
				}
			}
			if same {
				m.Copy = false
				m.TargetETag = t.etag
			} else {
				st.conflict = &Conflict{Key: k, Target: target, Reason: ReasonTargetDiffers, Size: o.size, ETag: o.etag, TargetSize: t.size, TargetETag: t.etag}
			}
		}
		moves[k] = st
	}
	if len(coll.Collisions) > 0 {
		return nil, &coll
	}

	for _, ref := range in.References {
		rs := RefSummary{Name: ref.Name, Table: ref.Table}
		cols := ref.Columns()
		isURL := make([]bool, len(cols))
		for i, c := range cols {
			isURL[i] = c == ref.URLColumn && ref.URLColumn != ""
		}
		if ref.KeyColumn != "" && ref.KeyColumn == ref.URLColumn {
			return nil, fmt.Errorf("reference %q: key_column and url_column are both %q", ref.Name, ref.KeyColumn)
		}
		err := in.Rows(ref, func(r Row) error {
			rs.Rows++
			for i, v := range r.Values {
				if v == nil {
					rs.Null++
					continue
				}
				var key, newValue string
				if isURL[i] {
					if in.URLs == nil {
						return errors.New("a url_column needs the bucket's public_url")
					}
					pu, ok := in.URLs.Parse(*v)
					if !ok {
						rs.Foreign++
						continue
					}
					c := pu.Candidates[0]
					for _, cand := range pu.Candidates {
						if _, ok := objects[cand.Key]; ok {
							c = cand
							break
						}
					}
					key = c.Key
					if st, ok := moves[key]; ok {
						newValue = pu.Origin + EscapePath(st.move.Target) + c.Suffix
					}
				} else {
					key = *v
					if st, ok := moves[key]; ok {
						newValue = st.move.Target
					}
				}
				if o, exists := objects[key]; exists {
					if !o.referenced {
						o.referenced = true // never an orphan
						objects[key] = o
					}
				} else {
					rs.Dangling++
					p.Dangling = append(p.Dangling, Dangling{Reference: ref.Name, Column: cols[i], PK: r.PK, Value: *v, Key: key})
					continue
				}
				st, moving := moves[key]
				if !moving {
					rs.Current++
					continue
				}
				if st.conflict != nil {
					st.conflict.Rows++
					continue
				}
				rs.Rewrites++
				st.move.Rewrites = append(st.move.Rewrites, Rewrite{Reference: ref.Name, Column: cols[i], PK: r.PK, Old: *v, New: newValue})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scan reference %q: %w", ref.Name, err)
		}
		s.Rewrites += rs.Rewrites
		s.Dangling += rs.Dangling
		s.Foreign += rs.Foreign
		s.References = append(s.References, rs)
	}

	var firstDue, lastDue time.Time
	prefixes := make(map[string]*PrefixSummary)
	for _, k := range keys {
		if !in.Scope.Contains(k) {
			continue
		}
		o := objects[k]
		st, moving := moves[k]
		// A key that is the target of a move is about to be referenced: never an orphan.
		_, isTarget := byTarget[norm.NFC.String(k)]
		orphan := !o.referenced && !isTarget && in.Orphans.covers(k)
		young := orphan && in.Now.Sub(o.modTime()) < in.Orphans.MinAge
		orphan = orphan && !young
		switch {
		case moving && st.conflict != nil:
			p.Conflicts = append(p.Conflicts, *st.conflict)
		case moving && !st.move.Copy && len(st.move.Rewrites) == 0:
			// Already copied and nothing points at it: the source waits for its grace
			// period, counted from when its move completed.
			m := st.move
			at, ok := time.Time{}, false
			if in.Moved != nil {
				at, ok = in.Moved(k)
			}
			if !ok {
				at = objects[m.Target].modTime()
			}
			due := at.Add(in.GracePeriod)
			if !at.IsZero() && !in.Now.Before(due) {
				p.Deletes = append(p.Deletes, Deletion{Key: k, Reason: ReasonMoved, Size: o.size, ETag: o.etag,
					Modified: o.modTime(), Target: m.Target, TargetETag: m.TargetETag})
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
		case orphan && (!moving || st.move.Copy):
			// An unreferenced object old enough to go: deleted, not copied.
			p.Deletes = append(p.Deletes, Deletion{Key: k, Reason: ReasonOrphan, Size: o.size, ETag: o.etag, Modified: o.modTime()})
		case !moving:
			if young {
				s.OrphansYoung++
			}
		default:
			m := st.move
			if young && m.Copy {
				s.OrphansYoung++ // not deleted yet: moved with the rest
			}
			slices.SortFunc(m.Rewrites, compareRewrites)
			if m.Copy {
				s.Copies++
				s.CopyBytes += m.Size
				tp := topPrefix(k)
				ps := prefixes[tp]
				if ps == nil {
					ps = &PrefixSummary{Prefix: tp}
					prefixes[tp] = ps
				}
				ps.Objects++
				ps.Bytes += m.Size
			}
			p.Moves = append(p.Moves, *m)
		}
	}
	if !firstDue.IsZero() {
		s.KeptFirstDue, s.KeptLastDue = &firstDue, &lastDue
	}
	for _, d := range p.Deletes {
		s.Deletes++
		s.DeleteBytes += d.Size
		switch d.Reason {
		case ReasonMoved:
			s.DeletesMoved++
		case ReasonOrphan:
			s.DeletesOrphan++
		case ReasonRevert:
			s.DeletesRevert++
		}
	}
	if in.Scope != nil {
		s.Partial, s.Scope = true, in.Scope
		// Rewrites cover exactly the rows of the objects in scope.
		s.Rewrites = 0
		for i := range s.References {
			s.References[i].Rewrites = 0
		}
		for _, m := range p.Moves {
			s.Rewrites += len(m.Rewrites)
			for _, rw := range m.Rewrites {
				for i := range s.References {
					if s.References[i].Name == rw.Reference {
						s.References[i].Rewrites++
					}
				}
			}
		}
	}
	s.Conflicts = len(p.Conflicts)
	for _, ps := range prefixes {
		s.Prefixes = append(s.Prefixes, *ps)
	}
	slices.SortFunc(s.Prefixes, func(a, b PrefixSummary) int {
		return cmp.Or(cmp.Compare(b.Objects, a.Objects), cmp.Compare(a.Prefix, b.Prefix))
	})
	slices.SortFunc(p.Dangling, func(a, b Dangling) int {
		return cmp.Or(cmp.Compare(a.Reference, b.Reference), cmp.Compare(a.Column, b.Column), cmp.Compare(a.PK, b.PK))
	})
	return p, nil
}

func compareRewrites(a, b Rewrite) int {
	return cmp.Or(cmp.Compare(a.Reference, b.Reference), cmp.Compare(a.Column, b.Column), cmp.Compare(a.PK, b.PK))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// isMultipart reports whether an ETag is a multipart upload's ("<hex>-<parts>"), which
// is not the MD5 of the content, so a copy's ETag differs from it.
func isMultipart(etag string) bool { return strings.Contains(etag, "-") }

// collect reads the listing into a compact map, counting it in s.
func collect(list func(yield func(Object) error) error, s *Summary) (map[string]objInfo, error) {
	objects := make(map[string]objInfo)
	if err := list(func(o Object) error {
		var mod int64
		if !o.Modified.IsZero() {
			mod = o.Modified.UnixNano()
		}
		objects[o.Key] = objInfo{size: o.Size, etag: o.ETag, modified: mod}
		s.Objects++
		s.Bytes += o.Size
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list bucket: %w", err)
	}
	return objects, nil
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
