package plan

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// An UndeclaredColumn is a column that no reference declares and that names objects the
// plan would otherwise have deleted: those objects are kept.
type UndeclaredColumn struct {
	// Column is "table.column", or "schema.table.column" outside the default schema.
	Column string `json:"column"`
	// Rows counts the values that name a kept object; Objects the objects this column
	// is the first by name to name; Keys lists a few of them.
	Rows    int      `json:"rows"`
	Objects int      `json:"objects"`
	Keys    []string `json:"keys,omitempty"`
}

// guard keeps from deletion every object that a column no reference declares names
// (invariant 2: an object that any column names is never deleted as an orphan, nor as a
// moved source). It uses the values of those columns that early, the read Make started
// beside the listing, kept; or, when there is none or it did not read them all, reads
// the rows that Matcher.Prefilter of the doomed keys admits. A plan that deletes
// nothing uses neither.
func (pl *planner) guard(p *Plan, early *ahead) error {
	in, objs := &pl.in, pl.objs
	s := &p.Header.Summary
	if in.Undeclared == nil || s.Deletes == 0 {
		return nil
	}
	m := in.matcher()
	doomed := func(key string) bool {
		i, ok := objs.lookup(key)
		return ok && objs.rec(i).flags&fEmitDelete != 0
	}
	// Only the rows that may name a doomed object need be read.
	values := func(yield func(column, value string) error) error {
		var filter *Prefilter
		if f, ok := m.Prefilter(objs.keysWhere(func(i int) bool { return objs.rec(i).flags&fEmitDelete != 0 })); ok {
			filter = &f
		}
		return in.Undeclared(context.Background(), filter, yield)
	}
	if early != nil {
		if kept, ok := early.values(); ok {
			values = kept
		}
	}
	cols := map[string]*UndeclaredColumn{}
	// The column credited with each kept object: of the columns that name it, the first
	// by name, whatever order Undeclared reads the tables in (it reads several at once).
	credit := map[int]*UndeclaredColumn{}
	err := values(func(column, value string) error {
		var uc *UndeclaredColumn
		m.Match(value, doomed, func(key string, _ MatchKind) {
			if uc == nil {
				if uc = cols[column]; uc == nil {
					uc = &UndeclaredColumn{Column: column}
					cols[column] = uc
				}
				uc.Rows++
			}
			i, _ := objs.lookup(key)
			f := &objs.rec(i).flags
			prev := credit[i]
			switch {
			case *f&fUndeclared == 0:
				*f |= fUndeclared
			case prev != nil && uc.Column < prev.Column:
				prev.Objects--
				if j := slices.Index(prev.Keys, key); j >= 0 {
					prev.Keys = slices.Delete(prev.Keys, j, j+1)
				}
			default:
				return
			}
			credit[i] = uc
			uc.Objects++
			if len(uc.Keys) < 3 {
				uc.Keys = append(uc.Keys, strings.Clone(key))
			}
		})
		return nil
	})
	if err != nil {
		return fmt.Errorf("read the columns no reference declares: %w", err)
	}
	if len(cols) == 0 {
		return nil
	}
	for i := range objs.len() {
		f := &objs.rec(i).flags
		if *f&(fEmitDelete|fUndeclared) != fEmitDelete|fUndeclared {
			continue
		}
		if *f&fOrphanDelete != 0 {
			s.DeletesOrphan--
			s.DeleteBytesOrphan -= objs.size(i)
		} else {
			s.DeletesMoved--
			s.DeleteBytesMoved -= objs.size(i)
		}
		*f &^= fEmitDelete | fOrphanDelete
		s.Deletes--
		s.DeleteBytes -= objs.size(i)
		s.KeptUndeclared++
	}
	for _, uc := range cols {
		slices.Sort(uc.Keys)
		s.Undeclared = append(s.Undeclared, *uc)
	}
	slices.SortFunc(s.Undeclared, func(a, b UndeclaredColumn) int { return cmp.Compare(a.Column, b.Column) })
	return nil
}
