package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// DefaultGracePeriod is the layout's grace_period when the attribute is absent.
const DefaultGracePeriod = 168 * time.Hour

var bucketSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "endpoint"},
		{Name: "name", Required: true},
		{Name: "region"},
		{Name: "access_key_id"},
		{Name: "secret_access_key"},
		{Name: "public_url"},
		{Name: "path_style"},
		{Name: "no_overwrite"},
		{Name: "list_concurrency"},
	},
}

func (d *decoder) bucket(b *hcl.Block) Bucket {
	out := Bucket{Region: "auto", DeclRange: b.DefRange}
	var hits int
	a := d.content(b, bucketSchema).Attributes
	if d.str(a, "endpoint", &out.Endpoint) && out.Endpoint != "" {
		d.checkEndpoint(out.Endpoint, a["endpoint"])
	}
	if d.str(a, "name", &out.Name) {
		d.checkBucketName(out.Name, a["name"])
	}
	if d.str(a, "region", &out.Region) && out.Region == "" {
		d.add(attrError(a["region"], "Empty region", `The region must not be empty; leave the attribute out to use "auto" (right for Cloudflare R2).`))
	}
	d.secret, hits = true, d.unsetSecretHits
	d.str(a, "access_key_id", &out.AccessKeyID)
	d.str(a, "secret_access_key", &out.SecretAccessKey)
	d.secret = false
	if (out.AccessKeyID == "") != (out.SecretAccessKey == "") && hits == d.unsetSecretHits {
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incomplete bucket credentials",
			Detail:   "access_key_id and secret_access_key go together: set both, or neither to use the default credential chain.",
			Subject:  b.DefRange.Ptr(),
		})
	}
	if d.str(a, "public_url", &out.PublicURL) {
		out.PublicURL = d.checkPublicURL(out.PublicURL, a["public_url"])
	} else if a["public_url"] != nil {
		d.publicURLBad = true
	}
	if !d.boolean(a, "path_style", &out.PathStyle) {
		out.PathStyle = out.Endpoint != ""
	}
	out.NoOverwrite = "auto"
	if d.str(a, "no_overwrite", &out.NoOverwrite) {
		switch out.NoOverwrite {
		case "auto", "head", "if-none-match", "r2-header":
		default:
			d.add(attrError(a["no_overwrite"], "Invalid no_overwrite",
				fmt.Sprintf(`no_overwrite is "auto", "head", "if-none-match" or "r2-header", not %q.`, out.NoOverwrite)))
		}
	}
	out.ListConcurrency = DefaultListConcurrency
	if d.integer(a, "list_concurrency", &out.ListConcurrency) && (out.ListConcurrency < 1 || out.ListConcurrency > 256) {
		d.add(attrError(a["list_concurrency"], "Invalid list_concurrency",
			fmt.Sprintf("list_concurrency is how many ranges of keys are listed at once, from 1 (one sequential listing) to 256 (default %d), not %d.", DefaultListConcurrency, out.ListConcurrency)))
	}
	return out
}

var databaseSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "url", Required: true}},
}

func (d *decoder) database(b *hcl.Block) Database {
	out := Database{DeclRange: b.DefRange}
	a := d.content(b, databaseSchema).Attributes
	d.secret = true
	if d.str(a, "url", &out.URL) {
		d.checkDatabaseURL(out.URL, a["url"])
	}
	d.secret = false
	return out
}

var layoutSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "placed"},
		{Name: "grace_period"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "move", LabelNames: []string{"name"}}},
}

func (d *decoder) layout(b *hcl.Block) Layout {
	out := Layout{Placed: []string{}, GracePeriod: DefaultGracePeriod, DeclRange: b.DefRange}
	c := d.content(b, layoutSchema)
	if d.strList(c.Attributes, "placed", &out.Placed) {
		d.checkPlaced(out.Placed, c.Attributes["placed"])
	} else if c.Attributes["placed"] != nil {
		d.placedBad = true
	}
	d.duration(c.Attributes, "grace_period", &out.GracePeriod)
	names := map[string]hcl.Range{}
	for _, mb := range c.Blocks {
		r, target := d.move(mb)
		if first, ok := names[r.Name]; ok {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate move name",
				Detail:   fmt.Sprintf("A move rule named %q was already declared at %s. Each rule needs its own name.", r.Name, first),
				Subject:  mb.DefRange.Ptr(),
			})
			continue
		}
		names[r.Name] = mb.DefRange
		out.Rules = append(out.Rules, r)
		d.targetRanges = append(d.targetRanges, target)
	}
	return out
}

var moveSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "prefix"},
		{Name: "regex"},
		{Name: "target", Required: true},
	},
}

// move decodes one rule and returns the range of its target expression.
func (d *decoder) move(b *hcl.Block) (Rule, hcl.Range) {
	r := Rule{Name: d.label(b, "move"), DeclRange: b.DefRange}
	a := d.content(b, moveSchema).Attributes
	_, hasPrefix := a["prefix"]
	_, hasRegex := a["regex"]
	switch {
	case hasPrefix && hasRegex:
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Both prefix and regex set",
			Detail:   fmt.Sprintf("Move rule %q sets both prefix and regex; a rule matches keys by exactly one of them.", r.Name),
			Subject:  b.DefRange.Ptr(),
		})
	case !hasPrefix && !hasRegex:
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing prefix or regex",
			Detail:   fmt.Sprintf(`Move rule %q needs prefix (prefix = "" matches every key) or regex to say which keys it matches.`, r.Name),
			Subject:  b.DefRange.Ptr(),
		})
	}
	var prefix, src string
	if d.str(a, "prefix", &prefix) && !hasRegex {
		r.Prefix = &prefix
	}
	if d.str(a, "regex", &src) && !hasPrefix {
		r.Regex = d.compile(src, a["regex"])
	}
	var targetRange hcl.Range
	if ta, ok := a["target"]; ok {
		targetRange = ta.Expr.Range()
		if d.str(a, "target", &r.Target) {
			switch {
			case r.Target == "":
				d.add(attrError(ta, "Empty target", fmt.Sprintf("Move rule %q has an empty target; every matched key needs somewhere to go.", r.Name)))
			case r.Regex != nil:
				d.checkExpansion(r, ta)
			}
		}
	}
	return r, targetRange
}

// compile compiles a rule's regex so that it matches whole keys.
func (d *decoder) compile(src string, a *hcl.Attribute) *regexp.Regexp {
	if _, err := regexp.Compile(src); err != nil {
		d.add(attrError(a, "Invalid regex", fmt.Sprintf("The regex does not compile: %s. It is a Go regular expression (RE2 syntax: https://golang.org/s/re2syntax).", strings.TrimPrefix(err.Error(), "error parsing regexp: "))))
		return nil
	}
	return regexp.MustCompile(`^(?:` + src + `)$`)
}

var referenceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "schema"},
		{Name: "table", Required: true},
		{Name: "primary_key", Required: true},
		{Name: "key_column"},
		{Name: "url_column"},
		{Name: "where"},
	},
}

func (d *decoder) reference(b *hcl.Block) Reference {
	r := Reference{Name: d.label(b, "reference"), DeclRange: b.DefRange}
	a := d.content(b, referenceSchema).Attributes
	nonEmpty := func(name string, dst *string) {
		if d.str(a, name, dst) && *dst == "" {
			d.add(attrError(a[name], fmt.Sprintf("Empty %s", name), fmt.Sprintf("Reference %q has an empty %s; leave the attribute out instead.", r.Name, name)))
		}
	}
	nonEmpty("schema", &r.Schema)
	nonEmpty("table", &r.Table)
	nonEmpty("primary_key", &r.PrimaryKey)
	nonEmpty("key_column", &r.KeyColumn)
	nonEmpty("url_column", &r.URLColumn)
	nonEmpty("where", &r.Where)
	_, hasKey := a["key_column"]
	_, hasURL := a["url_column"]
	if !hasKey && !hasURL {
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Reference without a column",
			Detail:   fmt.Sprintf("Reference %q needs key_column (a column holding object keys), url_column (a column holding public URLs), or both.", r.Name),
			Subject:  b.DefRange.Ptr(),
		})
	}
	if r.KeyColumn != "" && r.KeyColumn == r.URLColumn {
		d.add(attrError(a["url_column"], "Same column for key and URL", fmt.Sprintf("Reference %q names column %q as both key_column and url_column; a column holds either object keys or URLs.", r.Name, r.URLColumn)))
	}
	if r.URLColumn != "" {
		d.urlColumns[r.Name] = a["url_column"].Expr.Range()
	}
	return r
}

var orphansSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "scope", Required: true},
		{Name: "min_age", Required: true},
		{Name: "protect"},
		{Name: "max_delete"},
	},
}

func (d *decoder) orphans(b *hcl.Block) *Orphans {
	out := &Orphans{Scope: []string{}, Protect: []string{}, DeclRange: b.DefRange}
	a := d.content(b, orphansSchema).Attributes
	if d.strList(a, "scope", &out.Scope) && len(out.Scope) == 0 {
		d.add(attrError(a["scope"], "Empty orphan scope", `scope lists the prefixes in which unreferenced objects may be deleted; [""] means the whole bucket. Leave the orphans block out to never delete orphans.`))
	}
	d.duration(a, "min_age", &out.MinAge)
	if d.strList(a, "protect", &out.Protect) {
		for _, p := range out.Protect {
			if p == "" {
				d.add(attrError(a["protect"], "Empty protected prefix", `A protected prefix "" would protect every key, so no orphan could ever be deleted.`))
			}
		}
	}
	if d.integer(a, "max_delete", &out.MaxDelete) && out.MaxDelete < 1 {
		d.add(attrError(a["max_delete"], "Invalid max_delete", fmt.Sprintf("max_delete is a delete budget per plan and must be at least 1, not %d; leave it out for no budget.", out.MaxDelete)))
	}
	return out
}

func attrError(a *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  a.Expr.Range().Ptr(),
	}
}
