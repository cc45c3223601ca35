package term

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, w := range map[string]io.Writer{"buffer": &bytes.Buffer{}, "file": f} {
		if IsTerminal(w) {
			t.Errorf("%s: IsTerminal = true", name)
		}
	}
	t.Setenv("NO_COLOR", "")
	if Color(f) {
		t.Error("Color of a regular file = true")
	}
}
