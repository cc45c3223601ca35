package main

import (
	"bytes"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/r2plan/r2plan/plan"
)

// hostileKeys are keys and values that break Markdown written naively.
var hostileKeys = []string{
	"a`b``c```d.png",         // runs of backticks
	"`leading and trailing`", // backticks at the ends
	"pipes|in|a|cell.png",
	`back\slash\|pipe.png`,
	"<script>alert(1)</script>.png",
	"&amp;&lt;entity.png",
	"line\nbreak\r\n.png",
	"# heading.png",
	"trailing backslash\\",
	"*emphasis* _under_ ~~strike~~ [link](x) @mention #123.png",
	"emoji 🐈‍⬛ and ✓.png",
	"cafe\u0301 NFD.png", // e + combining acute
	" spaces at both ends ",
}

// samplePlan is a plan holding every hostile key in every place a view shows one.
func samplePlan(keys []string) (*plan.Header, []plan.Entry) {
	h := &plan.Header{
		ToolVersion: "v1.2.3", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Bucket:    plan.BucketID{Endpoint: "http://127.0.0.1:7070", Name: "charhub-media"},
		Database:  plan.DatabaseID{Driver: "sqlite", Name: "app.db"},
		Variables: map[string]string{"NODE_ENV": "production", "PREFIX": "prod/"},
		References: []plan.Reference{
			{Name: "image", Table: "CharacterImage", PrimaryKey: "id", KeyColumn: "key", URLColumn: "url"},
		},
	}
	s := &h.Summary
	var entries []plan.Entry
	for i, k := range keys {
		entries = append(entries, plan.Entry{Move: &plan.Move{Key: k, Target: "prod/" + k, Size: 10, Copy: true,
			Rewrites: []plan.Rewrite{{Reference: "image", Column: "key", PK: k, Old: k, New: "prod/" + k}}}})
		s.Copies++
		s.Rewrites++
		s.RewriteRows++
		s.Prefixes = append(s.Prefixes, plan.PrefixSummary{Prefix: k, Objects: 1, Bytes: 10})
		entries = append(entries, plan.Entry{Delete: &plan.Deletion{Key: k, Reason: plan.ReasonOrphan, Size: int64(i)}})
		s.Deletes++
		s.DeletesOrphan++
		s.DeleteBytes += int64(i)
		s.DeleteBytesOrphan += int64(i)
		entries = append(entries, plan.Entry{Conflict: &plan.Conflict{Key: k, Target: "prod/" + k, Reason: plan.ReasonTargetDiffers, Rows: 1}})
		s.Conflicts++
		entries = append(entries, plan.Entry{Dangling: &plan.Dangling{Reference: "image", Column: "key", PK: k, Value: k, Key: k}})
		s.Dangling++
	}
	s.References = []plan.RefSummary{{Name: "image", Table: "CharacterImage", Rows: len(keys), Rewrites: len(keys), RewriteRows: len(keys),
		Columns: []plan.ColumnSummary{{Column: "key", Rewrites: len(keys)}}}}
	s.SetDeleteBudget(1000)
	s.Partial, s.Scope = true, &plan.Scope{Include: keys[:min(len(keys), 5)]}
	return h, entries
}

func stream(entries []plan.Entry) func(func(plan.Entry) error) error {
	return func(yield func(plan.Entry) error) error {
		for _, e := range entries {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	}
}

var (
	codeRE  = regexp.MustCompile(`(?s)<code>(.*?)</code>`)
	tableRE = regexp.MustCompile(`(?s)<table>.*?</table>`)
	rowRE   = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	cellRE  = regexp.MustCompile(`<t[hd][ >]`)
)

// TestMarkdownKeysAsReaderSeesThem renders the markdown view with a GFM renderer and
// checks that a reader sees each hostile key exactly, in every place it appears, that
// no key breaks a table row or becomes HTML, and that numbers are right-aligned.
func TestMarkdownKeysAsReaderSeesThem(t *testing.T) {
	h, entries := samplePlan(hostileKeys)
	var md bytes.Buffer
	if err := (markdownView{w: &md, file: "move.plan"}).render(h, stream(entries), digestOf("sha256:0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := goldmark.New(goldmark.WithExtensions(extension.GFM)).Convert(md.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	rendered := out.String()
	seen := map[string]int{}
	for _, m := range codeRE.FindAllStringSubmatch(rendered, -1) {
		seen[html.UnescapeString(m[1])]++
	}
	for i, k := range hostileKeys {
		want := visible(k)
		// Each key is a move's key and the prefix table's, a deletion's, a conflict's,
		// a dangling row's key and value; each target a move's and a conflict's. The
		// first samplesPer are in the samples too: row, old value and new value.
		keys, targets := 6, 2
		if i < samplesPer {
			keys, targets = 8, 3
		}
		if seen[want] != keys {
			t.Errorf("key %q: a reader sees it as a code span %d times, want %d (the key: %q)", k, seen[want], keys, want)
		}
		if seen["prod/"+want] != targets {
			t.Errorf("target %q: seen %d times, want %d", "prod/"+k, seen["prod/"+want], targets)
		}
	}
	if strings.Contains(rendered, "<script") {
		t.Errorf("a key became HTML:\n%s", rendered)
	}
	for _, table := range tableRE.FindAllString(rendered, -1) {
		rows := rowRE.FindAllStringSubmatch(table, -1)
		want := len(cellRE.FindAllString(rows[0][1], -1))
		for _, r := range rows[1:] {
			if got := len(cellRE.FindAllString(r[1], -1)); got != want {
				t.Errorf("a table row has %d cells, its header %d: %s", got, want, r[1])
			}
		}
	}
	for _, want := range []string{
		`<th style="text-align:right">objects to copy</th>`,
		`<th style="text-align:right">values to rewrite</th>`,
		"<code>NODE_ENV=production</code>", "<code>PREFIX=prod/</code>", "<code>charhub-media</code>",
		"<td>orphans (referenced by no row)</td>",
		"Delete budget: 13 orphan deletions, within the budget of 1000.",
	} {
		if !strings.Contains(rendered, want) {
			t.Errorf("rendered markdown lacks %q:\n%s", want, rendered)
		}
	}
}

// TestMarkdownBudget keeps a huge plan's comment under GitHub's limit, with a note
// that says how to see the rest.
func TestMarkdownBudget(t *testing.T) {
	keys := make([]string, 20000)
	for i := range keys {
		keys[i] = fmt.Sprintf("characters/%06d/%s.webp", i, strings.Repeat("x", 40))
	}
	h, entries := samplePlan(keys)
	var md bytes.Buffer
	if err := (markdownView{w: &md, file: "big.plan"}).render(h, stream(entries), digestOf("sha256:00")); err != nil {
		t.Fatal(err)
	}
	if n := len([]rune(md.String())); n >= 65000 {
		t.Errorf("the comment has %d characters, want under 65,000", n)
	}
	for _, want := range []string{"<details><summary>Changes: 20000</summary>", "<details><summary>Dangling references: 20000</summary>",
		"more: `r2plan show --all big.plan` (or `r2plan show --format=json big.plan`) lists them all."} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the comment lacks %q", want)
		}
	}
}

// TestCodeSpan checks the fences and padding directly.
func TestCodeSpan(t *testing.T) {
	tests := map[string]struct{ in, code, cell string }{
		"plain":         {"a.png", "`a.png`", "`a.png`"},
		"backticks":     {"a``b", "```a``b```", "```a``b```"},
		"edge backtick": {"`a", "`` `a ``", "`` `a ``"},
		"pipe":          {"a|b", "`a|b`", "`a\\|b`"},
		"spaces":        {" a ", "`  a  `", "`  a  `"},
		"all spaces":    {"  ", "`  `", "`  `"},
		"newline":       {"a\nb", "`a␊b`", "`a␊b`"},
		"empty":         {"", "(empty)", "(empty)"},
	}
	for name, tc := range tests {
		if got := mdCode(tc.in); got != tc.code {
			t.Errorf("%s: mdCode(%q) = %q, want %q", name, tc.in, got, tc.code)
		}
		if got := mdCell(tc.in); got != tc.cell {
			t.Errorf("%s: mdCell(%q) = %q, want %q", name, tc.in, got, tc.cell)
		}
	}
}

// TestShowAll checks that the table view, as 'r2plan show --all' makes it, lists every
// entry and prefix the markdown comment may leave out, and that without --all it says
// how to see them.
func TestShowAll(t *testing.T) {
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = fmt.Sprintf("p%02d/k.webp", i)
	}
	h, entries := samplePlan(keys)
	for name, all := range map[string]bool{"--all": true, "default": false} {
		var out bytes.Buffer
		v, err := viewFor("table", &out, all, "big.plan")
		if err != nil {
			t.Fatal(err)
		}
		if err := v.render(h, stream(entries), digestOf("sha256:00")); err != nil {
			t.Fatal(err)
		}
		listed := 0
		for _, k := range keys {
			if strings.Contains(out.String(), "│ prod/"+k) {
				listed++
			}
		}
		hint := strings.Contains(out.String(), "(first 20 of 40; 'r2plan show --all big.plan' lists them all)")
		if all && (listed != 40 || hint || !strings.Contains(out.String(), "p39/")) {
			t.Errorf("%s: %d of 40 moves listed (hint %v)", name, listed, hint)
		}
		if !all && (listed != 20 || !hint) {
			t.Errorf("%s: %d of 40 moves listed (hint %v), want 20 and the hint", name, listed, hint)
		}
	}
}
