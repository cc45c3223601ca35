package release

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestName(t *testing.T) {
	tests := map[string]struct {
		t    Target
		want string
	}{
		"linux":   {Target{"linux", "amd64"}, "r2plan_v0.2.0_linux_amd64.tar.gz"},
		"darwin":  {Target{"darwin", "arm64"}, "r2plan_v0.2.0_darwin_arm64.tar.gz"},
		"windows": {Target{"windows", "arm64"}, "r2plan_v0.2.0_windows_arm64.zip"},
	}
	for name, tt := range tests {
		if diff := cmp.Diff(tt.want, Name("v0.2.0", tt.t)); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", name, diff)
		}
	}
	if len(Targets) != 6 {
		t.Errorf("%d targets, want linux, darwin and windows on amd64 and arm64", len(Targets))
	}
}

// TestZipAndSums packs a windows-style zip of small files and checks its listing and
// SHA256SUMS, including that an altered archive fails the check.
func TestZipAndSums(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "r2plan.exe")
	os.WriteFile(src, []byte("MZ not really"), 0o755)
	zipPath := filepath.Join(dir, "r2plan_v0.2.0_windows_amd64.zip")
	if err := writeZip(zipPath, "r2plan_v0.2.0_windows_amd64", []file{{"r2plan.exe", src, 0o755}}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	zr.Close()
	if diff := cmp.Diff([]string{"r2plan_v0.2.0_windows_amd64/r2plan.exe"}, names); diff != "" {
		t.Errorf("zip listing (-want +got)\n%s", diff)
	}
	other := filepath.Join(dir, "a.tar.gz")
	os.WriteFile(other, []byte("x"), 0o644)
	if err := WriteSums(dir, []string{zipPath, other}); err != nil {
		t.Fatal(err)
	}
	if err := CheckSums(dir); err != nil {
		t.Fatal(err)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	lines := strings.Split(strings.TrimSpace(string(sums)), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "  a.tar.gz") || lines[0][:64] != "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sha, "-c", "SHA256SUMS")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, out)
		}
	}
	os.WriteFile(other, []byte("y"), 0o644)
	if err := CheckSums(dir); err == nil || !strings.Contains(err.Error(), "a.tar.gz has sum") {
		t.Errorf("CheckSums of an altered file: %v", err)
	}
}

// TestBuildHost builds the host's archive (the cross-builds are `make release`'s), checks
// its sum, unpacks it and runs the binary's version. Without -trimpath, which would
// compile every dependency again.
func TestBuildHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds r2plan")
	}
	out := t.TempDir()
	host := Target{runtime.GOOS, runtime.GOARCH}
	path, err := Build(context.Background(), Options{Version: "v0.0.0-releasetest", Root: "../..", Out: out, NoTrimpath: true}, host)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSums(out, []string{path}); err != nil {
		t.Fatal(err)
	}
	if err := CheckSums(out); err != nil {
		t.Fatal(err)
	}
	dir := "r2plan_v0.0.0-releasetest_" + host.OS + "_" + host.Arch
	exe := filepath.Join(t.TempDir(), "r2plan")
	got := map[string]bool{}
	if host.OS == "windows" {
		t.Skip("unpacks a tar.gz only")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[h.Name] = true
		if h.Name == dir+"/r2plan" {
			b, _ := io.ReadAll(tr)
			os.WriteFile(exe, b, 0o755)
		}
	}
	for _, name := range []string{"r2plan", "LICENSE", "README.md"} {
		if !got[dir+"/"+name] {
			t.Errorf("the archive has no %s/%s: %v", dir, name, got)
		}
	}
	v, err := exec.Command(exe, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(v), "r2plan v0.0.0-releasetest (plan format ") {
		t.Errorf("the archived binary's version: %q, %v", v, err)
	}
}
