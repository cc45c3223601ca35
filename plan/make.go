package plan

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

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
}

// Plan is a computed change set. Its Header is completed by the caller (identity,
// digests, versions) before it is written.
type Plan struct {
	Header    Header
	Moves     []Move
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
	size int64
	etag string
}

type moveState struct {
	move     *Move
	conflict *Conflict
}

// Make computes the plan.
func Make(in Inputs) (*Plan, error) {
	p := &Plan{}
	s := &p.Header.Summary
	objects := make(map[string]objInfo)
	if err := in.Objects(func(o Object) error {
		objects[o.Key] = objInfo{o.Size, o.ETag}
		s.Objects++
		s.Bytes += o.Size
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list bucket: %w", err)
	}

	// Map every key; the mapping must be injective, also under Unicode normalisation.
	moves := make(map[string]*moveState)
	nfcKeys := make(map[string]string, len(objects))
	for k := range objects {
		nfcKeys[norm.NFC.String(k)] = k
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
		if existing, ok := nfcKeys[nt]; ok && existing != target {
			coll.Collisions = append(coll.Collisions, [2]string{k, existing})
			coll.Targets = append(coll.Targets, target)
			continue
		}
		o := objects[k]
		m := &Move{Key: k, Target: target, Rule: rule, Size: o.size, ETag: o.etag, Copy: true}
		st := &moveState{move: m}
		if t, exists := objects[target]; exists {
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
				st.conflict = &Conflict{Key: k, Target: target, Size: o.size, ETag: o.etag, TargetSize: t.size, TargetETag: t.etag}
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
				if _, exists := objects[key]; !exists {
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

	prefixes := make(map[string]*PrefixSummary)
	for _, k := range keys {
		st, ok := moves[k]
		if !ok {
			continue
		}
		if st.conflict != nil {
			p.Conflicts = append(p.Conflicts, *st.conflict)
			continue
		}
		m := st.move
		if !m.Copy && len(m.Rewrites) == 0 {
			s.Kept++ // already copied, nothing points at it: the source waits for deletion
			continue
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
