package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/config"
)

// runOptions are the flags of `redeliver run`.
type runOptions struct {
	flags       config.Flags
	dryRun      bool
	output      string
	report      string
	metricsFile string
	rate        float64
	perMinute   int
	perHour     int
	// perMinuteSet and perHourSet: given on the command line, so they hold
	// even where GitHub does not limit rates.
	perMinuteSet, perHourSet bool
	paceScale                float64
	concurrency              int
	timeout                  time.Duration
	lockWait                 time.Duration
	verbose                  bool
	noProbe                  bool
}

func newRunCmd(io *streams) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Find failed deliveries of the targets and redeliver them (one pass)",
		Long: `run makes one pass over the targets: it lists each hook's deliveries newest
first back to the checkpoint, groups them by event (guid), and asks GitHub to
redeliver each failed event once, at most --max-attempts times across runs,
with growing spacing, then reports it exhausted.

With no flags it reads the environment of GitHub's docs scripts (TOKEN,
ORGANIZATION_NAME or REPO_OWNER/REPO_NAME, HOOK_ID, APP_ID/PRIVATE_KEY,
LAST_REDELIVERY_VARIABLE_NAME, WORKFLOW_REPO_OWNER/WORKFLOW_REPO_NAME).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.perMinuteSet, o.perHourSet = cmd.Flags().Changed("per-minute"), cmd.Flags().Changed("per-hour")
			return runRun(cmd.Context(), io, o)
		},
	}
	fs := cmd.Flags()
	addConnFlags(fs, &o.flags)
	addTargetFlags(fs, &o.flags)
	addStateFlag(fs, &o.flags)
	addPolicyFlags(fs, &o.flags)
	fs.BoolVar(&o.dryRun, "dry-run", false, "print what would be redelivered; ask GitHub for nothing and write nothing")
	fs.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	fs.StringVar(&o.report, "report", "", "also write the JSON report to this file")
	fs.StringVar(&o.metricsFile, "metrics-file", "", "also write Prometheus metrics of the run to this file (node_exporter textfile format)")
	fs.Float64Var(&o.rate, "rate", 1, "redeliveries per second at most (0: no limit; GitHub's advice is 1)")
	fs.IntVar(&o.perMinute, "per-minute", 80, "redeliveries in any minute at most (0: no limit; GitHub allows 80 content-creating requests a minute)")
	fs.IntVar(&o.perHour, "per-hour", 500, "redeliveries in any hour at most (0: no limit; GitHub allows 500 content-creating requests an hour)")
	// Time compression for benchmarks against an emulator whose limits are
	// scaled the same way: windows shrink and --rate grows by this factor.
	fs.Float64Var(&o.paceScale, "pace-scale", 1, "")
	_ = fs.MarkHidden("pace-scale")
	fs.IntVar(&o.concurrency, "concurrency", 1, "redelivery requests in flight at once (GitHub's advice is 1)")
	fs.DurationVar(&o.timeout, "timeout", 0, "stop asking after this long; what is left waits for the next run (0: no limit)")
	fs.DurationVar(&o.lockWait, "lock-wait", time.Minute, "how long to wait for another run holding the state")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "log every step to stderr")
	fs.BoolVar(&o.noProbe, "no-probe", false, "do not check during long runs whether the receiver takes the redeliveries")
	return cmd
}

// checkRunOptions validates the flags that config does not know.
func checkRunOptions(o *runOptions) error {
	switch {
	case o.output != "text" && o.output != "json":
		return redeliver.Errorf(redeliver.EInvalid, "--output %q: want text or json", o.output)
	case o.rate < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--rate %v: must not be negative", o.rate)
	case o.perMinute < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--per-minute %d: must not be negative", o.perMinute)
	case o.perHour < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--per-hour %d: must not be negative", o.perHour)
	case o.paceScale <= 0:
		return redeliver.Errorf(redeliver.EInvalid, "--pace-scale %v: must be positive", o.paceScale)
	case o.concurrency < 1 || o.concurrency > 100:
		return redeliver.Errorf(redeliver.EInvalid, "--concurrency %d: want 1 to 100 (GitHub allows 100 concurrent requests)", o.concurrency)
	case o.timeout < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--timeout %s: must not be negative", o.timeout)
	case o.lockWait < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--lock-wait %s: must not be negative", o.lockWait)
	}
	for _, f := range []struct{ flag, path string }{{"--report", o.report}, {"--metrics-file", o.metricsFile}} {
		if f.path == "" {
			continue
		}
		// Checked now: a report that cannot be written must not be found
		// out after the redeliveries were made.
		if st, err := os.Stat(filepath.Dir(f.path)); err != nil || !st.IsDir() {
			return redeliver.Errorf(redeliver.EInvalid, "%s %s: its directory does not exist", f.flag, f.path)
		}
	}
	return nil
}

func runRun(ctx context.Context, io *streams, o *runOptions) error {
	if err := checkRunOptions(o); err != nil {
		return err
	}
	s, err := config.Resolve(o.flags, io.getenv, nil)
	if err != nil {
		return err
	}
	log := newLogger(io.err, o.verbose)
	for _, w := range s.Warnings {
		fmt.Fprintln(io.err, "warning:", w)
	}
	// An existing state file is checked before GitHub is asked anything,
	// and a new one is created only once the credentials work: bad input
	// or bad credentials leave nothing behind.
	var store redeliver.Store
	flush := noFlush
	if existing := stateFileExists(s); existing {
		if store, flush, err = openStore(ctx, s, nil, o.dryRun); err != nil {
			return err
		}
		defer store.Close()
	}
	// The pacer is made once GitHub has said whether it limits rates; a
	// secondary limit met before then has nothing to slow down yet.
	var pacer *redeliver.Pacer
	gh, err := connect(s, log, func() {
		if pacer != nil {
			pacer.Slow()
		}
	})
	if err != nil {
		return err
	}
	if err := gh.CheckAuth(ctx); err != nil {
		return err
	}
	limitsOff := false
	if s.GHES {
		limitsOff, _ = gh.RateLimitingOff(ctx) // asked once, by CheckAuth
	}
	pacer = newPacer(o, limitsOff)
	// Targets given by "every hook" or a hook URL are found before a new
	// state is made: when none is found (a --hook-url that matches no
	// hook) nothing is written.
	targets, targetErrs := expandTargets(ctx, gh, s.Targets)
	if store == nil && len(targets) > 0 {
		if store, flush, err = openStore(ctx, s, gh, o.dryRun); err != nil {
			return err
		}
		defer store.Close()
	}
	if store != nil && !o.dryRun {
		unlock, err := lockStore(ctx, io, store, o.lockWait)
		if err != nil {
			return err
		}
		defer unlock()
	}
	warnPace(ctx, io, s, gh, o)

	runCtx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	res := &runResult{DryRun: o.dryRun, APIURL: s.APIURL, State: s.State.String()}
	for _, err := range targetErrs {
		res.add(&redeliver.Report{Error: err.Error(), ErrorCode: redeliver.ErrorCode(err)})
	}
	bar := newProgress(io, o.output == "text")
	for _, t := range targets {
		r := &redeliver.Runner{
			Source: gh, Redeliverer: gh, Store: store, Policy: t.Policy, Pacer: pacer,
			Concurrency: o.concurrency, DryRun: o.dryRun, Probe: !o.noProbe, Logger: log,
			OnProgress: bar.update, Spill: spillQueue,
		}
		rep, _ := r.Run(runCtx, t.Target)
		bar.done()
		res.add(rep)
		if rep.ErrorCode == redeliver.EAuth {
			break // the same credentials will fail for the others too
		}
	}
	if err := flush(context.WithoutCancel(ctx)); err != nil {
		res.Problems = append(res.Problems, "saving the state: "+err.Error())
	}
	if err := writeResult(io, o.output, res); err != nil {
		return err
	}
	if o.report != "" {
		if err := writeReportFile(o.report, res); err != nil {
			return redeliver.Wrap(redeliver.EInternal, err, "--report %s", o.report)
		}
	}
	if o.metricsFile != "" {
		if err := writeMetrics(o.metricsFile, res, time.Now()); err != nil {
			return redeliver.Wrap(redeliver.EInternal, err, "--metrics-file %s", o.metricsFile)
		}
	}
	if code := res.exitCode(); code != exitOK {
		return &exitError{code: code}
	}
	return nil
}

// lockStore takes the state lock, saying so when it has to wait.
func lockStore(ctx context.Context, io *streams, st redeliver.Store, wait time.Duration) (func() error, error) {
	unlock, err := st.Lock(ctx, 0)
	if err == nil || wait == 0 || redeliver.ErrorCode(err) != redeliver.EConflict {
		return unlock, err
	}
	fmt.Fprintf(io.err, "redeliver: %v; waiting up to %s\n", err, wait)
	return st.Lock(ctx, wait)
}

// warnPace warns when the pace exceeds GitHub's advice on an instance that
// enforces rate limits (github.com, or GHES with limits on).
func warnPace(ctx context.Context, io *streams, s *config.Settings, gh interface {
	RateLimitingOff(context.Context) (bool, error)
}, o *runOptions) {
	within := o.rate > 0 && o.rate <= o.paceScale && o.concurrency == 1 &&
		o.perMinute > 0 && o.perMinute <= 80 && o.perHour > 0 && o.perHour <= 500
	if o.dryRun || within {
		return
	}
	if s.GHES {
		if off, err := gh.RateLimitingOff(ctx); err == nil && off {
			return
		}
	}
	fmt.Fprintln(io.err, "warning: --rate, --per-minute, --per-hour or --concurrency exceed GitHub's advice and limits (one request at a time, 1 s apart, 80 a minute, 500 an hour) on an instance that enforces rate limits; secondary limits will slow the run down")
}

// newPacer paces redeliveries as the flags say, time-compressed by
// --pace-scale. GitHub's per-minute and per-hour caps do not apply where
// rate limiting is off (a GHES default), unless the flags set them.
func newPacer(o *runOptions, limitsOff bool) *redeliver.Pacer {
	perMinute, perHour := o.perMinute, o.perHour
	if limitsOff {
		if !o.perMinuteSet {
			perMinute = 0
		}
		if !o.perHourSet {
			perHour = 0
		}
	}
	scale := func(d time.Duration) time.Duration { return time.Duration(float64(d) / o.paceScale) }
	return redeliver.NewPacer(o.rate*o.paceScale,
		redeliver.Window{Limit: perMinute, Length: scale(time.Minute)},
		redeliver.Window{Limit: perHour, Length: scale(time.Hour)})
}
