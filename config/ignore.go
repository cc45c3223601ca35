package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// An IgnoredColumn is a column that no reference declares and that the team has
// checked: discovery and the deletion guard do not read it.
type IgnoredColumn struct {
	Schema string // "" matches the table in any schema r2plan reads
	Table  string
	Column string
}

// String is "table.column" or "schema.table.column", as the configuration spells it.
func (c IgnoredColumn) String() string {
	if c.Schema == "" {
		return c.Table + "." + c.Column
	}
	return c.Schema + "." + c.Table + "." + c.Column
}

// Matches reports whether the entry names column of table in schema.
func (c IgnoredColumn) Matches(schema, table, column string) bool {
	return (c.Schema == "" || c.Schema == schema) && c.Table == table && c.Column == column
}

// Ignore is the ignore block: columns that name no object, by the team's own check.
type Ignore struct {
	Columns   []IgnoredColumn
	DeclRange hcl.Range
}

// Ignores reports whether the ignore block names column of table in schema.
func (c *Config) Ignores(schema, table, column string) bool {
	if c.Ignore == nil {
		return false
	}
	for _, ic := range c.Ignore.Columns {
		if ic.Matches(schema, table, column) {
			return true
		}
	}
	return false
}

var ignoreSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "columns", Required: true}},
}

func (d *decoder) ignore(b *hcl.Block) *Ignore {
	out := &Ignore{DeclRange: b.DefRange}
	a := d.content(b, ignoreSchema).Attributes
	var entries []string
	if !d.strList(a, "columns", &entries) {
		return out
	}
	seen := map[IgnoredColumn]bool{}
	for _, e := range entries {
		parts := strings.Split(e, ".")
		var ic IgnoredColumn
		switch len(parts) {
		case 2:
			ic = IgnoredColumn{Table: parts[0], Column: parts[1]}
		case 3:
			ic = IgnoredColumn{Schema: parts[0], Table: parts[1], Column: parts[2]}
		}
		if ic.Table == "" || ic.Column == "" || len(parts) == 3 && ic.Schema == "" {
			d.add(attrError(a["columns"], "Invalid ignored column",
				fmt.Sprintf(`%q is not a column: write "table.column" or "schema.table.column", names as the database spells them (case-sensitive, no quotes).`, e)))
			continue
		}
		if seen[ic] {
			continue
		}
		seen[ic] = true
		out.Columns = append(out.Columns, ic)
	}
	return out
}
