package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// validate runs the checks that span blocks. Attribute-level checks run as each
// attribute is decoded (the helpers below).
func (d *decoder) validate(cfg *Config) {
	if cfg.Bucket.PublicURL == "" && !d.publicURLBad {
		for _, r := range cfg.References {
			if rng, ok := d.urlColumns[r.Name]; ok {
				d.add(&hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "url_column without bucket public_url",
					Detail:   fmt.Sprintf("Reference %q has a url_column, so r2plan must know which URLs point into the bucket: set public_url in the bucket block.", r.Name),
					Subject:  rng.Ptr(),
				})
			}
		}
	}

	if d.placedBad {
		return
	}
	placed := cfg.Layout.Placed
	for i, r := range cfg.Layout.Rules {
		rng := d.targetRanges[i]
		switch {
		case r.Target == "":
		case r.Prefix != nil && len(placed) > 0 && !underAny(r.Target, placed):
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Target outside every placed prefix",
				Detail: fmt.Sprintf("Move rule %q moves keys under %q, which is under none of the placed prefixes (%s): once moved, those objects would be moved again by the next plan. Make the target start with a placed prefix, or add it to placed.",
					r.Name, r.Target, quoteList(placed)),
				Subject: rng.Ptr(),
			})
		case r.Regex != nil && len(placed) > 0 && !compatibleWithAny(literalPrefix(r.Target), placed):
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Target outside every placed prefix",
				Detail: fmt.Sprintf("Every key moved by rule %q starts with %q, which can be under none of the placed prefixes (%s): once moved, those objects would be moved again by the next plan.",
					r.Name, literalPrefix(r.Target), quoteList(placed)),
				Subject: rng.Ptr(),
			})
		case r.Prefix != nil && len(placed) == 0 && strings.HasPrefix(r.Target, *r.Prefix):
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Rule moves keys into its own prefix",
				Detail: fmt.Sprintf("Move rule %q moves keys from %q to %q, where the same rule matches them again: every plan would move them once more. List the target in placed, e.g. placed = [%q].",
					r.Name, *r.Prefix, r.Target, r.Target),
				Subject: rng.Ptr(),
			})
		}
		if r.Prefix != nil && len(placed) > 0 && underAny(*r.Prefix, placed) {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Rule never matches",
				Detail:   fmt.Sprintf("Move rule %q matches keys under %q, which is a placed prefix: placed keys are never moved.", r.Name, *r.Prefix),
				Subject:  r.DeclRange.Ptr(),
			})
		}
		for _, earlier := range cfg.Layout.Rules[:i] {
			if earlier.Prefix != nil && (r.Prefix != nil && strings.HasPrefix(*r.Prefix, *earlier.Prefix) || r.Regex != nil && *earlier.Prefix == "") {
				d.add(&hcl.Diagnostic{
					Severity: hcl.DiagWarning,
					Summary:  "Unreachable move rule",
					Detail:   fmt.Sprintf("Every key move rule %q could match is matched first by rule %q (prefix %q); the first matching rule wins. Put the more specific rule first.", r.Name, earlier.Name, *earlier.Prefix),
					Subject:  r.DeclRange.Ptr(),
				})
				break
			}
		}
	}
}

func (d *decoder) checkEndpoint(s string, a *hcl.Attribute) {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		d.add(attrError(a, "Invalid endpoint", "The endpoint must be an absolute http:// or https:// URL, like https://ACCOUNT_ID.r2.cloudflarestorage.com."))
	case u.User != nil:
		d.add(attrError(a, "Credentials in endpoint", "The endpoint URL must not contain a user or password; use access_key_id and secret_access_key."))
	}
}

func (d *decoder) checkBucketName(s string, a *hcl.Attribute) {
	if s == "" || strings.ContainsAny(s, "/ ") {
		d.add(attrError(a, "Invalid bucket name", "The bucket name must not be empty and must not contain \"/\" or spaces."))
	}
}

// checkPublicURL validates public_url and returns it without a trailing "/".
func (d *decoder) checkPublicURL(s string, a *hcl.Attribute) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		d.add(attrError(a, "Invalid public_url", fmt.Sprintf("public_url must be an absolute http:// or https:// URL without user, query or fragment, like https://media.example.com; got %q.", s)))
		d.publicURLBad = true
		return s
	}
	return strings.TrimRight(s, "/")
}

// checkDatabaseURL checks the scheme only. The URL is a secret: the message names at
// most its scheme.
func (d *decoder) checkDatabaseURL(s string, a *hcl.Attribute) {
	for _, p := range []string{"postgres://", "postgresql://", "sqlite:"} {
		if strings.HasPrefix(s, p) {
			if p == "sqlite:" && strings.Trim(strings.TrimPrefix(s, p), "/") == "" {
				d.add(attrError(a, "Invalid database URL", "A SQLite URL needs a path: sqlite:PATH, sqlite://PATH or sqlite::memory:."))
			}
			return
		}
	}
	got := "it has no scheme"
	if m := schemeRE.FindStringSubmatch(s); m != nil {
		got = fmt.Sprintf("its scheme is %q", m[1])
	}
	d.add(attrError(a, "Unsupported database URL", fmt.Sprintf("The database URL must start with postgres://, postgresql:// or sqlite:, but %s.", got)))
}

var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]{0,15}):`)

// checkPlaced requires each placed prefix to be a non-empty "directory" ending in "/":
// "" would place every key, and "dev" would also place "devices/…".
func (d *decoder) checkPlaced(placed []string, a *hcl.Attribute) {
	seen := map[string]bool{}
	bad := len(d.diags)
	defer func() { d.placedBad = d.placedBad || len(d.diags) > bad }()
	for _, p := range placed {
		switch {
		case p == "":
			d.add(attrError(a, "Invalid placed prefix", `A placed prefix "" would place every key, so nothing would ever move.`))
		case !strings.HasSuffix(p, "/"):
			d.add(attrError(a, "Invalid placed prefix", fmt.Sprintf("Placed prefix %q must end with \"/\" (write %q): without it, it would also place keys like %q.", p, p+"/", p+"-other/x")))
		case strings.HasPrefix(p, "/"):
			d.add(attrError(a, "Invalid placed prefix", fmt.Sprintf("Placed prefix %q starts with \"/\"; object keys rarely do. Write %q.", p, strings.TrimLeft(p, "/"))))
		case seen[p]:
			d.add(attrError(a, "Duplicate placed prefix", fmt.Sprintf("Placed prefix %q is listed twice.", p)))
		}
		seen[p] = true
	}
}

// duration decodes a Go duration string such as "168h"; absent leaves dst unchanged.
func (d *decoder) duration(attrs hcl.Attributes, name string, dst *time.Duration) {
	var s string
	if !d.str(attrs, name, &s) {
		return
	}
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		d.add(attrError(attrs[name], "Invalid duration", fmt.Sprintf("%s = %q is not a Go duration. Use a number with a unit (h, m, s): 7 days is \"168h\".", name, s)))
	case v < 0:
		d.add(attrError(attrs[name], "Invalid duration", fmt.Sprintf("%s = %q is negative.", name, s)))
	default:
		*dst = v
	}
}

// checkExpansion checks that a regex rule's target refers only to capture groups
// its regex has: regexp.Expand silently expands an unknown name to "", and "$idx"
// means ${idx}, not ${id}x.
func (d *decoder) checkExpansion(r Rule, a *hcl.Attribute) {
	names := r.Regex.SubexpNames()
	for _, ref := range expansionRefs(r.Target) {
		if isDigits(ref) {
			if i, err := strconv.Atoi(ref); err == nil && i <= r.Regex.NumSubexp() {
				continue
			}
		} else if slices.Contains(names[1:], ref) {
			continue
		}
		d.add(attrError(a, "Unknown capture group in target", fmt.Sprintf("The target of move rule %q refers to ${%s}, but its regex has no such capture group (it has %s). Write ${name} as $${name} in HCL, and $$ for a literal $.",
			r.Name, ref, describeGroups(r.Regex))))
	}
}

// expansionRefs returns the group names and numbers that regexp.Expand would read
// from template: $name, ${name}, $1; "$$" is a literal "$".
func expansionRefs(template string) []string {
	var out []string
	for i := 0; i < len(template); i++ {
		if template[i] != '$' || i+1 >= len(template) {
			continue
		}
		switch c := template[i+1]; {
		case c == '$':
			i++
		case c == '{':
			if end := strings.IndexByte(template[i+2:], '}'); end > 0 {
				out = append(out, template[i+2:i+2+end])
				i += 2 + end
			}
		default:
			j := i + 1
			for j < len(template) && isWordByte(template[j]) {
				j++
			}
			if j > i+1 {
				out = append(out, template[i+1:j])
				i = j - 1
			}
		}
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func describeGroups(re *regexp.Regexp) string {
	var parts []string
	for i, n := range re.SubexpNames()[1:] {
		if n != "" {
			parts = append(parts, fmt.Sprintf("$%d or ${%s}", i+1, n))
		} else {
			parts = append(parts, fmt.Sprintf("$%d", i+1))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// literalPrefix is the part of a regexp.Expand template before its first "$" that is
// not "$$": every expansion starts with it.
func literalPrefix(template string) string {
	var b strings.Builder
	for i := 0; i < len(template); i++ {
		if template[i] == '$' {
			if i+1 < len(template) && template[i+1] == '$' {
				b.WriteByte('$')
				i++
				continue
			}
			break
		}
		b.WriteByte(template[i])
	}
	return b.String()
}

func underAny(key string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(key, p) })
}

// compatibleWithAny reports whether some string starting with lit could lie under
// one of prefixes.
func compatibleWithAny(lit string, prefixes []string) bool {
	return slices.ContainsFunc(prefixes, func(p string) bool {
		return strings.HasPrefix(lit, p) || strings.HasPrefix(p, lit)
	})
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}
