package main

import (
	"fmt"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/sqlite"
)

// TestRunMakesNoCallsBeyondTheJob: a first run on github.com asks for the
// pages and the POSTs alone. The credential check, whether GitHub limits
// rates and whether the hook is there are all told by the first page.
func TestRunMakesNoCallsBeyondTheJob(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	gs := w.failed(w.orgHook, "f", 3, w.ago(time.Hour), time.Minute)
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--output", "json")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
	for route, n := range w.srv.Requests() {
		if route != orgListRoute && route != orgPostRoute {
			t.Errorf("%d × %s, want only the list page and the POSTs", n, route)
		}
	}
	if n := w.srv.RequestCount(orgListRoute); n != 1 {
		t.Errorf("%d list calls, want the one page", n)
	}
}

// TestRunLearnsThePace: where GitHub counts redeliveries against a
// per-minute limit, the run meets it once, keeps to the window GitHub
// pointed at, and the state remembers it for the API host.
func TestRunLearnsThePace(t *testing.T) {
	t.Parallel()
	// A minute of GitHub's is a second here, and it allows two.
	w := newWorld(t, ghfake.Options{Budget: &ghfake.Budget{Scale: 60, ContentPerMinute: 2}})
	gs := w.failed(w.orgHook, "f", 3, w.ago(time.Hour), time.Minute)
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--output", "json")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
	if _, sec := w.srv.LimitResponsesByKind(); sec == 0 {
		t.Fatalf("no secondary limit met; the test teaches nothing:\n%s", r)
	}
	st, err := sqlite.OpenReadOnly(w.state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := url.Parse(w.api)
	ws, ok, err := st.Pace(t.Context(), u.Host)
	want := []redeliver.Window{{Limit: 80, Length: time.Minute}}
	if err != nil || !ok || !slices.Equal(ws, want) {
		t.Errorf("learned pace %v, %v, %v; want %v", ws, ok, err, want)
	}
}

// TestPaceHost: a pace is remembered per API host and path, not scheme.
func TestPaceHost(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.github.com/":         "api.github.com",
		"https://GHE.example.com/api/v3/": "ghe.example.com/api/v3",
		"http://127.0.0.1:8080/":          "127.0.0.1:8080",
		"http://127.0.0.1:8080/api/v3":    "127.0.0.1:8080/api/v3",
	} {
		if got := paceHost(in); got != want {
			t.Errorf("paceHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNewPacer: unset windows are dormant in a learning run, kept in one
// that is not, given ones always kept, none where GitHub limits nothing.
func TestNewPacer(t *testing.T) {
	minute, hour := redeliver.Window{Limit: 80, Length: time.Minute}, redeliver.Window{Limit: 500, Length: time.Hour}
	for _, tc := range []struct {
		name      string
		o         runOptions
		limitsOff bool
		want      []redeliver.Window
	}{
		{"learning", runOptions{rate: 1, perMinute: 80, perHour: 500, learn: true}, false, nil},
		{"not learning", runOptions{rate: 1, perMinute: 80, perHour: 500}, false, []redeliver.Window{minute, hour}},
		{"given", runOptions{rate: 1, perMinute: 40, perHour: 500, perMinuteSet: true, learn: true}, false, []redeliver.Window{{Limit: 40, Length: time.Minute}}},
		{"limits off", runOptions{rate: 1, perMinute: 80, perHour: 500, learn: true}, true, nil},
		{"limits off, given", runOptions{rate: 1, perMinute: 80, perHour: 500, perHourSet: true, learn: true}, true, []redeliver.Window{hour}},
	} {
		p := newPacer(&tc.o, tc.limitsOff)
		if got := p.Windows(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: windows %v, want %v", tc.name, got, tc.want)
		}
		if tc.name == "learning" {
			if woke := p.Hit(2 * time.Minute); !slices.Equal(woke, []redeliver.Window{minute, hour}) {
				t.Errorf("learning: a hit woke %v", woke)
			}
		}
	}
	if paceScale() != 1 {
		t.Errorf("the product's pace scale is %v, want 1", paceScale())
	}
}

// TestRunLearnsNothingFromAListingLimit: a secondary limit on a listing
// page is waited out, and teaches the pacer nothing of the redeliveries'
// windows: the state keeps no pace for the host.
func TestRunLearnsNothingFromAListingLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	// Two pages: the limit meets the second, once the run paces.
	gs := w.failed(w.orgHook, "f", 150, w.ago(time.Hour), time.Second)
	w.srv.AddFault(ghfake.Fault{Route: orgListRoute, Kind: ghfake.FaultSecondaryLimit, RetryAfter: 1, After: 1, Times: 1})
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--output", "json", "--rate", "0", "--no-probe")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
	if _, sec := w.srv.LimitResponsesByKind(); sec != 1 {
		t.Fatalf("%d secondary limits met, want the listing's one:\n%s", sec, r)
	}
	st, err := sqlite.OpenReadOnly(w.state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, _ := url.Parse(w.api)
	if ws, ok, err := st.Pace(t.Context(), u.Host); err != nil || ok {
		t.Errorf("learned pace %v, %v, %v; want none (the limit was on a listing)", ws, ok, err)
	}
}
