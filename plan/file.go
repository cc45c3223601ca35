package plan

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"time"
)

// FormatVersion is the plan file format: the major changes when an older reader could
// misread a file, the minor when fields are added.
const FormatVersion = "1.3"

// Header is the first line of a plan file: where the plan comes from and what it holds.
type Header struct {
	Type          string    `json:"type"` // "header"
	FormatVersion string    `json:"format_version"`
	ToolVersion   string    `json:"tool_version"`
	CreatedAt     time.Time `json:"created_at"`
	ConfigDigest  string    `json:"config_digest"`
	// Config is the configuration file the plan was made from and its settings, so that
	// apply finds it without --config and says what changed; absent before 1.1.
	Config     *ConfigRecord     `json:"config,omitempty"`
	Bucket     BucketID          `json:"bucket"`
	Database   DatabaseID        `json:"database"`
	Variables  map[string]string `json:"variables,omitempty"`
	PublicURL  string            `json:"public_url,omitempty"`
	References []Reference       `json:"references"`
	Summary    Summary           `json:"summary"`
}

// ConfigRecord is where a plan's configuration came from: its path as given to plan
// (relative to where plan ran, when it was under it) and its resolved, non-secret
// settings, whose digest is ConfigDigest.
type ConfigRecord struct {
	Path     string          `json:"path"`
	Settings json.RawMessage `json:"settings"`
}

// BucketID names a bucket without credentials.
type BucketID struct {
	Endpoint string `json:"endpoint"`
	Name     string `json:"name"`
}

// DatabaseID names a database without credentials.
type DatabaseID struct {
	Driver string `json:"driver"`
	Host   string `json:"host,omitempty"`
	Name   string `json:"name"`
}

// The body of a plan file is one JSON object per line, each with a "type" and the fields
// of its entry (Entry.line and decodeEntry: the one codec of entries, which the JSON
// view uses too). The last line is the trailer, with the count of body lines and the
// digest of every byte before it.
type line struct {
	Type string `json:"type"`
}

// line is the entry as a plan file line.
func (e Entry) line() (any, error) {
	switch e.Action() {
	case ActionCopy, ActionRewrite:
		return toMoveLine(e.Move), nil
	case ActionDelete:
		return toDeleteLine(e.Delete), nil
	case ActionConflict:
		return toConflictLine(e.Conflict), nil
	case ActionDangling:
		return toDanglingLine(e.Dangling), nil
	}
	return nil, errors.New("plan: an empty entry")
}

// decodeEntry reads a plan file line of the given type.
func decodeEntry(typ string, raw []byte) (Entry, error) {
	var e Entry
	var err error
	switch typ {
	case "move":
		var m moveLine
		err = json.Unmarshal(raw, &m)
		e.Move = m.move()
	case "delete":
		var d deleteLine
		err = json.Unmarshal(raw, &d)
		e.Delete = d.deletion()
	case "dangling":
		var d danglingLine
		err = json.Unmarshal(raw, &d)
		e.Dangling = d.dangling()
	case "conflict":
		var c conflictLine
		err = json.Unmarshal(raw, &c)
		e.Conflict = c.conflict()
	default:
		err = fmt.Errorf("unknown entry type %q", typ)
	}
	return e, err
}

// MarshalJSON writes the entry as its plan file line does.
func (e Entry) MarshalJSON() ([]byte, error) {
	line, err := e.line()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(line); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads an entry written by MarshalJSON.
func (e *Entry) UnmarshalJSON(raw []byte) error {
	var l line
	if err := json.Unmarshal(raw, &l); err != nil {
		return err
	}
	d, err := decodeEntry(l.Type, raw)
	if err != nil {
		return err
	}
	*e = d
	return nil
}

type trailer struct {
	Type   string `json:"type"` // "end"
	Lines  int    `json:"lines"`
	Digest string `json:"digest"`
}

// Write writes p as a plan file and returns its digest. Its entries are read ahead, in
// a goroutine of their own (Tee), while this one encodes them.
func Write(w io.Writer, p *Plan) (digest string, err error) {
	streams, done := Tee(p.Entries, 1)
	defer done(0)
	return WriteEntries(w, &p.Header, streams[0])
}

// WriteEntries writes a plan file of header h and entries, and returns its digest.
func WriteEntries(w io.Writer, h *Header, entries func(func(Entry) error) error) (digest string, err error) {
	sum := sha256.New()
	bw := bufio.NewWriterSize(w, 1<<16)
	body := io.MultiWriter(bw, sum)
	enc := json.NewEncoder(body)
	enc.SetEscapeHTML(false)
	hdr := *h
	hdr.Type = "header"
	hdr.FormatVersion = FormatVersion
	if err := enc.Encode(hdr); err != nil {
		return "", err
	}
	n := 0
	var buf []byte
	err = entries(func(e Entry) error {
		n++
		if e.Move != nil {
			buf = appendMoveLine(buf[:0], e.Move)
			_, err := body.Write(buf)
			return err
		}
		line, err := e.line()
		if err != nil {
			return err
		}
		return enc.Encode(line)
	})
	if err != nil {
		return "", err
	}
	digest = "sha256:" + hex.EncodeToString(sum.Sum(nil))
	if err := json.NewEncoder(bw).Encode(trailer{"end", n, digest}); err != nil {
		return "", err
	}
	return digest, bw.Flush()
}

// ID is the short name of a plan: the first 16 hex digits of its digest.
func ID(digest string) string {
	d := strings.TrimPrefix(digest, "sha256:")
	if len(d) > 16 {
		d = d[:16]
	}
	return d
}

// ErrInvalid marks a plan file that is truncated, tampered with, or not a plan.
var ErrInvalid = errors.New("invalid plan file")

// Entry is one body line of a plan file; exactly one field is set.
type Entry struct {
	Move     *Move
	Delete   *Deletion
	Dangling *Dangling
	Conflict *Conflict
}

// Read reads a plan file, calling fn for each body entry in order, and checks the
// digest and line count at the end. fn may be nil to verify only. Entries reach fn
// before the digest is checked: to act only on a verified plan, read it twice (Verify,
// then Read) over the same open file.
func Read(r io.Reader, fn func(Entry) error) (Header, string, error) {
	var hdr Header
	br := bufio.NewReaderSize(r, 1<<16)
	h := sha256.New()
	first, err := readLine(br, h)
	if err != nil {
		return hdr, "", fmt.Errorf("%w: no header: %v", ErrInvalid, err)
	}
	if err := json.Unmarshal(first, &hdr); err != nil || hdr.Type != "header" {
		return hdr, "", fmt.Errorf("%w: the first line is not a plan header", ErrInvalid)
	}
	if err := checkVersion(hdr.FormatVersion); err != nil {
		return hdr, "", err
	}
	n := 0
	for {
		raw, err := br.ReadBytes('\n')
		if err != nil {
			return hdr, "", fmt.Errorf("%w: truncated after %d entries (no end line)", ErrInvalid, n)
		}
		var l line
		if err := json.Unmarshal(raw, &l); err != nil {
			return hdr, "", fmt.Errorf("%w: line %d: %v", ErrInvalid, n+2, err)
		}
		if l.Type == "end" {
			var t trailer
			if err := json.Unmarshal(raw, &t); err != nil {
				return hdr, "", fmt.Errorf("%w: end line: %v", ErrInvalid, err)
			}
			got := "sha256:" + hex.EncodeToString(h.Sum(nil))
			if t.Digest != got {
				return hdr, "", fmt.Errorf("%w: digest mismatch: the file was changed after it was written", ErrInvalid)
			}
			if t.Lines != n {
				return hdr, "", fmt.Errorf("%w: %d entries, the end line says %d", ErrInvalid, n, t.Lines)
			}
			if rest, _ := br.ReadByte(); rest != 0 {
				return hdr, "", fmt.Errorf("%w: data after the end line", ErrInvalid)
			}
			return hdr, got, nil
		}
		h.Write(raw)
		n++
		if fn == nil {
			continue
		}
		e, err := decodeEntry(l.Type, raw)
		if err != nil {
			return hdr, "", fmt.Errorf("%w: line %d: %v", ErrInvalid, n+1, err)
		}
		if err := fn(e); err != nil {
			return hdr, "", err
		}
	}
}

func readLine(br *bufio.Reader, h hash.Hash) ([]byte, error) {
	raw, err := br.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	h.Write(raw)
	return bytes.TrimSpace(raw), nil
}

func checkVersion(v string) error {
	major, _, _ := strings.Cut(v, ".")
	want, _, _ := strings.Cut(FormatVersion, ".")
	if _, err := strconv.Atoi(major); err != nil {
		return fmt.Errorf("%w: format_version %q", ErrInvalid, v)
	}
	if major != want {
		return fmt.Errorf("plan format_version %s is not supported by this r2plan (reads %s.x): use the r2plan version that wrote it", v, want)
	}
	return nil
}
