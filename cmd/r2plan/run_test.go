package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
		got := run(ctx, s.args, &stdout, &stderr)
		all := stdout.String() + stderr.String()
		if got != s.want || !strings.Contains(all, s.out) {
			t.Errorf("%s: r2plan %v exited %d, want %d; output:\n%s", s.name, s.args, got, s.want, all)
		}
		if strings.Contains(all, s3srv.SecretKey) {
			t.Errorf("%s: the secret key appears in the output", s.name)
		}
	}
}
