package plan

import (
	"fmt"
	"io"
	"os"
)

// File is a plan file that Open verified, kept open so that whoever executes or shows
// it reads the very bytes that were verified.
type File struct {
	f      *os.File
	header Header
	digest string
}

// Open opens the plan file at path and verifies it whole (format version, every line,
// the line count and the digest) before returning it; a file that fails is closed and
// refused, wrapping ErrInvalid.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	hdr, digest, err := Read(f, nil)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &File{f: f, header: hdr, digest: digest}, nil
}

// Header is the plan's header.
func (p *File) Header() *Header { return &p.header }

// Digest is the digest of the plan's content ("sha256:…").
func (p *File) Digest() string { return p.digest }

// ID is the plan's short name (see ID).
func (p *File) ID() string { return ID(p.digest) }

// Entries streams the plan's entries in file order, reading the verified file again
// from its start (a plan of millions of changes is never held in memory). The digest is
// checked again at the end, so a file changed since Open fails.
func (p *File) Entries(fn func(Entry) error) error {
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, _, err := Read(p.f, fn)
	return err
}

// Close closes the file.
func (p *File) Close() error { return p.f.Close() }
