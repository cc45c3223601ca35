package config

import (
	"fmt"
	"maps"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// evaluator evaluates expressions: it owns the functions, the --var values, the
// environment, the evaluated locals, and the record of every variable read.
type evaluator struct {
	vars      map[string]string
	lookupEnv func(string) (string, bool)
	funcs     map[string]function.Function

	declared map[string]bool      // local names declared in the file
	locals   map[string]cty.Value // local values evaluated so far
	read     map[string]string    // variable name -> value used (env() or var.NAME)

	// allowUnset, when set, says which unset variables evaluate to an unknown value
	// marked unsetVar{name} instead of failing (see LoadOptions.AllowUnsetSecrets).
	allowUnset func(name string) bool
	unset      map[string]bool // the variables so evaluated
	// cur, when not nil, collects the names of the variables read by the expression
	// being evaluated, those of the locals it refers to included; localReads holds
	// each evaluated local's.
	cur        map[string]bool
	localReads map[string]map[string]bool
}

// unsetVar marks a value that depends on an unset variable.
type unsetVar struct{ name string }

// unsetVal returns the stand-in for unset variable name, or false when name must be
// set.
func (e *evaluator) unsetVal(name string) (cty.Value, bool) {
	if e.allowUnset == nil || !e.allowUnset(name) {
		return cty.NilVal, false
	}
	e.unset[name] = true
	return cty.UnknownVal(cty.String).Mark(unsetVar{name}), true
}

func newEvaluator(vars map[string]string, lookupEnv func(string) (string, bool)) *evaluator {
	e := &evaluator{
		vars:       vars,
		lookupEnv:  lookupEnv,
		declared:   map[string]bool{},
		locals:     map[string]cty.Value{},
		read:       map[string]string{},
		unset:      map[string]bool{},
		localReads: map[string]map[string]bool{},
	}
	e.funcs = map[string]function.Function{
		"env":           e.envFunc(),
		"lower":         stdlib.LowerFunc,
		"upper":         stdlib.UpperFunc,
		"replace":       stdlib.ReplaceFunc,
		"regex_replace": stdlib.RegexReplaceFunc,
		"trimprefix":    stdlib.TrimPrefixFunc,
		"trimsuffix":    stdlib.TrimSuffixFunc,
		"trimspace":     stdlib.TrimSpaceFunc,
		"format":        stdlib.FormatFunc,
		"join":          stdlib.JoinFunc,
		"split":         stdlib.SplitFunc,
		"concat":        stdlib.ConcatFunc,
		"coalesce":      coalesceFunc,
		"contains":      stdlib.ContainsFunc,
		"length":        stdlib.LengthFunc,
		"substr":        stdlib.SubstrFunc,
	}
	return e
}

// lookup reads a variable: --var values first, then the environment. An empty value
// counts as unset, so NODE_ENV= in a .env file cannot silently select a default layout.
func (e *evaluator) lookup(name string) (string, bool) {
	if v, ok := e.vars[name]; ok && v != "" {
		return v, true
	}
	if e.lookupEnv != nil {
		if v, ok := e.lookupEnv(name); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// envFunc is env(name) or env(name, default).
func (e *evaluator) envFunc() function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of a --var or environment variable, or the default when it is unset or empty.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(2, "env takes a name and at most one default")
			}
			name := args[0].AsString()
			if name == "" {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the variable name must not be empty")
			}
			if v, ok := e.lookup(name); ok {
				e.read[name] = v
				e.note(name)
				return cty.StringVal(v), nil
			}
			if len(args) == 2 {
				d := args[1].AsString()
				e.read[name] = d
				e.note(name)
				return cty.StringVal(d), nil
			}
			if v, ok := e.unsetVal(name); ok {
				return v, nil
			}
			return cty.UnknownVal(cty.String), fmt.Errorf(
				"environment variable %s is not set (or is empty). Set it, pass --var %s=VALUE, or give a default: env(%q, \"VALUE\")",
				name, name, name)
		},
	})
}

// eval evaluates expr against the locals evaluated so far, the var.NAME values it
// refers to, and the functions. References to undeclared locals and to vars that
// were not given are reported here, with the range of the reference.
func (e *evaluator) eval(expr hcl.Expression) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vars := map[string]cty.Value{}
	for _, t := range expr.Variables() {
		switch t.RootName() {
		case "var":
			name, ok := attrStep(t)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference",
					Detail:   `A reference to a variable is var.NAME, like var.NODE_ENV.`,
					Subject:  t.SourceRange().Ptr(),
				})
				continue
			}
			v, ok := e.lookup(name)
			if !ok {
				if u, ok := e.unsetVal(name); ok {
					vars[name] = u
					continue
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Undefined variable",
					Detail:   fmt.Sprintf("No value was given for var.%s. Pass --var %s=VALUE, or use env(%q, \"DEFAULT\") to fall back on a default.", name, name, name),
					Subject:  t.SourceRange().Ptr(),
				})
				continue
			}
			e.read[name] = v
			e.note(name)
			vars[name] = cty.StringVal(v)
		case "local":
			name, ok := attrStep(t)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference",
					Detail:   `A reference to a local value is local.NAME, like local.env.`,
					Subject:  t.SourceRange().Ptr(),
				})
				continue
			}
			for v := range e.localReads[name] {
				e.note(v)
			}
			if !e.declared[name] {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared local value",
					Detail:   fmt.Sprintf("No local value named %q is declared in a locals block.", name),
					Subject:  t.SourceRange().Ptr(),
				})
			}
		}
	}
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   objectOf(vars),
			"local": objectOf(e.locals),
		},
		Functions: e.funcs,
	}
	v, d := expr.Value(ctx)
	return v, append(diags, d...)
}

// note records that the expression being evaluated read the variable name.
func (e *evaluator) note(name string) {
	if e.cur != nil {
		e.cur[name] = true
	}
}

// evalTracked is eval that also returns the names of the variables expr read,
// directly or through locals, sorted.
func (e *evaluator) evalTracked(expr hcl.Expression) (cty.Value, []string, hcl.Diagnostics) {
	outer := e.cur
	e.cur = map[string]bool{}
	v, diags := e.eval(expr)
	read := slices.Sorted(maps.Keys(e.cur))
	for name := range e.cur {
		if outer != nil {
			outer[name] = true
		}
	}
	e.cur = outer
	return v, read, diags
}

func objectOf(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// attrStep returns NAME from a traversal root.NAME….
func attrStep(t hcl.Traversal) (string, bool) {
	if len(t) < 2 {
		return "", false
	}
	a, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		return "", false
	}
	return a.Name, true
}

// coalesceFunc returns its first argument that is neither null nor "", as Terraform's
// coalesce does for strings (cty's stdlib version keeps ""): coalesce(env("X", ""), "y").
var coalesceFunc = function.New(&function.Spec{
	Description: "Returns the first argument that is not null or an empty string.",
	VarParam:    &function.Parameter{Name: "vals", Type: cty.String, AllowNull: true},
	Type:        function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		for _, a := range args {
			if !a.IsNull() && a.AsString() != "" {
				return a, nil
			}
		}
		return cty.UnknownVal(cty.String), fmt.Errorf("no non-empty argument")
	},
})
