package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/r2plan/r2plan/state"
)

var unlockCommand = command{
	name:  "unlock",
	usage: "unlock [--config=r2plan.hcl] [--var name=value]... [--force] [LOCK_ID]",
	short: "Break the apply lock LOCK_ID of a dead apply; without LOCK_ID, list the holders.",
}

func init() { unlockCommand.run = runUnlock }

func runUnlock(ctx context.Context, stop <-chan struct{}, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(unlockCommand, stdout, stderr)
	var cf configFlags
	cf.register(fs)
	force := fs.Bool("force", false, "break the lock even if its apply may be alive (it keeps running, unlocked)")
	if code, stop := parseFlags(fs, args); stop {
		return code
	}
	ids := fs.Args()
	var id int64
	switch len(ids) {
	case 0:
	case 1:
		var err error
		if id, err = strconv.ParseInt(ids[0], 10, 64); err != nil || id <= 0 {
			fmt.Fprintf(stderr, "Error: LOCK_ID must be a lock's number, as 'r2plan unlock' lists them, not %q\n", ids[0])
			return exitError
		}
	default:
		fmt.Fprintf(stderr, "Error: unlock takes one LOCK_ID, got %d arguments: %q\nUsage: r2plan %s\n", len(ids), ids, unlockCommand.usage)
		return exitError
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

	if id == 0 {
		holders, err := state.Holders(ctx, db)
		if err != nil {
			fmt.Fprintf(stderr, "Error: %v\n", err)
			return exitError
		}
		if len(holders) == 0 {
			fmt.Fprintln(stdout, "No apply holds the lock.")
			return exitOK
		}
		for _, h := range holders {
			status := "silent: breakable"
			if live, why := h.Live(lockTTL); live {
				status = "may be alive: " + why
			}
			fmt.Fprintf(stdout, "Lock %d: %s (%s).\n", h.ID, h.String(), status)
		}
		fmt.Fprintln(stderr, "Error: name the lock to break: r2plan unlock LOCK_ID")
		return exitError
	}

	h, err := state.Break(ctx, db, id, lockTTL, *force)
	var le *state.LiveError
	switch {
	case errors.As(err, &le):
		fmt.Fprintf(stderr, "Error: %v\nIt was not removed. If that apply is dead, wait until it has been silent for %s, or run 'r2plan unlock --force %d'.\n", err, lockTTL, id)
		return exitError
	case err != nil:
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return exitError
	}
	if live, why := h.Live(lockTTL); live {
		fmt.Fprintf(stderr, "Warning: forced: the lock of %s was removed although %s. If it is alive it keeps applying, and another apply may now start beside it.\n", h.String(), why)
	}
	fmt.Fprintf(stdout, "Removed lock %d of %s.\n", h.ID, h.String())
	return exitOK
}
