package config

import (
	"fmt"
	"io"
	"maps"
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/r2plan/r2plan/internal/term"
)

// files holds every file parsed by Load and LoadSource, by filename, so that
// WriteDiagnostics can print source snippets. Loading a filename again replaces it.
var files = struct {
	sync.Mutex
	m map[string]*hcl.File
}{m: map[string]*hcl.File{}}

func remember(parsed map[string]*hcl.File) {
	files.Lock()
	defer files.Unlock()
	maps.Copy(files.m, parsed)
}

// WriteDiagnostics prints diags, each headed by a file:line:column line that editors
// and CI logs recognise, then with its source snippet from the files loaded so far,
// wrapped at 78 columns, in color when w is a terminal and NO_COLOR is unset.
func WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	files.Lock()
	snapshot := maps.Clone(files.m)
	files.Unlock()
	tw := hcl.NewDiagnosticTextWriter(w, snapshot, 78, term.Color(w))
	for _, d := range diags {
		if d.Subject != nil {
			sev := "error"
			if d.Severity == hcl.DiagWarning {
				sev = "warning"
			}
			r := d.Subject
			if _, err := fmt.Fprintf(w, "%s:%d:%d: %s: %s\n", r.Filename, r.Start.Line, r.Start.Column, sev, d.Summary); err != nil {
				return err
			}
		}
		if err := tw.WriteDiagnostic(d); err != nil {
			return err
		}
	}
	return nil
}
