package main

import (
	"context"
	"fmt"
	"io"

	"github.com/r2plan/r2plan/plan"
)

var showCommand = command{
	name:  "show",
	usage: "show [--format=table|markdown|json] [--all] PLANFILE",
	short: "Render a plan file for a terminal, a pull-request comment or a machine. Contacts no server.",
}

func init() { showCommand.run = runShow }

func runShow(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(showCommand, stdout, stderr)
	format := fs.String("format", "table", "output `format`: table, markdown or json")
	all := fs.Bool("all", false, "table format: list every change and prefix, not the first 20 and 15")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError
	}
	v, err := viewFor(*format, stdout, *all, fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	p, err := plan.Open(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	defer p.Close()
	if err := v.render(p.Header(), p.Entries, digestOf(p.Digest())); err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	return exitOK
}
