// Command redeliver finds failed GitHub webhook deliveries and asks GitHub
// to redeliver them: organization, repository and GitHub App hooks, on
// github.com and GitHub Enterprise Server. See the README for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultMemoryLimit is Go's soft memory limit unless GOMEMLIMIT says
// otherwise: a run keeps 16 bytes per event of its window plus a little per
// failed one, and the collector's default headroom would double that. The
// limit makes the collector work harder instead; a window that needs more
// still runs (the limit is soft).
const defaultMemoryLimit = 48 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := onSignal(context.Background())
	code := execute(ctx, os.Args[1:], newStreams())
	stop()
	os.Exit(code)
}

// onSignal cancels the context on the first SIGINT or SIGTERM, with the
// signal as its cause, so the run records its state and exits 130 or 143.
// A second signal gets Go's default: the process ends at once.
func onSignal(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			signal.Stop(sigs)
			cancel(interrupted{sig: s.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}
