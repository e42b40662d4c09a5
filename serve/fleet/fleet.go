// Package fleet simulates `redeliver serve` watching a fleet of webhooks
// for hours of emulated time, on one fake clock shared with the GitHub
// emulator: events arrive, receivers have random outages, and the service
// polls, pings and redelivers as it would in production (real HTTP to the
// emulator, a real SQLite state). It measures the time from the end of an
// outage to each failed event's successful redelivery, and what that cost
// in API calls. The same record of events and outages is then run through
// a model of GitHub's docs script scheduled every 6 hours, for comparison.
// The benchmark (`go run ./bench -serve`) and serve's Go benchmark use it.
package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/serve"
	"github.com/redeliver/redeliver/sqlite"
)

// Options shape the simulated world.
type Options struct {
	// Hooks is how many organization hooks are watched (default 50).
	Hooks int
	// Hours is how long outages may begin; traffic goes on for one hour
	// more, in which every outage ends (default 24).
	Hours int
	// Seed makes the world (events, outages) reproducible (default 7).
	Seed uint64
	// Dir holds the state file (default: a temporary directory, removed).
	Dir string
	// Schedule is the service's schedule (zero: serve.DefaultSchedule()).
	Schedule serve.Schedule
}

// Figures are what a simulation measured. Times are emulated seconds.
type Figures struct {
	Hooks  int `json:"hooks"`
	Hours  int `json:"hours"`
	Events int `json:"events"`
	Failed int `json:"failed"`
	// Outages counts receiver outages (5 to 60 minutes each).
	Outages int `json:"outages"`
	// MTTR: from the end of the outage an event failed in (or the last
	// one before it got through) to its first successful delivery.
	MTTRP50            float64 `json:"mttr_p50_s"`
	MTTRP95            float64 `json:"mttr_p95_s"`
	MTTRMax            float64 `json:"mttr_max_s"`
	BilledCallsPerHour float64 `json:"billed_calls_per_hour"`
	NotModifiedCalls   int     `json:"not_modified_calls"`
	Redelivered        int     `json:"redelivered"`
	Missed             int     `json:"missed"`
	Duplicated         int     `json:"duplicated"`
	// AttemptsDuringOutages counts redeliveries that failed: attempts of
	// users' events spent while the receiver was down.
	AttemptsDuringOutages int `json:"attempts_spent_during_outages"`
	// Pings counts the pings the service sent (one billed call each).
	Pings int `json:"pings"`
	// Docs is GitHub's docs script every 6 hours on the same world.
	Docs DocsFigures `json:"docs_script_every_6h"`
	// ServeTTR and Docs.TTR are every failed event's time to recovery,
	// sorted, for the chart.
	ServeTTR []float64 `json:"serve_ttr_s,omitempty"`
}

// DocsFigures are the docs workflow's on the same events and outages.
type DocsFigures struct {
	// Modelled says these are computed from the record by the script's
	// rules, not measured by running it.
	Modelled              bool      `json:"modelled"`
	Rules                 string    `json:"rules"`
	MTTRP50               float64   `json:"mttr_p50_s"`
	MTTRP95               float64   `json:"mttr_p95_s"`
	MTTRMax               float64   `json:"mttr_max_s"`
	BilledCallsPerHour    float64   `json:"billed_calls_per_hour"`
	Redelivered           int       `json:"redelivered"`
	Missed                int       `json:"missed"`
	AttemptsDuringOutages int       `json:"attempts_spent_during_outages"`
	TTR                   []float64 `json:"ttr_s,omitempty"`
}

const token = "ghp_FLEETsimulationTOKEN0123456789abcdefAB"

// docsEvery and docsPhase are the docs workflow's schedule: cron
// '15 */6 * * *'.
const (
	docsEvery = 6 * time.Hour
	docsPhase = 15 * time.Minute
)

// sim is the running world.
type sim struct {
	fc   *clockwork.FakeClock
	gh   *ghfake.Server
	svc  *serve.Service
	idle chan struct{}
}

// Run simulates the fleet and returns its figures.
func Run(ctx context.Context, o Options) (*Figures, error) {
	if o.Hooks == 0 {
		o.Hooks = 50
	}
	if o.Hours == 0 {
		o.Hours = 24
	}
	if o.Seed == 0 {
		o.Seed = 7
	}
	if o.Hooks < 1 || o.Hours < 1 {
		return nil, fmt.Errorf("fleet: hooks %d and hours %d must be positive", o.Hooks, o.Hours)
	}
	if o.Schedule == (serve.Schedule{}) {
		o.Schedule = serve.DefaultSchedule()
	}
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "redeliver-fleet-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}

	s := &sim{fc: clockwork.NewFakeClockAt(ghfake.DefaultStart), idle: make(chan struct{})}
	// GitHub redelivers and pings in the background, after its answer.
	s.gh = ghfake.New(ghfake.Options{Now: s.fc.Now, RedeliveryWorkers: 2})
	defer s.gh.Close()
	s.gh.AddToken(ghfake.Token{Value: token, All: true})
	s.gh.AddOrg("acme")
	ids := make([]int64, o.Hooks)
	rcv := map[int64]*ghfake.Receiver{}
	var targets []serve.Target
	for i := range ids {
		r := s.gh.NewReceiver()
		ids[i] = s.gh.AddOrgHook("acme", ghfake.HookConfig{URL: r.URL(), Secret: "s"})
		rcv[ids[i]] = r
		targets = append(targets, serve.Target{Target: redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: ids[i]},
			Policy: redeliver.DefaultPolicy()})
	}
	st, err := sqlite.Open(filepath.Join(o.Dir, "state.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var svcp atomic.Pointer[serve.Service]
	client, err := githubapi.New(githubapi.Config{BaseURL: s.gh.URL(), Token: token, Conditional: true,
		OnAnswer: func(ctx context.Context, a githubapi.Answer) {
			if v := svcp.Load(); v != nil {
				v.Observe(ctx, serve.Answer(a))
			}
		}})
	if err != nil {
		return nil, err
	}
	// The pacer runs on the wall clock, not the emulated one: pacing is
	// off here, as it would only slow the simulation down.
	s.svc, err = serve.New(serve.Config{Targets: targets, Source: client, Redeliverer: client, Store: st,
		Pacer: redeliver.NewPacer(0), Clock: s.fc, Schedule: o.Schedule,
		Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry()})
	if err != nil {
		return nil, err
	}
	svcp.Store(s.svc)

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	s.svc.SetOnIdle(func() {
		select {
		case s.idle <- struct{}{}:
		case <-runCtx.Done():
		}
	})
	go func() { done <- s.svc.Run(runCtx, nil) }()
	stop := func() error {
		cancel()
		return <-done
	}
	select {
	case <-s.idle:
	case <-ctx.Done():
		_ = stop()
		return nil, ctx.Err()
	}
	if err := s.gh.WaitIdle(ctx); err != nil {
		_ = stop()
		return nil, err
	}

	f, err := s.traffic(ctx, o, ids, rcv)
	if serr := stop(); err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// outage is one receiver outage: it fails while start ≤ t < end.
type outage struct{ start, end time.Time }

// failure is a failed event and the end of the outage it failed in.
type failure struct {
	hook int64
	at   time.Time
	end  time.Time
}

func (s *sim) traffic(ctx context.Context, o Options, ids []int64, rcv map[int64]*ghfake.Receiver) (*Figures, error) {
	rng := rand.New(rand.NewPCG(o.Seed, 11))
	outages := map[int64][]outage{}
	start := s.fc.Now()
	billed0, nm0 := s.gh.TotalBilled(), s.gh.TotalNotModified()
	failed := map[string]failure{}
	sent := map[int64][]time.Time{} // every delivery per hook, for the docs model's pages
	events := 0
	// Outages start during the first hours, about one a hook every 3 hours;
	// an event comes every 5 minutes per hook on average. Traffic goes on
	// for one hour more, in which every outage ends.
	for minute := range (o.Hours + 1) * 60 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		now := s.fc.Now()
		for _, h := range ids {
			hs := outages[h]
			if minute < o.Hours*60 && (len(hs) == 0 || !now.Before(hs[len(hs)-1].end)) && rng.IntN(180) == 0 {
				end := now.Add(time.Duration(5+rng.IntN(56)) * time.Minute)
				outages[h] = append(outages[h], outage{now, end})
				rcv[h].FailUntil(end, 503)
			}
			if rng.IntN(5) == 0 {
				a, err := s.gh.Send(h, "push", "", nil)
				if err != nil {
					return nil, err
				}
				events++
				sent[h] = append(sent[h], a.DeliveredAt)
				if a.StatusCode < 200 || a.StatusCode >= 300 {
					hs := outages[h]
					failed[a.GUID] = failure{h, a.DeliveredAt, hs[len(hs)-1].end}
				}
			}
		}
		if err := s.advance(ctx, time.Minute); err != nil {
			return nil, err
		}
	}
	if err := s.advance(ctx, o.Schedule.Idle); err != nil {
		return nil, err
	}
	billed, nm := s.gh.TotalBilled(), s.gh.TotalNotModified()
	hours := s.fc.Since(start).Hours()

	f := &Figures{Hooks: o.Hooks, Hours: o.Hours, Events: events, Failed: len(failed),
		BilledCallsPerHour: float64(billed-billed0) / hours, NotModifiedCalls: nm - nm0,
		Redelivered: len(s.gh.Redeliveries()),
		Pings:       s.gh.RequestCount("POST /orgs/{org}/hooks/{hook_id}/pings") + s.gh.RequestCount("POST /repos/{owner}/{repo}/hooks/{hook_id}/pings")}
	okAt := map[string][]time.Time{}
	for _, h := range ids {
		f.Outages += len(outages[h])
		for _, d := range rcv[h].Deliveries() {
			if d.Answer == 200 && d.Event != "ping" {
				okAt[d.GUID] = append(okAt[d.GUID], d.At)
			}
		}
		for _, a := range s.gh.Attempts(h) {
			if a.Redelivery && (a.StatusCode < 200 || a.StatusCode >= 300) {
				f.AttemptsDuringOutages++
			}
		}
	}
	for g, fl := range failed {
		oks := okAt[g]
		switch {
		case len(oks) == 0:
			f.Missed++
			continue
		case len(oks) > 1:
			f.Duplicated++
		}
		f.ServeTTR = append(f.ServeTTR, ttr(fl, oks[0], outages[fl.hook]))
	}
	slices.Sort(f.ServeTTR)
	f.MTTRP50, f.MTTRP95, f.MTTRMax = quantiles(f.ServeTTR)
	f.Docs = docsModel(failed, outages, sent, len(ids), hours)
	return f, nil
}

// ttr is the time from the end of the outage that ended last before the
// event got through at ok (another may have begun before the first one's
// events were recovered) to ok.
func ttr(fl failure, ok time.Time, outs []outage) float64 {
	end := fl.end
	for _, o := range outs {
		if !o.end.After(ok) && o.end.After(end) {
			end = o.end
		}
	}
	return max(0, ok.Sub(end).Seconds())
}

func quantiles(sorted []float64) (p50, p95, top float64) {
	n := len(sorted)
	if n == 0 {
		return 0, 0, 0
	}
	return sorted[n/2], sorted[min(n-1, n*95/100)], sorted[n-1]
}

// docsModel runs GitHub's docs script, scheduled every 6 hours, over the
// same record by its rules: each run lists the deliveries made since the
// previous run (100 a page), and redelivers once each failed event that
// has no successful attempt; a redelivery that fails while the receiver is
// still down is itself a failed delivery since that run, so the next run
// asks again. Each run also reads and writes its timestamp variable.
func docsModel(failed map[string]failure, outages map[int64][]outage, sent map[int64][]time.Time, hooks int, hours float64) DocsFigures {
	d := DocsFigures{Modelled: true,
		Rules: "runs at 00:15, 06:15, 12:15 and 18:15 UTC; each redelivers once every event that failed since the previous run and has not succeeded; billed calls: listing pages since the previous run + redeliveries + 2 for the timestamp variable, per hook and run"}
	down := func(h int64, t time.Time) bool {
		for _, o := range outages[h] {
			if !t.Before(o.start) && t.Before(o.end) {
				return true
			}
		}
		return false
	}
	nextRun := func(t time.Time) time.Time {
		day := t.Truncate(24 * time.Hour)
		m := day.Add(docsPhase)
		for !m.After(t) {
			m = m.Add(docsEvery)
		}
		return m
	}
	for _, fl := range failed {
		m := nextRun(fl.at)
		for down(fl.hook, m) {
			d.AttemptsDuringOutages++
			d.Redelivered++
			m = m.Add(docsEvery)
		}
		d.Redelivered++
		d.TTR = append(d.TTR, ttr(fl, m, outages[fl.hook]))
	}
	slices.Sort(d.TTR)
	d.MTTRP50, d.MTTRP95, d.MTTRMax = quantiles(d.TTR)
	// Billed calls in steady state: a run every 6 hours per hook lists the
	// 6 hours of deliveries since the last one.
	var deliveries int
	for _, ts := range sent {
		deliveries += len(ts)
	}
	perRunPerHook := float64(deliveries) / float64(hooks) / hours * docsEvery.Hours()
	pages := math.Max(1, math.Ceil(perRunPerHook/100))
	d.BilledCallsPerHour = float64(hooks)*(pages+2)/docsEvery.Hours() + float64(d.Redelivered)/hours
	return d
}

// advance moves the clock (the service's and the emulator's) by d,
// stopping at each due poll and waiting until the service is idle again.
func (s *sim) advance(ctx context.Context, d time.Duration) error {
	end := s.fc.Now().Add(d)
	for {
		next := s.svc.NextDue()
		if next.IsZero() || next.After(end) {
			if rest := end.Sub(s.fc.Now()); rest > 0 {
				s.fc.Advance(rest)
			}
			return nil
		}
		if !next.After(s.fc.Now()) {
			return fmt.Errorf("fleet: a poll due at %s was not started", next)
		}
		s.fc.Advance(next.Sub(s.fc.Now()))
		select {
		case <-s.idle:
		case <-ctx.Done():
			return ctx.Err()
		}
		// Redeliveries and pings GitHub accepted are listed once made.
		if err := s.gh.WaitIdle(ctx); err != nil {
			return err
		}
	}
}
