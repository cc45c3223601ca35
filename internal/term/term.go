// Package term tells whether output goes to a terminal, for the commands' bars and the
// configuration's colored diagnostics.
package term

import (
	"io"
	"os"
)

// IsTerminal reports whether w is a file that is a terminal (a character device).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Color reports whether to color what goes to w: a terminal, and NO_COLOR unset or
// empty (https://no-color.org).
func Color(w io.Writer) bool { return IsTerminal(w) && os.Getenv("NO_COLOR") == "" }
