package plan

import (
	"fmt"
	"strings"
	"time"
)

// An Object is one listed object, as compact as the planner needs it.
type Object struct {
	Key      string
	Size     int64
	ETag     string
	Modified time.Time
}

// Reference describes a table column set that points into the bucket.
type Reference struct {
	Name       string `json:"name"`
	Schema     string `json:"schema,omitempty"`
	Table      string `json:"table"`
	PrimaryKey string `json:"primary_key"`
	KeyColumn  string `json:"key_column,omitempty"`
	URLColumn  string `json:"url_column,omitempty"`
	Where      string `json:"where,omitempty"`
}

// Columns lists the reference's columns in the order a Row carries their values.
func (r *Reference) Columns() []string {
	var cols []string
	if r.KeyColumn != "" {
		cols = append(cols, r.KeyColumn)
	}
	if r.URLColumn != "" {
		cols = append(cols, r.URLColumn)
	}
	return cols
}

// RowLabel names one value of a row for people: "reference.column[pk]", as drift and
// the deletion re-check report it.
func (r *Reference) RowLabel(column, pk string) string {
	return fmt.Sprintf("%s.%s[%s]", r.Name, column, pk)
}

// A Row is one scanned row of a reference: its primary key (as text) and the values of
// Reference.Columns (nil for NULL). Outside marks a row that fails the reference's
// where filter: it is never rewritten, but an object it names is still referenced and
// never deleted.
type Row struct {
	PK      string
	Values  []*string
	Outside bool
}

// A Move relocates one object: copy Key to Target (unless the target already holds an
// identical copy), verify, then rewrite every row that points at Key.
type Move struct {
	Key    string
	Target string
	Rule   string
	Size   int64
	// ETag is the source's ETag at plan time: the copy is conditional on it.
	ETag string
	// Copy is false when the target already held an identical object at plan time
	// (TargetETag is then its ETag, which apply verifies again).
	Copy       bool
	TargetETag string
	Rewrites   []Rewrite
}

// A Rewrite is one compare-and-swap of one column of one row: it happens only if the
// column still holds Old.
type Rewrite struct {
	// Key and Target are the object the row points at and the one it will point at;
	// the plan file keeps them on the move, apply sets them for the journal.
	Key       string
	Target    string
	Reference string
	Column    string
	PK        string
	Old       string
	New       string
	// Reencoded marks a URL whose new text spells part of the key canonically
	// (EscapePath) where the application had spelled it otherwise: a regex move that
	// changes a part the application spelled its own way, or a spelling that cannot be
	// kept without naming another object. Other URLs keep every byte the move does not
	// change.
	Reencoded bool
}

// A Deletion removes one object. Apply deletes it only if it still has ETag, no row
// points at it (re-checked at apply time), and, when Target is set, Target still holds
// an identical copy with TargetETag.
type Deletion struct {
	Key        string
	Reason     Reason
	Size       int64
	ETag       string
	Modified   time.Time
	Target     string
	TargetETag string
}

// Dangling is a reference whose object does not exist: reported, never rewritten.
type Dangling struct {
	Reference string
	Column    string
	PK        string
	Value     string
	Key       string
}

// A Conflict is a move that cannot happen, most often because its target already holds
// other content: the object and its rows are left alone.
type Conflict struct {
	Key    string
	Target string
	// Reason says why the move cannot happen: the target holds other content, or the
	// target is no key r2plan will write (see UnsafeKey).
	Reason     string
	Size       int64
	ETag       string
	TargetSize int64
	TargetETag string
	Rows       int
}

// Summary counts what a plan holds and what the planner saw.
type Summary struct {
	Objects   int   `json:"objects"`
	Bytes     int64 `json:"bytes"`
	Placed    int   `json:"placed"`
	Unmatched int   `json:"unmatched"`
	Copies    int   `json:"copies"`
	CopyBytes int64 `json:"copy_bytes"`
	// Rewrites counts the values to rewrite (a row may hold two: a key and a URL
	// column); RewriteRows counts the rows that hold them, summed over the references
	// (since format 1.3; 0 in older plans).
	Rewrites    int `json:"rewrites"`
	RewriteRows int `json:"rewrite_rows,omitempty"`
	// Reencoded counts the rewrites of URLs marked Reencoded.
	Reencoded int `json:"reencoded,omitempty"`
	Deletes   int `json:"deletes"`
	// DeleteBytes is what the deletions free; DeletesMoved, DeletesOrphan and
	// DeletesRevert split Deletes by reason.
	DeleteBytes   int64 `json:"delete_bytes"`
	DeletesMoved  int   `json:"deletes_moved"`
	DeletesOrphan int   `json:"deletes_orphan"`
	DeletesRevert int   `json:"deletes_revert"`
	// DeleteBytesMoved, DeleteBytesOrphan and DeleteBytesRevert split DeleteBytes by
	// reason (since format 1.3).
	DeleteBytesMoved  int64 `json:"delete_bytes_moved,omitempty"`
	DeleteBytesOrphan int64 `json:"delete_bytes_orphan,omitempty"`
	DeleteBytesRevert int64 `json:"delete_bytes_revert,omitempty"`
	// DeleteBudget is the most orphan deletions the plan was allowed when it was made
	// (orphans.max_delete, plan --max-delete, else 1000); OverBudget says it has more.
	// Moved sources and reverted copies, whose provenance the journal records, do not
	// count. Plans of earlier versions have neither.
	DeleteBudget int  `json:"delete_budget,omitempty"`
	OverBudget   bool `json:"over_budget,omitempty"`
	// Kept counts sources already copied and unreferenced, waiting for the grace
	// period; KeptFirstDue and KeptLastDue say when the first and the last may go.
	Kept         int        `json:"kept"`
	KeptFirstDue *time.Time `json:"kept_first_due,omitempty"`
	KeptLastDue  *time.Time `json:"kept_last_due,omitempty"`
	// Outside counts rows outside their reference's where filter that name an object:
	// never rewritten; Held counts the moved sources they keep from deletion.
	Outside int `json:"outside,omitempty"`
	Held    int `json:"held,omitempty"`
	// OrphansYoung counts unreferenced objects in the orphans scope not yet old enough
	// to delete.
	OrphansYoung int             `json:"orphans_young"`
	Conflicts    int             `json:"conflicts"`
	Dangling     int             `json:"dangling"`
	Foreign      int             `json:"foreign"`
	References   []RefSummary    `json:"references"`
	Prefixes     []PrefixSummary `json:"prefixes"`
	// Partial is set when the plan covers only part of the bucket (Scope).
	Partial bool   `json:"partial,omitempty"`
	Scope   *Scope `json:"scope,omitempty"`
	// Revert names the plan this one undoes.
	Revert string `json:"revert,omitempty"`
	// KeptUndeclared counts the objects the plan would have deleted but that a column
	// no reference declares names; Undeclared says which columns (since format 1.2).
	KeptUndeclared int                `json:"kept_undeclared,omitempty"`
	Undeclared     []UndeclaredColumn `json:"undeclared,omitempty"`
	// DiscoverySkipped is set by plan --skip-discovery: the columns no reference
	// declares were not read, so an object only they name may be deleted.
	DiscoverySkipped bool `json:"discovery_skipped,omitempty"`
}

// Changes is the number of writes the plan would make.
func (s *Summary) Changes() int { return s.Copies + s.Rewrites + s.Deletes }

// SetDeleteBudget records the orphan delete budget in force when the plan is made, and
// whether the plan's orphan deletions exceed it. A plan over its budget is still
// written and shown in full; apply refuses it unless DeletesAllowed.
func (s *Summary) SetDeleteBudget(budget int) {
	s.DeleteBudget = budget
	s.OverBudget = s.DeletesOrphan > budget
}

// DeletesAllowed reports whether apply may run the plan's orphan deletions: within the
// budget the plan was made with, or within allow (apply --max-delete; 0 when not given).
func (s *Summary) DeletesAllowed(allow int) bool {
	return s.DeletesOrphan <= max(s.DeleteBudget, allow)
}

// RefSummary counts one reference's rows. Rewrites counts values, RewriteRows the
// rows that hold them, Columns the values per column (both since format 1.3).
type RefSummary struct {
	Name        string          `json:"name"`
	Table       string          `json:"table"`
	Rows        int             `json:"rows"`
	Rewrites    int             `json:"rewrites"`
	RewriteRows int             `json:"rewrite_rows,omitempty"`
	Columns     []ColumnSummary `json:"columns,omitempty"`
	Current     int             `json:"current"`
	Dangling    int             `json:"dangling"`
	Foreign     int             `json:"foreign"`
	Null        int             `json:"null"`
}

// ColumnSummary counts the values to rewrite in one column of a reference: one per
// row, so they are rows too.
type ColumnSummary struct {
	Column   string `json:"column"`
	Rewrites int    `json:"rewrites"`
}

// PrefixSummary counts the moves under one top-level prefix.
type PrefixSummary struct {
	Prefix  string `json:"prefix"`
	Objects int    `json:"objects"`
	Bytes   int64  `json:"bytes"`
}

// Scope limits a plan to part of the bucket: keys under one of Include (all keys when
// empty) and under none of Exclude.
type Scope struct {
	Include []string `json:"include,omitempty"`
	Exclude []string `json:"exclude,omitempty"`
}

// Contains reports whether key is in the scope; a nil scope contains every key.
func (s *Scope) Contains(key string) bool {
	if s == nil {
		return true
	}
	in := len(s.Include) == 0
	for _, p := range s.Include {
		if strings.HasPrefix(key, p) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, p := range s.Exclude {
		if strings.HasPrefix(key, p) {
			return false
		}
	}
	return true
}

// Orphans says which unreferenced objects may be deleted: under one of Scope, under
// none of Protect, and last modified at least MinAge ago.
type Orphans struct {
	Scope   []string
	Protect []string
	MinAge  time.Duration
}

func (o *Orphans) covers(key string) bool {
	if o == nil {
		return false
	}
	in := false
	for _, p := range o.Scope {
		if strings.HasPrefix(key, p) {
			in = true
			break
		}
	}
	for _, p := range o.Protect {
		if strings.HasPrefix(key, p) {
			return false
		}
	}
	return in
}

// TopPrefix is the first path segment of key with its slash, or "" for a key at the
// root: how the plan's summary groups keys, and how apply's listings group them.
func TopPrefix(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i+1]
	}
	return ""
}
