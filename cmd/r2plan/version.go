package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"runtime/debug"
	"strings"
)

// version is r2plan's version: the Makefile sets it from git describe
// (-X main.version=…); otherwise init reads it from the build information the go
// command records (go install …@v0.3.0, or a build in a checkout).
var version string

func init() {
	info, _ := debug.ReadBuildInfo()
	version = pickVersion(version, info)
}

var versionCommand = command{
	name:  "version",
	usage: "version",
	short: "Print r2plan's version (also: r2plan --version).",
}

func init() { versionCommand.run = runVersion }

func runVersion(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(versionCommand, stdout, stderr)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "Error: version takes no arguments, got %q\n", fs.Args())
		fs.Usage()
		return exitError
	}
	fmt.Fprintf(stdout, "r2plan %s (plan format %s)\n", version, planFormat())
	return exitOK
}

// develUnknown is the version of a build that records neither a release nor a commit.
const develUnknown = "devel (commit unknown: built without VCS information)"

// pseudoVersion matches the commit part of a Go pseudo-version,
// v0.0.0-20250102150405-abcdef123456.
var pseudoVersion = regexp.MustCompile(`\d{14}-[0-9a-f]{12}`)

// pickVersion returns the version to print: the one set at link time if any; else the
// module's version when it is a release (go install …@v0.3.0); else, for a build in a
// checkout, "devel +REVISION" with " (modified)" for uncommitted changes; else (no
// VCS stamp: -buildvcs=false, a git worktree or a copy of the source without .git) a
// "devel" that says the commit is unknown rather than a bare one.
func pickVersion(linked string, info *debug.BuildInfo) string {
	if linked != "" {
		return linked
	}
	if info == nil {
		return develUnknown
	}
	var rev string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	v := info.Main.Version
	release := v != "" && v != "(devel)" && !strings.HasSuffix(v, "+dirty")
	if release && (rev == "" || !pseudoVersion.MatchString(v)) {
		// A release, or a pseudo-version go install resolved from a commit (no
		// checkout, so no vcs settings).
		return v
	}
	if rev == "" {
		return develUnknown
	}
	out := "devel +" + rev[:min(len(rev), 7)]
	if modified {
		out += " (modified)"
	}
	return out
}
