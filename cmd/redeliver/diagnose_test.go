package main

// What a user sees when something outside the tool is wrong: an API URL
// nothing answers at, credentials without the scope, a rate limit that
// outlasts the run, a wrong org, a URL carrying a token.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// TestUnreachableAPI: an API URL where nothing listens fails at once with
// exit 1, names the host and the flag, blames neither the token nor
// anything else, and leaves nothing behind; with --output json the report
// is printed all the same.
func TestUnreachableAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	state := filepath.Join(w.dir, "s", "state.db")
	for _, output := range []string{"text", "json"} {
		r := w.run("run", "--api-url", "http://127.0.0.1:1", "--org", "acme", "--hook", "1", "--state", state, "--output", output)
		wantCode(t, r, 1)
		if !strings.Contains(r.stderr, "cannot reach GitHub at 127.0.0.1:1") || !strings.Contains(r.stderr, "--api-url") {
			t.Errorf("want the host and --api-url named:\n%s", r)
		}
		if i := strings.Index(r.stderr, "redeliver:"); i < 0 || strings.Contains(strings.ToLower(r.stderr[i:]), "token") {
			t.Errorf("a network error blamed on the token:\n%s", r)
		}
		if n := strings.Count(r.stderr, "retrying"); n > 1 {
			t.Errorf("%d retries of a refused connection; want at most 1:\n%s", n, r)
		}
		if exists(filepath.Dir(state)) {
			t.Errorf("a state directory was created")
		}
		if output == "json" {
			res := decodeResult(t, r.stdout)
			if res.ExitCode != 1 || res.ErrorCode != "internal" || !strings.Contains(res.Error, "cannot reach") {
				t.Errorf("report: exit_code %d error_code %q error %q", res.ExitCode, res.ErrorCode, res.Error)
			}
		}
	}
}

// TestBadTokenJSONReport: a token GitHub refuses still gets its JSON
// report, with exit_code 3 and error_code auth.
func TestBadTokenJSONReport(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	env := w.env("GH_TOKEN", "ghp_WRONGwrongWRONG0123456789abcdefABCDEF")
	r := runIn(t, env, w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--output", "json")...)
	wantCode(t, r, 3)
	res := decodeResult(t, r.stdout)
	if res.ExitCode != 3 || res.ErrorCode != "auth" || res.Error == "" || res.APIURL == "" {
		t.Errorf("report: %+v", res)
	}
	if exists(w.state) {
		t.Errorf("a state file was created")
	}
}

// TestInvalidInputJSONReport: with --output json even a refused flag gets
// its report (exit_code 2, error_code invalid) and nothing else is written.
func TestInvalidInputJSONReport(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	report := filepath.Join(w.dir, "report.json")
	for _, args := range [][]string{{"--rate", "NaN"}, {"--events", "pushh"}} {
		r := w.run(w.args("run", append([]string{"--org", "acme", "--hook", "1", "--output", "json", "--report", report}, args...)...)...)
		wantCode(t, r, 2)
		if res := decodeResult(t, r.stdout); res.ExitCode != 2 || res.ErrorCode != "invalid" || !strings.Contains(res.Error, args[0]) {
			t.Errorf("%v: report %+v", args, res)
		}
		if exists(report) || exists(w.state) || w.srv.TotalRequests() != 0 {
			t.Errorf("%v: something was written or sent", args)
		}
	}
}

// TestMissingScope: GitHub hides a hook from a classic token without the
// hook scope behind a 404, but says in its headers which scope it wanted:
// exit 3, naming the scope wanted and the scopes the token has.
func TestMissingScope(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	const readOnly = "ghp_READONLYreadonly0123456789abcdefABCDEF"
	w.srv.AddToken(ghfake.Token{Value: readOnly, Scopes: []string{"read:org"}, All: true})
	w.failed(w.orgHook, "f", 2, w.ago(time.Hour), time.Minute)
	r := runIn(t, w.env("GH_TOKEN", readOnly), w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))...)
	wantCode(t, r, 3)
	if !strings.Contains(r.stdout+r.stderr, "admin:org_hook") || !strings.Contains(r.stdout+r.stderr, "read:org") {
		t.Errorf("want the missing scope and the token's scopes named:\n%s", r)
	}
	if len(w.srv.Redeliveries()) != 0 || exists(w.state) {
		t.Errorf("something was redelivered or written")
	}
}

// TestSecondaryLimitIsNoAuthProblem: a 403 secondary rate limit that lasts
// past the run's --timeout (here without a retry-after, as GitHub sometimes
// answers) leaves the work for the next run: exit 4, never 3.
func TestSecondaryLimitIsNoAuthProblem(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 2, w.ago(time.Hour), time.Minute)
	w.srv.AddFault(ghfake.Fault{Route: orgListRoute, Kind: ghfake.FaultSecondaryLimit, Status: 403, RetryAfter: -1})
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--timeout", "2s", "--output", "json")...)
	if r.code == 3 {
		t.Fatalf("a secondary rate limit exited 3 (credentials):\n%s", r)
	}
	wantCode(t, r, exitIncomplete)
	if rep := decodeResult(t, r.stdout).Targets[0]; rep.ErrorCode != "rate_limited" {
		t.Errorf("error_code %q, want rate_limited", rep.ErrorCode)
	}
}

// TestPrimaryLimitDefersWork: a primary rate limit on the redeliveries
// that resets after --timeout leaves them for the next run: exit 4.
func TestPrimaryLimitDefersWork(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 3, w.ago(time.Hour), time.Minute)
	w.srv.AddFault(ghfake.Fault{Route: orgPostRoute, Kind: ghfake.FaultPrimaryLimit, RetryAfter: 3600})
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--timeout", "30s", "--output", "json")...)
	wantCode(t, r, exitIncomplete)
	if res := decodeResult(t, r.stdout); res.Totals.Deferred != 3 || res.ExitCode != exitIncomplete {
		t.Errorf("deferred %d exit_code %d; want 3 and 4", res.Totals.Deferred, res.ExitCode)
	}
}

// TestWrongOrgLeavesNothing: an org or hook id the token cannot see is
// found before a new state is made: exit 1, no state file, no lock.
func TestWrongOrgLeavesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	for _, args := range [][]string{
		{"--org", "acmee", "--hook", "1"},
		{"--org", "acme", "--hook", "12345"},
		{"--repo", "acme/nope", "--hook", "1"},
	} {
		dir := t.TempDir()
		state := filepath.Join(dir, "state.db")
		r := w.run(append([]string{"run", "--api-url", w.api, "--state", state}, args...)...)
		wantCode(t, r, 1)
		if !strings.Contains(r.stdout, args[1]) {
			t.Errorf("%v: want the target named:\n%s", args, r)
		}
		if es := dirEntries(t, dir); len(es) != 0 {
			t.Errorf("%v: left %v", args, es)
		}
	}
}

// TestURLSecretsRedacted: a token in a URL's query or fragment is never
// shown, wherever the URL is quoted.
func TestURLSecretsRedacted(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	const secret = "ghp_SECRETTOKinAURL0123456789abcdefABCDEF"
	for _, args := range [][]string{
		{"--api-url", "https://ghe.example.com/api/v3?access_token=" + secret},
		{"--api-url", "https://ghe.example.com/api/v3#" + secret},
		{"--api-url", "http://ghe.example.com/api/v3/?token=" + secret},
		{"--hostname", "ghe.example.com?access_token=" + secret},
		{"--hook-url", "https://ci.example.com/hook?secret=" + secret, "--dry-run"},
	} {
		r := w.run(append([]string{"run", "--org", "acme", "--state", w.state}, args...)...)
		if strings.Contains(r.stdout+r.stderr, secret) || strings.Contains(r.stdout+r.stderr, "SECRETTOK") {
			t.Errorf("%v: the secret is shown:\n%s", args, r)
		}
		if r.code == 0 {
			t.Errorf("%v: accepted:\n%s", args, r)
		}
	}
}

// TestActionsStateErrorsMappedAlike: the Actions-variable state's API
// errors read like every other call's: a token without the scope the
// variables need is exit 3 naming the scope.
func TestActionsStateErrorsMappedAlike(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	const hooksOnly = "ghp_HOOKSONLYhooksonly0123456789abcdefABCD"
	w.srv.AddToken(ghfake.Token{Value: hooksOnly, Scopes: []string{"admin:org_hook"}, All: true})
	r := runIn(t, w.env("GH_TOKEN", hooksOnly), "run", "--api-url", w.api, "--rate", "0",
		"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--state", "actions:acme/ops/CP")
	wantCode(t, r, 3)
	if !strings.Contains(r.stderr, "actionsvar:") || !strings.Contains(r.stderr, "lacks the scope") || !strings.Contains(r.stderr, "admin:org_hook") {
		t.Errorf("want the variables call named with the missing scope:\n%s", r)
	}
}
