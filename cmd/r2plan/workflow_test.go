package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"gopkg.in/yaml.v3"
)

// workflow is the part of a GitHub Actions workflow the tests read.
type workflow struct {
	On          map[string]any    `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Jobs        map[string]struct {
		Needs       string            `yaml:"needs"`
		If          string            `yaml:"if"`
		Environment string            `yaml:"environment"`
		Env         map[string]string `yaml:"env"`
		Steps       []struct {
			Name string `yaml:"name"`
			Uses string `yaml:"uses"`
			Run  string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

const workflowFile = "../../examples/ci/r2plan.yml"

func readWorkflow(path string) (*workflow, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var w workflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &w, nil
}

// TestWorkflow checks the review workflow's shape: plan on pull requests with read-only
// credentials, apply only in a protected environment, after plan, from its artifact.
func TestWorkflow(t *testing.T) {
	w, err := readWorkflow(workflowFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := w.On["pull_request"]; !ok {
		t.Error("the workflow does not run on pull_request")
	}
	plan, apply := w.Jobs["plan"], w.Jobs["apply"]
	if plan.Env["R2_SECRET_ACCESS_KEY"] != "${{ secrets.R2_READONLY_SECRET_ACCESS_KEY }}" || plan.Env["DATABASE_URL"] != "${{ secrets.DATABASE_URL_READONLY }}" {
		t.Errorf("the plan job must use read-only credentials, has %v", plan.Env)
	}
	if apply.Needs != "plan" || apply.Environment == "" {
		t.Errorf("the apply job must need plan and run in a protected environment: needs %q, environment %q", apply.Needs, apply.Environment)
	}
	steps := map[string]bool{}
	for _, s := range apply.Steps {
		steps[s.Uses+s.Name] = true
	}
	if !steps["actions/download-artifact@v4"] || !steps["Apply"] {
		t.Errorf("the apply job must download the plan artifact and apply it: %v", steps)
	}
	for _, job := range []string{"plan", "apply"} {
		for _, s := range w.Jobs[job].Steps {
			if s.Name == "Plan" || s.Name == "Show" || s.Name == "Apply" {
				if s.Run == "" {
					t.Errorf("step %s of %s has no run script", s.Name, job)
				}
			}
		}
	}
}

// cmdWorkflowStep prints the run script of a step of the example workflow, so a script
// test can run it as the workflow would: workflow-step JOB STEP.
func cmdWorkflowStep(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: workflow-step JOB STEP")
	}
	w, err := readWorkflow(workflowFile)
	ts.Check(err)
	for _, s := range w.Jobs[args[0]].Steps {
		if s.Name == args[1] {
			fmt.Fprint(ts.Stdout(), "set -eo pipefail\n"+s.Run)
			return
		}
	}
	ts.Fatalf("no step %q in job %q", args[1], args[0])
}
