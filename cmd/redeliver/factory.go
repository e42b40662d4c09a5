package main

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/config"
)

// factory hands each command its streams and the means to build what it
// needs — settings, the GitHub client, the state — each on first use, as
// gh's cmdutil.Factory does: a command asks only for what it uses, and a
// test can replace any of them in the command's options.
type factory struct {
	IO *streams
	// ReadFile reads --config, --token-file and --private-key-file.
	ReadFile func(string) ([]byte, error)
	// Verbose is the root's --verbose (-v): log every step.
	Verbose bool
}

func newFactory(ios *streams) *factory {
	return &factory{IO: ios, ReadFile: os.ReadFile}
}

// settings resolves the flags (read when called, after cobra parsed them),
// the environment and the config file, once.
func (f *factory) settings(fl *config.Flags) func() (*config.Settings, error) {
	return sync.OnceValues(func() (*config.Settings, error) {
		return config.Resolve(*fl, f.IO.getenv, f.ReadFile)
	})
}

// stateSettings resolves only what reading the state needs, once.
func (f *factory) stateSettings(fl *config.Flags) func() (*config.Settings, error) {
	return sync.OnceValues(func() (*config.Settings, error) {
		return config.ResolveState(*fl, f.IO.getenv, f.ReadFile)
	})
}

// gitHubFunc builds the GitHub client from resolved settings; pace, if not
// nil, hears what GitHub's answers tell the pacer.
type gitHubFunc func(s *config.Settings, log *slog.Logger, pace paceListener) (*githubClient, error)

// paceListener hears what GitHub's answers tell a pacer (from any
// goroutine: it must be quick and safe for concurrent use).
type paceListener interface {
	// limited: a secondary rate limit on route (as githubapi.Answer names
	// it; "" when not known), with how long GitHub asked to wait (0 when
	// it did not say).
	limited(route string, wait time.Duration)
	// answered: GitHub answered a request on route (as githubapi.Answer
	// names it), now.
	answered(route string)
}

// stateFunc opens the state; readOnly never creates or changes anything.
type stateFunc func(ctx context.Context, s *config.Settings, gh *githubClient, log *slog.Logger, readOnly bool) (*state, error)

// logger logs to the command's stderr, every step with --verbose.
func (f *factory) logger() *slog.Logger { return newLogger(f.IO.err, f.Verbose) }

// state is an open store and what the command does with it at the end.
type state struct {
	redeliver.Store
	// Flush writes what the store keeps in memory (Actions variables).
	Flush func(context.Context) error
	// Dropped counts ledger entries the store had to drop to fit, if it
	// can drop any.
	Dropped func() int
}
