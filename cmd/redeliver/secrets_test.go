package main

// Secrets: the token and the App's private key never appear in anything the
// tool writes.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// TestSecretsNeverLeak runs the main scenarios — org, repo and App hooks,
// the docs environment with the key as PEM text, verbose logging, retries
// and rate limits, refused and unknown targets, deliveries and status, and
// the binary itself — with a recognisable token and private key, and then
// searches every byte the tool wrote: stdout, stderr, JSON reports, the job
// summary, the metrics, the SQLite state (and its sidecars) and the Actions
// variables. Neither the token nor any line of the key may appear.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	for _, h := range []int64{w.orgHook, w.repoHook, w.appHook} {
		w.failed(h, "s", 3, w.ago(time.Hour), time.Minute)
	}
	w.srv.AddFault(ghfake.Fault{Route: orgListRoute, Kind: ghfake.FaultStatus, Status: 502, Times: 1})
	w.srv.AddFault(ghfake.Fault{Route: orgPostRoute, Kind: ghfake.FaultSecondaryLimit, RetryAfter: 1, Times: 1})
	tokenFile := writeFile(t, w.dir, "token", []byte(testToken+"\n"), 0o600)
	summary := filepath.Join(w.dir, "summary.md")
	actions := []string{"GITHUB_ACTIONS", "true", "GITHUB_STEP_SUMMARY", summary}
	var outputs strings.Builder
	collect := func(r result) { outputs.WriteString(r.stdout + r.stderr) }
	file := func(name string) string { return filepath.Join(w.dir, name) }

	runs := []struct {
		env  map[string]string
		args []string
	}{
		{w.env(actions...), w.args("run", "-v", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--report", file("r1.json"), "--metrics-file", file("m.prom"))},
		{w.env(actions...), w.args("run", "-v", "--repo", "acme/api", "--hook", fmt.Sprint(w.repoHook), "--output", "json", "--report", file("r2.json"))},
		{w.env("GH_TOKEN", "", "GITHUB_TOKEN", testToken), w.args("run", "-v", "--app", "--app-id", fmt.Sprint(appID), "--private-key-file", w.keyFile, "--report", file("r3.json"))},
		{w.env("GH_TOKEN", ""), w.args("run", "-v", "--token-file", tokenFile, "--org", "acme")},
		// Targets GitHub refuses with these credentials: not found, and a
		// hook the App's installations do not reach.
		{w.env(), w.args("run", "-v", "--org", "acme", "--hook", "999", "--report", file("r4.json"))},
		{w.env("GH_TOKEN", ""), w.args("run", "-v", "--app-id", fmt.Sprint(appID), "--private-key-file", w.keyFile, "--repo", "other/repo", "--hook", "1")},
		{w.env(), []string{"deliveries", "--api-url", w.api, "--state", w.state, "--org", "acme", "--hook", fmt.Sprint(w.orgHook)}},
		{w.env(), []string{"status", "--state", w.state}},
		{w.env(), w.args("run", "--dry-run", "-v", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))},
	}
	for _, rn := range runs {
		collect(runIn(t, rn.env, rn.args...))
	}
	// The docs environment: TOKEN and the key as PEM text, state in
	// variables.
	docs := w.docsEnv(append([]string{"ORGANIZATION_NAME", "", "HOOK_ID", "", "APP_ID", fmt.Sprint(appID), "PRIVATE_KEY", string(pemPKCS1(appKey()))}, actions...)...)
	collect(runIn(t, docs, "run", "-v", "--rate", "0"))
	collect(runIn(t, docs, "status"))
	// And the binary, verbose, in a process of its own.
	w.clock.Advance(2 * time.Hour)
	collect(runBin(t, w.env(), w.args("run", "-v", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))...))

	noSecrets(t, "stdout and stderr", outputs.String())
	if !strings.Contains(outputs.String(), "level=") {
		t.Errorf("the verbose runs logged nothing; the test would prove little")
	}
	entries := dirEntries(t, w.dir)
	var searched []string
	for _, name := range entries {
		if name == "token" || name == "app.pem" {
			continue // the user's own secret files
		}
		b, err := os.ReadFile(file(name))
		if err != nil {
			continue // a directory
		}
		noSecrets(t, name, string(b))
		searched = append(searched, name)
	}
	for _, want := range []string{"r1.json", "r2.json", "r3.json", "r4.json", "summary.md", "m.prom", "state.db"} {
		if !strings.Contains(strings.Join(searched, " "), want) {
			t.Errorf("%s was not written; searched %v", want, searched)
		}
	}
	for _, name := range []string{"LAST_REDELIVERY", "LAST_REDELIVERY_LEDGER"} {
		v, ok := w.srv.Variable("acme", "ops", name)
		if !ok {
			t.Errorf("variable %s was not written", name)
		}
		noSecrets(t, "variable "+name, v)
	}
}
