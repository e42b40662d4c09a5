package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/redeliver/redeliver"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, documented in the README.
const (
	exitOK      = 0 // every recoverable failure was asked for
	exitFailed  = 1 // some redelivery or target failed; the others were done
	exitInvalid = 2 // invalid input: nothing was sent or written
	exitAuth    = 3 // GitHub refused the credentials or the permission
)

// streams are the command's I/O, injected so tests capture them.
type streams struct {
	in       io.Reader
	out, err io.Writer
	getenv   func(string) string
	// outTTY and errTTY say whether stdout and stderr are terminals.
	outTTY, errTTY bool
}

func newStreams() *streams {
	return &streams{in: os.Stdin, out: os.Stdout, err: os.Stderr, getenv: os.Getenv,
		outTTY: term.IsTerminal(int(os.Stdout.Fd())), errTTY: term.IsTerminal(int(os.Stderr.Fd()))}
}

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// execute runs the command line and returns the exit code.
func execute(ctx context.Context, args []string, io *streams) int {
	root := &cobra.Command{
		Use:           "redeliver",
		Short:         "Find failed GitHub webhook deliveries and redeliver them",
		Long:          "redeliver finds failed deliveries of GitHub organization, repository and App webhooks and asks GitHub to redeliver them, once per run, a bounded number of times, without duplicates.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(io.out)
	root.SetErr(io.err)
	root.SetIn(io.in)
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitInvalid, err: err}
	})
	root.AddCommand(newRunCmd(io), newDeliveriesCmd(io), newStatusCmd(io), newDemoCmd(io), newServeCmd(io))
	root.AddCommand(newStateCmd(io))
	addReleaseCommands(root, io)

	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(io.err, "redeliver:", printable(ee.err.Error()))
		}
		return ee.code
	}
	fmt.Fprintln(io.err, "redeliver:", printable(err.Error()))
	var re *redeliver.Error
	if !errors.As(err, &re) {
		return exitInvalid // cobra's own complaints: unknown command, bad arguments
	}
	return exitCode(err)
}

// exitCode maps an error's code to the documented exit code.
func exitCode(err error) int {
	switch redeliver.ErrorCode(err) {
	case "":
		return exitOK
	case redeliver.EInvalid:
		return exitInvalid
	case redeliver.EAuth:
		return exitAuth
	}
	return exitFailed
}

// newLogger logs to stderr: warnings by default, more with --verbose.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}
