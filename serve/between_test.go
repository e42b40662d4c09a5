package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redeliver/redeliver"
)

// Between runs its function while no poll of the target is in flight and
// then polls the target at once, without waiting for its schedule.
func TestBetweenPollsAtOnce(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.start()
	w.takePolls()
	key := w.target(w.hook).Key()
	ran := false
	err := w.svc.Between(context.Background(), key, func(context.Context) error {
		w.svc.mu.Lock()
		polling := w.svc.targets[key].running
		w.svc.mu.Unlock()
		if polling {
			t.Error("the function ran while a poll was in flight")
		}
		ran = true
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("Between: ran %v, err %v", ran, err)
	}
	<-w.idle // the poll it asked for, with the clock unmoved
	if polls := w.takePolls(); len(polls) != 1 || polls[0].Target != key {
		t.Errorf("after Between: polls %+v, want one of %s", polls, key)
	}
	if err := w.svc.Between(context.Background(), "org/nobody/hooks/1", func(context.Context) error { return nil }); redeliver.ErrorCode(err) != redeliver.ENotFound {
		t.Errorf("Between on an unknown target: %v, want ENotFound", err)
	}
	if w.svc.PollNow("org/nobody/hooks/1") {
		t.Error("PollNow on an unknown target reported true")
	}
}

// ProtectMetrics wraps /metrics and nothing else.
func TestProtectMetrics(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.svc.cfg.ProtectMetrics = func(http.Handler) http.Handler {
		return http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { rw.WriteHeader(http.StatusUnauthorized) })
	}
	for path, want := range map[string]int{"/metrics": http.StatusUnauthorized, "/healthz": http.StatusOK} {
		rec := httptest.NewRecorder()
		w.svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}
