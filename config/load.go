package config

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Load reads and decodes one file. lookupEnv is os.LookupEnv in production; env()
// consults vars before it. Load returns diagnostics for every problem found; the
// Config is nil if any of them is an error. The parsed file is kept for
// WriteDiagnostics.
func Load(filename string, vars map[string]string, lookupEnv func(string) (string, bool)) (*Config, hcl.Diagnostics) {
	return LoadWith(filename, vars, lookupEnv, LoadOptions{})
}

// LoadOptions change what Load accepts.
type LoadOptions struct {
	// AllowUnsetSecrets accepts a variable that is unset (with no default) when its
	// value flows only into access_key_id, secret_access_key or the database url:
	// those fields stay empty, their checks are skipped, and the variable is named in
	// Config.UnsetSecrets. Any other unset variable is an error as always, NODE_ENV
	// choosing the layout included. For validating without secrets (a fork's pull
	// request, a CI job without credentials); such a Config must not open a server.
	AllowUnsetSecrets bool
}

// LoadWith is Load with options.
func LoadWith(filename string, vars map[string]string, lookupEnv func(string) (string, bool), opts LoadOptions) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(filename)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read config file",
			Detail:   fmt.Sprintf("Cannot read %s: %v.", filename, err),
		}}
	}
	return loadSource(filename, src, vars, lookupEnv, opts)
}

// LoadSource is Load for in-memory source.
func LoadSource(filename string, src []byte, vars map[string]string, lookupEnv func(string) (string, bool)) (*Config, hcl.Diagnostics) {
	return loadSource(filename, src, vars, lookupEnv, LoadOptions{})
}

func loadSource(filename string, src []byte, vars map[string]string, lookupEnv func(string) (string, bool), opts LoadOptions) (*Config, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	file, diags := parser.ParseHCL(src, filename)
	remember(parser.Files())
	if file == nil || diags.HasErrors() {
		return nil, diags
	}
	if !opts.AllowUnsetSecrets {
		cfg, more, _ := decodeFile(filename, file.Body, vars, lookupEnv, nil)
		return cfg, append(diags, more...)
	}
	// First with every unset variable allowed, to see where each one flows; then, if
	// some reached more than secrets, again with only those that did not, so the
	// others fail exactly as without the option.
	cfg, more, d := decodeFile(filename, file.Body, vars, lookupEnv, func(string) bool { return true })
	secretOnly := d.unsetSecretOnly()
	if len(secretOnly) < len(d.e.unset) {
		cfg, more, d = decodeFile(filename, file.Body, vars, lookupEnv, func(name string) bool { return slices.Contains(secretOnly, name) })
		if got := d.unsetSecretOnly(); len(got) < len(d.e.unset) {
			// Cannot happen: the same evaluation, fewer unknowns.
			return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unset variables",
				Detail: fmt.Sprintf("The variables %q are not set.", slices.Sorted(maps.Keys(d.e.unset)))})
		}
	}
	if cfg != nil {
		cfg.UnsetSecrets = secretOnly
	}
	return cfg, append(diags, more...)
}

// decodeFile decodes a parsed file. allowUnset is the evaluator's (nil: every
// variable without a default must be set).
func decodeFile(filename string, body hcl.Body, vars map[string]string, lookupEnv func(string) (string, bool), allowUnset func(string) bool) (*Config, hcl.Diagnostics, *decoder) {
	e := newEvaluator(vars, lookupEnv)
	e.allowUnset = allowUnset
	d := &decoder{e: e, unsetSecret: map[string]bool{}, unsetOther: map[string]bool{}}
	cfg := d.file(filename, body)
	diags := d.diags

	cfg.EnvRead = slices.Sorted(maps.Keys(e.read))
	secrets := cfg.Secrets()
	cfg.Vars = publicVars(e.read, secrets)
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if _, ok := e.read[name]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Unused variable",
				Detail:   fmt.Sprintf("--var %s was given, but nothing in %s reads it with env(%q) or var.%s.", name, filename, name, name),
			})
		}
	}

	scrub(diags, append(secrets, secretLooking(e.read)...))
	if diags.HasErrors() {
		return nil, diags, d
	}
	return cfg, diags, d
}

// unsetSecretOnly returns the unset variables that reached a secret attribute and no
// other, sorted.
func (d *decoder) unsetSecretOnly() []string {
	var out []string
	for name := range d.e.unset {
		if d.unsetSecret[name] && !d.unsetOther[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// publicVars returns the values read that are not secret: a value is left out if it is
// empty, or equal to, a substring of, or a superstring of any secret.
func publicVars(read map[string]string, secrets []string) map[string]string {
	out := map[string]string{}
	for name, v := range read {
		if v == "" || slices.ContainsFunc(secrets, func(s string) bool {
			return strings.Contains(s, v) || strings.Contains(v, s)
		}) {
			continue
		}
		out[name] = v
	}
	return out
}

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "locals"},
		{Type: "bucket"},
		{Type: "database"},
		{Type: "layout"},
		{Type: "reference", LabelNames: []string{"name"}},
		{Type: "orphans"},
		{Type: "ignore"},
	},
}

// decoder decodes blocks into a Config, collecting diagnostics.
type decoder struct {
	e     *evaluator
	diags hcl.Diagnostics

	// Ranges kept for the checks that span blocks (validate.go).
	targetRanges []hcl.Range          // parallel to Layout.Rules
	urlColumns   map[string]hcl.Range // reference name -> url_column attribute
	// block is "bucket" or "database" while one of those is decoded: the variables
	// their attributes read are kept in sources, by "block.attribute".
	block   string
	sources map[string][]string
	// Set when an attribute was present but failed, so the checks that depend on it
	// are skipped rather than reported as a second, misleading error.
	placedBad, publicURLBad bool

	// Where the values of unset variables went (LoadOptions.AllowUnsetSecrets):
	// secret is set while a secret attribute is decoded.
	secret                  bool
	unsetSecret, unsetOther map[string]bool
	unsetSecretHits         int // secret attributes left unknown by an unset variable
}

func (d *decoder) add(ds ...*hcl.Diagnostic) { d.diags = append(d.diags, ds...) }

func (d *decoder) file(filename string, body hcl.Body) *Config {
	cfg := &Config{Filename: filename}
	d.urlColumns = map[string]hcl.Range{}
	d.sources = map[string][]string{}
	cfg.Sources = d.sources
	content, diags := body.Content(fileSchema)
	d.add(diags...)

	// Locals first: everything else may refer to them.
	var locals []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == "locals" {
			locals = append(locals, b)
		}
	}
	d.locals(locals)

	seen := map[string]*hcl.Block{}
	once := func(b *hcl.Block) bool {
		if first, ok := seen[b.Type]; ok {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s block", b.Type),
				Detail:   fmt.Sprintf("Only one %s block is allowed; the first was declared at %s.", b.Type, first.DefRange),
				Subject:  b.DefRange.Ptr(),
			})
			return false
		}
		seen[b.Type] = b
		return true
	}
	refNames := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "bucket":
			if once(b) {
				d.block = "bucket"
				cfg.Bucket = d.bucket(b)
				d.block = ""
			}
		case "database":
			if once(b) {
				d.block = "database"
				cfg.Database = d.database(b)
				d.block = ""
			}
		case "layout":
			if once(b) {
				cfg.Layout = d.layout(b)
			}
		case "orphans":
			if once(b) {
				cfg.Orphans = d.orphans(b)
			}
		case "ignore":
			if once(b) {
				cfg.Ignore = d.ignore(b)
			}
		case "reference":
			r := d.reference(b)
			if first, ok := refNames[r.Name]; ok {
				d.add(&hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate reference name",
					Detail:   fmt.Sprintf("A reference named %q was already declared at %s. Each reference needs its own name.", r.Name, first),
					Subject:  b.DefRange.Ptr(),
				})
				continue
			}
			refNames[r.Name] = b.DefRange
			cfg.References = append(cfg.References, r)
		}
	}
	for _, t := range []string{"bucket", "database", "layout"} {
		if _, ok := seen[t]; !ok {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Missing %s block", t),
				Detail:   fmt.Sprintf("A configuration needs exactly one %s block.", t),
				Subject:  body.MissingItemRange().Ptr(),
			})
		}
	}
	d.validate(cfg)
	return cfg
}

// locals evaluates every local value in dependency order. A local whose evaluation
// fails, or that is part of a cycle, becomes unknown so that its users are skipped
// rather than reported again.
func (d *decoder) locals(blocks []*hcl.Block) {
	var attrs []*hcl.Attribute
	byName := map[string]*hcl.Attribute{}
	for _, b := range blocks {
		as, diags := b.Body.JustAttributes()
		d.add(diags...)
		for _, a := range sortedAttrs(as) {
			if first, ok := byName[a.Name]; ok {
				d.add(&hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate local value",
					Detail:   fmt.Sprintf("A local value named %q was already declared at %s.", a.Name, first.NameRange),
					Subject:  a.NameRange.Ptr(),
				})
				continue
			}
			byName[a.Name] = a
			attrs = append(attrs, a)
			d.e.declared[a.Name] = true
		}
	}
	deps := func(a *hcl.Attribute) []string {
		var out []string
		for _, t := range a.Expr.Variables() {
			if name, ok := attrStep(t); ok && t.RootName() == "local" && byName[name] != nil {
				out = append(out, name)
			}
		}
		return out
	}
	pending := attrs
	for len(pending) > 0 {
		var next []*hcl.Attribute
		for _, a := range pending {
			ready := true
			for _, dep := range deps(a) {
				if _, ok := d.e.locals[dep]; !ok {
					ready = false
				}
			}
			if !ready {
				next = append(next, a)
				continue
			}
			v, read, diags := d.e.evalTracked(a.Expr)
			d.add(diags...)
			if diags.HasErrors() {
				v = cty.DynamicVal
			}
			d.e.locals[a.Name] = v
			d.e.localReads[a.Name] = make(map[string]bool, len(read))
			for _, name := range read {
				d.e.localReads[a.Name][name] = true
			}
		}
		if len(next) == len(pending) {
			names := make([]string, len(next))
			for i, a := range next {
				names[i] = "local." + a.Name
			}
			for _, a := range next {
				d.add(&hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Circular reference between local values",
					Detail:   fmt.Sprintf("local.%s cannot be evaluated: %s refer to each other in a cycle.", a.Name, strings.Join(names, ", ")),
					Subject:  a.NameRange.Ptr(),
				})
				d.e.locals[a.Name] = cty.DynamicVal
			}
			return
		}
		pending = next
	}
}

// sortedAttrs returns attributes in source order (JustAttributes returns a map).
func sortedAttrs(as hcl.Attributes) []*hcl.Attribute {
	out := slices.Collect(maps.Values(as))
	slices.SortFunc(out, func(a, b *hcl.Attribute) int { return a.Range.Start.Byte - b.Range.Start.Byte })
	return out
}

// content decodes a block body against schema.
func (d *decoder) content(b *hcl.Block, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := b.Body.Content(schema)
	d.add(diags...)
	return c
}

// label checks that a block label is a valid identifier.
func (d *decoder) label(b *hcl.Block, what string) string {
	if len(b.Labels) == 0 {
		return ""
	}
	name := b.Labels[0]
	if !hclsyntax.ValidIdentifier(name) {
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s name", what),
			Detail:   fmt.Sprintf("%q is not a valid name: a name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", name),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	return name
}

// value evaluates an attribute and converts it to ty. It returns false, with or without
// a diagnostic, when the attribute is absent, null, unknown (a reported error upstream)
// or of the wrong type.
func (d *decoder) value(attrs hcl.Attributes, name string, ty cty.Type) (cty.Value, bool) {
	a, ok := attrs[name]
	if !ok {
		return cty.NilVal, false
	}
	v, read, diags := d.e.evalTracked(a.Expr)
	d.add(diags...)
	v, marks := v.UnmarkDeep()
	for m := range marks {
		if u, ok := m.(unsetVar); ok && d.secret {
			d.unsetSecret[u.name] = true
		} else if ok {
			d.unsetOther[u.name] = true
		}
	}
	if d.secret && len(marks) > 0 && !v.IsWhollyKnown() {
		d.unsetSecretHits++
	}
	if d.block != "" && len(read) > 0 {
		d.sources[d.block+"."+name] = read
	}
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, err),
			Subject:  a.Expr.Range().Ptr(),
		})
		return cty.NilVal, false
	}
	if !cv.IsWhollyKnown() {
		return cty.NilVal, false
	}
	if ty.IsListType() {
		for it := cv.ElementIterator(); it.Next(); {
			if _, ev := it.Element(); ev.IsNull() {
				d.add(&hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Incorrect attribute value type",
					Detail:   fmt.Sprintf("Inappropriate value for attribute %q: the list must not contain null.", name),
					Subject:  a.Expr.Range().Ptr(),
				})
				return cty.NilVal, false
			}
		}
	}
	return cv, true
}

func (d *decoder) str(attrs hcl.Attributes, name string, dst *string) bool {
	v, ok := d.value(attrs, name, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

func (d *decoder) strList(attrs hcl.Attributes, name string, dst *[]string) bool {
	v, ok := d.value(attrs, name, cty.List(cty.String))
	if !ok {
		return false
	}
	out := []string{}
	for _, ev := range v.AsValueSlice() {
		out = append(out, ev.AsString())
	}
	*dst = out
	return true
}

func (d *decoder) boolean(attrs hcl.Attributes, name string, dst *bool) bool {
	v, ok := d.value(attrs, name, cty.Bool)
	if ok {
		*dst = v.True()
	}
	return ok
}

func (d *decoder) integer(attrs hcl.Attributes, name string, dst *int) bool {
	v, ok := d.value(attrs, name, cty.Number)
	if !ok {
		return false
	}
	if err := gocty.FromCtyValue(v, dst); err != nil {
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("Inappropriate value for attribute %q: a whole number is required.", name),
			Subject:  attrs[name].Expr.Range().Ptr(),
		})
		return false
	}
	return true
}
