package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/r2plan/r2plan/plan"
)

// A view renders a plan for one audience: a terminal, a pull-request comment, a machine.
// Entries stream in file order: moves, then conflicts, then dangling references.
type view interface {
	render(h *plan.Header, entries func(func(plan.Entry) error) error, digest string) error
}

// viewFor is the view of a --format: table (all: every change, not the first 20),
// markdown (a pull-request comment) or json.
func viewFor(format string, w io.Writer, all bool) (view, error) {
	switch format {
	case "table":
		tv := tableView{w: w}
		if all {
			tv.listMax = int(^uint(0) >> 1)
		}
		return tv, nil
	case "markdown", "md":
		return markdownView{w: w}, nil
	case "json":
		return jsonView{w: w}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want table, markdown or json)", format)
}

// summaryLine is the one line scripts may rely on.
func summaryLine(s *plan.Summary) string {
	if s.Changes() == 0 {
		return "No changes."
	}
	return fmt.Sprintf("Plan: %d to copy, %d rows to rewrite, %d to delete.", s.Copies, s.Rewrites, s.Deletes)
}

// deletionLine is the plan's deletions and the bytes they free, always on a line of
// its own.
func deletionLine(s *plan.Summary) string {
	line := fmt.Sprintf("Deletions: %d objects, %s freed", s.Deletes, humanBytes(s.DeleteBytes))
	var parts []string
	if s.DeletesMoved > 0 {
		parts = append(parts, fmt.Sprintf("%d moved sources past the grace period", s.DeletesMoved))
	}
	if s.DeletesOrphan > 0 {
		parts = append(parts, fmt.Sprintf("%d orphans", s.DeletesOrphan))
	}
	if s.DeletesRevert > 0 {
		parts = append(parts, fmt.Sprintf("%d copies undone by the revert", s.DeletesRevert))
	}
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	return line + "."
}

// actionWord is how the views name a move's action: a move whose target already holds
// the copy only rewrites rows.
func actionWord(a plan.Action) string {
	if a == plan.ActionRewrite {
		return "rewrite only"
	}
	return a.String()
}

// budgetLine says loudly that a plan deletes more orphans than its delete budget.
func budgetLine(s *plan.Summary) string {
	if !s.OverBudget {
		return ""
	}
	return fmt.Sprintf("OVER THE DELETE BUDGET: this plan deletes %d orphans, more than the budget of %d "+
		"(orphans.max_delete or --max-delete). Apply refuses it unless run with --max-delete=%d.",
		s.DeletesOrphan, s.DeleteBudget, s.DeletesOrphan)
}

// partialLine says loudly that a plan covers only part of the bucket.
func partialLine(s *plan.Summary) string {
	if !s.Partial || s.Scope == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("PARTIAL PLAN: only keys")
	if len(s.Scope.Include) > 0 {
		fmt.Fprintf(&b, " under %q", s.Scope.Include)
	}
	if len(s.Scope.Exclude) > 0 {
		fmt.Fprintf(&b, " not under %q", s.Scope.Exclude)
	}
	b.WriteString("; the rest of the bucket is not planned.")
	return b.String()
}

// findings lists what a reviewer must know beyond the changes, one sentence each.
func findings(s *plan.Summary) []string {
	var out []string
	if s.Conflicts > 0 {
		out = append(out, fmt.Sprintf("%d object(s) not moved: the target exists with different content or is unsafe (conflicts; their rows are left alone).", s.Conflicts))
	}
	if s.Dangling > 0 {
		out = append(out, fmt.Sprintf("%d reference(s) dangling: the row points at an object that does not exist (reported, not rewritten).", s.Dangling))
	}
	if s.Foreign > 0 {
		out = append(out, fmt.Sprintf("%d URL(s) on another host (foreign, never touched).", s.Foreign))
	}
	if s.Reencoded > 0 {
		out = append(out, fmt.Sprintf("%d URL(s) re-encoded: the move changes a part of the key that the row spelled its own way, so that part is spelled canonically (marked reencoded in the plan); every other URL keeps its text but for the moved part.", s.Reencoded))
	}
	if s.Kept > 0 {
		until := "until a later plan deletes them"
		if s.KeptFirstDue != nil {
			until = fmt.Sprintf("for the grace period: the first may go after %s, the last after %s",
				s.KeptFirstDue.UTC().Format(time.RFC3339), s.KeptLastDue.UTC().Format(time.RFC3339))
		}
		out = append(out, fmt.Sprintf("%d source(s) already copied and no longer referenced: kept %s.", s.Kept, until))
	}
	if s.Outside > 0 {
		out = append(out, fmt.Sprintf("%d row(s) outside their reference's where filter name objects: never rewritten, and the objects they name are never deleted.", s.Outside))
	}
	if s.Held > 0 {
		out = append(out, fmt.Sprintf("%d source(s) already copied but held: rows outside a where filter still name them.", s.Held))
	}
	if s.OrphansYoung > 0 {
		out = append(out, fmt.Sprintf("%d unreferenced object(s) in the orphans scope are younger than its min_age: kept.", s.OrphansYoung))
	}
	out = append(out, undeclaredFindings(s)...)
	if s.Revert != "" {
		out = append(out, fmt.Sprintf("This plan reverts plan %s.", s.Revert))
	}
	return out
}

func newTable(w io.Writer, markdown bool) *tablewriter.Table {
	if markdown {
		return tablewriter.NewTable(w, tablewriter.WithRenderer(renderer.NewMarkdown()),
			tablewriter.WithHeaderAutoFormat(tw.Off))
	}
	return tablewriter.NewTable(w, tablewriter.WithHeaderAutoFormat(tw.Off))
}

func prefixRows(s *plan.Summary, limit int) [][]string {
	var rows [][]string
	var otherObjects int
	var otherBytes int64
	for i, p := range s.Prefixes {
		if i >= limit {
			otherObjects += p.Objects
			otherBytes += p.Bytes
			continue
		}
		name := p.Prefix
		if name == "" {
			name = "(bucket root)"
		}
		rows = append(rows, []string{name, fmt.Sprint(p.Objects), humanBytes(p.Bytes)})
	}
	if otherObjects > 0 {
		rows = append(rows, []string{fmt.Sprintf("(%d more prefixes)", len(s.Prefixes)-limit), fmt.Sprint(otherObjects), humanBytes(otherBytes)})
	}
	return rows
}

func referenceRows(s *plan.Summary) [][]string {
	rows := make([][]string, 0, len(s.References))
	for _, r := range s.References {
		rows = append(rows, []string{r.Name, r.Table, fmt.Sprint(r.Rows), fmt.Sprint(r.Rewrites), fmt.Sprint(r.Current),
			fmt.Sprint(r.Dangling), fmt.Sprint(r.Foreign), fmt.Sprint(r.Null)})
	}
	return rows
}

var referenceHeader = []string{"reference", "table", "rows", "to rewrite", "current", "dangling", "foreign", "null"}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// tableView is for a terminal.
type tableView struct {
	w       io.Writer
	listMax int // changes listed in full; 0 means 20
}

func (v tableView) render(h *plan.Header, entries func(func(plan.Entry) error) error, digest string) error {
	s := &h.Summary
	w := v.w
	limit := v.listMax
	if limit == 0 {
		limit = 20
	}
	if digest != "" {
		fmt.Fprintf(w, "Plan %s, made %s by r2plan %s\n", plan.ID(digest), h.CreatedAt.Format("2006-01-02 15:04:05 MST"), h.ToolVersion)
	}
	fmt.Fprintf(w, "Bucket %s at %s; %s\n", h.Bucket.Name, h.Bucket.Endpoint, databaseName(h.Database))
	for _, line := range []string{partialLine(s), budgetLine(s), discoveryLine(s)} {
		if line != "" {
			fmt.Fprintf(w, "\n*** %s ***\n\n", line)
		}
	}
	fmt.Fprintf(w, "Listed %d objects (%s): %d already placed, %d matched by no rule (stay), %d to copy (%s).\n\n",
		s.Objects, humanBytes(s.Bytes), s.Placed, s.Unmatched, s.Copies, humanBytes(s.CopyBytes))
	if len(s.Prefixes) > 0 {
		t := newTable(w, false)
		t.Header("prefix", "objects to copy", "bytes")
		t.Bulk(prefixRows(s, 15))
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(s.References) > 0 {
		t := newTable(w, false)
		t.Header(toAny(referenceHeader)...)
		t.Bulk(referenceRows(s))
		if err := t.Render(); err != nil {
			return err
		}
	}
	var moves, deletes, conflicts, dangling [][]string
	var nMoves, nDeletes, nConflicts, nDangling int
	err := entries(func(e plan.Entry) error {
		switch a := e.Action(); a {
		case plan.ActionCopy, plan.ActionRewrite:
			nMoves++
			if len(moves) < limit {
				moves = append(moves, []string{actionWord(a), e.Move.Key, e.Move.Target, rowCount(e.Move)})
			}
		case plan.ActionDelete:
			nDeletes++
			if len(deletes) < limit {
				d := e.Delete
				deletes = append(deletes, []string{string(d.Reason), d.Key, humanBytes(d.Size), d.Target})
			}
		case plan.ActionConflict:
			nConflicts++
			if len(conflicts) < limit {
				conflicts = append(conflicts, []string{e.Conflict.Key, e.Conflict.Target, e.Conflict.Reason, fmt.Sprint(e.Conflict.Rows)})
			}
		case plan.ActionDangling:
			nDangling++
			if len(dangling) < limit {
				d := e.Dangling
				dangling = append(dangling, []string{d.Reference + "." + d.Column, d.PK, d.Value})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	section := func(title string, n int, header []string, rows [][]string) error {
		if n == 0 {
			return nil
		}
		more := ""
		if n > len(rows) {
			more = fmt.Sprintf(" (first %d of %d)", len(rows), n)
		}
		fmt.Fprintf(w, "\n%s%s:\n", title, more)
		t := newTable(w, false)
		t.Header(toAny(header)...)
		t.Bulk(rows)
		return t.Render()
	}
	if err := section("Changes", nMoves, []string{"action", "key", "target", "rows"}, moves); err != nil {
		return err
	}
	if err := section("Deletions", nDeletes, []string{"reason", "key", "size", "identical copy at"}, deletes); err != nil {
		return err
	}
	if err := section("Conflicts", nConflicts, []string{"key", "target", "why not moved", "rows"}, conflicts); err != nil {
		return err
	}
	if err := section("Dangling references", nDangling, []string{"reference", "row", "value"}, dangling); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, f := range findings(s) {
		fmt.Fprintln(w, "Note: "+f)
	}
	for _, line := range []string{partialLine(s), budgetLine(s), discoveryLine(s)} {
		if line != "" {
			fmt.Fprintln(w, line)
		}
	}
	fmt.Fprintln(w, deletionLine(s))
	fmt.Fprintln(w, summaryLine(s))
	return nil
}

// rowCount is the number of rows a move rewrites, and how many of their URLs are
// re-encoded.
func rowCount(m *plan.Move) string {
	n := 0
	for _, rw := range m.Rewrites {
		if rw.Reencoded {
			n++
		}
	}
	if n == 0 {
		return fmt.Sprint(len(m.Rewrites))
	}
	return fmt.Sprintf("%d (%d re-encoded)", len(m.Rewrites), n)
}

// databaseName names a database for people: driver, host and name, no credentials.
func databaseName(d plan.DatabaseID) string {
	if d.Host == "" {
		return fmt.Sprintf("%s database %s", d.Driver, d.Name)
	}
	return fmt.Sprintf("%s database %s/%s", d.Driver, d.Host, d.Name)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// mdEscape keeps a key or value from breaking a markdown table or code span.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "`", "'", "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}
