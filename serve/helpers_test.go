package serve

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/sqlite"
)

const testToken = "ghp_TESTserveTOKEN0123456789abcdefABCDEF"

// world is the emulator, a receiver whose answer a test switches, a
// SQLite state, the GitHub client and a service, on one fake clock.
type world struct {
	t       testing.TB
	gh      *ghfake.Server
	fc      *clockwork.FakeClock
	rcv     *httptest.Server
	status  atomic.Int32 // the receiver's answer
	store   *sqlite.Store
	client  *githubapi.Client
	svc     *Service
	hook    int64
	logs    *syncBuffer
	idle    chan struct{}
	polls   []PollResult
	pollsMu sync.Mutex
	cancel  context.CancelFunc
	done    chan error
}

type worldOpts struct {
	ghfake   ghfake.Options
	schedule Schedule
	share    float64
	hooks    int // extra org hooks beyond the first
	store    func(redeliver.Store) redeliver.Store
	// sync makes the emulator redeliver before it answers 202.
	sync bool
	// noPing hides the client's Ping from the service, as for an App's
	// hook: a failing receiver is probed with redeliveries.
	noPing bool
}

// redelivererOnly is a Redeliverer that cannot ping.
type redelivererOnly struct{ redeliver.Redeliverer }

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	w := &world{t: t, idle: make(chan struct{}), logs: &syncBuffer{}}
	w.fc = clockwork.NewFakeClockAt(ghfake.DefaultStart)
	// One clock for the service and the emulator.
	o.ghfake.Now = w.fc.Now
	if !o.sync {
		// GitHub redelivers in the background, after its 202.
		o.ghfake.RedeliveryWorkers = 2
	}
	w.gh = ghfake.New(o.ghfake)
	t.Cleanup(w.gh.Close)
	w.status.Store(200)
	w.rcv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rw.WriteHeader(int(w.status.Load()))
	}))
	t.Cleanup(w.rcv.Close)
	w.gh.AddToken(ghfake.Token{Value: testToken, All: true})
	w.gh.AddOrg("acme")
	w.hook = w.gh.AddOrgHook("acme", ghfake.HookConfig{URL: w.rcv.URL, Secret: "s"})
	targets := []Target{w.target(w.hook)}
	for range o.hooks {
		h := w.gh.AddOrgHook("acme", ghfake.HookConfig{URL: w.rcv.URL, Secret: "s"})
		targets = append(targets, w.target(h))
	}
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w.store = st
	var store redeliver.Store = st
	if o.store != nil {
		store = o.store(st)
	}
	var svc atomic.Pointer[Service]
	w.client, err = githubapi.New(githubapi.Config{BaseURL: w.gh.URL(), Token: testToken, Conditional: true,
		OnAnswer: func(ctx context.Context, a githubapi.Answer) {
			if s := svc.Load(); s != nil {
				s.Observe(ctx, Answer(a))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	sch := o.schedule
	if sch == (Schedule{}) {
		sch = DefaultSchedule()
	}
	var redel redeliver.Redeliverer = w.client
	if o.noPing {
		redel = redelivererOnly{w.client}
	}
	w.svc, err = New(Config{Targets: targets, Source: w.client, Redeliverer: redel, Store: store,
		Pacer: redeliver.NewPacer(0), Clock: w.fc, Schedule: sch, BudgetShare: o.share,
		Logger:   slog.New(slog.NewTextHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry: prometheus.NewRegistry(),
		OnPoll: func(r PollResult) {
			w.pollsMu.Lock()
			w.polls = append(w.polls, r)
			w.pollsMu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	svc.Store(w.svc)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log:\n%s", w.logs)
		}
	})
	return w
}

func (w *world) target(hook int64) Target {
	p := redeliver.DefaultPolicy()
	return Target{Target: redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: hook}, Policy: p}
}

// start runs the service and waits for the first round of polls.
func (w *world) start() {
	w.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.done = make(chan error, 1)
	w.svc.onIdle = func() {
		select {
		case w.idle <- struct{}{}:
		case <-ctx.Done():
		}
	}
	go func() { w.done <- w.svc.Run(ctx, nil) }()
	w.t.Cleanup(w.stop)
	<-w.idle
	if err := w.gh.WaitIdle(ctx); err != nil {
		w.t.Fatal(err)
	}
}

// stop stops the service and checks it stopped cleanly.
func (w *world) stop() {
	if w.cancel == nil {
		return
	}
	w.cancel()
	w.cancel = nil
	if err := <-w.done; err != nil {
		w.t.Errorf("Run: %v", err)
	}
}

// advance moves both clocks by d, stopping at each due poll and waiting
// until the service is idle again.
func (w *world) advance(d time.Duration) {
	w.t.Helper()
	end := w.fc.Now().Add(d)
	for {
		next := w.svc.NextDue()
		if next.IsZero() || next.After(end) {
			w.move(end.Sub(w.fc.Now()))
			return
		}
		if !next.After(w.fc.Now()) {
			w.t.Fatalf("a poll due at %s was not started", next)
		}
		w.move(next.Sub(w.fc.Now()))
		<-w.idle
		// Redeliveries GitHub accepted are listed once it has made them.
		if err := w.gh.WaitIdle(context.Background()); err != nil {
			w.t.Fatal(err)
		}
	}
}

// move moves the clock (the service's and the emulator's) by d.
func (w *world) move(d time.Duration) {
	if d > 0 {
		w.fc.Advance(d)
	}
}

// send delivers n events to hook and returns their guids.
func (w *world) send(hook int64, n int) []string {
	w.t.Helper()
	var gs []string
	for range n {
		a, err := w.gh.Send(hook, "push", "", nil)
		if err != nil {
			w.t.Fatal(err)
		}
		gs = append(gs, a.GUID)
	}
	return gs
}

// redeliveries counts redeliveries GitHub was asked for, by guid.
func (w *world) redeliveries() map[string]int {
	out := map[string]int{}
	for _, r := range w.gh.Redeliveries() {
		out[r.GUID]++
	}
	return out
}

func (w *world) takePolls() []PollResult {
	w.pollsMu.Lock()
	defer w.pollsMu.Unlock()
	p := w.polls
	w.polls = nil
	return p
}

// metric reads one series of the service's registry.
func (w *world) metric(name string, labels ...string) float64 {
	w.t.Helper()
	mfs, err := w.svc.Registry().Gather()
	if err != nil {
		w.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

// syncBuffer is a bytes.Buffer safe for the service's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) has(sub string) bool { return strings.Contains(s.String(), sub) }

// ghfakeHook is a hook config pointing at w's receiver.
func ghfakeHook(w *world) ghfake.HookConfig {
	return ghfake.HookConfig{URL: w.rcv.URL, Secret: "s"}
}

// hookIDs are the hooks of the targets.
func (w *world) hookIDs() []int64 {
	var ids []int64
	for _, t := range w.svc.Status().Targets {
		ids = append(ids, w.svc.targets[t.Key].t.HookID)
	}
	return ids
}
