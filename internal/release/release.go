package release

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Target is one platform of a release.
type Target struct{ OS, Arch string }

// Targets are the platforms of a release.
var Targets = []Target{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// Options say what to build from where.
type Options struct {
	Version string // the release's version, e.g. v0.2.0 (main.version)
	Root    string // the repository's root (the module, LICENSE and README.md)
	Out     string // the directory the archives and SHA256SUMS go to
	// NoTrimpath leaves out -trimpath and CGO_ENABLED=0, for the test: either compiles
	// every dependency anew (minutes on 2 cores) where this build reuses go test's cache.
	NoTrimpath bool
}

// Name returns an archive's file name: r2plan_VERSION_OS_ARCH.tar.gz, .zip for windows.
func Name(version string, t Target) string {
	ext := ".tar.gz"
	if t.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("r2plan_%s_%s_%s%s", version, t.OS, t.Arch, ext)
}

// Build builds and packs one target and returns the archive's path.
func Build(ctx context.Context, o Options, t Target) (string, error) {
	if o.Version == "" || strings.ContainsAny(o.Version, "/\\ ") {
		return "", fmt.Errorf("release version %q: want a tag such as v0.2.0", o.Version)
	}
	tmp, err := os.MkdirTemp("", "r2plan-release-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	exe := "r2plan"
	if t.OS == "windows" {
		exe += ".exe"
	}
	bin := filepath.Join(tmp, exe)
	args := []string{"build", "-trimpath", "-ldflags", "-s -w -X main.version=" + o.Version, "-o", bin, "./cmd/r2plan"}
	if o.NoTrimpath {
		args = slices.Delete(args, 1, 2)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(), "GOOS="+t.OS, "GOARCH="+t.Arch)
	if !o.NoTrimpath {
		cmd.Env = append(cmd.Env, "CGO_ENABLED=0")
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s/%s: %v\n%s", t.OS, t.Arch, err, out)
	}
	files := []file{{exe, bin, 0o755}, {"LICENSE", filepath.Join(o.Root, "LICENSE"), 0o644}, {"README.md", filepath.Join(o.Root, "README.md"), 0o644}}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return "", err
	}
	name := Name(o.Version, t)
	dir := strings.TrimSuffix(strings.TrimSuffix(name, ".zip"), ".tar.gz")
	path := filepath.Join(o.Out, name)
	if t.OS == "windows" {
		err = writeZip(path, dir, files)
	} else {
		err = writeTarGz(path, dir, files)
	}
	if err != nil {
		return "", fmt.Errorf("pack %s: %w", name, err)
	}
	return path, nil
}

type file struct {
	name, path string
	mode       int64
}

// modTime is every archived file's time, so that an archive depends on its contents only.
var modTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func writeTarGz(path, dir string, files []file) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for _, fl := range files {
		b, err := os.ReadFile(fl.path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: dir + "/" + fl.name, Mode: fl.mode, Size: int64(len(b)), ModTime: modTime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(path, dir string, files []file) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(f)
	for _, fl := range files {
		b, err := os.ReadFile(fl.path)
		if err != nil {
			return err
		}
		h := &zip.FileHeader{Name: dir + "/" + fl.name, Method: zip.Deflate, Modified: modTime}
		h.SetMode(os.FileMode(fl.mode))
		w, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return zw.Close()
}

// WriteSums writes dir/SHA256SUMS over the files, one "HEX  NAME" line each, sorted by
// name, as sha256sum prints them (sha256sum -c SHA256SUMS checks them).
func WriteSums(dir string, paths []string) error {
	var lines []string
	for _, p := range paths {
		sum, err := fileSum(p)
		if err != nil {
			return err
		}
		lines = append(lines, sum+"  "+filepath.Base(p)+"\n")
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(strings.Join(lines, "")), 0o644)
}

// CheckSums verifies every line of dir/SHA256SUMS against the file it names.
func CheckSums(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		want, name, ok := strings.Cut(line, "  ")
		if !ok || len(want) != 64 || strings.ContainsAny(name, "/\\") {
			return fmt.Errorf("SHA256SUMS: malformed line %q", line)
		}
		got, err := fileSum(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("SHA256SUMS: %s has sum %s, want %s", name, got, want)
		}
	}
	return nil
}

func fileSum(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("sum %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
