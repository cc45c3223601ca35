package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadSource checks that no input makes LoadSource panic, and that a nil Config
// always comes with an error.
func FuzzLoadSource(f *testing.F) {
	for _, glob := range []string{"../examples/*.hcl", "../testdata/config/errors/*.hcl"} {
		paths, _ := filepath.Glob(glob)
		for _, p := range paths {
			if src, err := os.ReadFile(p); err == nil {
				f.Add(src)
			}
		}
	}
	f.Add([]byte(`locals { a = local.a }`))
	f.Add([]byte(`layout { move "x" { regex = "(" target = "$$${x}" } }`))
	env := fakeEnv(map[string]string{"NODE_ENV": "production", "DATABASE_URL": "sqlite:x.db", "R2_BUCKET_NAME": "b"})
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := LoadSource("fuzz.hcl", src, map[string]string{"v": "1"}, env)
		if cfg == nil && !diags.HasErrors() {
			t.Fatal("nil Config without an error")
		}
		if cfg != nil {
			_ = cfg.Digest()
			_ = cfg.Secrets()
		}
	})
}
