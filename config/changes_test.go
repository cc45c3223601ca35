package config

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestChanges compares a configuration with the settings a plan recorded: each
// difference is a line naming the variable, or the block, the setting and its line.
func TestChanges(t *testing.T) {
	raw, err := os.ReadFile("../examples/charhub.hcl")
	if err != nil {
		t.Fatal(err)
	}
	src := string(raw)
	load := func(t *testing.T, src string, env map[string]string) *Config {
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		cfg, diags := LoadSource("charhub.hcl", []byte(src), nil, lookup)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return cfg
	}
	// at is "charhub.hcl:N", N the line of the block that starts with header in s.
	at := func(s, header string) string {
		return fmt.Sprintf("charhub.hcl:%d", strings.Count(s[:strings.Index(s, header)], "\n")+1)
	}
	withoutStory := func() string {
		i := strings.Index(src, `reference "story_cover"`)
		j := i + strings.Index(src[i:], "}\n") + 2
		return src[:i] + src[j:]
	}()
	whereSrc := strings.Replace(src, `"\"uploadedToR2\" = true"`, `"\"uploadedToR2\" = true AND 1 < 2"`, 1)
	base := load(t, src, charhubEnv())
	tests := map[string]struct {
		src  string
		env  map[string]string
		want []string
	}{
		"same": {src: src},
		"a variable": {
			src: src,
			env: map[string]string{"NODE_ENV": "development"},
			want: []string{
				`variable NODE_ENV is "development" now, "production" in the plan`,
				`move "environment" target (` + at(src, `move "environment"`) + `) is "dev/" now, "prod/" in the plan`,
			},
		},
		"a where clause with < and &": {
			src: whereSrc,
			want: []string{`reference "curated_image" where (` + at(whereSrc, `reference "curated_image"`) +
				`) is "\"uploadedToR2\" = true AND 1 < 2" now, "\"uploadedToR2\" = true" in the plan`},
		},
		"a reference removed": {
			src:  withoutStory,
			want: []string{`reference "story_cover" is gone now, in the plan`},
		},
		"a reference added, a rule changed": {
			src: strings.Replace(strings.Replace(src, `reference "story_cover"`, `reference "story_cover2"`, 1), `target = "${local.env}/"`, `target = "${local.env}/x/"`, 1),
			want: []string{
				`move "environment" target (` + at(src, `move "environment"`) + `) is "prod/x/" now, "prod/" in the plan`,
				`reference "story_cover" is gone now, in the plan`,
				`reference "story_cover2" (` + at(src, `reference "story_cover"`) + `) is new, not in the plan`,
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := charhubEnv()
			for k, v := range tc.env {
				env[k] = v
			}
			got := load(t, tc.src, env).Changes(base.Settings(), base.Vars)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Changes (-want +got):\n%s", diff)
			}
		})
	}
}
