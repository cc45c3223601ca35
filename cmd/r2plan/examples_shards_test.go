package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// shardExpr is how the Kubernetes example turns the pod's index into --shard; the
// script apply_shards_indexed_pg.txtar runs two shards with it at once.
const shardExpr = `--shard="$((JOB_COMPLETION_INDEX + 1))/${SHARDS}"`

// renderShards runs script under sh once per env, with r2plan (and go) replaced by a
// function that prints its --shard argument, and returns those arguments.
func renderShards(t *testing.T, script string, envs [][]string) []string {
	t.Helper()
	var got []string
	for _, env := range envs {
		stub := "r2plan() { for a in \"$@\"; do case $a in --shard=*) echo \"${a#--shard=}\";; esac; done; }\ngo() { :; }\n"
		cmd := exec.Command("sh", "-c", stub+script)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("sh -c %q with %v: %v\n%s", script, env, err, out)
		}
		got = append(got, strings.TrimSpace(string(out)))
	}
	return got
}

func wantShards(n int) []string {
	var w []string
	for i := 1; i <= n; i++ {
		w = append(w, strconv.Itoa(i)+"/"+strconv.Itoa(n))
	}
	return w
}

func TestShardExampleGitHubActions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "ci", "r2plan-shards.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Env  map[string]string `yaml:"env"`
		Jobs map[string]struct {
			Strategy struct {
				Matrix struct {
					Shard []int `yaml:"shard"`
				} `yaml:"matrix"`
			} `yaml:"strategy"`
			Env   map[string]string `yaml:"env"`
			Steps []struct {
				Name string `yaml:"name"`
				Run  string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	job, ok := wf.Jobs["apply"]
	if !ok {
		t.Fatal("no apply job")
	}
	n, err := strconv.Atoi(wf.Env["SHARDS"])
	if err != nil || n < 2 {
		t.Fatalf("env SHARDS = %q, want a number of at least 2", wf.Env["SHARDS"])
	}
	if !slices.Equal(job.Strategy.Matrix.Shard, []int{1, 2, 3, 4}[:min(n, 4)]) || len(job.Strategy.Matrix.Shard) != n {
		t.Fatalf("matrix shards %v, want 1..%d", job.Strategy.Matrix.Shard, n)
	}
	if job.Env["SHARD"] != "${{ matrix.shard }}" {
		t.Fatalf("env SHARD = %q, want the matrix's shard", job.Env["SHARD"])
	}
	var script string
	for _, s := range job.Steps {
		if strings.Contains(s.Run, "r2plan apply") {
			script = s.Run
		}
	}
	if script == "" {
		t.Fatal("no step runs r2plan apply")
	}
	var envs [][]string
	for _, i := range job.Strategy.Matrix.Shard {
		envs = append(envs, []string{"SHARD=" + strconv.Itoa(i), "SHARDS=" + wf.Env["SHARDS"]})
	}
	if got := renderShards(t, script, envs); !slices.Equal(got, wantShards(n)) {
		t.Errorf("the matrix's runners apply shards %v, want %v", got, wantShards(n))
	}
}

func TestShardExampleKubernetes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", "k8s", "r2plan-apply-job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var job struct {
		Kind string `yaml:"kind"`
		Spec struct {
			CompletionMode string `yaml:"completionMode"`
			Completions    int    `yaml:"completions"`
			Parallelism    int    `yaml:"parallelism"`
			Template       struct {
				Spec struct {
					Containers []struct {
						Command []string `yaml:"command"`
						Args    []string `yaml:"args"`
						Env     []struct {
							Name  string `yaml:"name"`
							Value string `yaml:"value"`
						} `yaml:"env"`
					} `yaml:"containers"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	if job.Kind != "Job" || job.Spec.CompletionMode != "Indexed" {
		t.Fatalf("kind %q, completionMode %q; want an Indexed Job", job.Kind, job.Spec.CompletionMode)
	}
	if len(job.Spec.Template.Spec.Containers) != 1 {
		t.Fatal("want one container")
	}
	c := job.Spec.Template.Spec.Containers[0]
	if !slices.Equal(c.Command, []string{"sh", "-c"}) || len(c.Args) != 1 {
		t.Fatalf("command %q args %q; want sh -c and one script", c.Command, c.Args)
	}
	script := c.Args[0]
	if !strings.Contains(script, shardExpr) {
		t.Fatalf("the script does not compute the shard as the test script does (%s):\n%s", shardExpr, script)
	}
	var shards string
	for _, e := range c.Env {
		if e.Name == "SHARDS" {
			shards = e.Value
		}
	}
	n, err := strconv.Atoi(shards)
	if err != nil || n != job.Spec.Completions || n != job.Spec.Parallelism {
		t.Fatalf("SHARDS %q, completions %d, parallelism %d: want all equal", shards, job.Spec.Completions, job.Spec.Parallelism)
	}
	var envs [][]string
	for i := range n {
		envs = append(envs, []string{"JOB_COMPLETION_INDEX=" + strconv.Itoa(i)})
	}
	envs = envs[:n]
	for i := range envs {
		envs[i] = append(envs[i], "SHARDS="+shards)
	}
	if got := renderShards(t, script, envs); !slices.Equal(got, wantShards(n)) {
		t.Errorf("the pods apply shards %v, want %v", got, wantShards(n))
	}
}
