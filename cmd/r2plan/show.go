package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/r2plan/r2plan/plan"
)

var showCommand = command{
	name:  "show",
	usage: "show [--format=table|markdown|json] PLANFILE",
	short: "Render a plan file for a terminal, a pull-request comment or a machine. Contacts no server.",
}

func init() { showCommand.run = runShow }

func runShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(showCommand, stdout, stderr)
	format := fs.String("format", "table", "output `format`: table, markdown or json")
	all := fs.Bool("all", false, "table format: list every change, not the first 20")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError
	}
	var v view
	switch *format {
	case "table":
		tv := tableView{w: stdout}
		if *all {
			tv.listMax = int(^uint(0) >> 1)
		}
		v = tv
	case "markdown", "md":
		v = markdownView{w: stdout}
	case "json":
		v = jsonView{w: stdout}
	default:
		fmt.Fprintf(stderr, "Error: unknown format %q (want table, markdown or json)\n", *format)
		return exitError
	}
	f, hdr, digest, err := openPlan(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	defer f.Close()
	if err := v.render(&hdr, fileEntries(f), digest); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	return exitOK
}

// openPlan opens and verifies a plan file (format, digest, completeness) and returns it
// open, so the caller reads the very bytes that were verified.
func openPlan(path string) (*os.File, plan.Header, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, plan.Header{}, "", err
	}
	hdr, digest, err := plan.Read(f, nil)
	if err != nil {
		f.Close()
		return nil, hdr, "", fmt.Errorf("%s: %w", path, err)
	}
	return f, hdr, digest, nil
}

// fileEntries streams a verified plan file's entries again from its start.
func fileEntries(f *os.File) func(func(plan.Entry) error) error {
	return func(fn func(plan.Entry) error) error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, _, err := plan.Read(f, fn)
		return err
	}
}
