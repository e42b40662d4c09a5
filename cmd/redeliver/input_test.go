package main

// Bad input: exit code 2, a message naming the input, and nothing asked of
// GitHub or written anywhere.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"

	_ "modernc.org/sqlite" // to make a state file from a newer version
)

// TestBadInput: every kind of bad flag, environment, key, config file or
// state is refused with exit 2 before any request to GitHub, with a message
// that names what is wrong, and no state file is created.
func TestBadInput(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 1, w.ago(time.Hour), 0)
	hook := fmt.Sprint(w.orgHook)
	org := []string{"--org", "acme", "--hook", hook}

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := writeFile(t, w.dir, "ec.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	garbageKey := writeFile(t, w.dir, "garbage.pem", []byte("not a key\n"), 0o600)
	badYAML := writeFile(t, w.dir, "bad.yaml", []byte("targets: [\n  - org: acme\n"), 0o644)
	unknownKey := writeFile(t, w.dir, "unknown.yaml", []byte("targets:\n  - org: acme\n    hook: 1\n    max_atempts: 3\n"), 0o644)
	noTargets := writeFile(t, w.dir, "empty-targets.yaml", []byte("defaults:\n  max_attempts: 3\n"), 0o644)
	badEvents := writeFile(t, w.dir, "events.yaml", []byte("targets:\n  - org: acme\n    hook: 1\n    events: [pussh]\n"), 0o644)
	hookTypo := writeFile(t, w.dir, "hook-typo.yaml", []byte("targets:\n  - org: acme\n    hook: \"20000l\"\n"), 0o644)

	cases := []struct {
		name string
		env  []string // changes to w.env() (or w.docsEnv() when docs)
		docs bool
		args []string // after "run" and the world's connection flags
		want string   // in the message
	}{
		{"HOOK_ID not a number", []string{"HOOK_ID", "abc"}, true, nil, `HOOK_ID="abc": a hook id is a positive integer`},
		{"HOOK_ID without where", []string{"ORGANIZATION_NAME", ""}, true, nil, "HOOK_ID is set but neither ORGANIZATION_NAME nor REPO_OWNER/REPO_NAME"},
		{"docs env without HOOK_ID", []string{"HOOK_ID", ""}, true, nil, "HOOK_ID is not set"},
		{"org and repo owner", []string{"REPO_OWNER", "acme", "REPO_NAME", "api"}, true, nil, "ORGANIZATION_NAME and REPO_OWNER/REPO_NAME are both set"},
		{"REPO_OWNER alone", []string{"ORGANIZATION_NAME", "", "REPO_OWNER", "acme"}, true, nil, "REPO_OWNER and REPO_NAME go together"},
		{"bad variable name", []string{"LAST_REDELIVERY_VARIABLE_NAME", "GITHUB_X"}, true, nil, `LAST_REDELIVERY_VARIABLE_NAME: variable name "GITHUB_X"`},
		{"variable without repo", []string{"WORKFLOW_REPO_OWNER", "", "WORKFLOW_REPO_NAME", ""}, true, nil, "WORKFLOW_REPO_OWNER and WORKFLOW_REPO_NAME"},
		{"no target", nil, false, nil, "no target: give --org, --repo, --app or --config"},
		{"hook without org", nil, false, []string{"--hook", hook}, "--hook and --hook-url need --org or --repo"},
		{"org and repo", nil, false, []string{"--org", "acme", "--repo", "acme/api"}, "give one of --org, --repo or --app"},
		{"bad org", nil, false, []string{"--org", "ac me", "--hook", hook}, `--org "ac me": not an organization name`},
		{"bad repo", nil, false, []string{"--repo", "acme", "--hook", hook}, `--repo "acme": want OWNER/REPO`},
		{"hook not a number", nil, false, []string{"--org", "acme", "--hook", "12x"}, `--hook="12x"`},
		{"hook and hook-url", nil, false, []string{"--org", "acme", "--hook", hook, "--hook-url", "https://x.example/h"}, "give --hook or --hook-url, not both"},
		{"no credentials", []string{"GH_TOKEN", ""}, false, org, "no credentials for org acme"},
		{"token with a line break", []string{"GH_TOKEN", "ghp_a\nb"}, false, org, "GH_TOKEN: the token must not contain spaces or line breaks"},
		{"missing token file", nil, false, append([]string{"--token-file", filepath.Join(w.dir, "nope")}, org...), "--token-file " + filepath.Join(w.dir, "nope") + ": no such file or directory"},
		{"missing private key file", []string{"GH_TOKEN", ""}, false, []string{"--app", "--app-id", fmt.Sprint(appID), "--private-key-file", filepath.Join(w.dir, "missing.pem")}, "--private-key-file " + filepath.Join(w.dir, "missing.pem") + ": no such file or directory"},
		{"private key file is a directory", []string{"GH_TOKEN", ""}, false, []string{"--app", "--app-id", fmt.Sprint(appID), "--private-key-file", w.dir}, "--private-key-file " + w.dir},
		{"non-RSA key", []string{"GH_TOKEN", ""}, false, []string{"--app", "--app-id", fmt.Sprint(appID), "--private-key-file", ecPEM}, "--private-key-file " + ecPEM + ": not an RSA key"},
		{"not a key", []string{"GH_TOKEN", ""}, false, []string{"--app", "--app-id", fmt.Sprint(appID), "--private-key-file", garbageKey}, "no PEM block found"},
		{"key without app id", []string{"GH_TOKEN", ""}, false, []string{"--app", "--private-key-file", w.keyFile}, "no App id"},
		{"app id not a number", []string{"GH_TOKEN", ""}, false, []string{"--app", "--app-id", "x1", "--private-key-file", w.keyFile}, `--app-id="x1"`},
		{"app without credentials", nil, false, []string{"--app"}, "the App hook needs the App's credentials"},
		{"PRIVATE_KEY not RSA", []string{"GH_TOKEN", "", "APP_ID", "1", "PRIVATE_KEY", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}, false, []string{"--app"}, "PRIVATE_KEY: not a valid PKCS#8 key"},
		{"api-url scheme", nil, false, append([]string{"--api-url", "ftp://ghe.example.com/api/v3"}, org...), `--api-url="ftp://ghe.example.com/api/v3": scheme must be https`},
		{"api-url not a URL", nil, false, append([]string{"--api-url", "::not a url"}, org...), `--api-url="::not a url"`},
		{"api-url plain http", nil, false, append([]string{"--api-url", "http://ghe.example.com/api/v3"}, org...), "plain http is only allowed to a loopback host"},
		{"api-url with credentials", nil, false, append([]string{"--api-url", "https://u:p@ghe.example.com/api/v3"}, org...), "must not carry credentials"},
		{"GITHUB_API_URL bad", []string{"GITHUB_API_URL", "ghe.example.com"}, true, nil, `GITHUB_API_URL="ghe.example.com"`},
		{"missing CA file", nil, false, append([]string{"--ca-file", filepath.Join(w.dir, "ca.pem")}, org...), filepath.Join(w.dir, "ca.pem")},
		{"hostname with a path", nil, false, append([]string{"--hostname", "ghe.example.com/api"}, org...), `--hostname="ghe.example.com/api"`},
		{"unknown event", nil, false, append([]string{"--events", "pusj"}, org...), `--events: event "pusj": unknown webhook event "pusj"`},
		{"bad exclude event", nil, false, append([]string{"--exclude-events", "Push"}, org...), `--exclude-events: event "Push"`},
		{"bad YAML", nil, false, []string{"--config", badYAML}, "config " + badYAML + ":"},
		{"unknown config key", nil, false, []string{"--config", unknownKey}, "max_atempts"},
		{"config without targets", nil, false, []string{"--config", noTargets}, "config " + noTargets + ": no targets"},
		{"config event", nil, false, []string{"--config", badEvents}, "config " + badEvents + ": targets[0]: events"},
		{"missing config", nil, false, []string{"--config", filepath.Join(w.dir, "nope.yaml")}, "--config " + filepath.Join(w.dir, "nope.yaml") + ": no such file"},
		{"config and flags", nil, false, append([]string{"--config", badEvents}, org...), ""},
		{"config hook typo", nil, false, []string{"--config", hookTypo}, "config " + hookTypo + `: line 3: hook: "20000l" is not a whole number`},
		{"event typo", nil, false, append([]string{"--events", "pushh"}, org...), `--events: event "pushh": unknown webhook event "pushh"; did you mean "push"?`},
		{"action typo", nil, false, append([]string{"--events", "issues.opend"}, org...), `--events: event "issues.opend": GitHub sends no action "opend" with issues; did you mean "issues.opened"?`},
		{"no pace-scale knob in the product", nil, false, append([]string{"--pace-scale", "600"}, org...), "unknown flag: --pace-scale"},
		{"bad since", nil, false, append([]string{"--since", "yesterday"}, org...), `--since: "yesterday": want a duration like 36h or 2d`},
		{"negative since", nil, false, append([]string{"--since", "-3h"}, org...), `--since: "-3h"`},
		{"bad output", nil, false, append([]string{"--output", "xml"}, org...), `--output "xml": want text or json`},
		{"concurrency 0", nil, false, append([]string{"--concurrency", "0"}, org...), "--concurrency 0: want 1 to 100"},
		{"concurrency 101", nil, false, append([]string{"--concurrency", "101"}, org...), "--concurrency 101"},
		{"parallel 0", nil, false, append([]string{"--parallel", "0"}, org...), "--parallel 0: want 1 to 100"},
		{"parallel negative", nil, false, append([]string{"--parallel", "-3"}, org...), "--parallel -3: want 1 to 100"},
		{"parallel 101", nil, false, append([]string{"--parallel", "101"}, org...), "--parallel 101"},
		{"parallel not a number", nil, false, append([]string{"--parallel", "many"}, org...), `"many" for "--parallel"`},
		{"negative rate", nil, false, append([]string{"--rate", "-1"}, org...), "--rate -1: want a number"},
		{"NaN rate", nil, false, append([]string{"--rate", "NaN"}, org...), "--rate NaN: want a number"},
		{"infinite rate", nil, false, append([]string{"--rate", "+Inf"}, org...), "--rate +Inf: want a number"},
		{"negative per-minute", nil, false, append([]string{"--per-minute", "-1"}, org...), "--per-minute -1: must not be negative"},
		{"negative per-hour", nil, false, append([]string{"--per-hour", "-5"}, org...), "--per-hour -5: must not be negative"},
		{"per-hour not a number", nil, false, append([]string{"--per-hour", "lots"}, org...), "--per-hour"},
		{"max attempts", nil, false, append([]string{"--max-attempts", "101"}, org...), "--max-attempts: must be between 1 and 100"},
		{"retry base", nil, false, append([]string{"--retry-base", "0s"}, org...), `--retry-base "0s"`},
		{"negative max redeliveries", nil, false, append([]string{"--max-redeliveries", "-1"}, org...), "--max-redeliveries: must not be negative"},
		{"negative timeout", nil, false, append([]string{"--timeout", "-1s"}, org...), "--timeout -1s: must not be negative"},
		{"report dir missing", nil, false, append([]string{"--report", filepath.Join(w.dir, "no", "r.json")}, org...), "--report " + filepath.Join(w.dir, "no", "r.json") + ": its directory does not exist"},
		{"metrics dir missing", nil, false, append([]string{"--metrics-file", filepath.Join(w.dir, "no", "m.prom")}, org...), "--metrics-file"},
		{"bad actions state", nil, false, append([]string{"--state", "actions:acme/ops"}, org...), `--state "actions:acme/ops": want actions:OWNER/REPO/VARIABLE`},
		{"unknown flag", nil, false, append([]string{"--bogus"}, org...), "unknown flag: --bogus"},
		{"bad flag value", nil, false, append([]string{"--max-attempts", "many"}, org...), `invalid argument "many" for "--max-attempts"`},
		{"stray argument", nil, false, append([]string{"extra"}, org...), `unknown command "extra"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			state := filepath.Join(dir, "state", "state.db")
			env := w.env(c.env...)
			if c.docs {
				env = w.docsEnv(c.env...)
			}
			// The docs cases keep their state in the Actions variable.
			args := []string{"run"}
			if !c.docs {
				args = append(args, "--state", state)
			}
			if !c.docs && !slices.Contains(c.args, "--api-url") && !slices.Contains(c.args, "--hostname") {
				args = append(args, "--api-url", w.api)
			}
			before := w.srv.TotalRequests()
			r := runIn(t, env, append(args, c.args...)...)
			wantCode(t, r, 2)
			if r.stdout != "" {
				t.Errorf("want nothing on stdout:\n%s", r)
			}
			if !strings.Contains(r.stderr, c.want) {
				t.Errorf("want %q in the message:\n%s", c.want, r)
			}
			if n := w.srv.TotalRequests() - before; n != 0 {
				t.Errorf("%d requests to GitHub, want none", n)
			}
			if got := dirEntries(t, dir); len(got) != 0 {
				t.Errorf("files created: %v", got)
			}
		})
	}
	if len(w.srv.Redeliveries()) != 0 || len(w.writes()) != 0 {
		t.Errorf("writes: %v", w.writes())
	}
}

// TestBadStateFile: a state file that is not a redeliver database, or a
// truncated one, is refused with exit 2 before GitHub is asked anything,
// and left byte for byte as it was.
func TestBadStateFile(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 1, w.ago(time.Hour), 0)
	// A real state, truncated.
	wantCode(t, w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))...), 0)
	real, err := os.ReadFile(w.state)
	if err != nil {
		t.Fatal(err)
	}
	// The same state as a newer redeliver would leave it.
	newer := filepath.Join(t.TempDir(), "newer.db")
	if err := os.WriteFile(newer, real, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", newer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	newerData, err := os.ReadFile(newer)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"not SQLite", []byte("hello, I am a text file\n"), "is not a redeliver state database (not a SQLite file)"},
		{"truncated", real[:60], "truncated header"},
		{"newer schema", newerData, "has schema version 99, newer than this redeliver knows"},
		{"directory", nil, "is a directory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.db")
			if c.data == nil {
				if err := os.Mkdir(path, 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, dir, "state.db", c.data, 0o600)
			}
			before, redeliveries := w.srv.TotalRequests(), len(w.srv.Redeliveries())
			r := w.run("run", "--api-url", w.api, "--state", path, "--org", "acme", "--hook", fmt.Sprint(w.orgHook))
			wantCode(t, r, 2)
			if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, path) {
				t.Errorf("want %q naming %s:\n%s", c.want, path, r)
			}
			if n := w.srv.TotalRequests() - before; n != 0 || len(w.srv.Redeliveries()) != redeliveries {
				t.Errorf("%d requests to GitHub, want none", n)
			}
			if c.data != nil {
				got, _ := os.ReadFile(path)
				if string(got) != string(c.data) {
					t.Errorf("the state file was changed")
				}
				newFiles(t, dir, []string{"state.db"})
			}
		})
	}
}

// TestHookURLMatchesNothing: a --hook-url that no hook has is invalid input
// found only once the hooks are listed: exit 2, nothing redelivered and no
// state written.
func TestHookURLMatchesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 1, w.ago(time.Hour), 0)
	r := w.run(w.args("run", "--org", "acme", "--hook-url", "https://nowhere.example/hook")...)
	wantCode(t, r, 2)
	if !strings.Contains(r.stdout+r.stderr, "--hook-url https://nowhere.example/hook: no hook of org acme has this payload URL") {
		t.Errorf("message:\n%s", r)
	}
	if len(w.srv.Redeliveries()) != 0 || len(w.writes()) != 0 {
		t.Errorf("writes: %v", w.writes())
	}
	if exists(w.state) {
		t.Errorf("the state file was created for a run that did nothing")
	}

	// And the hook found by its URL works (a trailing slash does not matter).
	r = w.run(w.args("run", "--org", "acme", "--hook-url", downURL+"/")...)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), []string{"f-0000"})
}
