package main

import (
	"context"
	"fmt"
	"io"

	"github.com/r2plan/r2plan/config"
)

var validateCommand = command{
	name:  "validate",
	usage: "validate [--config=r2plan.hcl] [--var name=value]...",
	short: "Check a configuration without touching the bucket or the database; secrets may be unset.",
}

func init() { validateCommand.run = runValidate }

func runValidate(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(validateCommand, stdout, stderr)
	var cf configFlags
	cf.register(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	// Offline and secretless, so that a fork's pull request or a CI job without
	// credentials can validate: an unset variable that only feeds a secret is a note.
	cfg, ok := cf.loadWith(stderr, config.LoadOptions{AllowUnsetSecrets: true})
	if !ok {
		return exitError
	}
	for _, name := range cfg.UnsetSecrets {
		fmt.Fprintf(stderr, "note: %s is not set; plan and apply will need it\n", name)
	}
	fmt.Fprintf(stdout, "The configuration is valid: %d move rule(s), %d placed prefix(es), %d reference(s).\n",
		len(cfg.Layout.Rules), len(cfg.Layout.Placed), len(cfg.References))
	return exitOK
}
