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
	t := newUndeclaredTally()
	if err := t.read(values, m, doomed); err != nil {
		return err
	}
	if len(t.credit) == 0 {
		return nil
	}
	for key := range t.credit {
		i, _ := objs.lookup(key)
		objs.rec(i).flags |= fUndeclared
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
	s.Undeclared = t.columns()
	return nil
}

// undeclaredTally counts what the columns no reference declares name of the objects a
// plan would delete: each kept object is credited to the first column by name that
// names it, whatever order the tables are read in (several at once).
type undeclaredTally struct {
	cols   map[string]*UndeclaredColumn
	credit map[string]*UndeclaredColumn // by kept key
}

func newUndeclaredTally() *undeclaredTally {
	return &undeclaredTally{cols: map[string]*UndeclaredColumn{}, credit: map[string]*UndeclaredColumn{}}
}

// read counts what the values that values streams name of the doomed keys.
func (t *undeclaredTally) read(values func(yield func(column, value string) error) error, m *Matcher, doomed func(key string) bool) error {
	if err := values(func(column, value string) error {
		t.add(m, column, value, doomed)
		return nil
	}); err != nil {
		return fmt.Errorf("read the columns no reference declares: %w", err)
	}
	return nil
}

// add counts the doomed keys that value, of column, names.
func (t *undeclaredTally) add(m *Matcher, column, value string, doomed func(key string) bool) {
	var uc *UndeclaredColumn
	m.Match(value, doomed, func(key string, _ MatchKind) {
		if uc == nil {
			if uc = t.cols[column]; uc == nil {
				uc = &UndeclaredColumn{Column: column}
				t.cols[column] = uc
			}
			uc.Rows++
		}
		prev, seen := t.credit[key]
		if seen && uc.Column >= prev.Column {
			return
		}
		key = strings.Clone(key) // it may share the value's memory, which the map would keep
		if seen {
			prev.Objects--
			if j := slices.Index(prev.Keys, key); j >= 0 {
				prev.Keys = slices.Delete(prev.Keys, j, j+1)
			}
		}
		t.credit[key] = uc
		uc.Objects++
		if len(uc.Keys) < 3 {
			uc.Keys = append(uc.Keys, key)
		}
	})
}

// kept reports whether a column names key.
func (t *undeclaredTally) kept(key string) bool {
	_, ok := t.credit[key]
	return ok
}

// columns is the columns that name kept objects, by name, each with its first keys.
func (t *undeclaredTally) columns() []UndeclaredColumn {
	var out []UndeclaredColumn
	for _, uc := range t.cols {
		slices.Sort(uc.Keys)
		out = append(out, *uc)
	}
	slices.SortFunc(out, func(a, b UndeclaredColumn) int { return cmp.Compare(a.Column, b.Column) })
	return out
}
