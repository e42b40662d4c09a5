package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// parallelConfig writes a config of the given org hooks, in that order.
func parallelConfig(t *testing.T, w *world, name string, hooks []int64) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "api_url: %s\nstate: %s\ntargets:\n", w.api, w.state)
	for _, h := range hooks {
		fmt.Fprintf(&b, "  - org: acme\n    hook: %d\n", h)
	}
	return writeFile(t, w.dir, name, []byte(b.String()), 0o644)
}

// TestRunParallelTargets: several hooks worked on at once are each
// redelivered exactly as one at a time would be: every failed guid once,
// none twice (nor again in the next run), and the results in the config's
// order, in the JSON output, the text output and the --report file, whose
// items stay with their own target even past the items the output keeps.
func TestRunParallelTargets(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{Platform: ghfake.GHES})
	var hooks []int64
	var want []string
	// Sizes differ so the targets end out of order; two have more failed
	// events than a report lists, so their items go through the spool.
	for i, n := range []int{3, 1005, 1, 40, 0, 1003, 7, 120} {
		h := w.srv.AddOrgHook("acme", ghfake.HookConfig{URL: downURL, Secret: "s"})
		hooks = append(hooks, h)
		if n > 0 {
			want = append(want, w.failed(h, fmt.Sprintf("p%d", i), n, w.ago(time.Hour), time.Second)...)
		}
	}
	hooks = append(hooks, w.orgHook) // nothing failed there
	slices.Reverse(hooks[:4])        // the config's order is not the hooks' ids
	config := parallelConfig(t, w, "parallel.yaml", hooks)
	report := filepath.Join(w.dir, "report.json")
	r := w.run("run", "--config", config, "--rate", "0", "--parallel", "4", "--no-probe", "--output", "json", "--report", report)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), want)

	var keys []string
	for _, h := range hooks {
		keys = append(keys, fmt.Sprintf("org/acme/hooks/%d", h))
	}
	res := decodeResult(t, r.stdout)
	if res.Totals.Redelivered != len(want) || res.Totals.Targets != len(hooks) {
		t.Errorf("totals %+v, want %d targets and %d redelivered", res.Totals, len(hooks), len(want))
	}
	var got []string
	for _, tg := range res.Targets {
		got = append(got, tg.Target)
	}
	if !slices.Equal(got, keys) {
		t.Errorf("targets in the output %v, want the config's order %v", got, keys)
	}

	// The report file: every item, each under its own target.
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var file runResult
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("the report is not JSON: %v", err)
	}
	items := 0
	for i, tg := range file.Targets {
		if tg.Target != keys[i] {
			t.Errorf("report target %d is %s, want %s", i, tg.Target, keys[i])
		}
		if tg.ItemsOmitted != 0 {
			t.Errorf("%s: %d items omitted in the report file", tg.Target, tg.ItemsOmitted)
		}
		prefix := ""
		for _, it := range tg.Items {
			p, _, _ := strings.Cut(it.GUID, "-")
			if prefix == "" {
				prefix = p
			}
			if p != prefix {
				t.Fatalf("%s: items of two targets mixed: %s and %s", tg.Target, prefix, it.GUID)
			}
			items++
		}
	}
	if items != len(want) {
		t.Errorf("%d items in the report file, want %d", items, len(want))
	}

	// The next run has nothing to redeliver; its text lists the targets
	// in the config's order.
	w.clock.Advance(time.Minute)
	r = w.run("run", "--config", config, "--rate", "0", "--parallel", "3", "--no-probe")
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), want)
	at := -1
	for _, k := range keys {
		i := strings.Index(r.stdout, k)
		if i < at {
			t.Fatalf("the text lists %s out of the config's order:\n%s", k, r.stdout)
		}
		at = i
	}
}

// TestRunParallelAuthStops: a credential GitHub refuses while several
// targets are worked on at once stops the run: no target is begun after
// it, the run exits 3, and what was redelivered was redelivered once.
func TestRunParallelAuthStops(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{Platform: ghfake.GHES})
	// The repository hook's first page answers (the run's first look); its
	// second is refused as a revoked token would be.
	old := make([]ghfake.Seed, 150)
	for i := range old {
		old[i] = ghfake.Seed{GUID: fmt.Sprintf("ok-%04d", i), Event: "push", At: w.ago(time.Hour + time.Duration(i)*time.Second), StatusCode: 200}
	}
	w.seed(w.repoHook, old...)
	w.srv.AddFault(ghfake.Fault{Route: repoListRoute, Kind: ghfake.FaultStatus, Status: 401, After: 1})
	targets := fmt.Sprintf("api_url: %s\nstate: %s\ntargets:\n  - repo: acme/api\n    hook: %d\n", w.api, w.state, w.repoHook)
	var keys []string
	for i := range 24 {
		h := w.srv.AddOrgHook("acme", ghfake.HookConfig{URL: downURL, Secret: "s"})
		w.failed(h, fmt.Sprintf("a%d", i), 30, w.ago(time.Hour), time.Second)
		targets += fmt.Sprintf("  - org: acme\n    hook: %d\n", h)
		keys = append(keys, fmt.Sprintf("org/acme/hooks/%d", h))
	}
	config := writeFile(t, w.dir, "auth.yaml", []byte(targets), 0o644)
	r := w.run("run", "--config", config, "--rate", "0", "--parallel", "2", "--no-probe", "--output", "json")
	wantCode(t, r, exitAuth)
	res := decodeResult(t, r.stdout)
	if len(res.Targets) == 0 || res.Targets[0].ErrorCode != redeliver.EAuth {
		t.Fatalf("want the repository hook first, refused:\n%s", r)
	}
	var got []string
	for _, tg := range res.Targets[1:] {
		got = append(got, tg.Target)
	}
	if len(got) >= len(keys) || !slices.Equal(got, keys[:len(got)]) {
		t.Errorf("targets reported %v: want fewer than all %d, in the config's order", got, len(keys))
	}
	for g, n := range w.redeliveries() {
		if n != 1 {
			t.Errorf("%s redelivered %d times", g, n)
		}
	}
}

// TestRunParallelTimeout: --timeout over several targets at once leaves
// what is not done for the next run, reported as such (exit 4), and the
// next run does it, never twice. The targets share one pace.
func TestRunParallelTimeout(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	var hooks []int64
	var want []string
	for i := range 3 {
		h := w.srv.AddOrgHook("acme", ghfake.HookConfig{URL: downURL, Secret: "s"})
		hooks = append(hooks, h)
		want = append(want, w.failed(h, fmt.Sprintf("t%d", i), 3, w.ago(time.Hour), time.Minute)...)
	}
	config := parallelConfig(t, w, "timeout.yaml", hooks)
	flags := []string{"run", "--config", config, "--parallel", "3", "--no-probe"}
	// One a second, shared, for 2 seconds: the third would be late.
	r := w.run(append(flags, "--rate", "1", "--timeout", "2s", "--output", "json")...)
	wantCode(t, r, exitIncomplete)
	res := decodeResult(t, r.stdout)
	if sent := len(w.srv.Redeliveries()); sent != 2 || res.Totals.Redelivered != 2 || res.Totals.Deferred != 7 {
		t.Errorf("--timeout 2s at 1/s over 3 targets: %d sent, totals %+v; want 2 redelivered and 7 deferred", sent, res.Totals)
	}
	if len(res.Targets) != 3 {
		t.Fatalf("%d targets reported, want 3", len(res.Targets))
	}
	w.clock.Advance(16 * time.Minute)
	wantCode(t, w.run(append(flags, "--rate", "0")...), 0)
	wantRedeliveredOnce(t, w.redeliveries(), want)
}

// TestRunParallelBeginsBiggestFirst: side by side, the targets whose first
// pages show the most deliveries begin first, whatever the config's order,
// so that a config's largest hook is not left to last.
func TestRunParallelBeginsBiggestFirst(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{Platform: ghfake.GHES})
	sizes := map[int64]string{}
	var hooks []int64
	// In the config's order: small and one-page hooks first, the biggest
	// (the densest first page) last.
	for i, c := range []struct {
		n    int
		step time.Duration
		name string
	}{{5, time.Minute, "tiny"}, {150, time.Minute, "sparse"}, {60, time.Second, "one page"}, {150, 10 * time.Second, "medium"}, {250, time.Second, "biggest"}} {
		h := w.srv.AddOrgHook("acme", ghfake.HookConfig{URL: downURL, Secret: "s"})
		hooks = append(hooks, h)
		sizes[h] = c.name
		w.failed(h, fmt.Sprintf("b%d", i), c.n, w.ago(time.Hour), c.step)
	}
	config := parallelConfig(t, w, "biggest.yaml", hooks)
	w.srv.ResetCounters()
	r := w.run("run", "--config", config, "--rate", "0", "--parallel", "2", "--no-probe")
	wantCode(t, r, 0)
	// The first page of every hook was read before any began; the pages
	// after it show the order in which the Runners began.
	var began []string
	for _, l := range w.srv.RequestLog() {
		if l.Method != "GET" || !strings.Contains(l.Query, "cursor=") {
			continue
		}
		var h int64
		if _, err := fmt.Sscanf(l.Path[strings.Index(l.Path, "/hooks/")+len("/hooks/"):], "%d", &h); err != nil {
			t.Fatalf("path %s: %v", l.Path, err)
		}
		if name := sizes[h]; !slices.Contains(began, name) {
			began = append(began, name)
		}
	}
	if len(began) < 2 || !slices.Contains(began[:2], "biggest") || !slices.Contains(began[:2], "medium") {
		t.Fatalf("hooks in the order they went past their first page: %v; want the biggest and the medium one first", began)
	}
}
