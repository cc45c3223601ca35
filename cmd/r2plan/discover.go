package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/r2plan/r2plan/config"
	"github.com/r2plan/r2plan/plan"
	"github.com/r2plan/r2plan/providers/sqldb"
)

var discoverCommand = command{
	name:  "discover",
	usage: "discover [--config=r2plan.hcl] [--sample=N] [--format=table|json] [--var name=value]...",
	short: "Find every column of the database that names objects of the bucket, declared or not. Read-only.",
}

func init() { discoverCommand.run = runDiscover }

// A columnReport is what discover found in one column.
type columnReport struct {
	Schema     string   `json:"schema,omitempty"`
	Table      string   `json:"table"`
	Column     string   `json:"column"`
	Type       string   `json:"type"`
	PrimaryKey string   `json:"primary_key,omitempty"`
	Rows       int64    `json:"rows"`
	ByKey      int64    `json:"by_key"`
	ByURL      int64    `json:"by_url"`
	Embedded   int64    `json:"embedded"`
	Declared   bool     `json:"declared"`
	Ignored    bool     `json:"ignored"`
	Samples    []string `json:"samples,omitempty"`
	label      string
}

func (c *columnReport) names() int64 { return c.ByKey + c.ByURL + c.Embedded }

// discoverSamples is how many values each column shows; discoverSampleLen how much of each.
const (
	discoverSamples   = 3
	discoverSampleLen = 160
)

func runDiscover(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(discoverCommand, stdout, stderr)
	var sf sessionFlags
	sf.register(fs)
	sample := fs.Int("sample", 0, "read at most `N` rows of each table, for a quick look (default: every row)")
	format := fs.String("format", "table", "output `format`: table or json")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitError
	}
	if *format != "table" && *format != "json" {
		return sf.log.fail(stderr, "--format: want table or json, not %q", *format)
	}
	if *sample < 0 {
		return sf.log.fail(stderr, "--sample must be at least 0")
	}
	s, ok := sf.start(stdout, stderr)
	if !ok {
		return exitError
	}
	cfg, stdout := s.cfg, s.stdout
	objects, reports, err := discover(ctx, cfg, *sample, s.prog)
	s.prog.wait()
	if err != nil {
		return s.fail("%v", err)
	}
	refs := referencesOf(cfg)
	if *format == "json" {
		err = json.NewEncoder(stdout).Encode(struct {
			Objects     int             `json:"objects"`
			Sample      int             `json:"sample,omitempty"`
			Columns     []*columnReport `json:"columns"`
			Suggestions string          `json:"suggestions"`
		}{objects, *sample, nonNilReports(reports), suggestions(reports, refs)})
	} else {
		err = discoverTable(stdout, cfg, objects, *sample, reports, refs)
	}
	if err != nil {
		return s.fail("%v", err)
	}
	return exitOK
}

func nonNilReports(r []*columnReport) []*columnReport {
	if r == nil {
		return []*columnReport{}
	}
	return r
}

// discover lists the bucket's keys and reads every text-like column of every table,
// counting the values that name an object.
func discover(ctx context.Context, cfg *config.Config, sample int, prog *progress) (int, []*columnReport, error) {
	bucket, err := openBucket(ctx, cfg, 32, 0, prog.log)
	if err != nil {
		return 0, nil, fmt.Errorf("open bucket: %w", err)
	}
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		return 0, nil, err
	}
	defer db.Close()
	start := time.Now()
	keys, err := plan.CollectKeys(func(yield func(plan.Object) error) error {
		ph := prog.phase("list", 0)
		defer ph.finish()
		return bucket.ListConcurrent(ctx, "", cfg.Bucket.ListConcurrency, func(key string, size int64, etag string, modified time.Time) error {
			ph.add(1)
			return yield(plan.Object{Key: key, Size: size, ETag: etag, Modified: modified})
		})
	})
	if err != nil {
		return 0, nil, err
	}
	tables, err := db.TextTables(ctx)
	if err != nil {
		return 0, nil, err
	}
	refs := referencesOf(cfg)
	m := matcherOf(cfg)
	// A few tables at once, each with its own reports; joined in the catalog's order.
	byTable := make([][]*columnReport, len(tables))
	var rows atomic.Int64
	scanStart := time.Now()
	err = eachTable(ctx, tables, func(ctx context.Context, ti int, t sqldb.TextTable) error {
		schema := t.Table.Schema
		if schema == "" {
			schema = "main"
		}
		cols := make([]*columnReport, len(t.Columns))
		for i, c := range t.Columns {
			cols[i] = &columnReport{Schema: t.Table.Schema, Table: t.Table.Name, Column: c.Name, Type: c.Type, PrimaryKey: t.PrimaryKey,
				Declared: declares(refs, t.Table, c.Name), Ignored: cfg.Ignores(schema, t.Table.Name, c.Name), label: t.ColumnLabel(c.Name)}
		}
		var n int64
		ph := prog.phase("discover "+t.Table.String(), 0)
		err := db.ScanValues(ctx, t, sample, nil, func() { n++; ph.add(1) }, func(col int, value string) error {
			kinds := m.Match(value, keys.Has, func(string, plan.MatchKind) {})
			if kinds == 0 {
				return nil
			}
			c := cols[col]
			switch {
			case kinds&plan.ByKey != 0:
				c.ByKey++
			case kinds&plan.ByURL != 0:
				c.ByURL++
			default:
				c.Embedded++
			}
			if len(c.Samples) < discoverSamples {
				c.Samples = append(c.Samples, clip(value, discoverSampleLen))
			}
			return nil
		})
		ph.finish()
		if err != nil {
			return err
		}
		rows.Add(n)
		for _, c := range cols {
			c.Rows = n
		}
		byTable[ti] = cols
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	scan := time.Since(scanStart)
	var reports []*columnReport
	for _, cols := range byTable {
		reports = append(reports, cols...)
	}
	prog.log.Info("discovered", "objects", keys.Len(), "tables", len(tables), "rows", rows.Load(),
		"scan_seconds", seconds(scan), "elapsed_seconds", seconds(time.Since(start)))
	return keys.Len(), reports, nil
}

// clip copies s, cut to at most n bytes (on a character boundary) with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return strings.Clone(s)
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return strings.Clone(s[:cut]) + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func status(c *columnReport) string {
	switch {
	case c.Declared:
		return "declared"
	case c.Ignored:
		return "ignored"
	case c.names() > 0:
		return "UNDECLARED"
	}
	return ""
}

// discoverTable prints the columns that name objects (and counts the rest), their
// samples, and the reference blocks to paste.
func discoverTable(w io.Writer, cfg *config.Config, objects, sample int, reports []*columnReport, refs []plan.Reference) error {
	scope := "every row"
	if sample > 0 {
		scope = fmt.Sprintf("at most %d rows of each table (--sample)", sample)
	}
	tables := map[string]bool{}
	for _, c := range reports {
		tables[c.Schema+"."+c.Table] = true
	}
	fmt.Fprintf(w, "Bucket %s: %d objects. Read %d text column(s) of %d table(s), %s.\n\n", cfg.Bucket.Name, objects, len(reports), len(tables), scope)
	var rows [][]string
	quiet := 0
	for _, c := range reports {
		if c.names() == 0 && !c.Declared {
			quiet++
			continue
		}
		rows = append(rows, []string{c.label, c.Type, fmt.Sprint(c.Rows), fmt.Sprint(c.ByKey), fmt.Sprint(c.ByURL), fmt.Sprint(c.Embedded), status(c)})
	}
	if len(rows) > 0 {
		t := newTable(w, false)
		t.Header("column", "type", "rows", "by key", "by URL", "embedded", "reference")
		t.Bulk(rows)
		if err := t.Render(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "%d other column(s) name no object.\n", quiet)
	said := false
	for _, c := range reports {
		if len(c.Samples) == 0 || c.Declared {
			continue
		}
		if !said {
			fmt.Fprintln(w, "\nSamples:")
			said = true
		}
		for _, s := range c.Samples {
			fmt.Fprintf(w, "  %s: %s\n", c.label, strings.ReplaceAll(strings.ReplaceAll(s, "\n", `\n`), "\r", `\r`))
		}
	}
	undeclared := 0
	for _, c := range reports {
		if !c.Declared && !c.Ignored && c.names() > 0 {
			undeclared++
		}
	}
	fmt.Fprintln(w)
	if undeclared == 0 {
		fmt.Fprintln(w, "Every column that names objects is declared by a reference or ignored.")
		return nil
	}
	fmt.Fprintf(w, "%d undeclared column(s) name objects: a plan never deletes what they name, but it rewrites only declared columns.\n", undeclared)
	if s := suggestions(reports, refs); s != "" {
		fmt.Fprintf(w, "Declare them (add to %s):\n\n%s", cfg.Filename, s)
	}
	return nil
}

// suggestions is the HCL of a reference block for each undeclared column holding keys
// or whole URLs, and a comment for each column naming objects only inside its text.
func suggestions(reports []*columnReport, refs []plan.Reference) string {
	var b strings.Builder
	names := map[string]bool{}
	for _, r := range refs {
		names[r.Name] = true
	}
	for _, c := range reports {
		if c.Declared || c.Ignored || c.names() == 0 {
			continue
		}
		if c.ByKey+c.ByURL == 0 {
			fmt.Fprintf(&b, "# %s names objects only inside its text (%d value(s)): r2plan cannot rewrite it,\n", c.label, c.Embedded)
			fmt.Fprintf(&b, "# and no plan deletes what it names. Move its objects by hand, or list it in ignore { columns = [...] } once checked.\n\n")
			continue
		}
		name := refName(c.Table, c.Column, names)
		fmt.Fprintf(&b, "reference %q {\n", name)
		if c.Schema != "" && c.Schema != "public" {
			fmt.Fprintf(&b, "  schema      = %q\n", c.Schema)
		}
		fmt.Fprintf(&b, "  table       = %q\n", c.Table)
		if c.PrimaryKey != "" {
			fmt.Fprintf(&b, "  primary_key = %q\n", c.PrimaryKey)
		} else {
			fmt.Fprintf(&b, "  primary_key = \"\" # %s has no single-column primary key: name a unique, non-NULL column\n", c.Table)
		}
		if c.ByURL >= c.ByKey {
			fmt.Fprintf(&b, "  url_column  = %q", c.Column)
			if c.ByKey > 0 {
				fmt.Fprintf(&b, " # also %d value(s) that are keys", c.ByKey)
			}
		} else {
			fmt.Fprintf(&b, "  key_column  = %q", c.Column)
			if c.ByURL > 0 {
				fmt.Fprintf(&b, " # also %d value(s) that are URLs", c.ByURL)
			}
		}
		b.WriteString("\n")
		if c.Embedded > 0 {
			fmt.Fprintf(&b, "  # and %d value(s) name objects inside longer text, which r2plan does not rewrite\n", c.Embedded)
		}
		b.WriteString("}\n\n")
	}
	return b.String()
}

// refName is a reference name for table.column ("user_avatar_url"), unique among names.
func refName(table, column string, names map[string]bool) string {
	var b strings.Builder
	prevLower := false
	for _, part := range []string{table, column} {
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		prevLower = false
		for _, r := range part {
			switch {
			case unicode.IsUpper(r) && r < unicode.MaxASCII:
				if prevLower {
					b.WriteByte('_')
				}
				b.WriteRune(unicode.ToLower(r))
				prevLower = false
			case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
				b.WriteRune(r)
				prevLower = true
			default:
				b.WriteByte('_')
				prevLower = false
			}
		}
	}
	name := b.String()
	if name == "" || !unicode.IsLetter(rune(name[0])) && name[0] != '_' {
		name = "ref_" + name
	}
	base := name
	for i := 2; names[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	names[name] = true
	return name
}
