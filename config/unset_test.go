package config

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAllowUnsetSecrets checks that, for validation, an unset variable is accepted
// when it flows only into a secret, and is an error as always otherwise.
func TestAllowUnsetSecrets(t *testing.T) {
	without := func(names ...string) map[string]string {
		env := maps.Clone(charhubEnv())
		for _, n := range names {
			delete(env, n)
		}
		return env
	}
	const head = "bucket {\n  name = \"b\"\n"
	tests := map[string]struct {
		file      string // "" for examples/charhub.hcl
		env       map[string]string
		wantUnset []string
		wantErr   string // a substring of the diagnostics; "" for none
	}{
		"charhub, all set":      {env: charhubEnv()},
		"charhub, no secrets":   {env: without("R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY", "DATABASE_URL"), wantUnset: []string{"DATABASE_URL", "R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"}},
		"charhub, one key":      {env: without("R2_SECRET_ACCESS_KEY"), wantUnset: []string{"R2_SECRET_ACCESS_KEY"}},
		"charhub, no NODE_ENV":  {env: without("NODE_ENV", "DATABASE_URL"), wantErr: "environment variable NODE_ENV is not set"},
		"charhub, no bucket":    {env: without("R2_BUCKET_NAME", "DATABASE_URL"), wantErr: "R2_BUCKET_NAME is not set"},
		"password in the url":   {file: head + "}\ndatabase {\n  url = \"postgres://u:${env(\"PGPASS\")}@db/app\"\n}\nlayout {}\n", wantUnset: []string{"PGPASS"}},
		"through a local":       {file: "locals {\n  db = env(\"DB\")\n}\n" + head + "}\ndatabase {\n  url = local.db\n}\nlayout {}\n", wantUnset: []string{"DB"}},
		"var.NAME":              {file: head + "  access_key_id = var.KEY\n  secret_access_key = var.SECRET\n}\ndatabase {\n  url = \"sqlite:x.db\"\n}\nlayout {}\n", wantUnset: []string{"KEY", "SECRET"}},
		"secret and non-secret": {file: head + "  endpoint = env(\"EP\")\n}\ndatabase {\n  url = env(\"EP\")\n}\nlayout {}\n", wantErr: "EP is not set"},
		"unused local":          {file: "locals {\n  x = env(\"X\")\n}\n" + head + "}\ndatabase {\n  url = \"sqlite:x.db\"\n}\nlayout {}\n", wantErr: "X is not set"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("..", "examples", "charhub.hcl")
			if tt.file != "" {
				path = filepath.Join(t.TempDir(), "r2plan.hcl")
				writeFile(t, path, tt.file)
			}
			cfg, diags := LoadWith(path, nil, fakeEnv(tt.env), LoadOptions{AllowUnsetSecrets: true})
			if tt.wantErr != "" {
				if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.wantErr) {
					t.Fatalf("diagnostics %v, want an error with %q", diags, tt.wantErr)
				}
				if cfg != nil {
					t.Errorf("a Config with errors")
				}
				return
			}
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if diff := cmp.Diff(tt.wantUnset, cfg.UnsetSecrets); diff != "" {
				t.Errorf("UnsetSecrets (-want +got):\n%s", diff)
			}
			// Without the option, every unset variable stays an error.
			if _, diags := Load(path, nil, fakeEnv(tt.env)); len(tt.wantUnset) > 0 && !diags.HasErrors() {
				t.Errorf("Load without the option accepted unset %q", tt.wantUnset)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
