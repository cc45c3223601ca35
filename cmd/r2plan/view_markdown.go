package main

import (
	"bytes"
	"fmt"
	"io"

	"github.com/r2plan/r2plan/plan"
)

// markdownBudget keeps a pull-request comment under GitHub's 65,536-character limit,
// whatever the plan's size.
const markdownBudget = 60000

// markdownView is for a pull-request comment: counts first, long lists collapsed.
type markdownView struct{ w io.Writer }

func (v markdownView) render(h *plan.Header, entries func(func(plan.Entry) error) error, digest string) error {
	s := &h.Summary
	var b bytes.Buffer
	fmt.Fprintf(&b, "### r2plan: %s\n\n", summaryLine(s))
	fmt.Fprintf(&b, "Plan `%s` for bucket `%s` at `%s` and the %s, made %s by r2plan %s.\n\n",
		plan.ID(digest), mdEscape(h.Bucket.Name), mdEscape(h.Bucket.Endpoint), mdEscape(databaseName(h.Database)),
		h.CreatedAt.Format("2006-01-02 15:04 MST"), mdEscape(h.ToolVersion))
	fmt.Fprintf(&b, "Listed **%d** objects (%s): %d already placed, %d matched by no rule, **%d to copy** (%s).\n\n",
		s.Objects, humanBytes(s.Bytes), s.Placed, s.Unmatched, s.Copies, humanBytes(s.CopyBytes))
	for _, line := range []string{partialLine(s), budgetLine(s), discoveryLine(s)} {
		if line != "" {
			fmt.Fprintf(&b, "> [!WARNING]\n> %s\n\n", line)
		}
	}
	fmt.Fprintf(&b, "**%s**\n\n", deletionLine(s))
	for _, f := range findings(s) {
		fmt.Fprintf(&b, "- %s\n", f)
	}
	b.WriteString("\n")
	if len(s.Prefixes) > 0 {
		t := newTable(&b, true)
		t.Header("prefix", "objects to copy", "bytes")
		t.Bulk(escapeRows(prefixRows(s, 30)))
		if err := t.Render(); err != nil {
			return err
		}
		b.WriteString("\n")
	}
	if len(s.References) > 0 {
		t := newTable(&b, true)
		t.Header(toAny(referenceHeader)...)
		t.Bulk(escapeRows(referenceRows(s)))
		if err := t.Render(); err != nil {
			return err
		}
		b.WriteString("\n")
	}

	// The lists share what is left of the budget, a third each at first.
	room := (markdownBudget - b.Len()) / 4
	moves := newCollapsed("Changes", room)
	deletes := newCollapsed("Deletions", room)
	conflicts := newCollapsed("Conflicts (not moved)", room)
	dangling := newCollapsed("Dangling references", room)
	err := entries(func(e plan.Entry) error {
		switch a := e.Action(); a {
		case plan.ActionCopy, plan.ActionRewrite:
			m := e.Move
			moves.add(fmt.Sprintf("- %s `%s` → `%s` (%s rows)\n", actionWord(a), mdEscape(m.Key), mdEscape(m.Target), rowCount(m)))
		case plan.ActionDelete:
			d := e.Delete
			item := fmt.Sprintf("- %s `%s` (%s)\n", d.Reason, mdEscape(d.Key), humanBytes(d.Size))
			if d.Target != "" {
				item = fmt.Sprintf("- %s `%s` (%s; identical copy at `%s`)\n", d.Reason, mdEscape(d.Key), humanBytes(d.Size), mdEscape(d.Target))
			}
			deletes.add(item)
		case plan.ActionConflict:
			conflicts.add(fmt.Sprintf("- `%s` → `%s`: %s (%d rows)\n", mdEscape(e.Conflict.Key), mdEscape(e.Conflict.Target), mdEscape(e.Conflict.Reason), e.Conflict.Rows))
		case plan.ActionDangling:
			d := e.Dangling
			dangling.add(fmt.Sprintf("- `%s.%s` row `%s`: `%s`\n", mdEscape(d.Reference), mdEscape(d.Column), mdEscape(d.PK), mdEscape(d.Value)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range []*collapsed{moves, deletes, conflicts, dangling} {
		c.writeTo(&b)
	}
	_, err = v.w.Write(b.Bytes())
	return err
}

func escapeRows(rows [][]string) [][]string {
	for _, r := range rows {
		for i := range r {
			r[i] = mdEscape(r[i])
		}
	}
	return rows
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
	if c.body.Len()+len(item) > c.budget {
		return
	}
	c.shown++
	c.body.WriteString(item)
}

func (c *collapsed) writeTo(b *bytes.Buffer) {
	if c.total == 0 {
		return
	}
	fmt.Fprintf(b, "<details><summary>%s: %d</summary>\n\n", c.title, c.total)
	b.Write(c.body.Bytes())
	if c.shown < c.total {
		fmt.Fprintf(b, "\n… and %d more: run `r2plan show` on the plan file to see them all.\n", c.total-c.shown)
	}
	b.WriteString("\n</details>\n\n")
}
