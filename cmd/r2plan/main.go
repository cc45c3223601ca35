// Command r2plan reorganises an S3-compatible bucket together with the database rows
// that point into it: plan a layout change, review it, apply exactly what was reviewed.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(interruptible(context.Background()), os.Args[1:], os.Stdout, os.Stderr))
}

// interruptible returns a context whose stop channel closes at the first SIGINT or
// SIGTERM (finish what is in flight, start nothing new) and which is cancelled at the
// second (abort).
func interruptible(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	stop := make(chan struct{})
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "\nInterrupt received: finishing the changes in flight and recording them. Press Ctrl-C again to abort at once.")
		close(stop)
		<-sig
		cancel()
	}()
	return withStop(ctx, stop)
}

type stopKey struct{}

func withStop(ctx context.Context, stop <-chan struct{}) context.Context {
	return context.WithValue(ctx, stopKey{}, stop)
}

// stopOf returns the channel closed at the first interrupt (never, when there is none).
func stopOf(ctx context.Context) <-chan struct{} {
	if s, ok := ctx.Value(stopKey{}).(<-chan struct{}); ok {
		return s
	}
	return nil
}
