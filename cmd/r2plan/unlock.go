package main

import (
	"context"
	"fmt"
	"io"

	"github.com/r2plan/r2plan/state"
)

var unlockCommand = command{
	name:  "unlock",
	usage: "unlock [--config=r2plan.hcl] [--var name=value]...",
	short: "Break the apply lock of a dead apply (one on this machine that was killed is detected by itself).",
}

func init() { unlockCommand.run = runUnlock }

func runUnlock(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(unlockCommand, stderr)
	var cf configFlags
	cf.register(fs)
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	cfg, ok := cf.load(stderr)
	if !ok {
		return exitError
	}
	stderr = redacting(stderr, cfg.Secrets())
	db, err := openDatabase(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	defer db.Close()
	holders, err := state.Break(ctx, db)
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	if len(holders) == 0 {
		fmt.Fprintln(stdout, "No apply holds the lock.")
		return exitOK
	}
	for _, h := range holders {
		fmt.Fprintf(stdout, "Removed the lock of %s.\n", h.String())
	}
	return exitOK
}
