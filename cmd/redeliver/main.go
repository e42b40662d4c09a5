// Command redeliver finds failed GitHub webhook deliveries and asks GitHub
// to redeliver them: organization, repository and GitHub App hooks, on
// github.com and GitHub Enterprise Server. See the README for usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], newStreams())
	stop()
	os.Exit(code)
}
