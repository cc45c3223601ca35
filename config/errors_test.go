package config

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// fixtureEnv is the environment every error fixture is loaded with.
var fixtureEnv = map[string]string{
	"R2_ENDPOINT_URL":      "https://acct.r2.cloudflarestorage.com",
	"R2_BUCKET_NAME":       "media",
	"R2_ACCESS_KEY_ID":     "AKIDFIXTUREKEY",
	"R2_SECRET_ACCESS_KEY": "fixture-secret-0f9e8d7c",
	"DATABASE_URL":         "postgres://app:fixture-password@db:5432/app",
	"NODE_ENV":             "production",
}

// fixtureSecrets must never appear in a diagnostic.
var fixtureSecrets = []string{"AKIDFIXTUREKEY", "fixture-secret-0f9e8d7c", "fixture-password", fixtureEnv["DATABASE_URL"]}

var expectRE = regexp.MustCompile(`#\s*(ERROR|WARNING):\s*(.+?)\s*$`)

type expectation struct {
	severity hcl.DiagnosticSeverity
	line     int
	text     string
}

// TestErrorFixtures loads every testdata/config/errors/*.hcl fixture. Each line that
// carries "# ERROR: text" (or "# WARNING: text") must receive a diagnostic of that
// severity whose summary or detail contains text, and no other line may receive one.
func TestErrorFixtures(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "testdata", "config", "errors", "*.hcl"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".hcl"), func(t *testing.T) {
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want := expectations(src)
			if len(want) == 0 {
				t.Fatal("fixture has no # ERROR: or # WARNING: comment")
			}
			cfg, diags := LoadSource(path, src, nil, fakeEnv(fixtureEnv))
			if cfg != nil && diags.HasErrors() {
				t.Error("Config is not nil although there are errors")
			}

			matched := make([]bool, len(diags))
			for _, w := range want {
				found := false
				for i, d := range diags {
					if d.Severity == w.severity && d.Subject != nil && d.Subject.Start.Line == w.line &&
						strings.Contains(d.Summary+": "+d.Detail, w.text) {
						found, matched[i] = true, true
					}
				}
				if !found {
					t.Errorf("line %d: no %s containing %q", w.line, severityName(w.severity), w.text)
				}
			}
			for i, d := range diags {
				if !matched[i] {
					t.Errorf("unexpected %s: %s", severityName(d.Severity), describe(d))
				}
				for _, s := range fixtureSecrets {
					if strings.Contains(d.Summary, s) || strings.Contains(d.Detail, s) {
						t.Errorf("diagnostic leaks secret %q: %s", s, describe(d))
					}
				}
			}
			if t.Failed() {
				for _, d := range diags {
					t.Logf("got %s", describe(d))
				}
			}

			var out bytes.Buffer
			if err := WriteDiagnostics(&out, diags); err != nil {
				t.Fatal(err)
			}
			for _, s := range fixtureSecrets {
				if strings.Contains(out.String(), s) {
					t.Errorf("WriteDiagnostics leaks secret %q:\n%s", s, out.String())
				}
			}
		})
	}
}

func expectations(src []byte) []expectation {
	var out []expectation
	sc := bufio.NewScanner(bytes.NewReader(src))
	for line := 1; sc.Scan(); line++ {
		m := expectRE.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		sev := hcl.DiagError
		if m[1] == "WARNING" {
			sev = hcl.DiagWarning
		}
		out = append(out, expectation{severity: sev, line: line, text: m[2]})
	}
	return out
}

func severityName(s hcl.DiagnosticSeverity) string {
	if s == hcl.DiagWarning {
		return "warning"
	}
	return "error"
}

func describe(d *hcl.Diagnostic) string {
	where := "(no subject)"
	if d.Subject != nil {
		where = d.Subject.String()
	}
	return severityName(d.Severity) + " at " + where + ": " + d.Summary + ": " + d.Detail
}

func fakeEnv(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}
