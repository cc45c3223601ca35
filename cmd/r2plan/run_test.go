package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/r2plan/r2plan/providers/s3"
	"github.com/r2plan/r2plan/providers/sqldb"
)

// TestRunExitCodes checks the exit codes exactly: 0 success, 1 error, 2 only for
// plan --detailed-exitcode with changes present.
func TestRunExitCodes(t *testing.T) {
	if err := startServers(); err != nil {
		t.Fatalf("start servers: %v", err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	bucketName := "exitcodes-" + randomHex(4)
	b, err := s3.Open(ctx, s3.Options{Endpoint: s3srv.Endpoint, Region: "auto", Bucket: bucketName,
		AccessKeyID: s3srv.AccessKey, SecretAccessKey: s3srv.SecretKey, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.CreateBucket(ctx); err != nil {
		t.Fatal(err)
	}
	dbURL := "sqlite:" + filepath.Join(dir, "app.db")
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := os.ReadFile("../../testdata/charhub/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Bun().ExecContext(ctx, string(schema)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for k, v := range map[string]string{
		"R2_ENDPOINT_URL": s3srv.Endpoint, "R2_BUCKET_NAME": bucketName, "R2_ACCESS_KEY_ID": s3srv.AccessKey,
		"R2_SECRET_ACCESS_KEY": s3srv.SecretKey, "DATABASE_URL": dbURL, "NODE_ENV": "production",
	} {
		t.Setenv(k, v)
	}
	cfg := "../../examples/charhub.hcl"
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("bucket {\n  nme = \"x\"\n}\n"), 0o644)
	tampered := filepath.Join(dir, "tampered.plan")
	os.WriteFile(tampered, []byte("{\"type\":\"header\",\"format_version\":\"1.0\"}\n"), 0o644)

	steps := []struct {
		name string
		args []string
		want int
		out  string // a substring of stdout+stderr
	}{
		{"no arguments", nil, 1, "Usage: r2plan"},
		{"help", []string{"help"}, 0, "Commands:"},
		{"unknown command", []string{"frobnicate"}, 1, `unknown command "frobnicate"`},
		{"bad flag", []string{"plan", "--nope"}, 1, "flag provided but not defined"},
		{"validate bad config", []string{"validate", "--config", bad}, 1, "bad.hcl:2:3: error: Unsupported argument"},
		{"validate good config", []string{"validate", "--config", cfg}, 0, "valid"},
		{"show truncated plan", []string{"show", tampered}, 1, "invalid plan file"},
		{"plan empty bucket", []string{"plan", "--config", cfg, "--detailed-exitcode"}, 0, "No changes."},
		{"seed", nil, -1, ""},
		{"plan with changes", []string{"plan", "--config", cfg}, 0, "Plan: 1 to copy"},
		{"plan with changes, detailed", []string{"plan", "--config", cfg, "--detailed-exitcode", "--out", filepath.Join(dir, "p")}, 2, "Plan: 1 to copy"},
		{"apply", []string{"apply", "--config", cfg, filepath.Join(dir, "p")}, 0, "Apply complete."},
		{"plan after apply, detailed", []string{"plan", "--config", cfg, "--detailed-exitcode"}, 0, "No changes."},
		{"unlock, none held", []string{"unlock", "--config", cfg}, 0, "No apply holds the lock."},
		{"unlock, unknown id", []string{"unlock", "--config", cfg, "7"}, 1, "no apply holds a lock with id 7"},
		{"unlock, extra arguments", []string{"unlock", "--config", cfg, "7", "8"}, 1, "unlock takes one LOCK_ID, got 2"},
		{"unlock, not an id", []string{"unlock", "--config", cfg, "all"}, 1, "LOCK_ID must be a lock's number"},
	}
	for _, s := range steps {
		if s.want < 0 {
			if err := b.Put(ctx, "characters/1/avatars/a.webp", []byte("x"), "image/webp", "", nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		var stdout, stderr bytes.Buffer
		got := run(ctx, nil, s.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if got != s.want || !strings.Contains(all, s.out) {
			t.Errorf("%s: r2plan %v exited %d, want %d; output:\n%s", s.name, s.args, got, s.want, all)
		}
		if strings.Contains(all, s3srv.SecretKey) {
			t.Errorf("%s: the secret key appears in the output", s.name)
		}
	}
}

// TestRunConventions checks the conventions users' hands know: where help and usage go
// and with which exit code, --version, and flags after the positional arguments.
func TestRunConventions(t *testing.T) {
	ctx := context.Background()
	tests := map[string]struct {
		args   []string
		want   int
		stdout string // a substring of stdout ("" : stdout must be empty)
		stderr string // a substring of stderr ("" : stderr must be empty)
	}{
		"no arguments":                    {nil, 1, "", "Usage: r2plan <command>"},
		"-h":                              {[]string{"-h"}, 0, "Commands:", ""},
		"--help":                          {[]string{"--help"}, 0, "Commands:", ""},
		"help":                            {[]string{"help"}, 0, "Commands:", ""},
		"help plan":                       {[]string{"help", "plan"}, 0, "--detailed-exitcode", ""},
		"help show":                       {[]string{"help", "show"}, 0, "Usage: r2plan show", ""},
		"help unknown":                    {[]string{"help", "frobnicate"}, 1, "", `unknown command "frobnicate"`},
		"help two":                        {[]string{"help", "plan", "show"}, 1, "", "at most one command"},
		"plan -h":                         {[]string{"plan", "-h"}, 0, "--max-delete", ""},
		"apply --help":                    {[]string{"apply", "--help"}, 0, "--parallelism", ""},
		"show -h after the file":          {[]string{"show", "x.plan", "-h"}, 0, "--format", ""},
		"unlock -help":                    {[]string{"unlock", "-help"}, 0, "--force", ""},
		"validate -h":                     {[]string{"validate", "-h"}, 0, "--config", ""},
		"version -h":                      {[]string{"version", "-h"}, 0, "Usage: r2plan version", ""},
		"unknown flag":                    {[]string{"show", "--nope", "x.plan"}, 1, "", "flag provided but not defined: -nope\nUsage: r2plan show"},
		"unknown flag after the file":     {[]string{"show", "x.plan", "--nope"}, 1, "", "Usage: r2plan show"},
		"missing argument":                {[]string{"show"}, 1, "", "Usage: r2plan show"},
		"apply, missing plan":             {[]string{"apply", "--parallelism=4"}, 1, "", "Usage: r2plan apply"},
		"unknown command":                 {[]string{"frobnicate"}, 1, "", `unknown command "frobnicate"`},
		"--version":                       {[]string{"--version"}, 0, "r2plan " + version + " (plan format", ""},
		"-version":                        {[]string{"-version"}, 0, "r2plan " + version + " (plan format", ""},
		"version":                         {[]string{"version"}, 0, "r2plan " + version + " (plan format", ""},
		"version extra":                   {[]string{"version", "x"}, 1, "", "version takes no arguments"},
		"show, flag after file":           {[]string{"show", "missing.plan", "--format=json"}, 1, "", "Error: open missing.plan"},
		"show, bad flag value after file": {[]string{"show", "missing.plan", "--format=yaml"}, 1, "", `unknown format "yaml"`},
		"show, -- ends flags":             {[]string{"show", "--", "--format=json"}, 1, "", "Error: open --format=json"},
		"unlock, flags after id":          {[]string{"unlock", "3", "--force", "--config", "missing.hcl"}, 1, "", "missing.hcl"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(ctx, nil, tt.args, &stdout, &stderr)
			if got != tt.want {
				t.Errorf("r2plan %q exited %d, want %d; stdout:\n%s\nstderr:\n%s", tt.args, got, tt.want, &stdout, &stderr)
			}
			for _, o := range []struct {
				name, want string
				got        *bytes.Buffer
			}{{"stdout", tt.stdout, &stdout}, {"stderr", tt.stderr, &stderr}} {
				if o.want == "" && o.got.Len() > 0 {
					t.Errorf("r2plan %q wrote to %s:\n%s", tt.args, o.name, o.got)
				}
				if !strings.Contains(o.got.String(), o.want) {
					t.Errorf("r2plan %q: %s lacks %q:\n%s", tt.args, o.name, o.want, o.got)
				}
			}
		})
	}
}

func TestPickVersion(t *testing.T) {
	build := func(version string, settings ...string) *debug.BuildInfo {
		info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/r2plan/r2plan", Version: version}}
		for i := 0; i+1 < len(settings); i += 2 {
			info.Settings = append(info.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
		}
		return info
	}
	const rev = "abc1234def5678abc1234def5678abc1234def56"
	tests := map[string]struct {
		linked string
		info   *debug.BuildInfo
		want   string
	}{
		"Makefile wins":            {"v0.3.0-2-gabc1234-dirty", build("v0.2.0"), "v0.3.0-2-gabc1234-dirty"},
		"no build info":            {"", nil, develUnknown},
		"go install @v0.3.0":       {"", build("v0.3.0"), "v0.3.0"},
		"go install @commit":       {"", build("v0.0.0-20250102150405-abc1234def56"), "v0.0.0-20250102150405-abc1234def56"},
		"checkout at a tag, clean": {"", build("v0.3.0", "vcs", "git", "vcs.revision", rev, "vcs.modified", "false"), "v0.3.0"},
		"checkout, modified":       {"", build("v0.3.1-0.20250102150405-abc1234def56+dirty", "vcs.revision", rev, "vcs.modified", "true"), "devel +abc1234 (modified)"},
		"checkout, untagged":       {"", build("v0.3.1-0.20250102150405-abc1234def56", "vcs.revision", rev, "vcs.modified", "false"), "devel +abc1234"},
		"older go, (devel)":        {"", build("(devel)", "vcs.revision", rev, "vcs.modified", "true"), "devel +abc1234 (modified)"},
		"no vcs, (devel)":          {"", build("(devel)"), develUnknown},
	}
	for name, tt := range tests {
		if got := pickVersion(tt.linked, tt.info); got != tt.want {
			t.Errorf("%s: pickVersion = %q, want %q", name, got, tt.want)
		}
	}
}
