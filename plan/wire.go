package plan

import (
	"strconv"
	"time"
	"unicode/utf8"
)

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

// appendMoveLine appends m's line of the plan file, as encoding/json writes its
// moveLine (HTML escaping off) with the newline after it: a plan's bulk, written
// without reflection, which took half the writing's CPU.
func appendMoveLine(b []byte, m *Move) []byte {
	b = append(b, `{"type":"move","key":`...)
	b = appendJSONString(b, m.Key)
	b = append(b, `,"target":`...)
	b = appendJSONString(b, m.Target)
	if m.Rule != "" {
		b = append(b, `,"rule":`...)
		b = appendJSONString(b, m.Rule)
	}
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, m.Size, 10)
	b = append(b, `,"etag":`...)
	b = appendJSONString(b, m.ETag)
	b = append(b, `,"copy":`...)
	b = strconv.AppendBool(b, m.Copy)
	if m.TargetETag != "" {
		b = append(b, `,"target_etag":`...)
		b = appendJSONString(b, m.TargetETag)
	}
	for i, rw := range m.Rewrites {
		if i == 0 {
			b = append(b, `,"rewrites":[`...)
		} else {
			b = append(b, ',')
		}
		b = append(b, `{"reference":`...)
		b = appendJSONString(b, rw.Reference)
		b = append(b, `,"column":`...)
		b = appendJSONString(b, rw.Column)
		b = append(b, `,"pk":`...)
		b = appendJSONString(b, rw.PK)
		b = append(b, `,"old":`...)
		b = appendJSONString(b, rw.Old)
		b = append(b, `,"new":`...)
		b = appendJSONString(b, rw.New)
		if rw.Reencoded {
			b = append(b, `,"reencoded":true`...)
		}
		b = append(b, '}')
	}
	if len(m.Rewrites) > 0 {
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string the way encoding/json does with HTML
// escaping off: quote, backslash and control bytes escaped (\b \f \n \r \t short),
// a byte that is not UTF-8 as \ufffd, U+2028 and U+2029 escaped, the rest as it is.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
