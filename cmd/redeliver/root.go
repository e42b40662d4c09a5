package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/redeliver/redeliver"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, documented in the README.
const (
	exitOK         = 0 // every recoverable failure was asked for
	exitFailed     = 1 // some redelivery or target failed; the others were done
	exitInvalid    = 2 // invalid input: nothing was sent or written
	exitAuth       = 3 // GitHub refused the credentials or the permission
	exitIncomplete = 4 // work left for the next run: a rate limit or --timeout stopped it
	// A run stopped by a signal exits 128 + the signal's number, as shells
	// report it: 130 for SIGINT, 143 for SIGTERM.
	exitSignalBase = 128
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

// interrupted is the cause of a context cancelled by a signal.
type interrupted struct{ sig syscall.Signal }

func (e interrupted) Error() string { return "interrupted by " + e.sig.String() }

// interruption returns the exit code of a run a signal stopped, or 0.
func interruption(ctx context.Context) int {
	var in interrupted
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &in) {
		return exitSignalBase + int(in.sig)
	}
	return 0
}

// newRootCmd is the command tree. Each subcommand is one constructor that
// takes the factory.
func newRootCmd(f *factory) *cobra.Command {
	root := &cobra.Command{
		Use:           "redeliver",
		Short:         "Find failed GitHub webhook deliveries and redeliver them",
		Long:          "redeliver finds failed deliveries of GitHub organization, repository and App webhooks and asks GitHub to redeliver them, once per run, a bounded number of times, without duplicates.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	// -v is --verbose on every command; the version is --version alone.
	root.PersistentFlags().BoolVarP(&f.Verbose, "verbose", "v", false, "log every step to stderr")
	root.AddCommand(
		newRunCmd(f),
		newReplayCmd(f),
		newDeliveriesCmd(f),
		newStatusCmd(f),
		newDemoCmd(f),
		newStateCmd(f.IO),
		newServeCmd(f.IO),
	)
	addReleaseCommands(root, f.IO)
	return root
}

// execute runs the command line and returns the exit code.
func execute(ctx context.Context, args []string, ios *streams) int {
	root := newRootCmd(newFactory(ios))
	root.SetOut(ios.out)
	root.SetErr(ios.err)
	root.SetIn(ios.in)
	root.SetArgs(args)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: exitInvalid, err: err}
	})

	err := root.ExecuteContext(ctx)
	code := exitOK
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ee.err != nil {
			fmt.Fprintln(ios.err, "redeliver:", printable(redactURLs(ee.err.Error())))
		}
		code = ee.code
	default:
		var re *redeliver.Error
		if !errors.As(err, &re) {
			// cobra's own complaints (unknown command, bad arguments) span
			// lines ("Did you mean …"): each line is kept printable.
			for i, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
				line = printable(strings.ReplaceAll(line, "\t", "    "))
				if i == 0 {
					line = "redeliver: " + line
				}
				fmt.Fprintln(ios.err, line)
			}
			return exitInvalid
		}
		fmt.Fprintln(ios.err, "redeliver:", printable(redactURLs(err.Error())))
		code = exitCode(err)
	}
	if sig := interruption(ctx); sig != 0 && err != errServiceStopped {
		return sig
	}
	return code
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
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}))
}

// redactAttr hides what URLs in log values may carry (userinfo, query
// values, fragments).
func redactAttr(_ []string, a slog.Attr) slog.Attr {
	switch v := a.Value.Any().(type) {
	case string:
		a.Value = slog.StringValue(redactURLs(v))
	case error:
		a.Value = slog.StringValue(redactURLs(v.Error()))
	}
	return a
}
