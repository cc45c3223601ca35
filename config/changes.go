package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Changes says, one line per setting, how this configuration differs from the Settings
// that a plan recorded: which variable has another value, and which setting of which
// block (with its file:line) reads differently. vars are the variables the plan
// recorded (its non-secret env() and --var values). Nothing secret is in either side.
func (c *Config) Changes(recorded json.RawMessage, vars map[string]string) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(union(vars, c.Vars))) {
		was, had := vars[name]
		now, has := c.Vars[name]
		switch {
		case had && has && was != now:
			out = append(out, fmt.Sprintf("variable %s is %q now, %q in the plan", name, now, was))
		case had && !has:
			out = append(out, fmt.Sprintf("variable %s is unset, empty or no longer read now, %q in the plan", name, was))
		case !had && has:
			out = append(out, fmt.Sprintf("variable %s is %q now, unset or not read in the plan", name, now))
		}
	}
	before, now := flatten(recorded), flatten(c.Settings())
	said := make(map[string]bool) // elements reported whole
	for _, path := range slices.Sorted(maps.Keys(union(before, now))) {
		b, had := before[path]
		n, has := now[path]
		if had && has && b == n {
			continue
		}
		if elem, ok := element(path); ok && (!hasElement(before, elem) || !hasElement(now, elem)) {
			// A whole block added or removed: one line, not one per setting.
			if !said[elem] {
				said[elem] = true
				if hasElement(now, elem) {
					out = append(out, fmt.Sprintf("%s is new, not in the plan", c.describe(elem)))
				} else {
					out = append(out, fmt.Sprintf("%s is gone now, in the plan", c.describe(elem)))
				}
			}
			continue
		}
		if !had {
			b = "nothing"
		}
		if !has {
			n = "nothing"
		}
		out = append(out, fmt.Sprintf("%s is %s now, %s in the plan", c.describe(path), n, b))
	}
	return out
}

// element is the list element a path lies in ("references[\"x\"]" of
// "references[\"x\"].table"), if any.
func element(path string) (string, bool) {
	i := strings.Index(path, "]")
	if i < 0 {
		return "", false
	}
	return path[:i+1], true
}

func hasElement(flat map[string]string, elem string) bool {
	for p := range flat {
		if strings.HasPrefix(p, elem+".") || p == elem {
			return true
		}
	}
	return false
}

// describe names a settings path the way the file spells it, with the block's place.
func (c *Config) describe(path string) string {
	seg := strings.Split(path, ".")
	index := func(s string) int {
		_, after, _ := strings.Cut(s, "[")
		i, err := strconv.Atoi(strings.TrimSuffix(after, "]"))
		if err != nil {
			return -1
		}
		return i
	}
	var block string
	var at *hcl.Range
	rest := seg[1:]
	switch {
	case seg[0] == "bucket":
		block, at = "bucket", &c.Bucket.DeclRange
		if len(rest) > 0 && rest[0] == "endpoint_host" {
			rest[0] = "endpoint (host)"
		}
	case seg[0] == "layout" && len(seg) > 1 && strings.HasPrefix(seg[1], "rules["):
		block, at, rest = "a move rule of layout", &c.Layout.DeclRange, seg[2:]
		if i := index(seg[1]); i >= 0 && i < len(c.Layout.Rules) {
			block, at = fmt.Sprintf("move %q", c.Layout.Rules[i].Name), &c.Layout.Rules[i].DeclRange
		} else {
			block = fmt.Sprintf("move rule %d of layout", index(seg[1])+1)
		}
	case seg[0] == "layout":
		block, at = "layout", &c.Layout.DeclRange
	case strings.HasPrefix(seg[0], "references["):
		name, _ := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(seg[0], "references["), "]"))
		block = fmt.Sprintf("reference %q", name)
		for i := range c.References {
			if c.References[i].Name == name {
				at = &c.References[i].DeclRange
			}
		}
	case seg[0] == "orphans":
		block = "orphans"
		if c.Orphans != nil {
			at = &c.Orphans.DeclRange
		}
	default:
		block = seg[0]
	}
	name := block
	if len(rest) > 0 {
		name += " " + strings.Join(rest, ".")
	}
	if at != nil && at.Filename != "" {
		name += fmt.Sprintf(" (%s:%d)", at.Filename, at.Start.Line)
	}
	return name
}

// flatten maps each leaf of a JSON document to its JSON text, by a path such as
// "layout.rules[0].target". A list's length is a leaf too, so a removed element shows.
func flatten(doc json.RawMessage) map[string]string {
	out := make(map[string]string)
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return out
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, e)
			}
		case []any:
			if len(v) == 0 || !isObject(v[0]) {
				out[path] = jsonText(v)
				return
			}
			for i, e := range v {
				// Elements with a name (references) are keyed by it, so that removing
				// one does not shift the others.
				if name, ok := e.(map[string]any)["name"].(string); ok {
					walk(fmt.Sprintf("%s[%q]", path, name), e)
					continue
				}
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		default:
			out[path] = jsonText(v)
		}
	}
	walk("", v)
	delete(out, "version")
	return out
}

// jsonText is v as JSON, with <, > and & as they are (a where clause reads as written).
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func union[V any](a, b map[string]V) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
