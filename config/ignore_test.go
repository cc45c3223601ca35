package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestIgnoreBlock(t *testing.T) {
	base := `
bucket {
  name = "media"
}
database {
  url = "sqlite:x.db"
}
layout {
  placed = ["dev/"]
}
`
	load := func(src string) *Config {
		t.Helper()
		cfg, diags := LoadSource("r2plan.hcl", []byte(src), nil, fakeEnv(nil))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return cfg
	}
	without := load(base)
	with := load(base + `
ignore {
  columns = ["AuditLog.payload", "public.Notes.body", "AuditLog.payload"]
}
`)
	want := []IgnoredColumn{{Table: "AuditLog", Column: "payload"}, {Schema: "public", Table: "Notes", Column: "body"}}
	if diff := cmp.Diff(want, with.Ignore.Columns, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("ignored columns (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		schema, table, column string
		want                  bool
	}{
		{"public", "AuditLog", "payload", true},
		{"other", "AuditLog", "payload", true},
		{"public", "Notes", "body", true},
		{"other", "Notes", "body", false},
		{"public", "auditlog", "payload", false},
	} {
		if got := with.Ignores(tc.schema, tc.table, tc.column); got != tc.want {
			t.Errorf("Ignores(%q, %q, %q) = %v, want %v", tc.schema, tc.table, tc.column, got, tc.want)
		}
	}
	if without.Ignores("public", "AuditLog", "payload") {
		t.Error("a config without an ignore block ignores a column")
	}
	// The ignored columns are part of the digest; a config without the block keeps the
	// digest it always had.
	if without.Digest() == with.Digest() {
		t.Error("the ignore block does not change the digest")
	}
	if strings.Contains(string(without.Settings()), "ignore") {
		t.Errorf("settings without an ignore block mention it: %s", without.Settings())
	}
	if got := with.Changes(without.Settings(), nil); len(got) != 1 || !strings.Contains(got[0], "ignore") {
		t.Errorf("Changes = %q, want one line about ignore", got)
	}
}
