package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/config"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/serve"
	"github.com/redeliver/redeliver/statuspage"
)

// serveOptions are the flags of `redeliver serve`.
type serveOptions struct {
	flags                    config.Flags
	listen                   string
	budget                   float64
	workers                  int
	pollMin                  time.Duration
	pollEvery                time.Duration
	pollMax                  time.Duration
	rate                     float64
	perMinute                int
	perHour                  int
	concurrency              int
	lockWait                 time.Duration
	leaseTTL                 time.Duration
	logFormat                string
	logLevel                 string
	perMinuteSet, perHourSet bool
	authTokenFile            string
	insecureNoAuth           bool
	alerts                   alertOptions
}

// serveSlowdown is how long serve keeps its pace halved after GitHub
// answered a redelivery with a secondary limit.
const serveSlowdown = time.Hour

func newServeCmd(io *streams) *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Watch the targets continuously and redeliver failed events as soon as their receiver is back",
		Long: `serve watches every target as a service: it polls each hook's deliveries
(a conditional request, free when nothing changed), often while something is
failing and seldom while the hook is quiet, within a share of the token's
hourly API quota. Failed events are redelivered as soon as the listing shows
the receiver healthy again, and not while it is failing. It serves /metrics,
/healthz and /readyz on --listen, and a status page at / with the
actions a person can take on an event. SIGTERM or SIGINT stops it cleanly (exit
0); SIGHUP reloads the targets of --config.

It takes run's flags, --config file and the docs scripts' environment.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.perMinuteSet, o.perHourSet = cmd.Flags().Changed("per-minute"), cmd.Flags().Changed("per-hour")
			return runServe(cmd.Context(), io, o)
		},
	}
	fs := cmd.Flags()
	addConnFlags(fs, &o.flags)
	addTargetFlags(fs, &o.flags)
	addStateFlag(fs, &o.flags)
	addPolicyFlags(fs, &o.flags)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "address for the status page, /metrics, /healthz and /readyz")
	fs.StringVar(&o.authTokenFile, "auth-token-file", "", "file holding the status page's access token (16 characters at least); required to --listen beyond loopback")
	fs.BoolVar(&o.insecureNoAuth, "insecure-no-auth", false, "serve the status page and its actions beyond loopback without authentication")
	addAlertFlags(fs, &o.alerts)
	fs.Float64Var(&o.budget, "budget", 0.5, "fraction of each credential's hourly API quota to spend at most (0 < f ≤ 1)")
	fs.IntVar(&o.workers, "workers", 4, "polls in flight at once")
	fs.DurationVar(&o.pollMin, "poll-min", serve.DefaultSchedule().Hot, "poll interval while a target has failures open or its receiver is failing")
	fs.DurationVar(&o.pollEvery, "poll-interval", serve.DefaultSchedule().Base, "poll interval after new deliveries")
	fs.DurationVar(&o.pollMax, "poll-max", serve.DefaultSchedule().Idle, "longest poll interval, for a quiet target")
	fs.Float64Var(&o.rate, "rate", 1, "redeliveries per second at most (0: no limit; GitHub's advice is 1)")
	fs.IntVar(&o.perMinute, "per-minute", 80, "redeliveries in any minute at most (GitHub allows 80 content-creating requests a minute)")
	fs.IntVar(&o.perHour, "per-hour", 500, "redeliveries in any hour at most (GitHub allows 500 content-creating requests an hour)")
	fs.IntVar(&o.concurrency, "concurrency", 1, "redelivery requests in flight per target (GitHub's advice is 1)")
	fs.DurationVar(&o.lockWait, "lock-wait", time.Minute, "how long to wait for a run holding the state")
	fs.DurationVar(&o.leaseTTL, "lease-ttl", postgres.DefaultTTL, "with a PostgreSQL state: how long a replica keeps a target without renewing its lease (renewed every third of it); a dead replica's targets move after it")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "least important log level shown: debug, info, warn or error")
	return cmd
}

// checkServeOptions validates the flags config does not know.
func checkServeOptions(o *serveOptions) (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return level, redeliver.Errorf(redeliver.EInvalid, "--log-level %q: want debug, info, warn or error", o.logLevel)
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return level, redeliver.Errorf(redeliver.EInvalid, "--listen %q: want HOST:PORT, like 127.0.0.1:8080", o.listen)
	}
	switch {
	case o.logFormat != "text" && o.logFormat != "json":
		return level, redeliver.Errorf(redeliver.EInvalid, "--log-format %q: want text or json", o.logFormat)
	case o.budget <= 0 || o.budget > 1:
		return level, redeliver.Errorf(redeliver.EInvalid, "--budget %v: want a fraction of the hourly quota, above 0 and at most 1", o.budget)
	case o.workers < 1 || o.workers > 100:
		return level, redeliver.Errorf(redeliver.EInvalid, "--workers %d: want 1 to 100 (GitHub allows 100 concurrent requests)", o.workers)
	case o.rate < 0:
		return level, redeliver.Errorf(redeliver.EInvalid, "--rate %v: must not be negative", o.rate)
	case o.perMinute < 0:
		return level, redeliver.Errorf(redeliver.EInvalid, "--per-minute %d: must not be negative", o.perMinute)
	case o.perHour < 0:
		return level, redeliver.Errorf(redeliver.EInvalid, "--per-hour %d: must not be negative", o.perHour)
	case o.concurrency < 1 || o.concurrency > 100:
		return level, redeliver.Errorf(redeliver.EInvalid, "--concurrency %d: want 1 to 100 (GitHub allows 100 concurrent requests)", o.concurrency)
	case o.lockWait < 0:
		return level, redeliver.Errorf(redeliver.EInvalid, "--lock-wait %s: must not be negative", o.lockWait)
	case o.leaseTTL < minLeaseTTL || o.leaseTTL > time.Hour:
		return level, redeliver.Errorf(redeliver.EInvalid, "--lease-ttl %s: want %s to 1h", o.leaseTTL, minLeaseTTL)
	}
	sch := schedule(o)
	if err := sch.Validate(); err != nil {
		return level, redeliver.Errorf(redeliver.EInvalid, "--poll-min %s, --poll-interval %s, --poll-max %s: want 0 < min ≤ interval ≤ max", o.pollMin, o.pollEvery, o.pollMax)
	}
	return level, nil
}

func schedule(o *serveOptions) serve.Schedule {
	sch := serve.DefaultSchedule()
	sch.Hot, sch.Base, sch.Idle = o.pollMin, o.pollEvery, o.pollMax
	return sch
}

func runServe(ctx context.Context, io *streams, o *serveOptions) error {
	level, err := checkServeOptions(o)
	if err != nil {
		return err
	}
	if err := o.alerts.check(); err != nil {
		return err
	}
	var token string
	if o.authTokenFile != "" {
		if token, err = statuspage.LoadToken(o.authTokenFile); err != nil {
			return err
		}
	}
	if err := statuspage.CheckListen(o.listen, token != "", o.insecureNoAuth); err != nil {
		return err
	}
	s, err := config.Resolve(o.flags, io.getenv, nil)
	if err != nil {
		return err
	}
	if err := o.alerts.checkState(s); err != nil {
		return err
	}
	log := newServiceLogger(io.err, o.logFormat, level)
	for _, w := range s.Warnings {
		log.Warn(w)
	}
	var (
		pacer *redeliver.Pacer
		svc   *serve.Service
	)
	gh, err := githubapi.New(githubapi.Config{
		BaseURL: s.APIURL, Token: s.Token, AppID: s.AppID, PrivateKeyPEM: s.PrivateKey, CAFile: s.CAFile,
		UserAgent: "redeliver/" + version, Logger: log,
		// A secondary limit on a redelivery halves the pace for an hour
		// (serve runs for weeks: a halving for good, answer after answer,
		// would leave it crawling). One on a poll tells nothing of the
		// redeliveries' pace; the client holds every request until its
		// retry-after anyway.
		OnSecondaryWait: func(route string, _ time.Duration) {
			if pacer != nil && (route == "" || githubapi.IsRedelivery(route)) {
				pacer.SlowFor(serveSlowdown)
			}
		},
		Conditional: true,
		OnAnswer: func(ctx context.Context, a githubapi.Answer) {
			if svc != nil {
				svc.Observe(ctx, serve.Answer(a))
			}
		},
	})
	if err != nil {
		return err
	}
	if err := gh.CheckAuth(ctx); err != nil {
		return err
	}
	if o.alerts.repo != "" && gh.REST() == nil {
		return redeliver.Errorf(redeliver.EInvalid, "--alert-repo %s needs a token (GH_TOKEN, --token-file): GitHub App credentials alone cannot open issues", o.alerts.repo)
	}
	limitsOff := false
	if s.GHES {
		limitsOff, _ = gh.RateLimitingOff(ctx)
	}
	pacer = newPacer(&runOptions{rate: o.rate, perMinute: o.perMinute, perHour: o.perHour,
		perMinuteSet: o.perMinuteSet, perHourSet: o.perHourSet}, limitsOff)
	targets, err := serveTargets(ctx, gh, s)
	if err != nil {
		return err
	}
	// Bound before the state is touched: a port in use changes nothing.
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return redeliver.Wrap(redeliver.EInvalid, err, "--listen %s", o.listen)
	}
	defer ln.Close()
	st, err := openState(ctx, s, gh, log, false)
	if err != nil {
		return err
	}
	store, flush := st.Store, st.Flush
	defer store.Close()
	// On PostgreSQL the replicas share the targets by leases; any other
	// state is this process's alone for its whole life.
	pg, shared := store.(*postgres.Store)
	var replicas *replicaSet
	if shared {
		replicas = newReplicaSet(pg, o.leaseTTL, gh, gh, log)
		replicas.setTargets(targets)
	} else {
		unlock, err := lockStore(ctx, io, store, o.lockWait)
		if err != nil {
			return err
		}
		defer unlock()
	}
	alerter, err := o.alerts.alerter(gh, store, log)
	if err != nil {
		return err
	}
	page, pageHandler, err := newServePage(store, gh.ServerTime, token, log)
	if err != nil {
		return err
	}
	page.setTargets(targets)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := serve.Config{
		Targets: targets, Source: gh, Redeliverer: gh, Store: store, Pacer: pacer,
		Concurrency: o.concurrency, Workers: o.workers, BudgetShare: o.budget,
		Schedule: schedule(o), Logger: log,
	}
	if token != "" {
		cfg.ProtectMetrics = pageHandler.Protect
	}
	if replicas != nil {
		cfg.Claim = replicas.claim
	}
	if alerter != nil {
		// On the target's own goroutine, after its poll: alerts follow the
		// ledger the poll left.
		cfg.OnPoll = func(r serve.PollResult) {
			res, probs := checkAlertsResult(runCtx, alerter, store, r.Report)
			for _, p := range probs {
				log.Warn(p)
			}
			if res.Sent > 0 || res.Resolved > 0 {
				log.Info("alerts sent", "target", r.Target, "notices", res.Sent, "resolved", res.Resolved)
			}
		}
	}
	svc, err = serve.New(cfg)
	if err != nil {
		return err
	}
	if alerter != nil {
		if err := svc.Registry().Register(alerter.Collector()); err != nil {
			return redeliver.Wrap(redeliver.EInternal, err, "alert metrics")
		}
	}
	page.setService(svc)
	svc.Handle("/", pageHandler)

	if replicas != nil {
		// The first beat before the first poll: a replica starts with
		// its share leased, not with every target skipped.
		beaten := make(chan struct{})
		beating := make(chan struct{})
		go func() {
			defer close(beating)
			replicas.run(runCtx, beaten)
		}()
		defer func() { cancel(); <-beating }()
		select {
		case <-beaten:
		case <-runCtx.Done():
		}
		log.Info("replica of a shared state", "replica", replicas.id, "lease_ttl", o.leaseTTL)
	}

	// SIGHUP: read the config again and swap the targets; the rest of the
	// settings (API, credentials, state) stay as started.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		flushTick := time.NewTicker(5 * time.Minute)
		defer flushTick.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-flushTick.C:
				if err := flush(runCtx); err != nil {
					log.Error("saving the state", "error", err)
				}
			case <-hup:
				reloadTargets(runCtx, io, o, s, gh, svc, page, replicas, log)
			}
		}
	}()
	if err := svc.Run(runCtx, ln); err != nil {
		return err
	}
	if err := flush(context.WithoutCancel(ctx)); err != nil {
		return redeliver.Wrap(redeliver.EInternal, err, "saving the state")
	}
	if ctx.Err() != nil {
		return errServiceStopped
	}
	return nil
}

// minLeaseTTL is the shortest --lease-ttl: a lease is renewed every third
// of it, and each renewal is a round trip to the database.
const minLeaseTTL = 500 * time.Millisecond

// errServiceStopped is a service stopped by SIGTERM or SIGINT: a clean
// stop, exit code 0 (a batch run stopped by a signal exits 130 or 143).
var errServiceStopped = &exitError{code: exitOK}

// serveTargets expands the settings' targets; any that cannot be found is
// an error (a service must not start watching less than it was told).
func serveTargets(ctx context.Context, gh *githubapi.Client, s *config.Settings) ([]serve.Target, error) {
	planned, errs := expandTargets(ctx, gh, s.Targets)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if len(planned) == 0 {
		return nil, redeliver.Errorf(redeliver.EInvalid, "no target: the organization or repository has no hook")
	}
	out := make([]serve.Target, len(planned))
	for i, p := range planned {
		out[i] = serve.Target{Target: p.Target, Policy: p.Policy}
	}
	return out, nil
}

// reloadTargets applies the config file as it is now; a bad one is
// logged and changes nothing.
func reloadTargets(ctx context.Context, io *streams, o *serveOptions, started *config.Settings, gh *githubapi.Client, svc *serve.Service, page *servePage, replicas *replicaSet, log *slog.Logger) {
	s, err := config.Resolve(o.flags, io.getenv, nil)
	if err == nil && (s.APIURL != started.APIURL || s.State != started.State) {
		log.Warn("SIGHUP: the API location and the state are kept as started; restart to change them")
	}
	var targets []serve.Target
	if err == nil {
		targets, err = serveTargets(ctx, gh, s)
	}
	if err == nil {
		err = svc.Reload(targets)
	}
	if err != nil {
		log.Error("SIGHUP: config not reloaded; the targets stay as they were", "error", err)
		return
	}
	page.setTargets(targets)
	if replicas != nil {
		replicas.setTargets(targets)
	}
	log.Info("SIGHUP: config reloaded", "targets", len(targets))
}

// newServiceLogger logs to w as text or JSON, at level and above.
func newServiceLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
