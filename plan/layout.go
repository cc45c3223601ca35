package plan

import (
	"regexp"
	"strings"
)

// A Rule maps a current key to a target key. Exactly one of Prefix and Regex is set.
type Rule struct {
	Name string
	// Prefix matches keys that start with it; the target replaces the prefix.
	Prefix *string
	// Regex must match the whole key; the target is expanded with its captures.
	Regex  *regexp.Regexp
	Target string
}

// Layout is the desired shape of the bucket: an ordered list of rules (the first that
// matches wins) and the prefixes that are already in place and never move.
type Layout struct {
	Placed []string
	Rules  []Rule
}

// IsPlaced reports whether key lies under one of the placed prefixes.
func (l *Layout) IsPlaced(key string) bool {
	for _, p := range l.Placed {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Map returns the target of key under the layout and the rule that chose it; ok is
// false when the key stays where it is (placed, or matched by no rule, or mapped onto
// itself).
func (l *Layout) Map(key string) (target, rule string, ok bool) {
	if l.IsPlaced(key) {
		return "", "", false
	}
	for _, r := range l.Rules {
		t, matched := r.apply(key)
		if !matched {
			continue
		}
		if t == key {
			return "", r.Name, false
		}
		return t, r.Name, true
	}
	return "", "", false
}

func (r *Rule) apply(key string) (string, bool) {
	if r.Prefix != nil {
		if !strings.HasPrefix(key, *r.Prefix) {
			return "", false
		}
		return r.Target + key[len(*r.Prefix):], true
	}
	m := r.Regex.FindStringSubmatchIndex(key)
	if m == nil || m[0] != 0 || m[1] != len(key) {
		return "", false
	}
	return string(r.Regex.ExpandString(nil, r.Target, key, m)), true
}
