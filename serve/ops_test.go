package serve

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

// flakyStore is the SQLite state that fails on demand: a real store
// cannot be made to fail and recover when a test says.
type flakyStore struct {
	redeliver.Store
	fail atomic.Bool
}

var errDown = errors.New("state store unavailable")

func (f *flakyStore) Checkpoint(ctx context.Context, key string) (redeliver.Checkpoint, bool, error) {
	if f.fail.Load() {
		return redeliver.Checkpoint{}, false, errDown
	}
	return f.Store.Checkpoint(ctx, key)
}

func (f *flakyStore) Entries(ctx context.Context, key string) ([]redeliver.LedgerEntry, error) {
	if f.fail.Load() {
		return nil, errDown
	}
	return f.Store.Entries(ctx, key)
}

func readyz(t *testing.T, s *Service) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	return rec.Code, rec.Body.String()
}

// /readyz: not ready before the first poll, ready after it, not ready
// while the state store fails, ready again once it answers.
func TestReadiness(t *testing.T) {
	var flaky *flakyStore
	w := newWorld(t, worldOpts{store: func(st redeliver.Store) redeliver.Store {
		flaky = &flakyStore{Store: st}
		return flaky
	}})
	if code, body := readyz(t, w.svc); code != http.StatusServiceUnavailable || !strings.Contains(body, "not polled") {
		t.Errorf("before the first poll: %d %q", code, body)
	}
	w.start()
	if code, body := readyz(t, w.svc); code != http.StatusOK {
		t.Errorf("after the first poll: %d %q", code, body)
	}
	flaky.fail.Store(true)
	w.advance(DefaultSchedule().Idle)
	if code, body := readyz(t, w.svc); code != http.StatusServiceUnavailable || !strings.Contains(body, "state store") {
		t.Errorf("store failing: %d %q", code, body)
	}
	if w.metric("redeliver_serve_store_available") != 0 || w.metric("redeliver_serve_ready") != 0 {
		t.Errorf("store failing: metrics still say available and ready")
	}
	flaky.fail.Store(false)
	w.advance(DefaultSchedule().Idle)
	if code, body := readyz(t, w.svc); code != http.StatusOK {
		t.Errorf("store back: %d %q", code, body)
	}
	rec := httptest.NewRecorder()
	w.svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Errorf("/healthz: %d", rec.Code)
	}
}

// Reload adds a target (polled at once), keeps what it knows of the kept
// ones, drops removed ones with their metrics, and refuses a bad set
// without changing anything.
func TestReload(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.status.Store(503)
	w.send(w.hook, 2)
	w.start()
	a := w.target(w.hook)
	b := w.target(w.gh.AddOrgHook("acme", ghfakeHook(w)))

	if err := w.svc.Reload([]Target{a, b, b}); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("a target listed twice: %v", err)
	}
	if err := w.svc.Reload([]Target{a, b}); err != nil {
		t.Fatal(err)
	}
	<-w.idle
	st := w.svc.Status()
	if len(st.Targets) != 2 || st.Targets[1].LastSuccess.IsZero() {
		t.Fatalf("after adding: %v", st)
	}
	if st.Targets[0].Receiver != HealthDown || st.Targets[0].Ledger[redeliver.StateFailed] != 2 {
		t.Fatalf("the kept target lost its state: %v", st)
	}
	if err := w.svc.Reload([]Target{b}); err != nil {
		t.Fatal(err)
	}
	<-w.idle
	st = w.svc.Status()
	if len(st.Targets) != 1 || st.Targets[0].Key != b.Key() {
		t.Fatalf("after removing: %v", st)
	}
	if got := w.metric("redeliver_serve_poll_interval_seconds", "target", a.Key()); got != 0 {
		t.Errorf("the removed target's metrics remain")
	}
	w.advance(time.Hour)
	if n := len(w.gh.Redeliveries()); n != 0 {
		t.Errorf("%d redeliveries for a removed target", n)
	}
}

// A stop during a redelivery lets that request finish and records it,
// sends nothing more, and returns nil.
func TestStopFinishesTheRequestInFlight(t *testing.T) {
	w := newWorld(t, worldOpts{sync: true}) // the request lasts until the receiver answers
	w.status.Store(503)
	gs := w.send(w.hook, 3)
	w.status.Store(200)
	w.send(w.hook, 1) // the receiver is seen back: the three go at once
	entered := make(chan struct{})
	release := make(chan struct{})
	var n atomic.Int32
	w.rcv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			close(entered)
			<-release
		}
		rw.WriteHeader(200)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.svc.Run(ctx, nil) }()
	<-entered // GitHub is delivering the first redelivery
	cancel()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	reds := w.gh.Redeliveries()
	if len(reds) != 1 {
		t.Fatalf("%d redeliveries, want only the one in flight", len(reds))
	}
	es, err := w.store.Entries(context.Background(), w.target(w.hook).Key())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if !e.IntentAt.IsZero() {
			t.Errorf("%s: intent left unresolved", e.GUID)
		}
		if e.GUID == reds[0].GUID && (e.Requests != 1 || e.State != redeliver.StatePending) {
			t.Errorf("the request in flight was not recorded: %+v", e)
		}
	}
	if len(es) != len(gs) {
		t.Errorf("%d ledger entries, want %d", len(es), len(gs))
	}
}
