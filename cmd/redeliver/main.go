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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], newStreams())
	stop()
	os.Exit(code)
}
