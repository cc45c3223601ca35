package config

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

var cmpConfig = cmp.Options{
	cmp.Comparer(func(a, b *regexp.Regexp) bool {
		if a == nil || b == nil {
			return a == b
		}
		return a.String() == b.String()
	}),
	cmpopts.IgnoreTypes(hcl.Range{}),
}

func ptr[T any](v T) *T { return &v }

// charhubEnv is a production environment for examples/charhub.hcl.
func charhubEnv() map[string]string {
	return map[string]string{
		"R2_ENDPOINT_URL":      "https://0123abcd.r2.cloudflarestorage.com",
		"R2_BUCKET_NAME":       "charhub-media",
		"R2_ACCESS_KEY_ID":     "AKIDCHARHUB0001",
		"R2_SECRET_ACCESS_KEY": "sk-charhub-very-secret",
		"DATABASE_URL":         "postgres://charhub:p%40ss-w0rd@db.internal:5432/charhub?sslmode=require",
		"NODE_ENV":             "production",
	}
}

func charhubWant(env, publicURL string) *Config {
	return &Config{
		Filename: filepath.Join("..", "examples", "charhub.hcl"),
		Bucket: Bucket{
			Endpoint:        "https://0123abcd.r2.cloudflarestorage.com",
			Name:            "charhub-media",
			Region:          "auto",
			AccessKeyID:     "AKIDCHARHUB0001",
			SecretAccessKey: "sk-charhub-very-secret",
			PublicURL:       publicURL,
			PathStyle:       true,
			NoOverwrite:     "auto",
			ListConcurrency: DefaultListConcurrency,
		},
		Database: Database{URL: "postgres://charhub:p%40ss-w0rd@db.internal:5432/charhub?sslmode=require"},
		Layout: Layout{
			Placed:      []string{"dev/", "prod/"},
			GracePeriod: 168 * time.Hour,
			Rules:       []Rule{{Name: "environment", Prefix: ptr(""), Target: env + "/"}},
		},
		References: []Reference{
			{Name: "character_image", Table: "CharacterImage", PrimaryKey: "id", KeyColumn: "key", URLColumn: "url"},
			{Name: "story_cover", Table: "Story", PrimaryKey: "id", URLColumn: "coverImage"},
			{Name: "curated_image", Table: "CuratedImage", PrimaryKey: "id", KeyColumn: "r2Key", URLColumn: "r2Url", Where: `"uploadedToR2" = true`},
		},
		Orphans: &Orphans{Scope: []string{""}, MinAge: 720 * time.Hour, Protect: []string{"dev/", "prod/"}},
		EnvRead: []string{"DATABASE_URL", "NODE_ENV", "R2_ACCESS_KEY_ID", "R2_BUCKET_NAME", "R2_ENDPOINT_URL", "R2_GRACE_PERIOD", "R2_LIST_CONCURRENCY", "R2_NO_OVERWRITE", "R2_PUBLIC_URL", "R2_SECRET_ACCESS_KEY"},
		Sources: map[string][]string{
			"bucket.endpoint":          {"R2_ENDPOINT_URL"},
			"bucket.name":              {"R2_BUCKET_NAME"},
			"bucket.access_key_id":     {"R2_ACCESS_KEY_ID"},
			"bucket.secret_access_key": {"R2_SECRET_ACCESS_KEY"},
			"bucket.public_url":        {"R2_PUBLIC_URL"},
			"bucket.list_concurrency":  {"R2_LIST_CONCURRENCY"},
			"bucket.no_overwrite":      {"R2_NO_OVERWRITE"},
			"database.url":             {"DATABASE_URL"},
		},
	}
}

func TestLoadExamples(t *testing.T) {
	charhub := filepath.Join("..", "examples", "charhub.hcl")
	avatars := filepath.Join("..", "examples", "avatars.hcl")

	prod := charhubWant("prod", "https://media.charhub.app")
	prod.Vars = map[string]string{
		"NODE_ENV":            "production",
		"R2_BUCKET_NAME":      "charhub-media",
		"R2_ENDPOINT_URL":     "https://0123abcd.r2.cloudflarestorage.com",
		"R2_GRACE_PERIOD":     "168h",
		"R2_LIST_CONCURRENCY": "16",
		"R2_NO_OVERWRITE":     "auto",
		"R2_PUBLIC_URL":       "https://media.charhub.app",
	}

	devEnv := charhubEnv()
	delete(devEnv, "NODE_ENV")
	devEnv["R2_PUBLIC_URL"] = "https://cdn.example.com/media/"
	devEnv["R2_GRACE_PERIOD"] = "24h"
	dev := charhubWant("dev", "https://cdn.example.com/media")
	dev.Layout.GracePeriod = 24 * time.Hour
	dev.Vars = map[string]string{
		"NODE_ENV":            "development",
		"R2_BUCKET_NAME":      "charhub-media",
		"R2_ENDPOINT_URL":     "https://0123abcd.r2.cloudflarestorage.com",
		"R2_GRACE_PERIOD":     "24h",
		"R2_LIST_CONCURRENCY": "16",
		"R2_NO_OVERWRITE":     "auto",
		"R2_PUBLIC_URL":       "https://cdn.example.com/media/",
	}

	tests := map[string]struct {
		file string
		env  map[string]string
		vars map[string]string
		want *Config
	}{
		"charhub production": {file: charhub, env: charhubEnv(), want: prod},
		"charhub --var NODE_ENV=development": {
			file: charhub, env: devEnv, vars: map[string]string{"NODE_ENV": "development"}, want: dev,
		},
		"avatars": {
			file: avatars,
			env: map[string]string{
				"S3_BUCKET":    "avatars",
				"DATABASE_URL": "sqlite:/var/lib/app/app.db",
			},
			want: &Config{
				Filename: avatars,
				Bucket:   Bucket{Name: "avatars", Region: "us-east-1", NoOverwrite: "auto", ListConcurrency: DefaultListConcurrency},
				Database: Database{URL: "sqlite:/var/lib/app/app.db"},
				Layout: Layout{
					Placed:      []string{"characters/", "stories/"},
					GracePeriod: DefaultGracePeriod,
					Rules: []Rule{
						{Name: "avatars", Regex: regexp.MustCompile(`^(?:^avatars/(?P<id>[^/]+)\.webp$)$`), Target: "characters/${id}/avatar.webp"},
						{Name: "covers", Regex: regexp.MustCompile(`^(?:covers/([^/]+)\.jpg)$`), Target: "stories/$1/cover.jpg"},
					},
				},
				References: []Reference{{Name: "user_avatar", Table: "users", PrimaryKey: "id", KeyColumn: "avatar_key"}},
				EnvRead:    []string{"AWS_ACCESS_KEY_ID", "AWS_REGION", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "S3_BUCKET", "S3_ENDPOINT"},
				Vars:       map[string]string{"AWS_REGION": "us-east-1", "S3_BUCKET": "avatars"},
				Sources: map[string][]string{
					"bucket.endpoint":          {"S3_ENDPOINT"},
					"bucket.name":              {"S3_BUCKET"},
					"bucket.region":            {"AWS_REGION"},
					"bucket.access_key_id":     {"AWS_ACCESS_KEY_ID"},
					"bucket.secret_access_key": {"AWS_SECRET_ACCESS_KEY"},
					"database.url":             {"DATABASE_URL"},
				},
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got, diags := Load(tt.file, tt.vars, fakeEnv(tt.env))
			if len(diags) > 0 {
				var buf bytes.Buffer
				WriteDiagnostics(&buf, diags)
				t.Fatalf("unexpected diagnostics:\n%s", buf.String())
			}
			if diff := cmp.Diff(tt.want, got, cmpConfig); diff != "" {
				t.Errorf("Load mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRegexRules checks the compiled rules of avatars.hcl against keys, whole-key.
func TestRegexRules(t *testing.T) {
	cfg, diags := Load(filepath.Join("..", "examples", "avatars.hcl"), nil, fakeEnv(map[string]string{
		"S3_BUCKET": "avatars", "DATABASE_URL": "sqlite:app.db",
	}))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	tests := map[string]string{
		"avatars/17.webp":     "characters/17/avatar.webp",
		"covers/9.jpg":        "stories/9/cover.jpg",
		"x/covers/9.jpg":      "",
		"covers/9.jpg.bak":    "",
		"avatars/a/b.webp":    "",
		"characters/1/a.webp": "",
	}
	for key, want := range tests {
		got := ""
		for _, r := range cfg.Layout.Rules {
			if m := r.Regex.FindStringSubmatchIndex(key); m != nil {
				got = string(r.Regex.ExpandString(nil, r.Target, key, m))
				break
			}
		}
		if got != want {
			t.Errorf("%s -> %q, want %q", key, got, want)
		}
	}
}

// minimal returns a valid config whose layout body is layout and whose locals body is
// locals.
func minimal(locals, layout string) []byte {
	return []byte(`
locals {
` + locals + `
}
bucket {
  name = "b"
}
database {
  url = "sqlite:app.db"
}
layout {
` + layout + `
}
`)
}

func TestExpressions(t *testing.T) {
	tests := map[string]struct {
		locals string
		target string
		env    map[string]string
		vars   map[string]string
		want   string
	}{
		"literal":            {target: `"new/"`, want: "new/"},
		"env":                {target: `"${env("T")}/"`, env: map[string]string{"T": "x"}, want: "x/"},
		"env default":        {target: `"${env("T", "d")}/"`, want: "d/"},
		"env empty is unset": {target: `"${env("T", "d")}/"`, env: map[string]string{"T": ""}, want: "d/"},
		"var overrides env":  {target: `"${env("T")}/"`, env: map[string]string{"T": "env"}, vars: map[string]string{"T": "var"}, want: "var/"},
		"var reference":      {target: `"${var.where}/"`, vars: map[string]string{"where": "v"}, want: "v/"},
		"conditional":        {target: `env("NODE_ENV", "dev") == "production" ? "prod/" : "dev/"`, env: map[string]string{"NODE_ENV": "production"}, want: "prod/"},
		"lower upper":        {target: `"${lower("AB")}${upper("cd")}/"`, want: "abCD/"},
		"replace":            {target: `replace("a-b-c/", "-", "_")`, want: "a_b_c/"},
		"trimprefix":         {target: `trimprefix("xx/keep/", "xx/")`, want: "keep/"},
		"trimsuffix":         {target: `"${trimsuffix("keep.old", ".old")}/"`, want: "keep/"},
		"format":             {target: `format("%s-%02d/", "v", 7)`, want: "v-07/"},
		"join":               {target: `"${join("-", ["a", "b"])}/"`, want: "a-b/"},
		"coalesce":           {target: `"${coalesce(env("T", ""), "fallback")}/"`, want: "fallback/"},
		"locals in any order": {
			locals: `
  b = "${local.a}-b"
  a = lower(env("T"))`,
			target: `"${local.b}/"`, env: map[string]string{"T": "A"}, want: "a-b/",
		},
		"locals in two blocks": {
			locals: `c = "${local.a}${local.b}"
  a = "x"
}
locals {
  b = "y"`,
			target: `"${local.c}/"`, want: "xy/",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			src := minimal(tt.locals, `
  move "m" {
    prefix = "src/"
    target = `+tt.target+`
  }`)
			cfg, diags := LoadSource("test.hcl", src, tt.vars, fakeEnv(tt.env))
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got := cfg.Layout.Rules[0].Target; got != tt.want {
				t.Errorf("target = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestExpressionErrors(t *testing.T) {
	tests := map[string]struct {
		locals, target string
		want           string
	}{
		"env unset":        {target: `env("NOPE")`, want: "environment variable NOPE is not set"},
		"var not given":    {target: `var.nope`, want: "No value was given for var.nope"},
		"local cycle":      {locals: `a = local.b` + "\n" + `b = local.a`, target: `local.a`, want: "Circular reference"},
		"self reference":   {locals: `a = "${local.a}/"`, target: `local.a`, want: "Circular reference"},
		"undeclared local": {target: `local.nope`, want: `No local value named "nope"`},
		"unknown function": {target: `nope("x")`, want: `There is no function named "nope"`},
		"unknown variable": {target: `nope.x`, want: `There is no variable named "nope"`},
		"env empty name":   {target: `env("")`, want: "must not be empty"},
		"env not a string": {target: `env(["a"])`, want: "string required"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			src := minimal(tt.locals, `
  move "m" {
    prefix = "src/"
    target = `+tt.target+`
  }`)
			cfg, diags := LoadSource("test.hcl", src, nil, fakeEnv(nil))
			if cfg != nil || !diags.HasErrors() {
				t.Fatalf("got config %v and diags %v, want an error", cfg, diags)
			}
			if !strings.Contains(diags.Error(), tt.want) {
				t.Errorf("diagnostics %q do not contain %q", diags.Error(), tt.want)
			}
		})
	}
}

func TestUnusedVarWarns(t *testing.T) {
	cfg, diags := LoadSource("test.hcl", minimal("", ""), map[string]string{"NODE_EVN": "production"}, fakeEnv(nil))
	if cfg == nil || diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || !strings.Contains(diags[0].Detail, "NODE_EVN") {
		t.Errorf("diags = %v, want one warning about NODE_EVN", diags)
	}
}

func loadCharhub(t *testing.T, env map[string]string) *Config {
	t.Helper()
	cfg, diags := Load(filepath.Join("..", "examples", "charhub.hcl"), nil, fakeEnv(env))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return cfg
}

func TestDigest(t *testing.T) {
	base := loadCharhub(t, charhubEnv()).Digest()
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(base) {
		t.Fatalf("digest %q is not sha256:<hex>", base)
	}
	if again := loadCharhub(t, charhubEnv()).Digest(); again != base {
		t.Errorf("digest not stable: %s then %s", base, again)
	}

	tests := map[string]struct {
		change      func(env map[string]string)
		wantChanged bool
	}{
		"NODE_ENV":             {func(e map[string]string) { e["NODE_ENV"] = "development" }, true},
		"bucket name":          {func(e map[string]string) { e["R2_BUCKET_NAME"] = "other" }, true},
		"endpoint host":        {func(e map[string]string) { e["R2_ENDPOINT_URL"] = "https://other.r2.cloudflarestorage.com" }, true},
		"public url":           {func(e map[string]string) { e["R2_PUBLIC_URL"] = "https://img.example.com" }, true},
		"grace period":         {func(e map[string]string) { e["R2_GRACE_PERIOD"] = "1h" }, true},
		"grace period spelled": {func(e map[string]string) { e["R2_GRACE_PERIOD"] = "10080m" }, false},
		"public url slash":     {func(e map[string]string) { e["R2_PUBLIC_URL"] = "https://media.charhub.app/" }, false},
		"endpoint scheme only": {func(e map[string]string) { e["R2_ENDPOINT_URL"] = "http://0123abcd.r2.cloudflarestorage.com" }, false},
		"secret access key":    {func(e map[string]string) { e["R2_SECRET_ACCESS_KEY"] = "rotated" }, false},
		"access key id":        {func(e map[string]string) { e["R2_ACCESS_KEY_ID"] = "AKIDROTATED" }, false},
		"database password":    {func(e map[string]string) { e["DATABASE_URL"] = "postgres://charhub:new@db.internal:5432/charhub" }, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			env := charhubEnv()
			tt.change(env)
			got := loadCharhub(t, env).Digest()
			if changed := got != base; changed != tt.wantChanged {
				t.Errorf("digest changed = %v, want %v", changed, tt.wantChanged)
			}
		})
	}
}

func TestSecrets(t *testing.T) {
	cfg := loadCharhub(t, charhubEnv())
	want := []string{
		"AKIDCHARHUB0001",
		"p%40ss-w0rd",
		"p@ss-w0rd",
		"postgres://charhub:p%40ss-w0rd@db.internal:5432/charhub?sslmode=require",
		"postgres://charhub:p@ss-w0rd@db.internal:5432/charhub?sslmode=require",
		"sk-charhub-very-secret",
	}
	if diff := cmp.Diff(want, cfg.Secrets()); diff != "" {
		t.Errorf("Secrets mismatch (-want +got):\n%s", diff)
	}
	for name, v := range cfg.Vars {
		for _, s := range cfg.Secrets() {
			if strings.Contains(v, s) || strings.Contains(s, v) {
				t.Errorf("Vars[%s] = %q overlaps secret %q", name, v, s)
			}
		}
	}

	dsn := (&Config{Database: Database{URL: "sqlite:app.db?_auth_pass=x1&token=tok-123"}}).Secrets()
	if !cmp.Equal(dsn, []string{"sqlite:app.db?_auth_pass=x1&token=tok-123", "tok-123", "x1"}) {
		t.Errorf("Secrets of query-string URL = %q", dsn)
	}
}

// TestVarsOmitSecrets: a variable whose value flows into a secret, directly or through
// a local, is not recorded in Vars, nor is an empty one.
func TestVarsOmitSecrets(t *testing.T) {
	src := []byte(`
locals {
  password = env("PGPASSWORD")
}
bucket {
  name              = env("BUCKET")
  access_key_id     = env("KEY_ID")
  secret_access_key = "${env("SECRET_PREFIX")}-tail"
}
database {
  url = "postgres://app:${local.password}@db/${env("DB_NAME")}"
}
layout {
  placed = ["${env("EMPTY", "")}x/"]
}
`)
	env := map[string]string{
		"PGPASSWORD": "pw-123456", "BUCKET": "media", "KEY_ID": "AKID1234",
		"SECRET_PREFIX": "abcdef", "DB_NAME": "appdb-main",
	}
	cfg, diags := LoadSource("vars.hcl", src, nil, fakeEnv(env))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	wantVars := map[string]string{"BUCKET": "media"}
	if diff := cmp.Diff(wantVars, cfg.Vars); diff != "" {
		t.Errorf("Vars mismatch (-want +got):\n%s", diff)
	}
	wantRead := []string{"BUCKET", "DB_NAME", "EMPTY", "KEY_ID", "PGPASSWORD", "SECRET_PREFIX"}
	if diff := cmp.Diff(wantRead, cfg.EnvRead); diff != "" {
		t.Errorf("EnvRead mismatch (-want +got):\n%s", diff)
	}
}

// TestDiagnosticsNeverShowSecrets: a secret reaching an error through a local is
// neither in the message nor in the "local.x is …" lines of the text writer.
func TestDiagnosticsNeverShowSecrets(t *testing.T) {
	const secret = "sk-live-0123456789"
	src := []byte(`
locals {
  k = env("R2_SECRET_ACCESS_KEY")
}
bucket {
  name              = local.k + 1
  secret_access_key = local.k
  access_key_id     = "AKID"
  public_url        = local.k
}
database {
  url = local.k
}
layout {
  grace_period = local.k
}
`)
	_, diags := LoadSource("secret.hcl", src, nil, fakeEnv(map[string]string{"R2_SECRET_ACCESS_KEY": secret}))
	if len(diags) < 4 {
		t.Fatalf("want at least 4 diagnostics, got %v", diags)
	}
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, diags); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), secret) {
		t.Errorf("secret in diagnostics:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "(sensitive value)") {
		t.Errorf("want a redacted value in:\n%s", buf.String())
	}
}

func TestWriteDiagnosticsSnippet(t *testing.T) {
	_, diags := LoadSource("snippet.hcl", minimal("", `  grace_period = "7days"`), nil, fakeEnv(nil))
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, diags); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Error: Invalid duration", "on snippet.hcl line 12, in layout:", `grace_period = "7days"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	cfg, diags := Load(filepath.Join(t.TempDir(), "nope.hcl"), nil, os.LookupEnv)
	if cfg != nil || !diags.HasErrors() || !strings.Contains(diags.Error(), "Failed to read config file") {
		t.Errorf("got %v, %v", cfg, diags)
	}
}

func TestDeclRanges(t *testing.T) {
	cfg := loadCharhub(t, charhubEnv())
	for what, r := range map[string]hcl.Range{
		"bucket": cfg.Bucket.DeclRange, "layout": cfg.Layout.DeclRange,
		"rule": cfg.Layout.Rules[0].DeclRange, "reference": cfg.References[2].DeclRange,
		"orphans": cfg.Orphans.DeclRange,
	} {
		if !strings.HasSuffix(r.Filename, "charhub.hcl") || r.Start.Line == 0 {
			t.Errorf("%s DeclRange = %v", what, r)
		}
	}
}

// TestSourcesThroughLocals: an attribute fed by a local names the variables the local
// read, and a local of locals too.
func TestSourcesThroughLocals(t *testing.T) {
	src := `
locals {
  host = env("HOST")
  base = "https://${local.host}:${var.PORT}"
}
bucket {
  endpoint = local.base
  name     = "media"
}
database {
  url = format("sqlite:%s", env("DB_PATH", "app.db"))
}
layout {}
`
	cfg, diags := LoadSource("sources.hcl", []byte(src), map[string]string{"PORT": "9000"}, fakeEnv(map[string]string{"HOST": "s3.local"}))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := map[string][]string{
		"bucket.endpoint": {"HOST", "PORT"},
		"database.url":    {"DB_PATH"},
	}
	if diff := cmp.Diff(want, cfg.Sources); diff != "" {
		t.Errorf("Sources mismatch (-want +got):\n%s", diff)
	}
}
