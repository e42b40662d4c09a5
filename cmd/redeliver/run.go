package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/alert"
	"github.com/redeliver/redeliver/config"
	"github.com/redeliver/redeliver/githubapi"
)

// runOptions are what `redeliver run` is given: its streams, the means to
// build its dependencies, and its flags.
type runOptions struct {
	IO       *streams
	Settings func() (*config.Settings, error)
	GitHub   gitHubFunc
	State    stateFunc
	Logger   func() *slog.Logger

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
	// learn starts at GitHub's advised pace with GitHub's per-minute and
	// per-hour limits dormant, keeping to one only once GitHub shows it
	// applies, and remembers it per API host (see newPacer).
	learn       bool
	concurrency int
	// parallel is how many targets are worked on at once; parallelSet:
	// given on the command line (else chosen by instance, see parallelism).
	parallel    int
	parallelSet bool
	timeout     time.Duration
	lockWait    time.Duration
	noProbe     bool
	alerts      alertOptions
}

func newRunCmd(f *factory) *cobra.Command {
	o := &runOptions{IO: f.IO, GitHub: connect, State: openState, Logger: f.logger, learn: true}
	o.Settings = f.settings(&o.flags)
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
		Example: `  redeliver run --org acme --hook 123456
  redeliver run --repo acme/api --dry-run
  redeliver run --config redeliver.yaml --output json --report report.json
  redeliver run --app --app-id 12345 --private-key-file app.pem`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.perMinuteSet, o.perHourSet = cmd.Flags().Changed("per-minute"), cmd.Flags().Changed("per-hour")
			o.parallelSet = cmd.Flags().Changed("parallel")
			return runRun(cmd.Context(), o)
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
	fs.IntVar(&o.perMinute, "per-minute", 80, "redeliveries in any minute at most (0: no limit; GitHub allows 80 content-creating requests a minute; unset, kept to once GitHub shows it counts redeliveries)")
	fs.IntVar(&o.perHour, "per-hour", 500, "redeliveries in any hour at most (0: no limit; GitHub allows 500 content-creating requests an hour; unset, kept to once GitHub shows it counts redeliveries)")
	fs.IntVar(&o.concurrency, "concurrency", 1, "redelivery requests in flight at once (GitHub's advice is 1)")
	fs.IntVar(&o.parallel, "parallel", 0, fmt.Sprintf("targets worked on at once, 1 to %d (default: 1 where GitHub enforces rate limits, as it asks for requests one at a time; %d on GHES with rate limiting off)", maxParallel, parallelLimitsOff))
	fs.DurationVar(&o.timeout, "timeout", 0, "stop asking after this long; what is left waits for the next run (0: no limit)")
	fs.DurationVar(&o.lockWait, "lock-wait", time.Minute, "how long to wait for another run holding the state")
	fs.BoolVar(&o.noProbe, "no-probe", false, "do not check during long runs whether the receiver takes the redeliveries (at the default pace the check is made only when the newest deliveries listed failed)")
	addAlertFlags(fs, &o.alerts)
	return cmd
}

// check validates the flags that config does not know.
func (o *runOptions) check() error {
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case o.output != "text" && o.output != "json":
		return redeliver.Errorf(redeliver.EInvalid, "--output %q: want text or json", o.output)
	case !finite(o.rate) || o.rate < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--rate %v: want a number of redeliveries per second, 0 or more (0: no limit)", o.rate)
	case o.perMinute < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--per-minute %d: must not be negative", o.perMinute)
	case o.perHour < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--per-hour %d: must not be negative", o.perHour)
	case o.concurrency < 1 || o.concurrency > 100:
		return redeliver.Errorf(redeliver.EInvalid, "--concurrency %d: want 1 to 100 (GitHub allows 100 concurrent requests)", o.concurrency)
	case o.parallelSet && (o.parallel < 1 || o.parallel > maxParallel):
		return redeliver.Errorf(redeliver.EInvalid, "--parallel %d: want 1 to %d targets at once", o.parallel, maxParallel)
	case o.timeout < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--timeout %s: must not be negative", o.timeout)
	case o.lockWait < 0:
		return redeliver.Errorf(redeliver.EInvalid, "--lock-wait %s: must not be negative", o.lockWait)
	}
	if err := o.alerts.check(); err != nil {
		return err
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

func runRun(ctx context.Context, o *runOptions) error {
	if err := o.check(); err != nil {
		if o.output != "json" {
			return err // the output format itself may be what is wrong
		}
		return o.finish(ctx, o.failed(err), err)
	}
	sess, err := o.prepare(ctx)
	if err != nil {
		return o.finish(ctx, o.failed(err), err)
	}
	defer sess.close()
	return o.finish(ctx, sess.run(ctx), nil)
}

// runSession is a run's dependencies, once built and checked.
type runSession struct {
	o     *runOptions
	s     *config.Settings
	log   *slog.Logger
	gh    *githubClient
	src   *peekedSource
	pacer *redeliver.Pacer
	// paceSaved is how many windows the state held for the API host.
	paceSaved int
	// limitsOff: GHES told the run it does not limit rates.
	limitsOff  bool
	st         *state
	closers    []func() error
	targets    []plannedTarget
	targetErrs []error
	alerter    *alert.Alerter
}

// prepare resolves the settings, checks the credentials, finds the
// targets, opens and locks the state. An existing state file is checked
// before GitHub is asked anything, and a new one is created only once the
// credentials and the targets work: bad input or bad credentials leave
// nothing behind.
func (o *runOptions) prepare(ctx context.Context) (_ *runSession, err error) {
	s, err := o.Settings()
	if err != nil {
		return nil, err
	}
	if !o.dryRun {
		if err := o.alerts.checkState(s); err != nil {
			return nil, err
		}
	}
	for _, w := range s.Warnings {
		fmt.Fprintln(o.IO.err, "warning:", w)
	}
	sess := &runSession{o: o, s: s, log: o.Logger()}
	defer func() {
		if err != nil {
			sess.close()
		}
	}()
	if stateFileExists(s) {
		if err := sess.open(ctx); err != nil {
			return nil, err
		}
	}
	// The pacer is made once GitHub has said whether it limits rates; a
	// secondary limit met before then has nothing to slow down yet.
	if sess.gh, err = o.GitHub(s, sess.log, sess); err != nil {
		return nil, err
	}
	// Targets given by "every hook" or a hook URL are found before a new
	// state is made: when none is found (a --hook-url that matches no
	// hook) nothing is written.
	sess.targets, sess.targetErrs = expandTargets(ctx, sess.gh, s.Targets)
	for _, err := range sess.targetErrs {
		if redeliver.ErrorCode(err) == redeliver.EAuth {
			return nil, err // the same credentials fail for every target
		}
	}
	if err := sess.peek(ctx); err != nil {
		return nil, err
	}
	if !o.dryRun && o.alerts.repo != "" && sess.gh.REST() == nil {
		return nil, redeliver.Errorf(redeliver.EInvalid, "--alert-repo %s needs a token (GH_TOKEN, --token-file): GitHub App credentials alone cannot open issues", o.alerts.repo)
	}
	if s.GHES {
		sess.limitsOff, _ = sess.gh.RateLimitingOff(ctx) // told by the first answer's headers
	}
	sess.pacer = newPacer(o, sess.limitsOff)
	if sess.st == nil && slices.ContainsFunc(sess.targets, func(t plannedTarget) bool { return t.failed == nil }) {
		if err := sess.open(ctx); err != nil {
			return nil, err
		}
	}
	if sess.st != nil && !o.dryRun {
		unlock, waited, err := lockStoreWaited(ctx, o.IO, sess.st, o.lockWait)
		if err != nil {
			return nil, err
		}
		sess.closers = append(sess.closers, unlock)
		if waited {
			sess.src.forget() // the other run changed what the pages show
		}
		if sess.alerter, err = o.alerts.alerter(sess.gh, sess.st.Store, sess.log); err != nil {
			return nil, err
		}
	}
	sess.learnedPace(ctx)
	warnPace(ctx, o.IO, s, sess.gh, o)
	return sess, nil
}

// peek asks for the first page of the targets' deliveries, which the run
// needs anyway (peekedSource keeps them): the first answer shows whether
// the credentials work and GitHub limits rates, and for a new state every
// hook's answer shows it is there, so a new state is made only for hooks
// that are. A hook that is not is then named with the hooks its owner has:
// the hook list is asked for only when it can tell something.
func (sess *runSession) peek(ctx context.Context) error {
	sess.src = &peekedSource{Source: sess.gh}
	if err := sess.gh.CheckApp(ctx); err != nil {
		return err
	}
	answered := false
	var rest []int // targets to peek at once the credentials answered
	for i := range sess.targets {
		t := &sess.targets[i]
		switch {
		case t.failed != nil:
			continue
		case answered && (sess.st != nil || sess.o.dryRun):
			// The state exists: the Runner finds a missing hook.
		case answered:
			rest = append(rest, i)
		default:
			err := sess.src.peek(ctx, t.Target)
			if err == nil {
				answered = true
				continue
			}
			if err := sess.peekFailed(ctx, i, err, false); err != nil {
				return err
			}
		}
	}
	if !answered {
		// No hook answered (none given, or none there): the credentials
		// are checked on their own.
		return sess.gh.CheckAuth(ctx)
	}
	return sess.peekRest(ctx, rest)
}

// peekRest peeks at the targets numbered in rest, side by side where the
// run will work on targets side by side (GHES with rate limiting off, or
// --parallel): one after another, fifty hooks took 2.5 s at 50 ms a
// request before any was begun.
func (sess *runSession) peekRest(ctx context.Context, rest []int) error {
	n := 1
	switch {
	case sess.o.parallelSet:
		n = sess.o.parallel
	case sess.s.GHES:
		if off, err := sess.gh.RateLimitingOff(ctx); err == nil && off {
			n = parallelLimitsOff
		}
	}
	var (
		mu    sync.Mutex
		fatal error
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, n)
	for _, i := range rest {
		sem <- struct{}{}
		mu.Lock()
		stop := fatal != nil
		mu.Unlock()
		if stop {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := sess.src.peek(ctx, sess.targets[i].Target)
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err := sess.peekFailed(ctx, i, err, true); err != nil && fatal == nil {
				fatal = err
			}
		})
	}
	wg.Wait()
	return fatal
}

// peekFailed deals with target i's first page failing: it returns the
// error that ends the run (credentials refused, or no answer yet at all),
// or marks the target failed and returns nil.
func (sess *runSession) peekFailed(ctx context.Context, i int, err error, answered bool) error {
	t := &sess.targets[i]
	switch {
	case redeliver.ErrorCode(err) == redeliver.EAuth:
		return err
	case redeliver.ErrorCode(err) == redeliver.ERateLimited:
		t.fail(err) // no answer about the credentials: the Runner would say the same
	case redeliver.ErrorCode(err) == redeliver.ENotFound && sess.st == nil && !sess.o.dryRun:
		if reachable(ctx, sess.gh, sess.targets[i:i+1]); t.failed == nil {
			t.fail(err)
		}
	case !answered:
		return err // as a failed credential check would
	default:
		t.fail(err)
	}
	return nil
}

// limited hears a secondary rate limit and how long GitHub asked to wait.
// A learning pacer keeps to the window the wait points at; one that knew
// every window already, or paces as the flags say, halves its pace. A
// limit on a request the pacer does not space (a listing) tells nothing
// of the redeliveries' windows: the client holds every request until its
// retry-after anyway.
func (sess *runSession) limited(route string, wait time.Duration) {
	p := sess.pacer
	if p == nil || (route != "" && !githubapi.IsRedelivery(route)) {
		return
	}
	if sess.o.learn && len(p.Hit(wait)) > 0 {
		return
	}
	p.Slow()
}

// answered tells the pacer when GitHub answered a redelivery, the
// requests it paces (see Pacer.Answered).
func (sess *runSession) answered(route string) {
	if p := sess.pacer; p != nil && githubapi.IsRedelivery(route) {
		p.Answered(time.Now())
	}
}

// learnedPace starts a learning pacer within the windows an earlier run
// learned for this API host. A store that cannot keep them (an Actions
// variable) leaves the run to learn anew.
func (sess *runSession) learnedPace(ctx context.Context) {
	ps := sess.paceStore()
	if ps == nil {
		return
	}
	ws, ok, err := ps.Pace(ctx, paceHost(sess.s.APIURL))
	if err != nil {
		sess.log.Warn("reading the learned pace", "error", err)
		return
	}
	if !ok {
		return
	}
	for i := range ws {
		ws[i].Length = toPace(ws[i].Length)
	}
	sess.pacer.Wake(ws...)
	sess.paceSaved = len(ws)
}

// savePace records the windows the run learned, for the next run.
func (sess *runSession) savePace(ctx context.Context) error {
	ps := sess.paceStore()
	if ps == nil {
		return nil
	}
	ws := sess.pacer.Learned()
	if len(ws) == 0 || len(ws) == sess.paceSaved {
		return nil // nothing new
	}
	for i := range ws {
		ws[i].Length = fromPace(ws[i].Length)
	}
	return ps.SetPace(ctx, paceHost(sess.s.APIURL), ws)
}

// paceStore is the state's pace record, for a learning run that writes.
func (sess *runSession) paceStore() redeliver.PaceStore {
	if !sess.o.learn || sess.o.dryRun || sess.st == nil || sess.pacer == nil {
		return nil
	}
	ps, _ := sess.st.Store.(redeliver.PaceStore)
	return ps
}

// open opens the state.
func (sess *runSession) open(ctx context.Context) error {
	st, err := sess.o.State(ctx, sess.s, sess.gh, sess.log, sess.o.dryRun)
	if err != nil {
		return err
	}
	sess.st = st
	sess.closers = append(sess.closers, st.Close)
	return nil
}

// close unlocks and closes the state, last opened first.
func (sess *runSession) close() {
	for i := len(sess.closers) - 1; i >= 0; i-- {
		_ = sess.closers[i]()
	}
	sess.closers = nil
}

// run makes the pass over every target and saves the state.
func (sess *runSession) run(ctx context.Context) *runResult {
	o := sess.o
	runCtx := ctx
	if o.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	res := sess.result()
	if o.report != "" {
		// Every item goes to the report file; the reports in memory keep
		// the first ones (Runner.MaxItems).
		if sp, err := newItemSpool(); err == nil {
			res.items = sp
		} else {
			res.Problems = append(res.Problems, "--report lists the first items only: "+err.Error())
		}
	}
	for _, err := range sess.targetErrs {
		res.add(&redeliver.Report{Error: err.Error(), ErrorCode: redeliver.ErrorCode(err)})
	}
	// Every target is anchored at the run's start before any is listed: one
	// the run never reaches (a deadline, a kill) keeps the window it began
	// with instead of sliding forward to the next run's.
	start := sess.gh.ServerTime()
	if !o.dryRun && sess.st != nil {
		for _, t := range sess.targets {
			if t.failed != nil {
				continue
			}
			if err := redeliver.AnchorFirstRun(ctx, sess.st, t.Target.Key(), t.Policy, start); err != nil {
				res.Problems = append(res.Problems, err.Error())
			}
		}
	}
	sess.each(ctx, runCtx, start, res)
	if sess.st == nil {
		return res // no target found: nothing was opened
	}
	if err := sess.savePace(context.WithoutCancel(ctx)); err != nil {
		res.Problems = append(res.Problems, "saving the learned pace: "+err.Error())
	}
	if err := sess.st.Flush(context.WithoutCancel(ctx)); err != nil {
		res.Problems = append(res.Problems, "saving the state: "+err.Error())
	}
	res.LedgerDropped = sess.st.Dropped()
	return res
}

// maxParallel bounds --parallel: GitHub allows 100 concurrent requests.
const maxParallel = 100

// parallelLimitsOff is how many targets are worked on at once by default
// where GHES does not limit rates: enough that a config of many small
// hooks finishes within the time of its largest one.
const parallelLimitsOff = 16

// parallelism is how many targets are worked on at once. Where GitHub
// enforces rate limits (github.com, GHES with limits on), it asks for
// requests one at a time, not concurrently; the pacer spaces redeliveries
// but not listings, so listing several hooks at once would break that
// advice: the targets go one after another there unless --parallel says
// otherwise (and warnPace warns). Where rate limiting is off, nothing
// asks for serial requests and the targets share the time.
func (sess *runSession) parallelism() int {
	switch {
	case sess.o.parallelSet:
		return sess.o.parallel
	case sess.limitsOff:
		return parallelLimitsOff
	}
	return 1
}

// each works on every target, up to parallelism() at once, and adds their
// reports to res in the targets' order. What the sequential pass did
// holds: a refused credential stops the targets not yet begun; with
// --timeout over, the rest still run (at once, to report what they leave
// for the next run); each target's alerts are checked when it ends.
func (sess *runSession) each(ctx, runCtx context.Context, start time.Time, res *runResult) {
	o := sess.o
	live := 0
	for _, t := range sess.targets {
		if t.failed == nil {
			live++
		}
	}
	n := min(sess.parallelism(), max(live, 1))
	bar := newTargetsProgress(o.IO, o.output == "text", n > 1, live)
	defer bar.finish()
	if sess.pacer != nil {
		sess.pacer.OnHold(bar.hold)
	}
	reps := make([]*redeliver.Report, len(sess.targets))
	cut := make([]bool, len(sess.targets))
	probs := make([][]string, len(sess.targets))
	var (
		wg       sync.WaitGroup
		authStop atomic.Bool
		alertMu  sync.Mutex // alerts open issues: one target at a time
	)
	sem := make(chan struct{}, n)
	told := make([]bool, len(sess.targets)) // begun, or failed before the run
	for _, i := range sess.order(n) {
		t := sess.targets[i]
		if t.failed != nil {
			told[i] = true
			if t.failed.ErrorCode == redeliver.EAuth {
				break
			}
			continue
		}
		sem <- struct{}{}
		if authStop.Load() {
			<-sem
			break // the same credentials will fail for the others too
		}
		told[i] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			key := t.Target.Key()
			r := &redeliver.Runner{
				Source: sess.src, Redeliverer: sess.gh, Store: sess.st, Policy: t.Policy, Pacer: sess.pacer,
				Concurrency: o.concurrency, DryRun: o.dryRun, Probe: !o.noProbe, ProbeIfDown: o.scriptPace(), Logger: sess.log,
				OnProgress: bar.update, Spill: spillQueue, Start: start,
			}
			var items *targetItems
			if res.items != nil {
				items = res.items.target()
				r.OnItem = items.add
			}
			bar.begin(key)
			rep, _ := r.Run(runCtx, t.Target)
			if items != nil {
				items.end(rep)
			}
			bar.done(key)
			if !o.dryRun {
				alertMu.Lock()
				probs[i] = checkAlerts(ctx, sess.alerter, sess.st, rep)
				alertMu.Unlock()
			}
			reps[i] = rep
			// --timeout: the rest waits for the next run.
			cut[i] = runCtx.Err() != nil && ctx.Err() == nil
			if rep.ErrorCode == redeliver.EAuth {
				authStop.Store(true)
			}
		}()
	}
	wg.Wait()
	for i, t := range sess.targets {
		if !told[i] {
			continue // not begun: refused credentials stopped the run
		}
		if t.failed != nil {
			res.add(t.failed)
			continue
		}
		res.Problems = append(res.Problems, probs[i]...)
		res.alertProblems += len(probs[i])
		res.add(reps[i])
		if cut[i] {
			res.timedOut(reps[i])
		}
	}
}

// order is the order in which the targets begin: the config's, or with
// n at once, the biggest first as their first pages suggest (targets that
// failed before the run first: they cost nothing). Results keep the
// config's order whatever this one.
func (sess *runSession) order(n int) []int {
	order := make([]int, len(sess.targets))
	for i := range order {
		order[i] = i
	}
	if n <= 1 {
		return order
	}
	size := make([]float64, len(sess.targets))
	for i, t := range sess.targets {
		if size[i] = math.Inf(1); t.failed == nil {
			size[i] = sess.src.size(t.Key())
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(size[b], size[a]) })
	return order
}

// result is an empty result of this run.
func (sess *runSession) result() *runResult {
	return &runResult{DryRun: sess.o.dryRun, APIURL: sess.s.APIURL, State: sess.s.State.String()}
}

// failed is the result of a run that could not start.
func (o *runOptions) failed(err error) *runResult {
	res := &runResult{DryRun: o.dryRun, Error: err.Error(), ErrorCode: redeliver.ErrorCode(err)}
	if s, serr := o.Settings(); serr == nil {
		res.APIURL, res.State = s.APIURL, s.State.String()
	}
	return res
}

// finish prints and writes the result and turns it into the exit code.
// A run that could not start (err) still gets its JSON report, with the
// error; its text form is the error message alone.
func (o *runOptions) finish(ctx context.Context, res *runResult, err error) error {
	if res.items != nil {
		defer res.items.close()
	}
	res.ExitCode = res.exitCode()
	if err != nil {
		res.ExitCode = exitCode(err)
	}
	if sig := interruption(ctx); sig != 0 {
		res.ExitCode = sig
	}
	if err == nil || o.output == "json" {
		if werr := writeResult(o.IO, o.output, res); werr != nil {
			return werr
		}
	}
	// Files are written for every run that got past the input checks.
	if redeliver.ErrorCode(err) != redeliver.EInvalid {
		if o.report != "" {
			if werr := writeReportFile(o.report, res); werr != nil {
				return redeliver.Wrap(redeliver.EInternal, werr, "--report %s", o.report)
			}
		}
		if o.metricsFile != "" {
			if werr := writeMetrics(o.metricsFile, res, time.Now()); werr != nil {
				return redeliver.Wrap(redeliver.EInternal, werr, "--metrics-file %s", o.metricsFile)
			}
		}
	}
	if err != nil {
		return err
	}
	if res.ExitCode != exitOK {
		return &exitError{code: res.ExitCode}
	}
	return nil
}

// lockStore takes the state lock, saying so when it has to wait.
func lockStore(ctx context.Context, ios *streams, st redeliver.Store, wait time.Duration) (func() error, error) {
	unlock, _, err := lockStoreWaited(ctx, ios, st, wait)
	return unlock, err
}

// lockStoreWaited is lockStore, also telling whether another run held
// the lock first (what GitHub answered before is then out of date).
func lockStoreWaited(ctx context.Context, ios *streams, st redeliver.Store, wait time.Duration) (func() error, bool, error) {
	unlock, err := st.Lock(ctx, 0)
	if err == nil || wait == 0 || redeliver.ErrorCode(err) != redeliver.EConflict {
		return unlock, false, err
	}
	fmt.Fprintf(ios.err, "redeliver: %v; waiting up to %s\n", err, wait)
	unlock, err = st.Lock(ctx, wait)
	return unlock, true, err
}

// scriptPace says whether redeliveries go no faster than the docs
// script's: one at a time, at most one a second.
func (o *runOptions) scriptPace() bool {
	return o.rate > 0 && o.rate <= 1 && o.concurrency == 1
}

// warnPace warns when the pace exceeds GitHub's advice on an instance that
// enforces rate limits (github.com, or GHES with limits on).
func warnPace(ctx context.Context, ios *streams, s *config.Settings, gh interface {
	RateLimitingOff(context.Context) (bool, error)
}, o *runOptions) {
	within := o.scriptPace() &&
		o.perMinute > 0 && o.perMinute <= 80 && o.perHour > 0 && o.perHour <= 500
	serial := !o.parallelSet || o.parallel == 1
	if o.dryRun || (within && serial) {
		return
	}
	if s.GHES {
		if off, err := gh.RateLimitingOff(ctx); err == nil && off {
			return
		}
	}
	if !within {
		fmt.Fprintln(ios.err, "warning: --rate, --per-minute, --per-hour or --concurrency exceed GitHub's advice and limits (one request at a time, 1 s apart, 80 a minute, 500 an hour) on an instance that enforces rate limits; secondary limits will slow the run down")
	}
	if !serial {
		fmt.Fprintf(ios.err, "warning: --parallel %d lists several hooks at once, where GitHub asks for requests one at a time on an instance that enforces rate limits; secondary limits will slow the run down\n", o.parallel)
	}
}

// newPacer paces redeliveries as the flags say. GitHub's per-minute and
// per-hour caps do not apply where rate limiting is off (a GHES default),
// unless the flags set them. With learn, caps the flags do not set are
// dormant: GitHub does not document whether redeliveries count as content
// creation, and pacing as if they did makes a backlog drain 8 times slower
// than GitHub's own docs script where they do not. The run starts at the
// script's pace and keeps to a cap once GitHub answers with a secondary
// limit (onLimit), or an earlier run learned it did (learnedPace).
func newPacer(o *runOptions, limitsOff bool) *redeliver.Pacer {
	var set, dormant []redeliver.Window
	for _, w := range []struct {
		limit  int
		given  bool
		length time.Duration
	}{{o.perMinute, o.perMinuteSet, time.Minute}, {o.perHour, o.perHourSet, time.Hour}} {
		win := redeliver.Window{Limit: w.limit, Length: toPace(w.length)}
		switch {
		case w.given:
			set = append(set, win)
		case limitsOff:
		case o.learn:
			dormant = append(dormant, win)
		default:
			set = append(set, win)
		}
	}
	p := redeliver.NewPacer(o.rate*paceScale(), set...)
	p.Dormant(dormant...)
	return p
}

// toPace and fromPace convert GitHub's time to the pacer's and back: the
// same unless the benchmark compresses the pacer's time (paceScale).
func toPace(d time.Duration) time.Duration {
	return time.Duration(float64(d) / paceScale())
}

func fromPace(d time.Duration) time.Duration {
	return time.Duration(float64(d) * paceScale())
}

// paceHost names the API host whose limits a pace record holds: host and
// path of the API root, such as "api.github.com" or "ghe.example/api/v3".
func paceHost(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		return apiURL
	}
	return strings.TrimSuffix(strings.ToLower(u.Host)+u.EscapedPath(), "/")
}
