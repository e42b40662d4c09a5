package main

// End-to-end tests of `redeliver run` against the emulator: the three hook
// kinds, github.com and GHES, paging and the checkpoint, grouping, the
// max-attempts budget and its spacing, expiry, dry runs, bad credentials,
// and GitHub's faults and rate limits.

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// hookCase is one hook kind: the hook, the flags that name it and the route
// its deliveries are listed on.
type hookCase struct {
	name  string
	hook  func(*world) int64
	flags func(*world) []string
	env   []string // changes to world.env()
	list  string
}

var hookCases = []hookCase{
	{"org", func(w *world) int64 { return w.orgHook },
		func(w *world) []string { return []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook)} }, nil, orgListRoute},
	{"repo", func(w *world) int64 { return w.repoHook },
		func(w *world) []string { return []string{"--repo", "acme/api", "--hook", fmt.Sprint(w.repoHook)} }, nil, repoListRoute},
	// The App hook needs no token: the App's JWT reads and redelivers.
	// An org hook read with the App's installation token (no token given).
	{"org via installation", func(w *world) int64 { return w.orgHook },
		func(w *world) []string {
			return []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--app-id", fmt.Sprint(appID), "--private-key-file", w.keyFile}
		}, []string{"GH_TOKEN", ""}, orgListRoute},
	{"app", func(w *world) int64 { return w.appHook },
		func(w *world) []string {
			return []string{"--app", "--app-id", fmt.Sprint(appID), "--private-key-file", w.keyFile}
		}, []string{"GH_TOKEN", ""}, appListRoute},
}

// TestRunRedeliversEachHookKind: for an organization hook, a repository hook
// and the App's hook, every failed event is redelivered exactly once (its
// newest attempt), and events that succeeded — at once or on a later
// attempt — are left alone; a second run soon after sends nothing.
func TestRunRedeliversEachHookKind(t *testing.T) {
	t.Parallel()
	for _, hc := range hookCases {
		t.Run(hc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghfake.Options{})
			hook := hc.hook(w)
			ids := w.seed(hook,
				ghfake.Seed{GUID: "failed-twice", Event: "issues", Action: "opened", At: w.ago(3 * time.Hour), StatusCode: 500},
				ghfake.Seed{GUID: "failed-twice", Event: "issues", Action: "opened", At: w.ago(2 * time.Hour), StatusCode: 502, Redelivery: true},
				ghfake.Seed{GUID: "no-response", Event: "push", At: w.ago(time.Hour)}, // status_code 0
				ghfake.Seed{GUID: "recovered", Event: "push", At: w.ago(4 * time.Hour), StatusCode: 503},
				ghfake.Seed{GUID: "recovered", Event: "push", At: w.ago(4*time.Hour - 10*time.Minute), StatusCode: 200, Redelivery: true},
				ghfake.Seed{GUID: "fine", Event: "push", At: w.ago(30 * time.Minute), StatusCode: 200},
			)
			env := w.env(hc.env...)
			r := runIn(t, env, w.args("run", hc.flags(w)...)...)
			wantCode(t, r, 0)

			wantRedeliveredOnce(t, w.redeliveries(), []string{"failed-twice", "no-response"})
			for _, rd := range w.srv.Redeliveries() {
				if rd.HookID != hook {
					t.Errorf("redelivery on hook %d, want %d", rd.HookID, hook)
				}
				if rd.GUID == "failed-twice" && rd.DeliveryID != ids[1] {
					t.Errorf("failed-twice: redelivered attempt %d, want its newest attempt %d", rd.DeliveryID, ids[1])
				}
			}
			if n := w.srv.RequestCount(hc.list); n != 1 {
				t.Errorf("%s: %d requests, want 1 page", hc.list, n)
			}
			if n := w.srv.RequestCount("POST /app/installations/{installation_id}/access_tokens"); (n > 0) != (hc.name == "org via installation") {
				t.Errorf("%d installation tokens made", n)
			}
			if !strings.Contains(r.stdout, "Redelivered 2 failed webhook deliveries out of 6 total deliveries since ") {
				t.Errorf("summary line missing:\n%s", r)
			}

			// Ten minutes later: the redeliveries failed again (the receiver
			// is down), but the next one is not due for an hour.
			w.clock.Advance(10 * time.Minute)
			r = runIn(t, env, w.args("run", hc.flags(w)...)...)
			wantCode(t, r, 0)
			wantRedeliveredOnce(t, w.redeliveries(), []string{"failed-twice", "no-response"})
			if !strings.Contains(r.stdout, "2 waiting for their next attempt") {
				t.Errorf("second run: want 2 waiting:\n%s", r)
			}
		})
	}
}

// TestRunGHESAndHorizons: the same tool speaks to github.com's API at the
// root and to a GHES under /api/v3 (given by --api-url, or by --hostname
// over TLS with a private CA). An attempt five days old is within GHES's
// 7-day redelivery horizon and is redelivered there; on github.com (3 days)
// it is reported expired and never sent.
func TestRunGHESAndHorizons(t *testing.T) {
	t.Parallel()
	seed := func(w *world) {
		w.seed(w.orgHook,
			ghfake.Seed{GUID: "five-days", Event: "push", At: w.ago(5 * 24 * time.Hour), StatusCode: 500},
			ghfake.Seed{GUID: "fresh", Event: "push", At: w.ago(time.Hour), StatusCode: 500},
		)
	}
	flags := func(w *world) []string {
		return []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--since", "6d", "--output", "json"}
	}

	t.Run("dotcom", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{Platform: ghfake.DotCom})
		seed(w)
		r := w.run(w.args("run", flags(w)...)...)
		wantCode(t, r, 0)
		wantRedeliveredOnce(t, w.redeliveries(), []string{"fresh"})
		res := decodeResult(t, r.stdout)
		if res.APIURL != w.srv.URL()+"/" {
			t.Errorf("api_url = %q, want the root %q", res.APIURL, w.srv.URL()+"/")
		}
		rep := res.Targets[0]
		if rep.Expired != 1 || rep.Redelivered != 1 {
			t.Errorf("expired %d redelivered %d, want 1 and 1", rep.Expired, rep.Redelivered)
		}
		if !hasItem(rep, "five-days", redeliver.VerdictExpired) {
			t.Errorf("five-days is not reported expired: %+v", rep.Items)
		}
		if len(rep.Uncovered) == 0 || !strings.Contains(rep.Uncovered[0].Reason, "72h0m0s") {
			t.Errorf("want the span beyond the 3-day horizon reported uncovered, got %+v", rep.Uncovered)
		}
		if n := w.srv.RequestCount("POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"); n != 1 {
			t.Errorf("%d redelivery requests, want 1 (the expired one is never sent)", n)
		}
		// github.com enforces rate limits: --rate 0 is beyond its advice.
		if !strings.Contains(r.stderr, "warning: --rate, --per-minute, --per-hour or --concurrency exceed GitHub's advice") {
			t.Errorf("want the pace warning on github.com:\n%s", r)
		}
	})

	t.Run("ghes-api-url", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{Platform: ghfake.GHES})
		seed(w)
		r := w.run(w.args("run", flags(w)...)...)
		wantCode(t, r, 0)
		wantRedeliveredOnce(t, w.redeliveries(), []string{"five-days", "fresh"})
		res := decodeResult(t, r.stdout)
		if res.APIURL != w.srv.URL()+"/api/v3/" {
			t.Errorf("api_url = %q, want %q", res.APIURL, w.srv.URL()+"/api/v3/")
		}
		if rep := res.Targets[0]; rep.Expired != 0 || len(rep.Uncovered) != 0 {
			t.Errorf("GHES: want nothing expired or uncovered within 7 days, got %+v", rep)
		}
		// A GHES with rate limiting off (/rate_limit answers 404) allows
		// any pace: no warning.
		if strings.Contains(r.stderr, "exceed GitHub's advice") {
			t.Errorf("no pace warning on a GHES without rate limits:\n%s", r)
		}
	})

	t.Run("ghes-hostname-tls", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{Platform: ghfake.GHES, TLS: true})
		seed(w)
		ca := writeFile(t, w.dir, "ca.pem", w.srv.CertPEM(), 0o644)
		host := strings.TrimPrefix(w.srv.URL(), "https://")
		args := []string{"run", "--hostname", host, "--ca-file", ca, "--state", w.state, "--rate", "0"}
		r := w.run(append(args, flags(w)...)...)
		wantCode(t, r, 0)
		wantRedeliveredOnce(t, w.redeliveries(), []string{"five-days", "fresh"})
		if res := decodeResult(t, r.stdout); res.APIURL != "https://"+host+"/api/v3/" {
			t.Errorf("api_url = %q, want https://%s/api/v3/", res.APIURL, host)
		}

		// Without the private CA, TLS verification refuses the server.
		w2 := newWorld(t, ghfake.Options{Platform: ghfake.GHES, TLS: true})
		host2 := strings.TrimPrefix(w2.srv.URL(), "https://")
		r = w.run("run", "--hostname", host2, "--org", "acme", "--hook", fmt.Sprint(w2.orgHook), "--state", filepath.Join(w.dir, "s2.db"))
		if r.code == 0 || !strings.Contains(r.stderr, "certificate") {
			t.Errorf("without --ca-file: want a certificate error, got %s", r)
		}
		if len(w2.srv.Redeliveries()) != 0 || exists(filepath.Join(w.dir, "s2.db")) {
			t.Errorf("without --ca-file: something was redelivered or written")
		}
	})
}

func hasItem(rep *redeliver.Report, guid string, v redeliver.Verdict) bool {
	for _, it := range rep.Items {
		if it.GUID == guid && it.Verdict == v {
			return true
		}
	}
	return false
}

// TestRunPagesBackToTheCheckpoint: a first run pages through more than 300
// attempts (100 a page) back to its 24-hour window; a run six hours later
// lists only back to the checkpoint (minus the 10-minute overlap), and the
// failed events it sees again in the overlap are not redelivered twice.
func TestRunPagesBackToTheCheckpoint(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	// 350 attempts over the last 20 hours (one in ten failed, some in the
	// last 10 minutes), and 50 older than the first window.
	st := w.srv.SeedHistory(w.orgHook, ghfake.History{N: 350, From: w.ago(20 * time.Hour), To: w.ago(time.Minute), FailureRatio: 0.1, Seed: 7})
	w.srv.SeedHistory(w.orgHook, ghfake.History{N: 50, From: w.ago(30 * time.Hour), To: w.ago(25 * time.Hour), FailureRatio: 0.5, Seed: 8})
	late := w.failed(w.orgHook, "late", 3, w.ago(2*time.Minute), time.Minute) // inside the overlap of the next run
	firstFailed := append(append([]string{}, st.FailedGUIDs...), late...)
	if len(st.FailedGUIDs) < 10 {
		t.Fatalf("seeded only %d failed guids", len(st.FailedGUIDs))
	}
	// --no-probe: the receiver is down, and the probe would stop the run
	// after 20 redeliveries (TestRunProbe).
	flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--retry-base", "12h", "--no-probe", "--output", "json"}

	r := w.run(w.args("run", flags...)...)
	wantCode(t, r, 0)
	rep := decodeResult(t, r.stdout).Targets[0]
	if rep.Pages != 4 || rep.Attempts != 353 || !rep.Complete {
		t.Errorf("first run: pages %d attempts %d complete %v, want 4 pages of 353 attempts, complete", rep.Pages, rep.Attempts, rep.Complete)
	}
	if n := w.srv.RequestCount(orgListRoute); n != 4 {
		t.Errorf("first run: %d list requests, want 4", n)
	}
	wantRedeliveredOnce(t, w.redeliveries(), firstFailed)
	checkpoint := w.now()

	// Six hours later, 20 new attempts, 5 of them failed.
	w.clock.Advance(6 * time.Hour)
	newFailed := w.failed(w.orgHook, "new", 5, w.ago(time.Hour), time.Minute)
	w.srv.SeedHistory(w.orgHook, ghfake.History{N: 15, From: w.ago(5 * time.Hour), To: w.ago(2 * time.Hour), Seed: 9})

	cutoff := checkpoint.Add(-10 * time.Minute)
	inWindow := 0
	for _, a := range w.srv.Attempts(w.orgHook) {
		if !a.DeliveredAt.Before(cutoff) {
			inWindow++
		}
	}
	before := w.srv.RequestCount(orgListRoute)
	r = w.run(w.args("run", flags...)...)
	wantCode(t, r, 0)
	rep = decodeResult(t, r.stdout).Targets[0]
	wantPages := inWindow/100 + 1
	if got := w.srv.RequestCount(orgListRoute) - before; got != wantPages {
		t.Errorf("second run: %d list requests, want %d (%d attempts since the checkpoint minus the overlap)", got, wantPages, inWindow)
	}
	if !rep.From.Equal(cutoff) || rep.Attempts != inWindow {
		t.Errorf("second run: from %s with %d attempts, want from %s (checkpoint − 10m) with %d", rep.From, rep.Attempts, cutoff, inWindow)
	}
	// Every failed event once in all: the overlap's re-read events wait
	// (retry-base 12h), the older ones are carried by the ledger.
	wantRedeliveredOnce(t, w.redeliveries(), append(firstFailed, newFailed...))
	if rep.Redelivered != 5 || rep.Waiting != len(firstFailed) {
		t.Errorf("second run: redelivered %d waiting %d, want 5 and %d", rep.Redelivered, rep.Waiting, len(firstFailed))
	}
}

// TestRunGroupsByGUID: several failed attempts of one event make one
// redelivery; connection failures (status code 0, "failed to connect to
// host", "timed out") are failures too, though GitHub's status=failure
// filter would miss them; an event with a 202 "OK" attempt is recovered.
func TestRunGroupsByGUID(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.seed(w.orgHook,
		ghfake.Seed{GUID: "many", At: w.ago(5 * time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "many", At: w.ago(4 * time.Hour), StatusCode: 0, Redelivery: true},
		ghfake.Seed{GUID: "many", At: w.ago(3 * time.Hour), StatusCode: 404, Redelivery: true},
		ghfake.Seed{GUID: "many", At: w.ago(2 * time.Hour), StatusCode: 0, Status: ghfake.StatusTimedOut, Redelivery: true},
		ghfake.Seed{GUID: "connect", At: w.ago(90 * time.Minute), StatusCode: 0},
		ghfake.Seed{GUID: "timeout", At: w.ago(80 * time.Minute), StatusCode: 0, Status: ghfake.StatusTimedOut},
		ghfake.Seed{GUID: "accepted", At: w.ago(70 * time.Minute), StatusCode: 500},
		ghfake.Seed{GUID: "accepted", At: w.ago(60 * time.Minute), StatusCode: 202, Redelivery: true},
	)
	for _, a := range w.srv.Attempts(w.orgHook) {
		if a.GUID == "connect" && a.Status != ghfake.StatusConnectHost {
			t.Fatalf("seeded status %q, want %q", a.Status, ghfake.StatusConnectHost)
		}
		if a.GUID == "accepted" && a.StatusCode == 202 && a.Status != "OK" {
			t.Fatalf("seeded 202 has status %q, want OK", a.Status)
		}
	}
	// "many" has 3 redeliveries listed, the last 2 hours ago: with
	// --retry-base 20m its next one was due after 80 minutes.
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--retry-base", "20m", "--output", "json")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), []string{"many", "connect", "timeout"})
	rep := decodeResult(t, r.stdout).Targets[0]
	if rep.Events != 4 || rep.Attempts != 8 || rep.Failed != 3 {
		t.Errorf("events %d attempts %d failed %d, want 4, 8, 3", rep.Events, rep.Attempts, rep.Failed)
	}
}

// TestRunReportCountsEveryRedelivery: an event that GitHub lists with 3
// redeliveries made by someone else (the docs script, say) and that this
// run redelivers once more has used 4; the report's "redeliveries" says so.
// Each request of ours counts on top of every redelivery listed before it
// (LedgerEntry.countRequest), never hidden by the max in Used.
func TestRunReportCountsEveryRedelivery(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.seed(w.orgHook,
		ghfake.Seed{GUID: "many", At: w.ago(5 * time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "many", At: w.ago(4 * time.Hour), StatusCode: 500, Redelivery: true},
		ghfake.Seed{GUID: "many", At: w.ago(3 * time.Hour), StatusCode: 500, Redelivery: true},
		ghfake.Seed{GUID: "many", At: w.ago(2 * time.Hour), StatusCode: 500, Redelivery: true},
	)
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--retry-base", "20m", "--output", "json")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), []string{"many"})
	rep := decodeResult(t, r.stdout).Targets[0]
	if len(rep.Items) != 1 || rep.Items[0].Attempts != 4 {
		t.Errorf("items %+v: want many with 4 redeliveries used (3 listed + this run's)", rep.Items)
	}

	// The budget: --max-attempts 4, 3 used by someone else, one accepted
	// from us that GitHub never performs (it never shows in the listing).
	// That is 4: the event is exhausted, and a 5th request is never made.
	w2 := newWorld(t, ghfake.Options{DeferRedeliveries: true})
	for i := range 4 {
		w2.seed(w2.orgHook, ghfake.Seed{GUID: "many", At: w2.ago(time.Duration(5-i) * time.Hour), StatusCode: 500, Redelivery: i > 0})
	}
	flags := []string{"--org", "acme", "--hook", fmt.Sprint(w2.orgHook), "--max-attempts", "4", "--retry-base", "20m"}
	wantCode(t, runIn(t, w2.env(), w2.args("run", flags...)...), 0)
	w2.clock.Advance(2 * time.Hour) // past the pending grace and 20m × 2^2
	wantCode(t, runIn(t, w2.env(), w2.args("run", flags...)...), 0)
	if n := len(w2.srv.Redeliveries()); n != 1 {
		t.Errorf("--max-attempts 4 with 3 redeliveries listed: we asked %d times, want 1", n)
	}
}

// TestRunMaxAttempts: with the receiver down, runs every 6 hours redeliver
// an event at most --max-attempts times in all, each redelivery spaced at
// least --retry-base × 2^(n-1) after the n-th; then the event is reported
// exhausted (text and JSON), once, and never sent again.
func TestRunMaxAttempts(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	guids := w.failed(w.orgHook, "down", 3, w.ago(time.Hour), time.Minute)
	flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--max-attempts", "3", "--retry-base", "4h"}

	// run k at 6k hours: sends at 0 h (1st), 6 h (due 0+4), not at 12 h
	// (due 6+8 = 14), at 18 h (3rd), then exhausted at 24 h.
	wantSent := []int{3, 3, 0, 3, 0, 0}
	for run, want := range wantSent {
		if run > 0 {
			w.clock.Advance(6 * time.Hour)
		}
		before := len(w.srv.Redeliveries())
		args := w.args("run", flags...)
		if run == 4 {
			args = append(args, "--output", "json")
		}
		r := w.run(args...)
		wantCode(t, r, 0)
		if got := len(w.srv.Redeliveries()) - before; got != want {
			t.Fatalf("run %d (at %dh): %d redeliveries, want %d\n%s", run+1, 6*run, got, want, r)
		}
		switch run {
		case 2:
			if !strings.Contains(r.stdout, "3 waiting for their next attempt") {
				t.Errorf("run 3: want the events waiting (due at 14h):\n%s", r)
			}
		case 4:
			res := decodeResult(t, r.stdout)
			if res.Totals.Exhausted != 3 {
				t.Errorf("run 5: totals.exhausted = %d, want 3", res.Totals.Exhausted)
			}
			for _, g := range guids {
				if !hasItem(res.Targets[0], g, redeliver.VerdictExhausted) {
					t.Errorf("run 5: %s not reported exhausted: %+v", g, res.Targets[0].Items)
				}
			}
		case 5:
			if strings.Contains(r.stdout, "exhausted") {
				t.Errorf("run 6: exhaustion is reported in the run where it happens, not again:\n%s", r)
			}
		}
	}
	// Spacing between the n-th and (n+1)-th redelivery of each guid.
	times := map[string][]time.Time{}
	for _, rd := range w.srv.Redeliveries() {
		times[rd.GUID] = append(times[rd.GUID], rd.At)
	}
	for _, g := range guids {
		ts := times[g]
		if len(ts) != 3 {
			t.Fatalf("%s: %d redeliveries, want 3", g, len(ts))
		}
		for n := 1; n < len(ts); n++ {
			min := 4 * time.Hour << (n - 1)
			if gap := ts[n].Sub(ts[n-1]); gap < min {
				t.Errorf("%s: redelivery %d came %s after redelivery %d, want ≥ %s", g, n+1, gap, n, min)
			}
		}
	}
}

// TestRunMaxAttemptsText: the text report names an exhausted event.
func TestRunMaxAttemptsText(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "x", 1, w.ago(time.Hour), 0)
	flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--max-attempts", "1"}
	wantCode(t, w.run(w.args("run", flags...)...), 0)
	w.clock.Advance(6 * time.Hour)
	r := w.run(w.args("run", flags...)...)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "! exhausted: x-0000 (push) still failing after 1 redeliveries") {
		t.Errorf("want the exhausted event named:\n%s", r)
	}
	if n := len(w.srv.Redeliveries()); n != 1 {
		t.Errorf("%d redeliveries, want 1", n)
	}
}

// TestRunExpired: attempts older than the horizon are reported expired and
// never sent — whether the listing shows them (--since reaching back) or
// the ledger carries them past the horizon (deferred by --max-redeliveries).
func TestRunExpired(t *testing.T) {
	t.Parallel()
	t.Run("listed", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		old := w.failed(w.orgHook, "old", 3, w.ago(80*time.Hour), time.Hour)
		fresh := w.failed(w.orgHook, "fresh", 1, w.ago(time.Hour), 0)
		r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--since", "5d")...)
		wantCode(t, r, 0)
		wantRedeliveredOnce(t, w.redeliveries(), fresh)
		for _, g := range old {
			if !strings.Contains(r.stdout, "! expired: "+g+" (push) is past GitHub's redelivery horizon") {
				t.Errorf("%s not reported expired:\n%s", g, r)
			}
		}
		if !strings.Contains(r.stdout, "3 expired") {
			t.Errorf("want the count of expired events:\n%s", r)
		}
	})
	t.Run("carried", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		// Two events just inside the horizon; the run may send only one.
		gs := w.failed(w.orgHook, "edge", 2, w.ago(71*time.Hour), time.Minute)
		flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--since", "3d", "--max-redeliveries", "1", "--retry-base", "12h", "--output", "json"}
		r := w.run(w.args("run", flags...)...)
		wantCode(t, r, 0)
		rep := decodeResult(t, r.stdout).Targets[0]
		if rep.Redelivered != 1 || rep.Deferred != 1 {
			t.Fatalf("first run: redelivered %d deferred %d, want 1 and 1", rep.Redelivered, rep.Deferred)
		}
		// Fair order: the oldest first (closest to the horizon).
		wantRedeliveredOnce(t, w.redeliveries(), gs[1:])
		// Six hours later the deferred one is past the horizon: the ledger
		// carries it (it is behind the checkpoint now) and reports it.
		w.clock.Advance(6 * time.Hour)
		r = w.run(w.args("run", flags...)...)
		wantCode(t, r, 0)
		rep = decodeResult(t, r.stdout).Targets[0]
		if rep.Expired != 1 || !hasItem(rep, gs[0], redeliver.VerdictExpired) {
			t.Errorf("second run: want %s expired, got %+v", gs[0], rep)
		}
		wantRedeliveredOnce(t, w.redeliveries(), gs[1:])
	})
}

// TestRunDryRun: --dry-run lists and plans, prints what it would
// redeliver, and writes nothing anywhere: no redelivery, no POST or PATCH at
// all, no state file created, an existing one left byte for byte, and an
// Actions variable neither created nor changed.
func TestRunDryRun(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	gs := w.failed(w.orgHook, "dry", 3, w.ago(time.Hour), time.Minute)
	flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook)}

	t.Run("fresh state", func(t *testing.T) {
		r := w.run(w.args("run", append(flags, "--dry-run")...)...)
		wantCode(t, r, 0)
		for _, g := range gs {
			if !strings.Contains(r.stdout, "would redeliver "+g+" (push) attempt ") {
				t.Errorf("dry run does not list %s:\n%s", g, r)
			}
		}
		if !strings.Contains(r.stdout, "Would redeliver 3 failed webhook deliveries out of 3 total deliveries since ") {
			t.Errorf("summary:\n%s", r)
		}
		if len(w.srv.Redeliveries()) != 0 || len(w.writes()) != 0 {
			t.Errorf("dry run wrote to GitHub: redeliveries %v, writes %v", w.srv.Redeliveries(), w.writes())
		}
		if got := dirEntries(t, w.dir); len(got) != 1 { // app.pem only
			t.Errorf("dry run left files: %v", got)
		}
	})

	t.Run("existing state", func(t *testing.T) {
		// A real run makes the state; new failures come in; a dry run then
		// changes neither the files nor GitHub.
		wantCode(t, w.run(w.args("run", flags...)...), 0)
		w.clock.Advance(2 * time.Hour)
		more := w.failed(w.orgHook, "dry2", 2, w.ago(time.Minute), time.Minute)
		snapshot := func() map[string]string {
			out := map[string]string{}
			for _, n := range dirEntries(t, w.dir) {
				b, err := os.ReadFile(filepath.Join(w.dir, n))
				if err != nil {
					t.Fatal(err)
				}
				out[n] = string(b)
			}
			return out
		}
		before := snapshot()
		redeliveries, writes := len(w.srv.Redeliveries()), w.writes()
		r := w.run(w.args("run", append(flags, "--dry-run", "--output", "json")...)...)
		wantCode(t, r, 0)
		res := decodeResult(t, r.stdout)
		if !res.DryRun || res.Totals.Redelivered != 5 {
			t.Errorf("dry run: dry_run %v, would redeliver %d, want true and 5 (3 due again after 2h, 2 new)", res.DryRun, res.Totals.Redelivered)
		}
		for _, g := range more {
			if !hasItem(res.Targets[0], g, redeliver.VerdictRedeliver) {
				t.Errorf("dry run does not list %s", g)
			}
		}
		after := snapshot()
		for n, b := range before {
			if after[n] != b {
				t.Errorf("dry run changed %s", n)
			}
		}
		newFiles(t, w.dir, slices.Collect(maps.Keys(before)))
		if len(w.srv.Redeliveries()) != redeliveries || fmt.Sprint(w.writes()) != fmt.Sprint(writes) {
			t.Errorf("dry run wrote to GitHub: writes before %v, after %v", writes, w.writes())
		}
	})

	t.Run("actions variable", func(t *testing.T) {
		w := newWorld(t, ghfake.Options{})
		w.failed(w.orgHook, "dry", 3, w.ago(time.Hour), time.Minute)
		r := w.run("run", "--api-url", w.api, "--rate", "0", "--org", "acme", "--hook", fmt.Sprint(w.orgHook),
			"--state", "actions:acme/ops/LAST_REDELIVERY", "--dry-run")
		wantCode(t, r, 0)
		if len(w.writes()) != 0 {
			t.Errorf("dry run wrote to GitHub: %v", w.writes())
		}
		if _, ok := w.srv.Variable("acme", "ops", "LAST_REDELIVERY"); ok {
			t.Errorf("dry run created the checkpoint variable")
		}
	})
}

// TestRunProbe: in a long run the tool looks, after 20 redeliveries,
// whether the receiver takes them. With the receiver still down it stops
// early and leaves the rest for the next run (exit 0: nothing failed that a
// later run cannot do); with half of them failing it slows down and goes on;
// with the receiver up it goes on to the end at full pace.
func TestRunProbe(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		receiver func(t *testing.T) string
	}{
		{"down", func(*testing.T) string { return downURL }},
		{"half down", func(t *testing.T) string {
			rc := newReceiver(t, 200)
			rc.onDelivery = func(n int) { rc.status.Store(int32([]int{200, 503}[n%2])) }
			return rc.URL
		}},
		{"up", func(t *testing.T) string { return newReceiver(t, 200).URL }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghfake.Options{})
			w.srv.SetHookURL(w.orgHook, c.receiver(t))
			gs := w.failed(w.orgHook, "p", 30, w.ago(time.Hour), time.Minute)
			r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--output", "json")...)
			wantCode(t, r, 0)
			rep := decodeResult(t, r.stdout).Targets[0]
			slowed := strings.Contains(r.stderr, "receiver struggling; slowing down")
			switch c.name {
			case "down":
				if rep.Redelivered != 20 || rep.Deferred != 10 || !strings.Contains(rep.Stopped, "the receiver is still failing") {
					t.Errorf("redelivered %d deferred %d stopped %q; want 20, 10, the receiver is still failing", rep.Redelivered, rep.Deferred, rep.Stopped)
				}
				if n := len(w.srv.Redeliveries()); n != 20 {
					t.Errorf("%d redeliveries, want 20", n)
				}
			case "half down":
				wantRedeliveredOnce(t, w.redeliveries(), gs)
				if !slowed || rep.Stopped != "" {
					t.Errorf("want the run slowed down, not stopped (stopped %q):\n%s", rep.Stopped, r.stderr)
				}
			case "up":
				wantRedeliveredOnce(t, w.redeliveries(), gs)
				if slowed || rep.Stopped != "" {
					t.Errorf("want neither slowed nor stopped (stopped %q):\n%s", rep.Stopped, r.stderr)
				}
			}
		})
	}
}

// TestRunBadCredentials: a token or App key GitHub refuses ends the run with
// exit code 3 before anything is redelivered or written — no state file, no
// Actions variable.
func TestRunBadCredentials(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 2, w.ago(time.Hour), time.Minute)
	w.failed(w.appHook, "a", 2, w.ago(time.Hour), time.Minute)
	wrongKey := writeFile(t, w.dir, "wrong.pem", pemPKCS1(otherKey()), 0o600)
	const wrongToken = "ghp_WRONGwrongWRONG0123456789abcdefABCDEF"
	cases := []struct {
		name string
		env  []string
		args []string
	}{
		{"token", []string{"GH_TOKEN", wrongToken}, []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook)}},
		{"token, actions state", []string{"GH_TOKEN", wrongToken}, []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--state", "actions:acme/ops/CP"}},
		{"app key", []string{"GH_TOKEN", ""}, []string{"--app", "--app-id", fmt.Sprint(appID), "--private-key-file", wrongKey}},
		{"unknown app", []string{"GH_TOKEN", ""}, []string{"--app", "--app-id", "999", "--private-key-file", w.keyFile}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state := filepath.Join(w.dir, "bad", "state.db")
			args := append([]string{"run", "--api-url", w.api, "--rate", "0", "--state", state}, c.args...)
			r := runIn(t, w.env(c.env...), args...)
			wantCode(t, r, 3)
			if strings.Contains(r.stdout+r.stderr, wrongToken) {
				t.Errorf("the refused token is printed:\n%s", r)
			}
			if !strings.Contains(r.stderr, "redeliver:") {
				t.Errorf("want an error on stderr:\n%s", r)
			}
			if exists(filepath.Dir(state)) {
				t.Errorf("a state directory was created: %v", dirEntries(t, filepath.Dir(state)))
			}
			if len(w.srv.Redeliveries()) != 0 || len(w.writes()) != 0 {
				t.Errorf("bad credentials: writes %v", w.writes())
			}
			if _, ok := w.srv.Variable("acme", "ops", "CP"); ok {
				t.Errorf("a variable was created")
			}
		})
	}
}

// TestRunFaults: 502s on the listing, a secondary rate limit on a
// redelivery and a primary rate limit are waited out or retried: the run
// completes, each failed event is redelivered once, and nothing is sent
// before GitHub said it may be.
func TestRunFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	gs := w.failed(w.orgHook, "fault", 4, w.ago(time.Hour), time.Minute)
	w.srv.AddFault(ghfake.Fault{Route: orgListRoute, Kind: ghfake.FaultStatus, Status: 502, Times: 2})
	w.srv.AddFault(ghfake.Fault{Route: orgPostRoute, Kind: ghfake.FaultSecondaryLimit, RetryAfter: 1, Times: 1})
	w.srv.AddFault(ghfake.Fault{Route: orgPostRoute, Kind: ghfake.FaultPrimaryLimit, RetryAfter: 1, After: 2, Times: 1})

	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--output", "json", "-v")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
	if t.Failed() {
		t.Logf("the run (verbose):\n%s", r) // what the retries did
	}
	if v := w.srv.Violations(); len(v) != 0 {
		t.Errorf("requests sent before GitHub allowed: %+v", v)
	}
	st := w.srv.Statuses()
	if st[orgListRoute][502] != 2 || st[orgPostRoute][202] != 4 {
		t.Errorf("statuses: list %v, redeliver %v; want 2×502 then 200, and 4×202", st[orgListRoute], st[orgPostRoute])
	}
	if p, s := w.srv.LimitResponsesByKind(); p != 1 || s != 1 {
		t.Errorf("limit responses: primary %d secondary %d, want 1 and 1", p, s)
	}
	if res := decodeResult(t, r.stdout); res.Totals.Redelivered != 4 || res.Totals.Errors != 0 {
		t.Errorf("totals %+v", res.Totals)
	}
}

// TestRunFilters: --events and --exclude-events choose events by name or
// name.action; the others are counted as filtered and left alone.
func TestRunFilters(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.seed(w.orgHook,
		ghfake.Seed{GUID: "push", Event: "push", At: w.ago(time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "opened", Event: "issues", Action: "opened", At: w.ago(time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "closed", Event: "issues", Action: "closed", At: w.ago(time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "ping", Event: "ping", At: w.ago(time.Hour), StatusCode: 500},
	)
	flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--dry-run", "--output", "json"}
	for _, c := range []struct {
		filter []string
		want   []string
	}{
		{[]string{"--events", "push,issues.opened"}, []string{"opened", "push"}},
		{[]string{"--exclude-events", "ping", "--exclude-events", "issues.closed"}, []string{"opened", "push"}},
		{[]string{"--events", "issues", "--exclude-events", "issues.opened"}, []string{"closed"}},
	} {
		r := w.run(w.args("run", append(flags, c.filter...)...)...)
		wantCode(t, r, 0)
		rep := decodeResult(t, r.stdout).Targets[0]
		var got []string
		for _, it := range rep.Items {
			got = append(got, it.GUID)
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) || rep.Filtered != 4-len(c.want) {
			t.Errorf("%v: would redeliver %v (filtered %d), want %v", c.filter, got, rep.Filtered, c.want)
		}
	}
}

// TestRunConfigFile: a --config file lists several targets — a hook by id,
// every hook of a repository, a hook by its URL with its own event filter,
// the App hook, and one that does not exist. Each is done with its own
// options; the missing one is reported and makes the exit code 1, the
// others are still done.
func TestRunConfigFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	second := w.srv.AddRepoHook("acme", "api", ghfake.HookConfig{URL: "http://127.0.0.1:1/second"})
	byURL := w.srv.AddOrgHook("acme", ghfake.HookConfig{URL: "http://127.0.0.1:1/by-url"})
	for _, h := range []int64{w.orgHook, w.repoHook, second, w.appHook} {
		w.failed(h, fmt.Sprintf("h%d", h), 2, w.ago(time.Hour), time.Minute)
		w.seed(h, ghfake.Seed{GUID: fmt.Sprintf("ping%d", h), Event: "ping", At: w.ago(time.Hour), StatusCode: 500})
	}
	w.seed(byURL,
		ghfake.Seed{GUID: "url-push", Event: "push", At: w.ago(time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "url-issue", Event: "issues", Action: "opened", At: w.ago(time.Hour), StatusCode: 500},
	)
	config := writeFile(t, w.dir, "redeliver.yaml", fmt.Appendf(nil, `api_url: %s
state: %s
defaults:
  max_attempts: 3
  exclude_events: [ping]
targets:
  - org: acme
    hook: %d
  - repo: acme/api
  - org: acme
    hook_url: http://127.0.0.1:1/by-url
    events: [issues.opened]
  - app: true
  - org: acme
    hook: 999
`, w.api, w.state, w.orgHook), 0o644)
	r := w.run("run", "--config", config, "--app-id", fmt.Sprint(appID), "--private-key-file", w.keyFile, "--rate", "0", "--output", "json")
	wantCode(t, r, 1)
	res := decodeResult(t, r.stdout)
	var want []string
	for _, h := range []int64{w.orgHook, w.repoHook, second, w.appHook} {
		want = append(want, fmt.Sprintf("h%d-0000", h), fmt.Sprintf("h%d-0001", h))
	}
	wantRedeliveredOnce(t, w.redeliveries(), append(want, "url-issue"))
	var keys []string
	for _, tg := range res.Targets {
		keys = append(keys, tg.Target)
		if strings.HasSuffix(tg.Target, "/hooks/999") && (tg.ErrorCode != redeliver.ENotFound || !strings.Contains(tg.Error, "hook 999")) {
			t.Errorf("hook 999: error %q (%s)", tg.Error, tg.ErrorCode)
		}
	}
	wantKeys := []string{
		fmt.Sprintf("org/acme/hooks/%d", w.orgHook), fmt.Sprintf("repo/acme/api/hooks/%d", w.repoHook),
		fmt.Sprintf("repo/acme/api/hooks/%d", second), fmt.Sprintf("org/acme/hooks/%d", byURL),
		fmt.Sprintf("app/%d/hook", appID), "org/acme/hooks/999",
	}
	if !slices.Equal(keys, wantKeys) {
		t.Errorf("targets %v, want %v", keys, wantKeys)
	}
	if res.ExitCode != 1 || res.Totals.Redelivered != 9 {
		t.Errorf("exit_code %d redelivered %d, want 1 and 9", res.ExitCode, res.Totals.Redelivered)
	}
}

// TestRunRefused: a redelivery GitHub refuses (here: the tool takes the
// /api/v3 URL for a GHES and its 7-day horizon, but the server keeps only 3
// days and answers 422) is reported with GitHub's reason and makes the exit
// code 1; the other events are still redelivered.
func TestRunRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{Platform: ghfake.DotCom})
	w.failed(w.orgHook, "old", 1, w.ago(5*24*time.Hour), 0)
	fresh := w.failed(w.orgHook, "fresh", 1, w.ago(time.Hour), 0)
	r := w.run("run", "--api-url", w.srv.URL()+"/api/v3", "--state", w.state, "--rate", "0", "--since", "6d",
		"--org", "acme", "--hook", fmt.Sprint(w.orgHook))
	wantCode(t, r, 1)
	wantRedeliveredOnce(t, w.redeliveries(), fresh)
	if !strings.Contains(r.stdout, "  ! old-0000 (push): ") || !strings.Contains(r.stdout, "GitHub refused the redelivery (422 Validation Failed)") {
		t.Errorf("want the refusal reported with GitHub's reason:\n%s", r)
	}
	if st := w.srv.Statuses()[orgPostRoute]; st[422] != 1 || st[202] != 1 {
		t.Errorf("redelivery answers %v, want one 422 and one 202", st)
	}
}

// TestRunConcurrency: with --concurrency 4 each failed event is still
// redelivered exactly once.
func TestRunConcurrency(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	gs := w.failed(w.orgHook, "c", 40, w.ago(time.Hour), time.Minute)
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--concurrency", "4", "--no-probe")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
}

// TestRunTimeout: --timeout stops asking when the time is up and leaves the
// rest for the next run, which does it, never twice. The time may run out
// between two requests (the pacer sees the next one would be late) or while
// a request is on its way (GitHub is slow to answer). Either way the run
// exits 4: work is left for the next run.
func TestRunTimeout(t *testing.T) {
	t.Parallel()
	t.Run("between requests", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		gs := w.failed(w.orgHook, "slow", 6, w.ago(time.Hour), time.Minute)
		flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--no-probe"}
		// One a second for 2 seconds: the third would be late.
		r := w.run(w.args("run", append(flags, "--rate", "1", "--timeout", "2s", "--output", "json")...)...)
		wantCode(t, r, exitIncomplete)
		rep := decodeResult(t, r.stdout).Targets[0]
		if sent := len(w.srv.Redeliveries()); sent != 2 || rep.Deferred != 4 {
			t.Errorf("--timeout 2s at 1/s: %d sent, %d deferred; want 2 and 4", sent, rep.Deferred)
		}
		if rep.Stopped == "" {
			t.Errorf("--timeout cut the run short but the report does not say why (stopped is empty)")
		}
		w.clock.Advance(16 * time.Minute)
		wantCode(t, w.run(w.args("run", flags...)...), 0)
		wantRedeliveredOnce(t, w.redeliveries(), gs)
	})
	t.Run("during a request", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		gs := w.failed(w.orgHook, "slow", 4, w.ago(time.Hour), time.Minute)
		// GitHub takes 3 s to answer the second redelivery.
		w.srv.AddFault(ghfake.Fault{Route: orgPostRoute, Kind: ghfake.FaultLatency, Latency: 3 * time.Second, After: 1, Times: 1})
		flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--no-probe"}
		r := w.run(w.args("run", append(flags, "--timeout", "1s", "--output", "json")...)...)
		res := decodeResult(t, r.stdout)
		rep := res.Targets[0]
		if rep.Redelivered != 1 || rep.Deferred != 3 || rep.Stopped == "" {
			t.Errorf("redelivered %d deferred %d stopped %q; want 1, 3 and why", rep.Redelivered, rep.Deferred, rep.Stopped)
		}
		if r.code != exitIncomplete || res.ExitCode != exitIncomplete || rep.Error != "" {
			t.Errorf("--timeout is not a failure but leaves work: want exit 4, got exit %d (report %d), error %q", r.code, res.ExitCode, rep.Error)
		}
		// The request cut off may have reached GitHub: after the pending
		// grace the next run knows, and asks once for what is left.
		w.clock.Advance(16 * time.Minute)
		wantCode(t, w.run(w.args("run", flags...)...), 0)
		wantRedeliveredOnce(t, w.redeliveries(), gs)
	})
}
