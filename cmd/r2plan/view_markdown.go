package main

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/r2plan/r2plan/plan"
)

// markdownBudget keeps a pull-request comment under GitHub's limit of 65,536
// characters, whatever the plan's size: the view counts bytes, never fewer than
// characters, and stops short of the limit with room for the closing notes.
const markdownBudget = 60000

// markdownView is for a pull-request comment: what the plan changes and where, in the
// order a reviewer asks, long lists collapsed. file names the plan file in the note
// that says how to see what a long list leaves out ("" when unknown).
type markdownView struct {
	w    io.Writer
	file string
}

func (v markdownView) render(h *plan.Header, entries func(func(plan.Entry) error) error, digest func() (string, error)) error {
	s := &h.Summary
	d, err := digest()
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "### r2plan: %s\n\n", mdText(summaryLine(s)))
	id := "(not saved)"
	if d != "" {
		id = mdCode(plan.ID(d))
	}
	fmt.Fprintf(&b, "Plan %s, made %s by r2plan %s.\n\n", id, h.CreatedAt.Format("2006-01-02 15:04 MST"), mdCode(h.ToolVersion))
	fmt.Fprintf(&b, "- **Bucket:** %s at %s\n", mdCode(h.Bucket.Name), mdCode(h.Bucket.Endpoint))
	fmt.Fprintf(&b, "- **Database:** %s\n", mdCode(databaseName(h.Database)))
	if h.Config != nil {
		fmt.Fprintf(&b, "- **Configuration:** %s\n", mdCode(h.Config.Path))
	}
	if vars := variablesLine(h, mdCode); vars != "" {
		fmt.Fprintf(&b, "- **Variables:** %s\n", vars)
	}
	b.WriteString("\n")
	for _, line := range []string{partialLine(s), budgetLine(s), discoveryLine(s)} {
		if line != "" {
			fmt.Fprintf(&b, "> [!WARNING]\n> %s\n\n", mdText(line))
		}
	}
	fmt.Fprintf(&b, "Listed **%d** objects (%s): %d already placed, %d matched by no rule, **%d to copy** (%s).\n\n",
		s.Objects, humanBytes(s.Bytes), s.Placed, s.Unmatched, s.Copies, humanBytes(s.CopyBytes))
	fmt.Fprintf(&b, "**%s**\n\n", mdText(deletionLine(s)))
	if rows := deletionReasons(s); len(rows) > 0 {
		mdTable(&b, []string{"deleted because", "objects", "bytes"}, cols(1, 2), rows)
	}
	if line := budgetState(s); line != "" {
		fmt.Fprintf(&b, "%s\n\n", mdText(line))
	}
	if fs := findings(s); len(fs) > 0 {
		for _, f := range fs {
			fmt.Fprintf(&b, "- %s\n", mdText(f))
		}
		b.WriteString("\n")
	}
	if len(s.Prefixes) > 0 {
		mdTable(&b, []string{"prefix", "objects to copy", "bytes"}, cols(1, 2), prefixRows(s, 30, mdCell))
	}
	if len(s.References) > 0 {
		mdTable(&b, referenceHeader, referenceNumeric, referenceRows(s, mdCell))
	}

	// The lists share what is left of the budget, a quarter each, once the samples of
	// rewrites (known only at the end of the entries) have their room.
	samples := newRewriteSamples(h.References)
	const sampleRoom = 8000
	room := max(0, markdownBudget-b.Len()-sampleRoom) / 4
	moves := newCollapsed("Changes", room)
	deletes := newCollapsed("Deletions", room)
	conflicts := newCollapsed("Conflicts (not moved)", room)
	dangling := newCollapsed("Dangling references", room)
	err = entries(func(e plan.Entry) error {
		switch a := e.Action(); a {
		case plan.ActionCopy, plan.ActionRewrite:
			m := e.Move
			samples.add(m)
			moves.add(fmt.Sprintf("- %s %s → %s (%s)\n", actionWord(a), mdCode(m.Key), mdCode(m.Target), rowCount(m)))
		case plan.ActionDelete:
			d := e.Delete
			item := fmt.Sprintf("- %s %s (%s)\n", d.Reason, mdCode(d.Key), humanBytes(d.Size))
			if d.Target != "" {
				item = fmt.Sprintf("- %s %s (%s; identical copy at %s)\n", d.Reason, mdCode(d.Key), humanBytes(d.Size), mdCode(d.Target))
			}
			deletes.add(item)
		case plan.ActionConflict:
			c := e.Conflict
			conflicts.add(fmt.Sprintf("- %s → %s: %s (%d rows)\n", mdCode(c.Key), mdCode(c.Target), mdText(c.Reason), c.Rows))
		case plan.ActionDangling:
			d := e.Dangling
			dangling.add(fmt.Sprintf("- %s row %s: %s\n", mdCode(d.Reference+"."+d.Column), mdCode(d.PK), mdCode(d.Value)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if list := samples.list(); len(list) > 0 {
		var t bytes.Buffer
		fmt.Fprintf(&t, "Rewrites, old → new (the first %d of each reference and column, in plan order):\n\n", samplesPer)
		rows := make([][]string, 0, len(list))
		for _, rw := range list {
			rows = append(rows, []string{mdCell(rw.Reference + "." + rw.Column), mdCell(rw.PK), sampleCell(rw.Old), sampleCell(rw.New)})
		}
		mdTable(&t, []string{"reference.column", "row", "old", "new"}, nil, rows)
		if t.Len() > sampleRoom {
			t.Reset()
			fmt.Fprintf(&t, "The samples of rewrites do not fit in this comment: %s shows them.\n\n", seeAll(v.file))
		}
		b.Write(t.Bytes())
	}
	for _, c := range []*collapsed{moves, deletes, conflicts, dangling} {
		c.writeTo(&b, v.file)
	}
	_, err = v.w.Write(b.Bytes())
	return err
}

// sampleMax is the longest value a sample shows in full.
const sampleMax = 300

// sampleCell is a sample value in a table cell, cut after sampleMax bytes (at a rune).
func sampleCell(s string) string {
	if len(s) <= sampleMax {
		return mdCell(s)
	}
	cut := sampleMax
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes)", mdCell(s[:cut]), len(s)-cut)
}

// seeAll is the command that shows every entry of the plan file.
func seeAll(file string) string {
	if file == "" {
		file = "PLANFILE"
	}
	return fmt.Sprintf("%s (or %s)", mdCode("r2plan show --all "+file), mdCode("r2plan show --format=json "+file))
}

// mdText is s as Markdown text that shows as s: each character that could start
// emphasis, a code span, a link, HTML, an entity, a table cell, a strike, a heading, an
// @mention or a #reference backslash-escaped (CommonMark allows it of any ASCII
// punctuation), control characters as their pictures. For the views' own sentences,
// which may quote keys; they never start a line with a digit, - or +.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range visible(s) {
		if strings.ContainsRune("\\`*_[]<>&|~#@!", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// collapsed is a list inside <details>, cut off when it would exceed its budget.
type collapsed struct {
	title  string
	budget int
	body   bytes.Buffer
	shown  int
	total  int
}

func newCollapsed(title string, budget int) *collapsed {
	return &collapsed{title: title, budget: budget}
}

func (c *collapsed) add(item string) {
	c.total++
	if c.shown < c.total-1 || c.body.Len()+len(item) > c.budget {
		return // once one item is left out, so is every later one: the list is a prefix
	}
	c.shown++
	c.body.WriteString(item)
}

func (c *collapsed) writeTo(b *bytes.Buffer, file string) {
	if c.total == 0 {
		return
	}
	fmt.Fprintf(b, "<details><summary>%s: %d</summary>\n\n", c.title, c.total)
	b.Write(c.body.Bytes())
	if c.shown < c.total {
		fmt.Fprintf(b, "\n… and %d more: %s lists them all.\n", c.total-c.shown, seeAll(file))
	}
	b.WriteString("\n</details>\n\n")
}
