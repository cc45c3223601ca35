package main

import (
	"context"
	"fmt"
	"io"
)

var validateCommand = command{
	name:  "validate",
	usage: "validate [--config=r2plan.hcl] [--var name=value]...",
	short: "Check a configuration without touching the bucket or the database.",
}

func init() { validateCommand.run = runValidate }

func runValidate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(validateCommand, stdout, stderr)
	var cf configFlags
	cf.register(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	cfg, ok := cf.load(stderr)
	if !ok {
		return exitError
	}
	fmt.Fprintf(stdout, "The configuration is valid: %d move rule(s), %d placed prefix(es), %d reference(s).\n",
		len(cfg.Layout.Rules), len(cfg.Layout.Placed), len(cfg.References))
	return exitOK
}
