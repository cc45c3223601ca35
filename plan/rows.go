package plan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// scanRows reads every reference's rows: each value names an object (or none: dangling,
// foreign), marks it referenced, and is planned for rewriting when the object moves.
func (pl *planner) scanRows(p *Plan, early *rowsAhead) error {
	in, objs := &pl.in, pl.objs
	s := &p.Header.Summary
	rows := early.rows()
	if rows == nil {
		rows = func(i int, yield func(Row) error) error {
			return in.Rows(context.Background(), in.References[i], yield)
		}
	}
	for refIdx, ref := range in.References {
		rs := RefSummary{Name: ref.Name, Table: ref.Table}
		cols := ref.Columns()
		perColumn := make([]int, len(cols))
		isURL := make([]bool, len(cols))
		for i, c := range cols {
			isURL[i] = c == ref.URLColumn && ref.URLColumn != ""
		}
		if ref.KeyColumn != "" && ref.KeyColumn == ref.URLColumn {
			return fmt.Errorf("reference %q: key_column and url_column are both %q", ref.Name, ref.KeyColumn)
		}
		err := rows(refIdx, func(r Row) error {
			if r.Outside {
				return pl.outside(r, isURL, s)
			}
			rs.Rows++
			rewritten := false // a row with a key and a URL to rewrite counts once
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
				perColumn[col]++
				rewritten = true
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
			if rewritten {
				rs.RewriteRows++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("scan reference %q: %w", ref.Name, err)
		}
		for col, n := range perColumn {
			if n > 0 {
				rs.Columns = append(rs.Columns, ColumnSummary{Column: cols[col], Rewrites: n})
			}
		}
		s.Rewrites += rs.Rewrites
		s.RewriteRows += rs.RewriteRows
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
