package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/r2plan/r2plan/plan"
)

// A view renders a plan for one audience: a terminal, a pull-request comment, a machine.
// Entries stream in file order: moves, then conflicts, then dangling references.
// digest is the plan file's ("" for a plan not saved), which may still be being
// written: a view calls it once, before it writes anything, as late as it can (the
// table reads the entries first), and returns its error.
type view interface {
	render(h *plan.Header, entries func(func(plan.Entry) error) error, digest func() (string, error)) error
}

// digestOf is the digest func of a plan whose digest is known.
func digestOf(digest string) func() (string, error) {
	return func() (string, error) { return digest, nil }
}

// viewFor is the view of a --format: table (all: every change and prefix, not the
// first 20 and 15), markdown (a pull-request comment) or json. file is the plan file,
// which the views name when they say how to see what they leave out ("" if unsaved).
func viewFor(format string, w io.Writer, all bool, file string) (view, error) {
	switch format {
	case "table":
		tv := tableView{w: w, file: file}
		if all {
			tv.listMax = int(^uint(0) >> 1)
		}
		return tv, nil
	case "markdown", "md":
		return markdownView{w: w, file: file}, nil
	case "json":
		return jsonView{w: w}, nil
	}
	return nil, fmt.Errorf("unknown format %q (want table, markdown or json)", format)
}

// summaryLine is the one line scripts may rely on. It counts rows, and the values
// they hold when that differs (a row may hold a key and a URL); a plan made before
// format 1.3 counted values only, and says so.
func summaryLine(s *plan.Summary) string {
	if s.Changes() == 0 {
		return "No changes."
	}
	return fmt.Sprintf("Plan: %d to copy, %s to rewrite, %d to delete.", s.Copies, rewriteCount(s.RewriteRows, s.Rewrites), s.Deletes)
}

// rewriteCount says how many rows and values a plan or a reference rewrites.
func rewriteCount(rows, values int) string {
	switch {
	case rows == 0 && values > 0:
		return fmt.Sprintf("%d values", values) // a plan older than 1.3: rows not counted
	case rows == values:
		return fmt.Sprintf("%d rows", rows)
	case rows == 1:
		return fmt.Sprintf("1 row (%d values)", values)
	}
	return fmt.Sprintf("%d rows (%d values)", rows, values)
}

// variablesLine lists the plan's variables (never a secret one: config leaves those
// out) as name=value, sorted by name; "" when it has none.
func variablesLine(h *plan.Header, quote func(string) string) string {
	if len(h.Variables) == 0 {
		return ""
	}
	parts := make([]string, 0, len(h.Variables))
	for _, name := range slices.Sorted(maps.Keys(h.Variables)) {
		parts = append(parts, quote(name+"="+h.Variables[name]))
	}
	return strings.Join(parts, ", ")
}

// deletionReasons are the plan's deletions by reason: what, how many, how many bytes.
// Plans made before format 1.3 have no bytes by reason: "" then.
func deletionReasons(s *plan.Summary) [][]string {
	var rows [][]string
	split := s.DeleteBytesMoved+s.DeleteBytesOrphan+s.DeleteBytesRevert == s.DeleteBytes
	add := func(what string, n int, bytes int64) {
		if n == 0 {
			return
		}
		b := ""
		if split {
			b = humanBytes(bytes)
		}
		rows = append(rows, []string{what, fmt.Sprint(n), b})
	}
	add("moved sources past the grace period", s.DeletesMoved, s.DeleteBytesMoved)
	add("orphans (referenced by no row)", s.DeletesOrphan, s.DeleteBytesOrphan)
	add("copies undone by the revert", s.DeletesRevert, s.DeleteBytesRevert)
	return rows
}

// budgetState says where the plan's orphan deletions stand against the delete budget
// ("" for a plan without one); budgetLine says it loudly when they exceed it.
func budgetState(s *plan.Summary) string {
	switch {
	case s.DeleteBudget == 0:
		return ""
	case s.OverBudget:
		return fmt.Sprintf("Delete budget: %d orphan deletions, OVER the budget of %d.", s.DeletesOrphan, s.DeleteBudget)
	}
	return fmt.Sprintf("Delete budget: %d orphan deletions, within the budget of %d.", s.DeletesOrphan, s.DeleteBudget)
}

// samplesPer is how many rewrites each reference's column shows as a sample.
const samplesPer = 3

// rewriteSamples keeps the first samplesPer rewrites of each reference and column in
// the plan's order, and lists them in the order of the references and their columns.
type rewriteSamples struct {
	refs []plan.Reference
	by   map[[2]string][]plan.Rewrite
}

func newRewriteSamples(refs []plan.Reference) *rewriteSamples {
	return &rewriteSamples{refs: refs, by: map[[2]string][]plan.Rewrite{}}
}

func (rs *rewriteSamples) add(m *plan.Move) {
	for _, rw := range m.Rewrites {
		k := [2]string{rw.Reference, rw.Column}
		if len(rs.by[k]) < samplesPer {
			rs.by[k] = append(rs.by[k], rw)
		}
	}
}

// list returns the samples: by reference, then column, then plan order.
func (rs *rewriteSamples) list() []plan.Rewrite {
	var out []plan.Rewrite
	for _, r := range rs.refs {
		for _, c := range r.Columns() {
			out = append(out, rs.by[[2]string{r.Name, c}]...)
		}
	}
	return out
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

// prefixRows are the prefix table's rows, the first limit prefixes by name (passed
// through quote: mdCell for markdown) and the rest summed.
func prefixRows(s *plan.Summary, limit int, quote func(string) string) [][]string {
	var rows [][]string
	var otherObjects int
	var otherBytes int64
	for i, p := range s.Prefixes {
		if i >= limit {
			otherObjects += p.Objects
			otherBytes += p.Bytes
			continue
		}
		name := "(bucket root)"
		if p.Prefix != "" {
			name = quote(p.Prefix)
		}
		rows = append(rows, []string{name, fmt.Sprint(p.Objects), humanBytes(p.Bytes)})
	}
	if otherObjects > 0 {
		rows = append(rows, []string{fmt.Sprintf("(%d more prefixes)", len(s.Prefixes)-limit), fmt.Sprint(otherObjects), humanBytes(otherBytes)})
	}
	return rows
}

// referenceRows are the reference table's rows, names passed through quote (mdCell
// for markdown). Rows and values to rewrite are counted apart; a plan made before
// format 1.3 counted values only ("?" rows).
func referenceRows(s *plan.Summary, quote func(string) string) [][]string {
	rows := make([][]string, 0, len(s.References))
	for _, r := range s.References {
		rewriteRows := fmt.Sprint(r.RewriteRows)
		if r.RewriteRows == 0 && r.Rewrites > 0 {
			rewriteRows = "?"
		}
		var byColumn []string
		for _, c := range r.Columns {
			byColumn = append(byColumn, fmt.Sprintf("%s %d", quote(c.Column), c.Rewrites))
		}
		rows = append(rows, []string{quote(r.Name), quote(r.Table), fmt.Sprint(r.Rows), rewriteRows, fmt.Sprint(r.Rewrites),
			strings.Join(byColumn, ", "), fmt.Sprint(r.Current), fmt.Sprint(r.Dangling), fmt.Sprint(r.Foreign), fmt.Sprint(r.Null)})
	}
	return rows
}

var referenceHeader = []string{"reference", "table", "rows", "rows to rewrite", "values to rewrite", "by column", "current", "dangling", "foreign", "null"}

// referenceNumeric are referenceHeader's columns of numbers.
var referenceNumeric = cols(2, 3, 4, 6, 7, 8, 9)

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
	listMax int    // changes listed in full; 0 means 20 (and 15 prefixes)
	file    string // the plan file, for the hint to show --all
}

func (v tableView) render(h *plan.Header, entries func(func(plan.Entry) error) error, digest func() (string, error)) error {
	s := &h.Summary
	w := v.w
	limit, prefixLimit := v.listMax, v.listMax
	if limit == 0 {
		limit, prefixLimit = 20, 15
	}
	var moves, deletes, conflicts, dangling [][]string
	var nMoves, nDeletes, nConflicts, nDangling int
	samples := newRewriteSamples(h.References)
	err := entries(func(e plan.Entry) error {
		switch a := e.Action(); a {
		case plan.ActionCopy, plan.ActionRewrite:
			nMoves++
			samples.add(e.Move)
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
	// Only now, with the entries read beside the plan file's writing, is its digest needed.
	d, err := digest()
	if err != nil {
		return err
	}
	if d != "" {
		fmt.Fprintf(w, "Plan %s, made %s by r2plan %s\n", plan.ID(d), h.CreatedAt.Format("2006-01-02 15:04:05 MST"), h.ToolVersion)
	}
	fmt.Fprintf(w, "Bucket %s at %s; %s\n", h.Bucket.Name, h.Bucket.Endpoint, databaseName(h.Database))
	if vars := variablesLine(h, func(s string) string { return s }); vars != "" {
		fmt.Fprintf(w, "Variables: %s\n", vars)
	}
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
		t.Bulk(prefixRows(s, prefixLimit, func(s string) string { return s }))
		if err := t.Render(); err != nil {
			return err
		}
	}
	if len(s.References) > 0 {
		t := newTable(w, false)
		t.Header(toAny(referenceHeader)...)
		t.Bulk(referenceRows(s, func(s string) string { return s }))
		if err := t.Render(); err != nil {
			return err
		}
	}
	section := func(title string, n int, header []string, rows [][]string) error {
		if n == 0 {
			return nil
		}
		more := ""
		if n > len(rows) {
			file := v.file
			if file == "" {
				file = "PLANFILE"
			}
			more = fmt.Sprintf(" (first %d of %d; 'r2plan show --all %s' lists them all)", len(rows), n, file)
		}
		fmt.Fprintf(w, "\n%s%s:\n", title, more)
		t := newTable(w, false)
		t.Header(toAny(header)...)
		t.Bulk(rows)
		return t.Render()
	}
	if list := samples.list(); len(list) > 0 {
		rows := make([][]string, 0, len(list))
		for _, rw := range list {
			rows = append(rows, []string{rw.Reference + "." + rw.Column, rw.PK, rw.Old, rw.New})
		}
		fmt.Fprintf(w, "\nRewrites, old → new (the first %d of each reference and column, in plan order):\n", samplesPer)
		t := newTable(w, false)
		t.Header("reference.column", "row", "old", "new")
		t.Bulk(rows)
		if err := t.Render(); err != nil {
			return err
		}
	}
	if err := section("Changes", nMoves, []string{"action", "key", "target", "rewrites"}, moves); err != nil {
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
	for _, r := range deletionReasons(s) {
		if r[2] != "" {
			fmt.Fprintf(w, "  %s: %s objects, %s\n", r[0], r[1], r[2])
		}
	}
	if line := budgetState(s); line != "" {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, summaryLine(s))
	return nil
}

// rowCount says how many rows a move rewrites, the values they hold when that differs
// (a row's key and URL), and how many of its URLs are re-encoded.
func rowCount(m *plan.Move) string {
	rows := make(map[[2]string]bool, len(m.Rewrites))
	n := 0
	for _, rw := range m.Rewrites {
		rows[[2]string{rw.Reference, rw.PK}] = true
		if rw.Reencoded {
			n++
		}
	}
	out := fmt.Sprintf("%d rows", len(rows))
	if len(rows) == 1 {
		out = "1 row"
	}
	if len(m.Rewrites) != len(rows) {
		out += fmt.Sprintf(", %d values", len(m.Rewrites))
	}
	if n > 0 {
		out += fmt.Sprintf(", %d re-encoded", n)
	}
	return out
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
