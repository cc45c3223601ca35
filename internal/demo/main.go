// Command demo runs r2plan's main job end to end on the embedded default: it starts a
// local S3 server (versitygw, pinned in go.mod) over a temporary directory, seeds it and
// a SQLite database shaped like the motivating case, then runs validate, plan, show,
// apply and a second plan that must show no changes, printing each step. It cleans up
// after itself. Run it with `make demo`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/r2plan/r2plan/internal/testenv"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/s3"
	"github.com/r2plan/r2plan/providers/sqldb"
)

func main() {
	bin := flag.String("r2plan", "bin/r2plan", "the r2plan binary to run")
	objects := flag.Int("objects", 300, "how many flat-layout objects to seed")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := demo(ctx, *bin, *objects); err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

const publicURL = "https://media.charhub.app"

// tricky keys that hand-written scripts get wrong.
var trickyKeys = []string{
	"characters/c-space/avatars/my avatar.webp",
	"characters/c-plus/avatars/a+b.webp",
	"characters/c-pct/avatars/100%.webp",
	"characters/c-q/avatars/what?.webp",
	"characters/c-hash/avatars/#1.webp",
	"characters/c-slash//avatars/double.webp",
	"characters/c-utf8/avatars/café-ü.webp",
	"users/dev/not-placed.webp",
	"development/not-dev.webp",
}

func demo(ctx context.Context, bin string, n int) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "r2plan-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	step("Starting a local S3 server (versitygw) over " + dir)
	srv, err := testenv.StartS3(ctx, filepath.Join(dir, "s3"), "", "")
	if err != nil {
		return err
	}
	defer srv.Stop()
	b, err := s3.Open(ctx, s3.Options{Endpoint: srv.Endpoint, Region: "auto", Bucket: "charhub-media",
		AccessKeyID: srv.AccessKey, SecretAccessKey: srv.SecretKey, PathStyle: true})
	if err != nil {
		return err
	}
	if err := b.CreateBucket(ctx); err != nil {
		return err
	}
	dbPath := filepath.Join(dir, "app.db")
	step(fmt.Sprintf("Seeding %d objects and the Prisma-shaped tables in SQLite (%s)", n+len(trickyKeys)+2, dbPath))
	if err := seed(ctx, b, "sqlite:"+dbPath, n); err != nil {
		return err
	}

	env := append(os.Environ(),
		"R2_ENDPOINT_URL="+srv.Endpoint,
		"R2_BUCKET_NAME=charhub-media",
		"R2_ACCESS_KEY_ID="+srv.AccessKey,
		"R2_SECRET_ACCESS_KEY="+srv.SecretKey,
		"R2_PUBLIC_URL="+publicURL,
		"DATABASE_URL=sqlite:"+dbPath,
		"NODE_ENV=development",
	)
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	cfg := filepath.Join(root, "examples", "charhub.hcl")
	planFile := filepath.Join(dir, "move.plan")
	steps := []struct {
		args []string
		want int
	}{
		{[]string{"validate", "--config", cfg}, 0},
		{[]string{"plan", "--config", cfg, "--out", planFile, "--detailed-exitcode"}, 2},
		{[]string{"show", planFile}, 0},
		{[]string{"apply", "--config", cfg, planFile}, 0},
		{[]string{"plan", "--config", cfg, "--detailed-exitcode"}, 0},
	}
	for _, s := range steps {
		step("r2plan " + strings.Join(s.args, " "))
		cmd := exec.CommandContext(ctx, bin, s.args...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if code != s.want {
			return fmt.Errorf("r2plan %s exited %d, want %d (%v)", s.args[0], code, s.want, err)
		}
	}
	step("Every reference now points under dev/, and the originals are kept for the grace period. Demo complete.")
	return nil
}

func step(s string) { fmt.Printf("\n\033[1m==> %s\033[0m\n", s) }

func seed(ctx context.Context, b *s3.Bucket, dbURL string, n int) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	schema, err := os.ReadFile(filepath.Join(root, "testdata", "charhub", "schema.sql"))
	if err != nil {
		return err
	}
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Bun().ExecContext(ctx, string(schema)); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	put := func(key string) error {
		return b.Put(ctx, key, []byte("image bytes of "+key), "image/webp", "public, max-age=31536000", nil)
	}
	exec := func(q string, args ...any) error {
		_, err := db.Bun().ExecContext(ctx, q, args...)
		return err
	}
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("characters/c%03d/avatars/avatar_%d.webp", i, 1736700000000+i)
		if i%3 == 2 {
			key = fmt.Sprintf("stories/s%03d/cover.webp", i)
		}
		if err := put(key); err != nil {
			return err
		}
		switch {
		case i%3 == 2:
			err = exec(`INSERT INTO "Story" ("id", "title", "coverImage") VALUES (?, ?, ?)`, fmt.Sprintf("s%03d", i), "A story", publicURL+"/"+plan.EscapePath(key))
		case i%10 == 0:
			err = exec(`INSERT INTO "CuratedImage" ("id", "r2Url", "r2Key", "uploadedToR2") VALUES (?, ?, ?, ?)`, fmt.Sprintf("cur%03d", i), publicURL+"/"+key, key, i%20 == 0)
		default:
			err = exec(`INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES (?, ?, ?, ?)`, fmt.Sprintf("img%03d", i), fmt.Sprintf("c%03d", i), publicURL+"/"+plan.EscapePath(key)+"?v=1", key)
		}
		if err != nil {
			return err
		}
	}
	for i, key := range trickyKeys {
		if err := put(key); err != nil {
			return err
		}
		if err := exec(`INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES (?, ?, ?, ?)`, fmt.Sprintf("tricky%d", i), "tricky", publicURL+"/"+plan.EscapePath(key), key); err != nil {
			return err
		}
	}
	for _, key := range []string{"dev/characters/old/avatars/already.webp", "prod/characters/p/avatars/live.webp"} {
		if err := put(key); err != nil {
			return err
		}
	}
	// A foreign URL, a NULL key and a dangling row: reported, never rewritten.
	if err := exec(`INSERT INTO "CharacterImage" ("id", "characterId", "url", "key") VALUES ('foreign', 'x', 'https://cdn.example.com/elsewhere.webp', NULL), ('dangling', 'x', ?, 'characters/gone/avatars/missing.webp')`, publicURL+"/characters/gone/avatars/missing.webp"); err != nil {
		return err
	}
	return nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}
