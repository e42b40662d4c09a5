package main

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// replayWorld seeds the org hook with, going back from 10 minutes ago, one
// attempt a minute: 15 pushes answered 200 ("ok-"), 5 issues.opened
// answered 200 ("iss-"), 5 pushes answered 500 ("bad-"); and a push
// answered 200 four days ago, past the horizon ("old"). It returns the
// attempt ids by guid.
func replayWorld(t *testing.T) (*world, map[string]int64) {
	w := newWorld(t, ghfake.Options{})
	var seeds []ghfake.Seed
	at := w.ago(10 * time.Minute)
	add := func(prefix, event, action string, code, n int) {
		for i := range n {
			seeds = append(seeds, ghfake.Seed{GUID: fmt.Sprintf("%s%02d", prefix, i), Event: event, Action: action, StatusCode: code, At: at})
			at = at.Add(-time.Minute)
		}
	}
	add("ok-", "push", "", 200, 15)
	add("iss-", "issues", "opened", 200, 5)
	add("bad-", "push", "", 500, 5)
	seeds = append(seeds, ghfake.Seed{GUID: "old", Event: "push", StatusCode: 200, At: w.ago(96 * time.Hour)})
	ids := w.seed(w.orgHook, seeds...)
	byGUID := map[string]int64{}
	for i, s := range seeds {
		byGUID[s.GUID] = ids[i]
	}
	return w, byGUID
}

// guids lists prefix00 … prefix(n-1).
func guids(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

func (w *world) replayArgs(extra ...string) []string {
	return w.args("replay", append([]string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook)}, extra...)...)
}

func TestReplayDryRunSendsNothing(t *testing.T) {
	t.Parallel()
	w, _ := replayWorld(t)
	r := w.run(w.replayArgs("--since", "1h", "--status-code", "200")...)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "would replay 20 deliveries of org acme hook") ||
		!strings.Contains(r.stdout, "… and 10 more") || !strings.Contains(r.stdout, "dry run: nothing was sent; add --yes") {
		t.Errorf("dry run:\n%s", r)
	}
	// The sample is the first ten, newest first.
	for _, g := range guids("ok-", 10) {
		if !strings.Contains(r.stdout, "  "+g+"  id ") {
			t.Errorf("sample lacks %s:\n%s", g, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "ok-10") || strings.Contains(r.stdout, "bad-") {
		t.Errorf("sample beyond the first ten or outside the filter:\n%s", r.stdout)
	}
	if n := w.writes(); len(n) != 0 {
		t.Errorf("dry run wrote to GitHub: %v", n)
	}
	if exists(w.state) {
		t.Errorf("dry run created the state %s", w.state)
	}
}

func TestReplayWindowSendsEachOnce(t *testing.T) {
	t.Parallel()
	w, _ := replayWorld(t)
	args := w.replayArgs("--since", "1h", "--until", w.ago(12*time.Minute).Format(time.RFC3339),
		"--events", "push", "--status-code", "200", "--yes")
	r := w.run(args...)
	wantCode(t, r, 0)
	// ok-00 and ok-01 were delivered after --until; iss- are not pushes;
	// bad- answered 500.
	want := guids("ok-", 15)[2:]
	wantRedeliveredOnce(t, w.redeliveries(), want)
	if !strings.Contains(r.stdout, "replayed 13 of 13 deliveries") {
		t.Errorf("replay:\n%s", r)
	}

	// The same replay again: nothing is sent twice, and it says so.
	w.clock.Advance(time.Minute)
	r = w.run(args...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), want)
	if !strings.Contains(r.stdout, "replayed 0 of 0 deliveries") || !strings.Contains(r.stdout, "13 already replayed since") {
		t.Errorf("replay run again:\n%s", r)
	}

	// --again replays them once more.
	r = w.run(append(args, "--again")...)
	wantCode(t, r, 0)
	got := w.redeliveries()
	for _, g := range want {
		if got[g] != 2 {
			t.Errorf("--again: %s redelivered %d times, want 2", g, got[g])
		}
	}
}

func TestReplayByGUIDAndDeliveryID(t *testing.T) {
	t.Parallel()
	w, ids := replayWorld(t)
	// A guid whatever its status, and a delivery id.
	r := w.run(w.replayArgs("--guid", "ok-03", "--guid", "bad-01", "--delivery-id", fmt.Sprint(ids["iss-02"]), "--yes")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), []string{"ok-03", "bad-01", "iss-02"})
	var named []int64
	for _, rd := range w.srv.Redeliveries() {
		named = append(named, rd.DeliveryID)
	}
	slices.Sort(named)
	want := []int64{ids["ok-03"], ids["bad-01"], ids["iss-02"]}
	slices.Sort(want)
	if !slices.Equal(named, want) {
		t.Errorf("redelivered attempts %v, want %v", named, want)
	}

	// A guid is replayed once across runs, even by its new attempt.
	r = w.run(w.replayArgs("--guid", "ok-03", "--yes")...)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "1 already replayed") {
		t.Errorf("guid again:\n%s", r)
	}
	wantRedeliveredOnce(t, w.redeliveries(), []string{"ok-03", "bad-01", "iss-02"})

	// The dry run of a delivery id names it.
	r = w.run(w.replayArgs("--delivery-id", fmt.Sprint(ids["ok-07"]))...)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "would replay 1 deliveries") || !strings.Contains(r.stdout, fmt.Sprintf("ok-07  id %d  push  status 200", ids["ok-07"])) {
		t.Errorf("dry run by id:\n%s", r)
	}
}

// TestReplayRefusesPastTheHorizon: a selection reaching past GitHub's
// redelivery horizon, and any other bad selection, exits 2 and sends
// nothing.
func TestReplayRefusesPastTheHorizon(t *testing.T) {
	t.Parallel()
	w, ids := replayWorld(t)
	for _, c := range []struct {
		name string
		args []string
		msg  string
	}{
		{"since duration", []string{"--since", "4d"}, "--since 4d reaches past GitHub's redelivery horizon (3 days)"},
		{"since time", []string{"--since", w.ago(80 * time.Hour).Format(time.RFC3339)}, "reaches past GitHub's redelivery horizon (3 days: nothing older than"},
		{"guid", []string{"--guid", "ok-01", "--guid", "old"}, "--guid old was delivered at"},
		{"delivery id", []string{"--delivery-id", fmt.Sprint(ids["old"])}, fmt.Sprintf("--delivery-id %d was delivered at", ids["old"])},
		{"unknown guid", []string{"--guid", "nope"}, "--guid nope: no delivery of it in the last 3 days"},
		{"unknown id", []string{"--delivery-id", "999999999"}, "--delivery-id 999999999: no such delivery"},
		{"nothing chosen", nil, "say what to replay: --guid, --delivery-id or --since"},
		{"guid and since", []string{"--guid", "ok-01", "--since", "1h"}, "give either --guid/--delivery-id or --since, not both"},
		{"filter without window", []string{"--guid", "ok-01", "--status-code", "200"}, "--events and --status-code filter a --since window"},
		{"bad status code", []string{"--since", "1h", "--status-code", "999"}, "--status-code 999: want an HTTP status code"},
		{"bad until", []string{"--since", "1h", "--until", "yesterday"}, "--until"},
		{"until before since", []string{"--since", "1h", "--until", "2h"}, "is before --since"},
		{"bad delivery id", []string{"--delivery-id", "-4"}, "--delivery-id -4: want a positive delivery id"},
		{"event typo", []string{"--since", "1h", "--events", "pushh"}, "pushh"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := w.run(w.replayArgs(append(c.args, "--yes")...)...)
			wantCode(t, r, 2)
			if !strings.Contains(r.stderr, c.msg) {
				t.Errorf("want %q in stderr:\n%s", c.msg, r)
			}
		})
	}
	if n := w.writes(); len(n) != 0 {
		t.Errorf("a refused replay wrote to GitHub: %v", n)
	}
	if exists(w.state) {
		t.Errorf("a refused replay created the state %s", w.state)
	}
}

func TestReplayOneHookAtATime(t *testing.T) {
	t.Parallel()
	w, _ := replayWorld(t)
	w.srv.AddOrgHook("acme", ghfake.HookConfig{URL: downURL, Secret: "s"})
	r := w.run(w.args("replay", "--org", "acme", "--since", "1h")...)
	wantCode(t, r, 2)
	if !strings.Contains(r.stderr, "replay works on one hook at a time; 2 were given") {
		t.Errorf("%s", r)
	}
}

// TestSIGKILLDuringReplay kills the real binary while GitHub delivers the
// 5th replayed delivery (its request accepted, the answer not yet back),
// then runs the same replay again: no delivery is replayed twice, and each
// chosen one is replayed.
func TestSIGKILLDuringReplay(t *testing.T) {
	t.Parallel()
	w, _ := replayWorld(t)
	var running atomic.Pointer[proc]
	rc := newReceiver(t, 200)
	rc.onDelivery = func(n int) {
		if p := running.Load(); n == 5 && p != nil {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	}
	w.srv.SetHookURL(w.orgHook, rc.URL)
	args := w.replayArgs("--since", "1h", "--status-code", "200", "--rate", "20", "--yes")

	p := startBin(t, w.binEnv(), args...)
	running.Store(p)
	r := p.wait(t)
	running.Store(nil)
	if r.code != -1 {
		t.Fatalf("want the replay killed, got %s", r)
	}
	if n := len(w.srv.Redeliveries()); n != 5 {
		t.Fatalf("killed replay: %d redeliveries, want 5", n)
	}

	r = runBin(t, w.binEnv(), args...)
	wantCode(t, r, 0)
	want := append(guids("ok-", 15), guids("iss-", 5)...)
	wantRedeliveredOnce(t, w.redeliveries(), want)
	if !strings.Contains(r.stdout, "replayed 15 of 15 deliveries") || !strings.Contains(r.stdout, "5 already replayed since") {
		t.Errorf("rerun:\n%s", r)
	}
	// And once more, later: still nothing twice.
	w.clock.Advance(16 * time.Minute)
	r = runBin(t, w.binEnv(), args...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), want)

	// A run after it finds the replays in the ledger, the killed one's
	// intent included, and asks nothing more of them: it redelivers only
	// the failed events.
	r = runBin(t, w.binEnv(), w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), append(want, guids("bad-", 5)...))
}
