// Command r2plan reorganises an S3-compatible bucket together with the database rows
// that point into it: plan a layout change, review it, apply exactly what was reviewed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := interruptible(context.Background())
	os.Exit(run(ctx, stop, os.Args[1:], os.Stdout, os.Stderr))
}

// interruptible returns a channel that closes at the first SIGINT or SIGTERM (finish
// what is in flight, start nothing new) and a context that is cancelled at the second
// (abort).
func interruptible(parent context.Context) (context.Context, <-chan struct{}) {
	ctx, cancel := context.WithCancel(parent)
	stop := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		notice("Interrupt received: finishing the changes in flight and recording them. Press Ctrl-C again to abort at once.")
		close(stop)
		<-sig
		cancel()
	}()
	return ctx, stop
}
