package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"github.com/rogpeppe/go-internal/testscript"
	"gopkg.in/yaml.v3"
)

// The CI example (examples/ci/r2plan.yml) and the composite action (action.yml), read
// and run the way GitHub Actions would: each run script in bash -eo pipefail with the
// env the workflow sets, its outputs read back from GITHUB_OUTPUT.

const (
	workflowFile = "../../examples/ci/r2plan.yml"
	actionFile   = "../../action.yml"
)

type ciStep struct {
	Name  string            `yaml:"name"`
	ID    string            `yaml:"id"`
	If    string            `yaml:"if"`
	Uses  string            `yaml:"uses"`
	Shell string            `yaml:"shell"`
	With  map[string]string `yaml:"with"`
	Env   map[string]string `yaml:"env"`
	Run   string            `yaml:"run"`
}

type ciConcurrency struct {
	Group            string `yaml:"group"`
	CancelInProgress bool   `yaml:"cancel-in-progress"`
}

type ciJob struct {
	If          string            `yaml:"if"`
	Needs       string            `yaml:"needs"`
	Environment string            `yaml:"environment"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency ciConcurrency     `yaml:"concurrency"`
	Outputs     map[string]string `yaml:"outputs"`
	Env         map[string]string `yaml:"env"`
	Steps       []ciStep          `yaml:"steps"`
}

// workflow is the part of a GitHub Actions workflow the tests read.
type workflow struct {
	On          map[string]any    `yaml:"on"`
	Concurrency ciConcurrency     `yaml:"concurrency"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]ciJob  `yaml:"jobs"`
}

// action is the part of a composite action's action.yml the tests read.
type action struct {
	Inputs map[string]struct {
		Default  string `yaml:"default"`
		Required bool   `yaml:"required"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Value string `yaml:"value"`
	} `yaml:"outputs"`
	Runs struct {
		Using string   `yaml:"using"`
		Steps []ciStep `yaml:"steps"`
	} `yaml:"runs"`
}

func readYAML(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// TestWorkflow checks the review workflow's shape: plan on pull requests with read-only
// credentials through the action, one plan per pull request at a time; apply only after
// a merge or by dispatch, in a protected environment, one at a time, of the reviewed
// artifact whose id it checks.
func TestWorkflow(t *testing.T) {
	var w workflow
	if err := readYAML(workflowFile, &w); err != nil {
		t.Fatal(err)
	}
	for _, on := range []string{"pull_request", "push", "workflow_dispatch"} {
		if _, ok := w.On[on]; !ok {
			t.Errorf("the workflow does not run on %s", on)
		}
	}
	if len(w.Permissions) != 0 {
		t.Errorf("workflow permissions %v, want none (each job names its own)", w.Permissions)
	}
	plan, find, apply := w.Jobs["plan"], w.Jobs["find"], w.Jobs["apply"]
	if plan.Env["R2_SECRET_ACCESS_KEY"] != "${{ secrets.R2_READONLY_SECRET_ACCESS_KEY }}" || plan.Env["DATABASE_URL"] != "${{ secrets.DATABASE_URL_READONLY }}" {
		t.Errorf("the plan job must use read-only credentials, has %v", plan.Env)
	}
	if !strings.Contains(plan.If, "pull_request") || plan.Environment != "" {
		t.Errorf("the plan job runs on pull requests, outside the apply environment: if %q, environment %q", plan.If, plan.Environment)
	}
	if !strings.Contains(plan.Concurrency.Group, "github.event.pull_request.number") || !plan.Concurrency.CancelInProgress {
		t.Errorf("plans of one pull request must cancel older ones: %+v", plan.Concurrency)
	}
	if !slices.ContainsFunc(plan.Steps, func(s ciStep) bool { return strings.HasPrefix(s.Uses, "r2plan/r2plan@") }) {
		t.Error("the plan job does not use the r2plan action")
	}
	if !strings.Contains(find.If, "default_branch") || find.Environment != "" || len(find.Env) != 0 {
		t.Errorf("the find job runs on the default branch with no secrets: if %q, environment %q, env %v", find.If, find.Environment, find.Env)
	}
	if apply.Needs != "find" || apply.Environment != "r2plan-apply" {
		t.Errorf("the apply job must need find and run in the protected environment: needs %q, environment %q", apply.Needs, apply.Environment)
	}
	if apply.Concurrency.Group != "r2plan-apply" || apply.Concurrency.CancelInProgress {
		t.Errorf("applies must queue in one group, never cancel: %+v", apply.Concurrency)
	}
	if apply.Env["R2_SECRET_ACCESS_KEY"] != "${{ secrets.R2_SECRET_ACCESS_KEY }}" {
		t.Errorf("the apply job must use the write credentials, has %v", apply.Env)
	}
	var names []string
	for _, s := range apply.Steps {
		names = append(names, s.Name)
	}
	verify, run := slices.Index(names, "Verify the plan id"), slices.Index(names, "Apply")
	if verify < 0 || run < verify || slices.Index(names, "Download the reviewed plan") > verify {
		t.Errorf("the apply job must download the plan, verify its id, then apply: %q", names)
	}
	for name, job := range w.Jobs {
		for _, s := range job.Steps {
			if strings.Contains(s.Run, "${{") {
				t.Errorf("job %s step %q splices an expression into its script; pass it through env", name, s.Name)
			}
		}
	}
	var shards workflow
	if err := readYAML("../../examples/ci/r2plan-shards.yml", &shards); err != nil {
		t.Fatal(err)
	}
	if c := shards.Concurrency; c.Group != "r2plan-apply" || c.CancelInProgress {
		t.Errorf("the sharded apply must share the apply concurrency group: %+v", c)
	}
}

// TestActionLint checks action.yml: a composite action of bash steps whose scripts take
// every value through env, and, since actionlint checks workflows but not action
// metadata, its steps linted as the steps of a workflow whose inputs are the action's.
func TestActionLint(t *testing.T) {
	var a action
	if err := readYAML(actionFile, &a); err != nil {
		t.Fatal(err)
	}
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q, want composite", a.Runs.Using)
	}
	if !a.Inputs["version"].Required {
		t.Error("the version input must be required: the action installs a pinned r2plan")
	}
	for _, s := range a.Runs.Steps {
		if s.Run != "" && s.Shell != "bash" {
			t.Errorf("step %q: a composite run step needs shell: bash, has %q", s.Name, s.Shell)
		}
		if strings.Contains(s.Run, "${{") {
			t.Errorf("step %q splices an expression into its script; pass it through env", s.Name)
		}
	}
	// The same steps as a workflow_call workflow: inputs.* type-check, steps.* resolve.
	var doc struct {
		Runs struct {
			Steps yaml.Node `yaml:"steps"`
		} `yaml:"runs"`
	}
	if err := readYAML(actionFile, &doc); err != nil {
		t.Fatal(err)
	}
	inputs := map[string]any{}
	for name := range a.Inputs {
		inputs[name] = map[string]any{"type": "string", "required": false}
	}
	wf := map[string]any{
		"on":   map[string]any{"workflow_call": map[string]any{"inputs": inputs}},
		"jobs": map[string]any{"action": map[string]any{"runs-on": "ubuntu-latest", "steps": &doc.Runs.Steps}},
	}
	b, err := yaml.Marshal(wf)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	opts := &actionlint.LinterOptions{}
	if sc, err := exec.LookPath("shellcheck"); err == nil {
		opts.Shellcheck = sc
	} else {
		t.Log("shellcheck is not installed: the action's scripts are not shellchecked")
	}
	l, err := actionlint.NewLinter(&out, opts)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint("action.yml (as a workflow)", b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("actionlint: %s", e)
	}
	if t.Failed() {
		t.Logf("the workflow linted:\n%s", b)
	}
}

// ciRunner runs the steps of a job or of the action.
type ciRunner struct {
	ts      *testscript.TestScript
	log     *strings.Builder
	failed  bool
	steps   map[string]map[string]string // step id → outputs, plus "outcome"
	ctx     map[string]string            // github.*, inputs.*, env.*, needs.*
	workDir string
}

var exprRE = regexp.MustCompile(`^\$\{\{\s*(.*?)\s*\}\}$`)

// eval resolves a value: literal text, or one ${{ name }} reference. ok is false for a
// secret or variable the test does not know: the script's environment keeps its own.
func (r *ciRunner) eval(v string) (string, bool) {
	m := exprRE.FindStringSubmatch(v)
	if m == nil {
		if strings.Contains(v, "${{") {
			r.ts.Fatalf("unsupported expression %q (only a whole ${{ name }})", v)
		}
		return v, true
	}
	name := m[1]
	if strings.HasPrefix(name, "steps.") {
		parts := strings.SplitN(name, ".", 4)
		switch {
		case len(parts) == 3 && parts[2] == "outcome":
			if o, ok := r.steps[parts[1]]["outcome"]; ok {
				return o, true
			}
			return "", true
		case len(parts) == 4 && parts[2] == "outputs":
			return r.steps[parts[1]][parts[3]], true
		}
		r.ts.Fatalf("unsupported expression %q", v)
	}
	if val, ok := r.ctx[name]; ok {
		return r.eval(val)
	}
	if strings.HasPrefix(name, "secrets.") || strings.HasPrefix(name, "vars.") {
		return "", false
	}
	r.ts.Fatalf("the test gives no value for %q (ci-run -ctx %s=…)", name, name)
	return "", false
}

// runs reports whether a step with this if: runs now.
func (r *ciRunner) runs(cond string) bool {
	switch strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(cond, "${{"), "}}")) {
	case "", "success()":
		return !r.failed
	case "!cancelled()", "always()":
		return true
	case "failure()":
		return r.failed
	}
	r.ts.Fatalf("unsupported if: %q", cond)
	return false
}

func (r *ciRunner) runSteps(prefix string, steps []ciStep, env []string) {
	for i, s := range steps {
		id := s.ID
		if id == "" {
			id = fmt.Sprintf("__%d", i)
		}
		label := prefix + s.Name
		if s.Name == "" {
			label = prefix + s.Uses
		}
		if !r.runs(s.If) {
			r.steps[id] = map[string]string{"outcome": "skipped"}
			fmt.Fprintf(r.log, "## %s: skipped\n", label)
			continue
		}
		stepEnv := slices.Clone(env)
		for k, v := range s.Env {
			if val, ok := r.eval(v); ok {
				stepEnv = append(stepEnv, k+"="+val)
			}
		}
		switch {
		case s.Run != "":
			r.steps[id] = r.runScript(label, s.Run, stepEnv)
		case strings.HasPrefix(s.Uses, "actions/checkout@"), strings.HasPrefix(s.Uses, "actions/setup-go@"):
			r.steps[id] = map[string]string{"outcome": "success"}
		case strings.HasPrefix(s.Uses, "actions/upload-artifact@"):
			name, _ := r.eval(s.With["name"])
			path, _ := r.eval(s.With["path"])
			dir := filepath.Join(r.workDir, "artifacts", name)
			b, err := os.ReadFile(filepath.Join(r.workDir, path))
			outcome := "success"
			if err == nil {
				os.MkdirAll(dir, 0o755)
				err = os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644)
			}
			if err != nil {
				outcome, r.failed = "failure", true
			}
			fmt.Fprintf(r.log, "## %s: %s %s: %s\n", label, name, path, outcome)
			r.steps[id] = map[string]string{"outcome": outcome}
		case strings.HasPrefix(s.Uses, "r2plan/r2plan@"):
			r.steps[id] = r.runAction(s, env)
		default:
			r.ts.Fatalf("step %q: the test cannot run %q", label, s.Uses)
		}
	}
}

// runAction runs action.yml's steps with the step's with: as inputs and returns its
// outputs.
func (r *ciRunner) runAction(s ciStep, env []string) map[string]string {
	var a action
	r.ts.Check(readYAML(actionFile, &a))
	inner := &ciRunner{ts: r.ts, log: r.log, steps: map[string]map[string]string{}, ctx: map[string]string{}, workDir: r.workDir}
	for k, v := range r.ctx {
		if !strings.HasPrefix(k, "inputs.") {
			inner.ctx[k] = v
		}
	}
	for name, in := range a.Inputs {
		v := in.Default
		if w, ok := s.With[name]; ok {
			v, _ = r.eval(w)
		}
		inner.ctx["inputs."+name] = v
	}
	for k, v := range r.ctx { // -ctx inputs.x=… overrides
		if strings.HasPrefix(k, "inputs.") {
			inner.ctx[k] = v
		}
	}
	inner.runSteps("action: ", a.Runs.Steps, env)
	out := map[string]string{"outcome": "success"}
	if inner.failed {
		out["outcome"], r.failed = "failure", true
	}
	for name, o := range a.Outputs {
		out[name], _ = inner.eval(o.Value)
	}
	return out
}

func (r *ciRunner) runScript(label, script string, env []string) map[string]string {
	dir := r.ts.MkAbs(".ci-run")
	os.MkdirAll(dir, 0o755)
	output := filepath.Join(dir, "github-output")
	os.WriteFile(output, nil, 0o644)
	file := filepath.Join(dir, "step.sh")
	r.ts.Check(os.WriteFile(file, []byte(script), 0o644))
	// As GitHub runs a bash step: bash --noprofile --norc -eo pipefail {0}.
	cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", file)
	cmd.Dir = r.workDir
	cmd.Env = append(env, "GITHUB_OUTPUT="+output)
	b, err := cmd.CombinedOutput()
	out := map[string]string{"outcome": "success"}
	status := "ok"
	if err != nil {
		out["outcome"], r.failed, status = "failure", true, err.Error()
	}
	fmt.Fprintf(r.log, "## %s: %s\n%s", label, status, b)
	got, err := os.ReadFile(output)
	r.ts.Check(err)
	sc := bufio.NewScanner(bytes.NewReader(got))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		} else if sc.Text() != "" {
			r.ts.Fatalf("step %s: GITHUB_OUTPUT line %q is not name=value", label, sc.Text())
		}
	}
	return out
}

// cmdCIRun runs a job of the example workflow, or the action alone (job "action"), as
// GitHub Actions would, and prints each step's output:
//
//	ci-run [-ctx name=value]... JOB
//
// The script's environment stands for the runner's (GITHUB_REPOSITORY, RUNNER_TEMP, …,
// and secrets); -ctx gives expression values (github.sha, inputs.pull_request, …). A
// job's outputs are written to $WORK/.ci-run/needs-JOB for the jobs that need it;
// `uses:` steps are simulated (checkout, setup-go: nothing; upload-artifact: copied to
// $WORK/artifacts/NAME; r2plan/r2plan@…: this repository's action.yml).
func cmdCIRun(ts *testscript.TestScript, neg bool, args []string) {
	r := &ciRunner{ts: ts, log: &strings.Builder{}, steps: map[string]map[string]string{}, ctx: map[string]string{}, workDir: ts.Getenv("WORK")}
	for len(args) > 1 && args[0] == "-ctx" {
		k, v, ok := strings.Cut(args[1], "=")
		if !ok {
			ts.Fatalf("-ctx %q: want name=value", args[1])
		}
		r.ctx[k] = v
		args = args[2:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: ci-run [-ctx name=value]... JOB|action")
	}
	// The process's environment, then the script's own variables over it (the last
	// value of a name wins).
	env := os.Environ()
	for _, k := range []string{"PATH", "HOME", "WORK", "TMPDIR", "GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_SHA",
		"GITHUB_SERVER_URL", "GITHUB_STEP_SUMMARY", "RUNNER_TEMP", "R2_ENDPOINT_URL", "R2_BUCKET_NAME",
		"R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "DATABASE_URL", "NODE_ENV", "R2_PUBLIC_URL"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	job := args[0]
	if job == "action" {
		r.steps["action"] = r.runAction(ciStep{Uses: "r2plan/r2plan@local"}, env)
	} else {
		var w workflow
		ts.Check(readYAML(workflowFile, &w))
		j, ok := w.Jobs[job]
		if !ok {
			ts.Fatalf("no job %q", job)
		}
		if j.Needs != "" {
			b, err := os.ReadFile(filepath.Join(r.workDir, ".ci-run", "needs-"+j.Needs))
			ts.Check(err)
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					r.ctx["needs."+j.Needs+".outputs."+k] = v
				}
			}
		}
		for _, e := range []map[string]string{w.Env, j.Env} {
			for k, v := range e {
				r.ctx["env."+k] = v
				if val, ok := r.eval(v); ok {
					env = append(env, k+"="+val)
				}
			}
		}
		r.runSteps("", j.Steps, env)
		var outs []string
		for k, v := range j.Outputs {
			val, _ := r.eval(v)
			outs = append(outs, k+"="+val)
		}
		slices.Sort(outs)
		os.MkdirAll(filepath.Join(r.workDir, ".ci-run"), 0o755)
		ts.Check(os.WriteFile(filepath.Join(r.workDir, ".ci-run", "needs-"+job), []byte(strings.Join(outs, "\n")+"\n"), 0o644))
		for _, o := range outs {
			fmt.Fprintf(r.log, "output %s\n", o)
		}
	}
	fmt.Fprint(ts.Stdout(), r.log.String())
	if r.failed && !neg {
		ts.Fatalf("job %s failed", job)
	}
	if !r.failed && neg {
		ts.Fatalf("job %s succeeded unexpectedly", job)
	}
}
