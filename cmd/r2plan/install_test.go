package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestInstallFromClone does what the README's Install section says, from a clean clone
// of this commit: go install ./cmd/r2plan with no -ldflags, then r2plan version. The
// version comes from the build information the go command records: "devel +REVISION"
// for a checkout (go install …@TAG gives the tag: TestPickVersion).
func TestInstallFromClone(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	gitOut := func(dir string, args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	src, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	rev := gitOut(src, "rev-parse", "HEAD")
	tmp := t.TempDir()
	clone := filepath.Join(tmp, "r2plan")
	gitOut(tmp, "clone", "-q", "--no-checkout", src, clone)
	gitOut(clone, "checkout", "-q", "--detach", rev)

	install := func() string {
		t.Helper()
		gobin := filepath.Join(tmp, "bin")
		cmd := exec.Command("go", "install", "./cmd/r2plan")
		cmd.Dir = clone
		// The modules come from the local cache (no network). GOFLAGS is the default a
		// user has: a go env file may set -buildvcs=false.
		cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-buildvcs=auto", "GOPROXY=off", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go install ./cmd/r2plan in a clean clone: %v\n%s", err, out)
		}
		out, err := exec.Command(filepath.Join(gobin, "r2plan"), "version").CombinedOutput()
		if err != nil {
			t.Fatalf("r2plan version: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got, want := install(), `^r2plan devel \+`+rev[:7]+` \(plan format \d+\.\d+\)$`; !regexp.MustCompile(want).MatchString(got) {
		t.Errorf("untagged clone: r2plan version = %q, want %s", got, want)
	}
}
