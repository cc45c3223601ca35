package plan

import "time"

// The plan file's entry lines, apart from the in-memory types the planner and apply
// use: a field renamed or added in memory changes no file, and the file's spelling is
// all here (with Entry.line and decodeEntry, and pinned by the golden plan file). A
// line's fields come in this order.

type moveLine struct {
	Type       string        `json:"type"` // "move"
	Key        string        `json:"key"`
	Target     string        `json:"target"`
	Rule       string        `json:"rule,omitempty"`
	Size       int64         `json:"size"`
	ETag       string        `json:"etag"`
	Copy       bool          `json:"copy"`
	TargetETag string        `json:"target_etag,omitempty"`
	Rewrites   []rewriteWire `json:"rewrites,omitempty"`
}

type rewriteWire struct {
	Reference string `json:"reference"`
	Column    string `json:"column"`
	PK        string `json:"pk"`
	Old       string `json:"old"`
	New       string `json:"new"`
	Reencoded bool   `json:"reencoded,omitempty"`
}

type deleteLine struct {
	Type       string    `json:"type"` // "delete"
	Key        string    `json:"key"`
	Reason     Reason    `json:"reason"`
	Size       int64     `json:"size"`
	ETag       string    `json:"etag"`
	Modified   time.Time `json:"modified"`
	Target     string    `json:"target,omitempty"`
	TargetETag string    `json:"target_etag,omitempty"`
}

type danglingLine struct {
	Type      string `json:"type"` // "dangling"
	Reference string `json:"reference"`
	Column    string `json:"column"`
	PK        string `json:"pk"`
	Value     string `json:"value"`
	Key       string `json:"key"`
}

type conflictLine struct {
	Type       string `json:"type"` // "conflict"
	Key        string `json:"key"`
	Target     string `json:"target"`
	Reason     string `json:"reason"`
	Size       int64  `json:"size"`
	ETag       string `json:"etag"`
	TargetSize int64  `json:"target_size"`
	TargetETag string `json:"target_etag"`
	Rows       int    `json:"rows"`
}

func toMoveLine(m *Move) moveLine {
	l := moveLine{"move", m.Key, m.Target, m.Rule, m.Size, m.ETag, m.Copy, m.TargetETag, nil}
	if len(m.Rewrites) > 0 {
		l.Rewrites = make([]rewriteWire, len(m.Rewrites))
		for i, rw := range m.Rewrites {
			l.Rewrites[i] = rewriteWire{rw.Reference, rw.Column, rw.PK, rw.Old, rw.New, rw.Reencoded}
		}
	}
	return l
}

func (l *moveLine) move() *Move {
	m := &Move{Key: l.Key, Target: l.Target, Rule: l.Rule, Size: l.Size, ETag: l.ETag, Copy: l.Copy, TargetETag: l.TargetETag}
	if len(l.Rewrites) > 0 {
		m.Rewrites = make([]Rewrite, len(l.Rewrites))
		for i, rw := range l.Rewrites {
			m.Rewrites[i] = Rewrite{Reference: rw.Reference, Column: rw.Column, PK: rw.PK, Old: rw.Old, New: rw.New, Reencoded: rw.Reencoded}
		}
	}
	return m
}

func toDeleteLine(d *Deletion) deleteLine {
	return deleteLine{"delete", d.Key, d.Reason, d.Size, d.ETag, d.Modified, d.Target, d.TargetETag}
}

func (l *deleteLine) deletion() *Deletion {
	return &Deletion{Key: l.Key, Reason: l.Reason, Size: l.Size, ETag: l.ETag, Modified: l.Modified, Target: l.Target, TargetETag: l.TargetETag}
}

func toDanglingLine(d *Dangling) danglingLine {
	return danglingLine{"dangling", d.Reference, d.Column, d.PK, d.Value, d.Key}
}

func (l *danglingLine) dangling() *Dangling {
	return &Dangling{Reference: l.Reference, Column: l.Column, PK: l.PK, Value: l.Value, Key: l.Key}
}

func toConflictLine(c *Conflict) conflictLine {
	return conflictLine{"conflict", c.Key, c.Target, c.Reason, c.Size, c.ETag, c.TargetSize, c.TargetETag, c.Rows}
}

func (l *conflictLine) conflict() *Conflict {
	return &Conflict{Key: l.Key, Target: l.Target, Reason: l.Reason, Size: l.Size, ETag: l.ETag, TargetSize: l.TargetSize, TargetETag: l.TargetETag, Rows: l.Rows}
}
