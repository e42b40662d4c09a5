package main

// The other commands: deliveries, status and demo.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// TestDeliveries: `redeliver deliveries` shows one hook's events grouped by
// guid — outcome, attempts, redeliveries and the ledger's view — as a table
// on a terminal and as JSON otherwise; it only reads.
func TestDeliveries(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	ids := w.seed(w.orgHook,
		ghfake.Seed{GUID: "rec", Event: "push", At: w.ago(5 * time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "rec", Event: "push", At: w.ago(4 * time.Hour), StatusCode: 200, Redelivery: true},
		ghfake.Seed{GUID: "bad", Event: "issues", Action: "opened", At: w.ago(3 * time.Hour), StatusCode: 502},
		ghfake.Seed{GUID: "ok", Event: "push", At: w.ago(2 * time.Hour), StatusCode: 200},
		ghfake.Seed{GUID: "ancient", Event: "push", At: w.ago(30 * time.Hour), StatusCode: 500},
	)
	wantCode(t, w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))...), 0) // redelivers "bad"
	w.clock.Advance(time.Minute)
	writes := fmt.Sprint(w.writes())
	flags := []string{"deliveries", "--api-url", w.api, "--state", w.state, "--org", "acme", "--hook", fmt.Sprint(w.orgHook)}

	// Not a terminal: JSON.
	r := w.run(flags...)
	wantCode(t, r, 0)
	var doc struct {
		Target string      `json:"target"`
		Since  time.Time   `json:"since"`
		Events []eventView `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r)
	}
	if doc.Target != fmt.Sprintf("org/acme/hooks/%d", w.orgHook) || !doc.Since.Equal(w.ago(24*time.Hour)) {
		t.Errorf("target %q since %s", doc.Target, doc.Since)
	}
	var guids []string
	byGUID := map[string]eventView{}
	for _, e := range doc.Events {
		guids = append(guids, e.GUID)
		byGUID[e.GUID] = e
	}
	// Newest first; "ancient" is older than the default 24 hours.
	if strings.Join(guids, ",") != "bad,ok,rec" {
		t.Errorf("events %v, want bad (redelivered a minute ago), ok, rec", guids)
	}
	bad := byGUID["bad"]
	if bad.Outcome != "failed" || bad.Attempts != 2 || bad.Redeliveries != 1 || bad.Ledger != "pending" ||
		bad.LedgerAsked != 1 || bad.Event != "issues" || bad.Action != "opened" || bad.NewestID <= ids[2] {
		t.Errorf("bad: %+v", bad)
	}
	if rec := byGUID["rec"]; rec.Outcome != "ok" || rec.Attempts != 2 || rec.Ledger != "" || rec.LastCode != 200 {
		t.Errorf("rec: %+v", rec)
	}

	// A terminal: a table.
	r = runInOpts(t, runOpts{tty: true}, w.env(), append(flags, "--since", "2d")...)
	wantCode(t, r, 0)
	lines := strings.Split(r.stdout, "\n")
	if !strings.HasPrefix(lines[0], fmt.Sprintf("org acme hook %d: 4 events since ", w.orgHook)) ||
		!strings.HasPrefix(lines[1], "GUID") || !strings.Contains(lines[1], "OUTCOME") || !strings.Contains(lines[1], "LEDGER") {
		t.Errorf("table:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "pending (asked 1)") || !strings.Contains(r.stdout, "ancient") {
		t.Errorf("table rows:\n%s", r.stdout)
	}

	// --output json on a terminal, and --limit.
	r = runInOpts(t, runOpts{tty: true}, w.env(), append(flags, "--output", "json", "--limit", "1")...)
	wantCode(t, r, 0)
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || len(doc.Events) != 1 {
		t.Errorf("--output json --limit 1: %v %s", err, r)
	}
	if got := fmt.Sprint(w.writes()); got != writes {
		t.Errorf("deliveries wrote to GitHub: %s, before %s", got, writes)
	}

	// Bad input.
	r = w.run("deliveries", "--api-url", w.api, "--state", w.state, "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--output", "xml")
	wantCode(t, r, 2)
	w.srv.AddOrgHook("acme", ghfake.HookConfig{URL: downURL})
	r = w.run("deliveries", "--api-url", w.api, "--state", w.state, "--org", "acme")
	wantCode(t, r, 2)
	if !strings.Contains(r.stderr, "deliveries shows one hook; 2 match (give --hook)") {
		t.Errorf("two hooks: %s", r)
	}
}

// TestStatus: `redeliver status` reads the state and counts each target's
// events by ledger state after a few runs, as a table or JSON, and writes
// nothing.
func TestStatus(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	rc := newReceiver(t, http.StatusOK)
	w.srv.SetHookURL(w.repoHook, rc.URL)
	w.failed(w.orgHook, "org", 2, w.ago(time.Hour), time.Minute)
	// Past the 3-day horizon, but not yet pruned (closed entries are
	// forgotten a day after the horizon).
	w.failed(w.orgHook, "old", 1, w.ago(84*time.Hour), 0)
	w.failed(w.repoHook, "repo", 1, w.ago(time.Hour), 0)
	w.failed(w.appHook, "app", 1, w.ago(time.Hour), 0)
	org := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--max-attempts", "1"}
	repo := []string{"--repo", "acme/api", "--hook", fmt.Sprint(w.repoHook)}
	app := []string{"--app", "--app-id", fmt.Sprint(appID), "--private-key-file", w.keyFile}

	r := w.run("status", "--state", w.state)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "no targets yet") || exists(w.state) {
		t.Errorf("status before any run: %s (state created: %v)", r, exists(w.state))
	}

	wantCode(t, w.run(w.args("run", append(org, "--since", "5d")...)...), 0) // 2 pending, 1 expired
	wantCode(t, w.run(w.args("run", repo...)...), 0)                         // 1 pending (the receiver is up)
	wantCode(t, w.run(w.args("run", app...)...), 0)                          // 1 pending (down)
	w.clock.Advance(20 * time.Minute)
	wantCode(t, w.run(w.args("run", repo...)...), 0) // recovered
	wantCode(t, w.run(w.args("run", app...)...), 0)  // failed, waiting
	appCP := w.now()
	w.clock.Advance(6 * time.Hour)
	wantCode(t, w.run(w.args("run", org...)...), 0) // exhausted

	before, err := os.ReadFile(w.state)
	if err != nil {
		t.Fatal(err)
	}
	requests := w.srv.TotalRequests()
	r = w.run("status", "--state", w.state)
	wantCode(t, r, 0)
	want := []string{
		"state: " + w.state,
		"TARGET                   CHECKPOINT               FAILED  PENDING  RECOVERED  EXHAUSTED  EXPIRED",
		fmt.Sprintf("app/%d/hook            %s  1       0        0          0          0", appID, when(appCP)),
		// Quiet since its first run's redeliveries: the checkpoint stays
		// with the newest attempt listed, not GitHub's clock 6 h later.
		fmt.Sprintf("org/acme/hooks/%d  %s  0       0        0          2          1", w.orgHook, when(w.now().Add(-6*time.Hour-20*time.Minute))),
		fmt.Sprintf("repo/acme/api/hooks/%d  %s  0  0  1  0  0", w.repoHook, when(appCP)),
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || lines[0] != want[0] {
		t.Fatalf("status:\n%s", r.stdout)
	}
	for i, l := range lines[1:] {
		if strings.Join(strings.Fields(l), " ") != strings.Join(strings.Fields(want[i+1]), " ") {
			t.Errorf("status line %d:\n got %q\nwant %q", i+1, l, want[i+1])
		}
	}

	r = w.run("status", "--state", w.state, "--output", "json")
	wantCode(t, r, 0)
	var doc struct {
		State   string         `json:"state"`
		Targets []targetStatus `json:"targets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r)
	}
	if len(doc.Targets) != 3 || doc.Targets[1].Counts["exhausted"] != 2 || doc.Targets[1].Counts["expired"] != 1 ||
		doc.Targets[2].Counts["recovered"] != 1 || doc.Targets[0].Counts["failed"] != 1 || !doc.Targets[1].Checkpoint.Equal(w.now().Add(-6*time.Hour-20*time.Minute)) {
		t.Errorf("status json: %+v", doc)
	}
	after, _ := os.ReadFile(w.state)
	if string(after) != string(before) || w.srv.TotalRequests() != requests {
		t.Errorf("status wrote to the state or asked GitHub")
	}
}

// TestStatusActionsVariable: with the docs script's environment, status
// reads the state from the Actions variables through the API.
func TestStatusActionsVariable(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "v", 2, w.ago(time.Hour), time.Minute)
	wantCode(t, runIn(t, w.docsEnv(), "run", "--rate", "0"), 0)
	writes := fmt.Sprint(w.writes())
	r := runIn(t, w.docsEnv(), "status")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "state: Actions variable LAST_REDELIVERY of acme/ops") ||
		!strings.Contains(strings.Join(strings.Fields(r.stdout), " "), fmt.Sprintf("org/acme/hooks/%d %s 0 2 0 0 0", w.orgHook, when(w.now()))) {
		t.Errorf("status:\n%s", r)
	}
	if got := fmt.Sprint(w.writes()); got != writes {
		t.Errorf("status wrote: %s, before %s", got, writes)
	}
}

// TestDemo: `redeliver demo` runs the whole story against its built-in
// emulator and receiver and ends with every event received once.
func TestDemo(t *testing.T) {
	t.Parallel()
	r := runIn(t, map[string]string{"HOME": t.TempDir()}, "demo")
	wantCode(t, r, 0)
	for _, want := range []string{
		"1. The receiver is down (connection refused); GitHub sends 5 events",
		"2. The receiver is up but deploying (503); 4 more events fail",
		"3. The receiver is healthy again; 3 events go through",
		"Redelivered 9 failed webhook deliveries out of 12 total deliveries since",
		"5. The receiver now holds 12 of the 12 events (12 deliveries: each failed event exactly once more).",
		"6. Six hours later the next scheduled run finds nothing left to do:",
		"Every event reached the receiver once",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
}
