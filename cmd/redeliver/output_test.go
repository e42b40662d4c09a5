package main

// What the user sees: the text summary, the JSON report (stdout and
// --report), GitHub Actions' job summary and annotations, and Prometheus
// metrics.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/redeliver/redeliver/ghfake"
)

// TestOutputText: the text report ends with the docs script's own summary
// line, naming the start of the window examined (not the current date, as
// the script does), and says per target what happened.
func TestOutputText(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "t", 3, w.ago(time.Hour), time.Minute)
	w.seed(w.orgHook, ghfake.Seed{GUID: "ok", At: w.ago(time.Minute), StatusCode: 200})
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))...)
	wantCode(t, r, 0)
	since := w.ago(24 * time.Hour).Format("2006-01-02 15:04:05 UTC")
	want := []string{
		fmt.Sprintf("org acme hook %d: redelivered 3 of 3 failed events (4 attempts listed since %s)", w.orgHook, since),
		fmt.Sprintf("Redelivered 3 failed webhook deliveries out of 4 total deliveries since %s.", since),
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if !slices.Equal(lines, want) {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, strings.Join(want, "\n"))
	}
}

// TestOutputJSON: --output json is one JSON document with the report's
// documented fields; attempt ids above 2^53 come out exact; --report writes
// the same report to a file, whatever the output format.
func TestOutputJSON(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	ids := w.seed(w.orgHook,
		ghfake.Seed{GUID: "f", Event: "issues", Action: "opened", At: w.ago(time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "old", Event: "push", At: w.ago(4 * 24 * time.Hour), StatusCode: 500},
	)
	if ids[0] < 1<<53 {
		t.Fatalf("the emulator's ids (%d) are not above 2^53; this test wants them to be", ids[0])
	}
	report := filepath.Join(w.dir, "report.json")
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--since", "5d", "--output", "json", "--report", report)...)
	wantCode(t, r, 0)

	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON document")
	}
	wantKeys(t, "report", doc, "version", "dry_run", "api_url", "state", "targets", "totals", "exit_code")
	if doc["version"] != json.Number("1") || doc["exit_code"] != json.Number("0") || doc["dry_run"] != false ||
		doc["api_url"] != w.srv.URL()+"/" || doc["state"] != w.state {
		t.Errorf("report header: %v", doc)
	}
	wantKeys(t, "totals", doc["totals"].(map[string]any), "targets", "attempts", "failed", "redelivered", "waiting",
		"pending", "deferred", "recovered", "exhausted", "expired", "errors")
	targets := doc["targets"].([]any)
	if len(targets) != 1 {
		t.Fatalf("targets: %v", targets)
	}
	tg := targets[0].(map[string]any)
	wantKeys(t, "target", tg, "target", "name", "from", "to", "complete", "uncovered", "pages", "attempts", "events",
		"failed", "redelivered", "waiting", "pending", "deferred", "recovered", "exhausted", "expired", "filtered",
		"errors", "items")
	if tg["target"] != fmt.Sprintf("org/acme/hooks/%d", w.orgHook) || tg["name"] != fmt.Sprintf("org acme hook %d", w.orgHook) {
		t.Errorf("target names: %v %v", tg["target"], tg["name"])
	}
	if tg["from"] != w.ago(5*24*time.Hour).Format(time.RFC3339) || tg["to"] != w.now().Format(time.RFC3339) {
		t.Errorf("window %v – %v, want %s – %s", tg["from"], tg["to"], w.ago(5*24*time.Hour).Format(time.RFC3339), w.now().Format(time.RFC3339))
	}
	items := map[string]map[string]any{}
	for _, it := range tg["items"].([]any) {
		m := it.(map[string]any)
		wantKeys(t, "item", m, "guid", "event", "attempt_id", "verdict", "redeliveries", "first_seen")
		items[m["guid"].(string)] = m
	}
	if f := items["f"]; f == nil || f["verdict"] != "redeliver" || f["event"] != "issues" || f["action"] != "opened" ||
		f["attempt_id"] != json.Number(fmt.Sprint(ids[0])) || f["redeliveries"] != json.Number("1") {
		t.Errorf("item f: %v (want attempt_id %d exactly)", f, ids[0])
	}
	if o := items["old"]; o == nil || o["verdict"] != "expired" {
		t.Errorf("item old: %v", o)
	}

	file, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(file), bytes.TrimSpace([]byte(r.stdout))) {
		t.Errorf("--report differs from --output json:\n%s\n---\n%s", file, r.stdout)
	}

	// With text output the report file is written too.
	w.clock.Advance(2 * time.Hour)
	report2 := filepath.Join(w.dir, "report2.json")
	r = w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--report", report2)...)
	wantCode(t, r, 0)
	if res := decodeResultFile(t, report2); res.Totals.Redelivered != 1 || res.ExitCode != 0 {
		t.Errorf("report2: %+v", res.Totals)
	}
}

func decodeResultFile(t *testing.T, path string) runResult {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, path, string(b))
	return decodeResult(t, string(b))
}

func wantKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: no %q field (have %v)", what, k, slices.Sorted(func(yield func(string) bool) {
				for k := range m {
					if !yield(k) {
						return
					}
				}
			}))
		}
	}
}

// TestOutputGitHubActions: in Actions the run appends a Markdown table to
// the job summary and writes a ::warning:: annotation per exhausted or
// expired event. Strings from the API — here a guid with a line break and a
// workflow command in it, and an event name with %0A — are escaped, so they
// can neither start a workflow command of their own nor break the table.
func TestOutputGitHubActions(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	const evilGUID = "evil\n::error::injected-by-guid"
	const evilEvent = "push%0A::error::injected-by-event"
	w.seed(w.orgHook,
		ghfake.Seed{GUID: evilGUID, Event: evilEvent, At: w.ago(4 * 24 * time.Hour), StatusCode: 500}, // expired
		ghfake.Seed{GUID: "tired|row", Event: "issues", Action: "opened", At: w.ago(time.Hour), StatusCode: 500},
	)
	summary := writeFile(t, w.dir, "summary.md", []byte("# earlier step\n"), 0o644)
	env := w.env("GITHUB_ACTIONS", "true", "GITHUB_STEP_SUMMARY", summary)
	flags := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--since", "5d", "--max-attempts", "1")

	r := runIn(t, env, flags...)
	wantCode(t, r, 0)
	w.clock.Advance(6 * time.Hour)
	r2 := runIn(t, env, flags...) // tired|row is exhausted now
	wantCode(t, r2, 0)

	for _, out := range []string{r.stdout, r2.stdout} {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "::") && !strings.HasPrefix(line, "::warning title=redeliver") {
				t.Errorf("a workflow command the tool did not mean to write: %q", line)
			}
		}
	}
	var warnings []string
	for _, line := range strings.Split(r.stdout+r2.stdout, "\n") {
		if strings.HasPrefix(line, "::warning ") {
			warnings = append(warnings, line)
		}
	}
	wantWarning := func(sub string) {
		t.Helper()
		for _, l := range warnings {
			if strings.Contains(l, sub) {
				return
			}
		}
		t.Errorf("no ::warning line with %q in %q", sub, warnings)
	}
	wantWarning("::warning title=redeliver%3A expired::org acme hook " + fmt.Sprint(w.orgHook) + ": event evil%0A::error::injected-by-guid (push%250A::error::injected-by-event) is past GitHub's redelivery horizon")
	wantWarning("::warning title=redeliver%3A exhausted::org acme hook " + fmt.Sprint(w.orgHook) + ": event tired|row (issues.opened) still fails after 1 redeliveries")
	wantWarning("::warning title=redeliver%3A not covered::")

	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	if !strings.HasPrefix(md, "# earlier step\n### Webhook redelivery\n") || strings.Count(md, "### Webhook redelivery\n") != 2 {
		t.Errorf("want two tables appended after the earlier step's text:\n%s", md)
	}
	row := fmt.Sprintf("| org acme hook %d | 2 | 2 | 1 | 0 | 0 | 0 | 0 | 1 | 0 |", w.orgHook)
	if !strings.Contains(md, "| target | attempts | failed | redelivered | waiting | pending | recovered | exhausted | expired | errors |\n|---|") ||
		!strings.Contains(md, row) {
		t.Errorf("want the table with row %q:\n%s", row, md)
	}
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "::") || strings.HasPrefix(line, "|") && strings.Count(line, "|") != 11 && !strings.HasPrefix(line, "|---") {
			t.Errorf("summary line broken by API text: %q", line)
		}
	}
	if !strings.Contains(md, "`tired\\|row` exhausted") {
		t.Errorf("want the exhausted guid listed, its | escaped:\n%s", md)
	}
	noSecrets(t, "the job summary", md)
}

// TestOutputMetrics: --metrics-file writes the run's figures in Prometheus
// text format, per target.
func TestOutputMetrics(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "m", 2, w.ago(time.Hour), time.Minute)
	w.seed(w.orgHook, ghfake.Seed{GUID: "ok", At: w.ago(time.Minute), StatusCode: 200})
	path := filepath.Join(w.dir, "redeliver.prom")
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--metrics-file", path)...)
	wantCode(t, r, 0)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("not Prometheus text: %v", err)
	}
	key := fmt.Sprintf("org/acme/hooks/%d", w.orgHook)
	want := map[string]float64{
		"redeliver_attempts_listed": 3, "redeliver_failed_events": 2, "redeliver_redelivered": 2,
		"redeliver_waiting_events": 0, "redeliver_pending_events": 0, "redeliver_exhausted_events": 0,
		"redeliver_expired_events": 0, "redeliver_errors": 0, "redeliver_listing_complete": 1,
	}
	for name, v := range want {
		fam := fams[name]
		if fam == nil || len(fam.Metric) != 1 {
			t.Errorf("%s: missing or not one series: %v", name, fam)
			continue
		}
		m := fam.Metric[0]
		if len(m.Label) != 1 || m.Label[0].GetName() != "target" || m.Label[0].GetValue() != key || m.GetGauge().GetValue() != v {
			t.Errorf("%s = %v, want %v{target=%q}", name, m, v, key)
		}
	}
	if fam := fams["redeliver_last_run_exit_code"]; fam == nil || fam.Metric[0].GetGauge().GetValue() != 0 {
		t.Errorf("redeliver_last_run_exit_code: %v", fam)
	}
	if fam := fams["redeliver_last_run_timestamp_seconds"]; fam == nil || fam.Metric[0].GetGauge().GetValue() < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("redeliver_last_run_timestamp_seconds: %v", fam)
	}
}
