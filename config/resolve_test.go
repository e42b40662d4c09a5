package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

func TestResolveDocsWorkflows(t *testing.T) {
	// The environments of GitHub's three docs workflows, as published (the
	// HOSTNAME placeholder left in), resolve unchanged.
	withHost := func(e envMap) envMap { return e.with("HOSTNAME", "YOUR_HOSTNAME") }
	for _, tc := range []struct {
		name string
		env  envMap
		want TargetSpec
	}{
		{"org", withHost(docsOrg), TargetSpec{Kind: redeliver.KindOrg, Owner: "acme", HookID: 12}},
		{"repo", withHost(docsRepo), TargetSpec{Kind: redeliver.KindRepo, Owner: "acme", Repo: "api", HookID: 34}},
		{"app", withHost(docsApp()), TargetSpec{Kind: redeliver.KindApp, AppID: 56}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustResolve(t, Flags{}, tc.env, nil)
			if len(s.Targets) != 1 {
				t.Fatalf("targets = %+v, want one", s.Targets)
			}
			got := s.Targets[0]
			if got.Kind != tc.want.Kind || got.Owner != tc.want.Owner || got.Repo != tc.want.Repo ||
				got.HookID != tc.want.HookID || got.AppID != tc.want.AppID || got.HookURL != "" {
				t.Errorf("target = %+v, want %+v", got, tc.want)
			}
			want := StateLocation{Kind: StateActionsVariable, Owner: "acme", Repo: "ops", Variable: "LAST_REDELIVERY", From: "LAST_REDELIVERY_VARIABLE_NAME"}
			if s.State != want {
				t.Errorf("state = %+v, want %+v", s.State, want)
			}
			if s.Token != secretToken || s.TokenFrom != "TOKEN" {
				t.Errorf("token from %q, want TOKEN", s.TokenFrom)
			}
			if s.APIURL != DotComAPI || s.GHES {
				t.Errorf("API = %s (GHES %v), want %s", s.APIURL, s.GHES, DotComAPI)
			}
			if len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "YOUR_HOSTNAME") {
				t.Errorf("warnings = %q, want one about HOSTNAME=YOUR_HOSTNAME", s.Warnings)
			}
			if got.Policy.MaxAttempts != redeliver.DefaultPolicy().MaxAttempts || got.Policy.Horizon != redeliver.HorizonDotCom {
				t.Errorf("policy = %+v, want the default", got.Policy)
			}
			if tc.want.Kind == redeliver.KindApp {
				if s.AppID != 56 || s.PrivateKeyFrom != "PRIVATE_KEY" || string(s.PrivateKey) != testKeys().pkcs1 {
					t.Errorf("App credentials: id %d from %q", s.AppID, s.PrivateKeyFrom)
				}
			}
		})
	}
}

// TestResolveDocsWorkflowOnSchedule: the docs workflow sets
// WORKFLOW_REPO_NAME from github.event.repository.name, which is empty when
// the workflow runs on its schedule (the event payload of a scheduled run
// has no repository); GitHub Actions always sets GITHUB_REPOSITORY. The
// scheduled run must find its variable.
func TestResolveDocsWorkflowOnSchedule(t *testing.T) {
	env := docsOrg.with("WORKFLOW_REPO_NAME", "", "GITHUB_REPOSITORY", "acme/ops")
	s, err := Resolve(Flags{}, env.get, files(nil).read)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	want := StateLocation{Kind: StateActionsVariable, Owner: "acme", Repo: "ops", Variable: "LAST_REDELIVERY", From: "LAST_REDELIVERY_VARIABLE_NAME"}
	if s.State != want {
		t.Errorf("state = %+v, want %+v", s.State, want)
	}
}

func TestResolveDocsWorkflowsOnGHES(t *testing.T) {
	for name, env := range map[string]envMap{"org": docsOrg, "repo": docsRepo, "app": docsApp()} {
		t.Run(name, func(t *testing.T) {
			s := mustResolve(t, Flags{}, env.with("HOSTNAME", "ghe.example.com"), nil)
			if s.APIURL != "https://ghe.example.com/api/v3/" || s.APIURLFrom != "HOSTNAME" || !s.GHES {
				t.Errorf("API = %s from %s (GHES %v)", s.APIURL, s.APIURLFrom, s.GHES)
			}
			if s.Policy.Horizon != redeliver.HorizonGHES || s.Targets[0].Policy.Horizon != redeliver.HorizonGHES {
				t.Errorf("horizon = %s / %s, want 7 days", s.Policy.Horizon, s.Targets[0].Policy.Horizon)
			}
			if len(s.Warnings) != 0 {
				t.Errorf("warnings = %q", s.Warnings)
			}
		})
	}
}

func TestResolveTokenPrecedence(t *testing.T) {
	all := envMap{"TOKEN": secretToken, "GH_TOKEN": secretGHToken, "GITHUB_TOKEN": secretGHToken2}
	fm := fileMap{"/run/secrets/token": "  " + secretFileToken + "\r\n"}
	for _, tc := range []struct {
		name      string
		flags     Flags
		env       envMap
		want, src string
	}{
		{"TOKEN over GH_TOKEN over GITHUB_TOKEN", Flags{}, all, secretToken, "TOKEN"},
		{"GH_TOKEN over GITHUB_TOKEN", Flags{}, all.with("TOKEN", ""), secretGHToken, "GH_TOKEN"},
		{"GITHUB_TOKEN", Flags{}, envMap{"GITHUB_TOKEN": secretGHToken2}, secretGHToken2, "GITHUB_TOKEN"},
		{"blank TOKEN falls through", Flags{}, all.with("TOKEN", "   "), secretGHToken, "GH_TOKEN"},
		{"surrounding space trimmed", Flags{}, envMap{"TOKEN": " " + secretToken + "\n"}, secretToken, "TOKEN"},
		{"--token-file over all", Flags{TokenFile: "/run/secrets/token"}, all, secretFileToken, "--token-file /run/secrets/token"},
		{"--token-file over a bad TOKEN", Flags{TokenFile: "/run/secrets/token"}, all.with("TOKEN", "a b"), secretFileToken, "--token-file /run/secrets/token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.flags.Org = "acme"
			s := mustResolve(t, tc.flags, tc.env, fm)
			if s.Token != tc.want {
				t.Errorf("token is the one from %s, want the one from %s", s.TokenFrom, tc.src)
			}
			if s.TokenFrom != tc.src {
				t.Errorf("TokenFrom = %q, want %q", s.TokenFrom, tc.src)
			}
		})
	}
}

func TestResolveAppKeys(t *testing.T) {
	k := testKeys()
	for _, tc := range []struct {
		name, key string
	}{
		{"PKCS#1", k.pkcs1},
		{"PKCS#8", k.pkcs8},
		{"PKCS#1 with literal \\n", strings.ReplaceAll(strings.TrimSpace(k.pkcs1), "\n", `\n`)},
		{"PKCS#8 with literal \\n", strings.ReplaceAll(strings.TrimSpace(k.pkcs8), "\n", `\n`)},
		{"CRLF", strings.ReplaceAll(k.pkcs1, "\n", "\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustResolve(t, Flags{}, docsApp().with("PRIVATE_KEY", tc.key), nil)
			if s.AppID != 56 || s.PrivateKeyFrom != "PRIVATE_KEY" || len(s.PrivateKey) == 0 {
				t.Errorf("App %d, key from %q (%d bytes)", s.AppID, s.PrivateKeyFrom, len(s.PrivateKey))
			}
			if strings.Contains(string(s.PrivateKey), `\n`) {
				t.Errorf("literal \\n left in the key")
			}
		})
	}
	t.Run("--app-id and --private-key-file over APP_ID and PRIVATE_KEY", func(t *testing.T) {
		fm := fileMap{"app.pem": k.pkcs8}
		s := mustResolve(t, Flags{App: true, AppID: "78", PrivateKeyFile: "app.pem"}, docsApp(), fm)
		if s.AppID != 78 || s.PrivateKeyFrom != "--private-key-file app.pem" || string(s.PrivateKey) != k.pkcs8 {
			t.Errorf("App %d, key from %q", s.AppID, s.PrivateKeyFrom)
		}
		if len(s.Targets) != 1 || s.Targets[0].Kind != redeliver.KindApp || s.Targets[0].AppID != 78 {
			t.Errorf("targets = %+v", s.Targets)
		}
	})
	t.Run("App credentials alone serve an org target", func(t *testing.T) {
		s := mustResolve(t, Flags{Org: "acme"}, docsApp().with("TOKEN", "").with("LAST_REDELIVERY_VARIABLE_NAME", ""), nil)
		if s.Token != "" || s.AppID != 56 {
			t.Errorf("token from %q, App %d", s.TokenFrom, s.AppID)
		}
	})
	t.Run("the Actions variable still needs a token beside the App", func(t *testing.T) {
		_, err := Resolve(Flags{Org: "acme"}, docsApp().with("TOKEN", "").get, nil)
		if err == nil || !strings.Contains(err.Error(), "LAST_REDELIVERY") || !strings.Contains(err.Error(), "TOKEN") {
			t.Fatalf("err = %v; want the variable to ask for a token", err)
		}
	})
}

func TestResolvePrivateKeyFileMode(t *testing.T) {
	k := testKeys()
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o644, true}, {0o640, true}, {0o604, true}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			path := filepath.Join(dir, "key-"+tc.mode.String()+".pem")
			if err := os.WriteFile(path, []byte(k.pkcs1), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			s, err := Resolve(Flags{App: true, AppID: "56", PrivateKeyFile: path}, tokenEnv.get, os.ReadFile)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			var warned []string
			for _, w := range s.Warnings {
				assertNoSecret(t, "warning", w)
				if strings.Contains(w, path) {
					warned = append(warned, w)
				}
			}
			if tc.warn && (len(warned) != 1 || !strings.Contains(warned[0], "chmod 600")) {
				t.Errorf("warnings = %q, want one naming %s and saying chmod 600", s.Warnings, path)
			}
			if !tc.warn && len(s.Warnings) != 0 {
				t.Errorf("warnings = %q, want none", s.Warnings)
			}
		})
	}
}

func TestResolveNeverExposesSecrets(t *testing.T) {
	k := testKeys()
	s := mustResolve(t, Flags{}, docsApp().with("PRIVATE_KEY", k.pkcs8, "GH_TOKEN", secretGHToken), nil)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "JSON of Settings", string(b))
	if strings.Contains(string(b), "PRIVATE KEY") {
		t.Errorf("JSON of Settings holds the key: %s", b)
	}
}

func TestResolveAPIURLPrecedence(t *testing.T) {
	docs := docsOrg.with("HOSTNAME", "docs.example.com")
	envAll := docs.with("GITHUB_API_URL", "https://env.example.com/api/v3")
	for _, tc := range []struct {
		name      string
		flags     Flags
		env       envMap
		want, src string
	}{
		{"--api-url over all", Flags{APIURL: "https://flag.example.com/api/v3", Hostname: "host-flag.example.com", Config: "testdata/api_url.yaml"}, envAll,
			"https://flag.example.com/api/v3/", "--api-url"},
		{"config api_url over GITHUB_API_URL", Flags{Hostname: "host-flag.example.com", Config: "testdata/api_url.yaml"}, envAll,
			"https://file.example.com/api/v3/", "api_url in testdata/api_url.yaml"},
		{"GITHUB_API_URL over --hostname", Flags{Hostname: "host-flag.example.com"}, envAll,
			"https://env.example.com/api/v3/", "GITHUB_API_URL"},
		{"--hostname over HOSTNAME", Flags{Hostname: "host-flag.example.com"}, docs,
			"https://host-flag.example.com/api/v3/", "--hostname"},
		{"config hostname over HOSTNAME", Flags{Config: "testdata/hostname.yaml"}, docs,
			"https://ghe-file.example.com/api/v3/", "hostname in testdata/hostname.yaml"},
		{"HOSTNAME", Flags{}, docs,
			"https://docs.example.com/api/v3/", "HOSTNAME"},
		{"default", Flags{}, docsOrg,
			DotComAPI, "default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustResolve(t, tc.flags, tc.env, nil)
			if s.APIURL != tc.want || s.APIURLFrom != tc.src {
				t.Errorf("API = %s from %q, want %s from %q", s.APIURL, s.APIURLFrom, tc.want, tc.src)
			}
			if !s.GHES && tc.src != "default" {
				t.Errorf("GHES = false for %s", s.APIURL)
			}
			if len(s.Warnings) != 0 {
				t.Errorf("warnings = %q", s.Warnings)
			}
		})
	}
}

func TestResolveAPIURLForms(t *testing.T) {
	for _, tc := range []struct {
		name       string
		flags      Flags
		env        envMap
		want       string
		ghes       bool
		horizonDay int
	}{
		{"trailing slash added", Flags{APIURL: "https://ghe.example.com/api/v3"}, tokenEnv, "https://ghe.example.com/api/v3/", true, 7},
		{"trailing slash kept", Flags{APIURL: "https://ghe.example.com/api/v3/"}, tokenEnv, "https://ghe.example.com/api/v3/", true, 7},
		{"github.com", Flags{APIURL: "https://api.github.com"}, tokenEnv, "https://api.github.com/", false, 3},
		{"GHE.com data residency", Flags{APIURL: "https://api.acme.ghe.com"}, tokenEnv, "https://api.acme.ghe.com/", false, 3},
		{"http to 127.0.0.1", Flags{APIURL: "http://127.0.0.1:8080/api/v3"}, tokenEnv, "http://127.0.0.1:8080/api/v3/", true, 7},
		{"http to localhost", Flags{APIURL: "http://localhost:3000"}, tokenEnv, "http://localhost:3000/", false, 3},
		{"http to LOCALHOST", Flags{APIURL: "http://LOCALHOST:3000/"}, tokenEnv, "http://LOCALHOST:3000/", false, 3},
		{"http to [::1]", Flags{APIURL: "http://[::1]:9000/"}, tokenEnv, "http://[::1]:9000/", false, 3},
		{"GITHUB_API_URL http to loopback", Flags{}, tokenEnv.with("GITHUB_API_URL", "http://127.0.0.1:1234"), "http://127.0.0.1:1234/", false, 3},
		{"surrounding space", Flags{APIURL: " https://ghe.example.com/api/v3 "}, tokenEnv, "https://ghe.example.com/api/v3/", true, 7},
		{"--hostname github.com", Flags{Hostname: "github.com"}, tokenEnv, DotComAPI, false, 3},
		{"--hostname with scheme", Flags{Hostname: "https://ghe.example.com/"}, tokenEnv, "https://ghe.example.com/api/v3/", true, 7},
		{"--hostname with port", Flags{Hostname: "ghe.example.com:8443"}, tokenEnv, "https://ghe.example.com:8443/api/v3/", true, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.flags.Org = "acme"
			s := mustResolve(t, tc.flags, tc.env, nil)
			if s.APIURL != tc.want || s.GHES != tc.ghes {
				t.Errorf("API = %s (GHES %v), want %s (GHES %v)", s.APIURL, s.GHES, tc.want, tc.ghes)
			}
			h := time.Duration(tc.horizonDay) * 24 * time.Hour
			if s.Policy.Horizon != h || s.Targets[0].Policy.Horizon != h {
				t.Errorf("horizon = %s, want %s", s.Policy.Horizon, h)
			}
		})
	}
}

func TestResolveHostnameTrap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags Flags
		env   envMap
		want  string
		warn  string // "" for no warning
	}{
		{"shell HOSTNAME with --org", Flags{Org: "acme"}, tokenEnv.with("HOSTNAME", "buildkitsandbox"), DotComAPI, ""},
		{"dotted shell HOSTNAME with --org", Flags{Org: "acme"}, tokenEnv.with("HOSTNAME", "ghe.example.com"), DotComAPI, ""},
		{"GHES HOSTNAME with the docs org env", Flags{}, docsOrg.with("HOSTNAME", "ghe.example.com"), "https://ghe.example.com/api/v3/", ""},
		{"GHES HOSTNAME with the docs repo env", Flags{}, docsRepo.with("HOSTNAME", "ghe.example.com"), "https://ghe.example.com/api/v3/", ""},
		{"GHES HOSTNAME with LAST_REDELIVERY_VARIABLE_NAME only", Flags{Org: "acme"}, tokenEnv.with("HOSTNAME", "ghe.example.com", "LAST_REDELIVERY_VARIABLE_NAME", "LAST", "GITHUB_REPOSITORY", "acme/ops"), "https://ghe.example.com/api/v3/", ""},
		{"GHES HOSTNAME with a scheme", Flags{}, docsOrg.with("HOSTNAME", "https://ghe.example.com"), "https://ghe.example.com/api/v3/", ""},
		{"the machine's own dotted name", Flags{}, docsOrg.with("HOSTNAME", testMachine), DotComAPI, testMachine},
		{"the machine's own name in capitals", Flags{}, docsOrg.with("HOSTNAME", strings.ToUpper(testMachine)), DotComAPI, "HOSTNAME"},
		{"an undotted name with the docs env", Flags{}, docsOrg.with("HOSTNAME", "buildkitsandbox"), DotComAPI, "buildkitsandbox"},
		{"the docs placeholder", Flags{}, docsOrg.with("HOSTNAME", "YOUR_HOSTNAME"), DotComAPI, "YOUR_HOSTNAME"},
		{"GITHUB_API_URL wins over HOSTNAME", Flags{}, docsOrg.with("HOSTNAME", "ghe.example.com", "GITHUB_API_URL", "https://ghe2.example.com/api/v3"), "https://ghe2.example.com/api/v3/", ""},
		{"GITHUB_API_URL wins over the machine's name", Flags{}, docsOrg.with("HOSTNAME", testMachine, "GITHUB_API_URL", "https://api.github.com"), DotComAPI, ""},
		{"--hostname wins over HOSTNAME", Flags{Hostname: "ghe2.example.com"}, docsOrg.with("HOSTNAME", "buildkitsandbox"), "https://ghe2.example.com/api/v3/", ""},
		{"HOSTNAME github.com", Flags{}, docsOrg.with("HOSTNAME", "github.com"), DotComAPI, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustResolve(t, tc.flags, tc.env, nil)
			if s.APIURL != tc.want {
				t.Errorf("API = %s from %s, want %s", s.APIURL, s.APIURLFrom, tc.want)
			}
			if tc.warn == "" && len(s.Warnings) != 0 {
				t.Errorf("warnings = %q, want none", s.Warnings)
			}
			if tc.warn != "" && (len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], tc.warn) || !strings.Contains(s.Warnings[0], "HOSTNAME")) {
				t.Errorf("warnings = %q, want one naming HOSTNAME and %q", s.Warnings, tc.warn)
			}
		})
	}
}

func TestResolveHostnameWhenMachineNameUnknown(t *testing.T) {
	saved := machineHostname
	t.Cleanup(func() { machineHostname = saved })
	machineHostname = func() (string, error) { return "", os.ErrPermission }
	s := mustResolve(t, Flags{}, docsOrg.with("HOSTNAME", "ghe.example.com"), nil)
	if s.APIURL != "https://ghe.example.com/api/v3/" {
		t.Errorf("API = %s", s.APIURL)
	}
}

func TestResolvePolicyFlags(t *testing.T) {
	def := redeliver.DefaultPolicy()
	ms := time.UnixMilli(1764230400000).UTC()
	for _, tc := range []struct {
		name  string
		flags Flags
		check func(t *testing.T, p redeliver.Policy)
	}{
		{"no flags: the defaults", Flags{}, func(t *testing.T, p redeliver.Policy) {
			if p.MaxAttempts != def.MaxAttempts || p.RetryBase != def.RetryBase || p.Horizon != def.Horizon ||
				!p.Since.IsZero() || p.SinceAgo != 0 || p.MaxRedeliveries != 0 || p.Events != nil || p.ExcludeEvents != nil {
				t.Errorf("policy = %+v, want %+v", p, def)
			}
		}},
		{"--max-attempts 0 means the default", Flags{MaxAttempts: 0}, func(t *testing.T, p redeliver.Policy) {
			if p.MaxAttempts != def.MaxAttempts {
				t.Errorf("MaxAttempts = %d", p.MaxAttempts)
			}
		}},
		{"--max-attempts 1", Flags{MaxAttempts: 1}, func(t *testing.T, p redeliver.Policy) {
			if p.MaxAttempts != 1 {
				t.Errorf("MaxAttempts = %d", p.MaxAttempts)
			}
		}},
		{"--max-attempts 100", Flags{MaxAttempts: 100}, func(t *testing.T, p redeliver.Policy) {
			if p.MaxAttempts != 100 {
				t.Errorf("MaxAttempts = %d", p.MaxAttempts)
			}
		}},
		{"--retry-base 90m", Flags{RetryBase: "90m"}, func(t *testing.T, p redeliver.Policy) {
			if p.RetryBase != 90*time.Minute {
				t.Errorf("RetryBase = %s", p.RetryBase)
			}
		}},
		{"--retry-base bounds", Flags{RetryBase: "168h"}, func(t *testing.T, p redeliver.Policy) {
			if p.RetryBase != 168*time.Hour {
				t.Errorf("RetryBase = %s", p.RetryBase)
			}
		}},
		{"--since RFC 3339", Flags{Since: "2026-11-25T06:00:00Z"}, func(t *testing.T, p redeliver.Policy) {
			if !p.Since.Equal(time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)) || p.SinceAgo != 0 {
				t.Errorf("Since = %s, SinceAgo = %s", p.Since, p.SinceAgo)
			}
		}},
		{"--since 36h", Flags{Since: "36h"}, func(t *testing.T, p redeliver.Policy) {
			if p.SinceAgo != 36*time.Hour || !p.Since.IsZero() {
				t.Errorf("Since = %s, SinceAgo = %s", p.Since, p.SinceAgo)
			}
		}},
		{"--since 2d", Flags{Since: "2d"}, func(t *testing.T, p redeliver.Policy) {
			if p.SinceAgo != 48*time.Hour || !p.Since.IsZero() {
				t.Errorf("Since = %s, SinceAgo = %s", p.Since, p.SinceAgo)
			}
		}},
		{"--since ms epoch", Flags{Since: "1764230400000"}, func(t *testing.T, p redeliver.Policy) {
			if !p.Since.Equal(ms) || p.SinceAgo != 0 {
				t.Errorf("Since = %s, want %s", p.Since, ms)
			}
		}},
		{"--events issues.opened", Flags{Events: []string{"push", "issues.opened"}}, func(t *testing.T, p redeliver.Policy) {
			if !slices.Equal(p.Events, []string{"push", "issues.opened"}) {
				t.Errorf("Events = %q", p.Events)
			}
		}},
		{"--exclude-events", Flags{ExcludeEvents: []string{"ping", "workflow_run.completed"}}, func(t *testing.T, p redeliver.Policy) {
			if !slices.Equal(p.ExcludeEvents, []string{"ping", "workflow_run.completed"}) || p.Events != nil {
				t.Errorf("Events = %q, ExcludeEvents = %q", p.Events, p.ExcludeEvents)
			}
		}},
		{"--max-redeliveries 10", Flags{MaxRedeliveries: 10}, func(t *testing.T, p redeliver.Policy) {
			if p.MaxRedeliveries != 10 {
				t.Errorf("MaxRedeliveries = %d", p.MaxRedeliveries)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.flags.Org = "acme"
			s := mustResolve(t, tc.flags, tokenEnv, nil)
			tc.check(t, s.Policy)
			tc.check(t, s.Targets[0].Policy)
		})
	}
}

func TestResolvePolicyFlagsCopyEvents(t *testing.T) {
	events := []string{"push"}
	s := mustResolve(t, Flags{Org: "acme", Events: events}, tokenEnv, nil)
	events[0] = "ping"
	if s.Policy.Events[0] != "push" {
		t.Errorf("Settings share the caller's --events slice")
	}
}

func TestResolveState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags Flags
		env   envMap
		want  StateLocation
	}{
		{"default", Flags{Org: "acme"}, tokenEnv, StateLocation{Kind: StateSQLite, From: "default"}},
		{"plain path", Flags{Org: "acme", State: "/var/lib/redeliver/state.db"}, tokenEnv,
			StateLocation{Kind: StateSQLite, Path: "/var/lib/redeliver/state.db", From: "--state"}},
		{"sqlite: path", Flags{Org: "acme", State: "sqlite:./s.db"}, tokenEnv,
			StateLocation{Kind: StateSQLite, Path: "./s.db", From: "--state"}},
		{"--state actions:o/r/NAME", Flags{Org: "acme", State: "actions:o/r/NAME"}, tokenEnv,
			StateLocation{Kind: StateActionsVariable, Owner: "o", Repo: "r", Variable: "NAME", From: "--state"}},
		{"--state over LAST_REDELIVERY_VARIABLE_NAME", Flags{State: "state.db"}, docsOrg,
			StateLocation{Kind: StateSQLite, Path: "state.db", From: "--state"}},
		{"LAST_REDELIVERY_VARIABLE_NAME with WORKFLOW_REPO_*", Flags{}, docsOrg,
			StateLocation{Kind: StateActionsVariable, Owner: "acme", Repo: "ops", Variable: "LAST_REDELIVERY", From: "LAST_REDELIVERY_VARIABLE_NAME"}},
		{"WORKFLOW_REPO_* over GITHUB_REPOSITORY", Flags{}, docsOrg.with("GITHUB_REPOSITORY", "other/repo"),
			StateLocation{Kind: StateActionsVariable, Owner: "acme", Repo: "ops", Variable: "LAST_REDELIVERY", From: "LAST_REDELIVERY_VARIABLE_NAME"}},
		{"LAST_REDELIVERY_VARIABLE_NAME with GITHUB_REPOSITORY", Flags{}, docsOrg.with("WORKFLOW_REPO_OWNER", "", "WORKFLOW_REPO_NAME", "", "GITHUB_REPOSITORY", "o/r"),
			StateLocation{Kind: StateActionsVariable, Owner: "o", Repo: "r", Variable: "LAST_REDELIVERY", From: "LAST_REDELIVERY_VARIABLE_NAME"}},
		{"state in the file", Flags{Config: "testdata/valid.yaml"}, docsApp(),
			StateLocation{Kind: StateSQLite, Path: "/var/lib/redeliver/state.db", From: "state in testdata/valid.yaml"}},
		{"--state over the file", Flags{Config: "testdata/valid.yaml", State: "actions:acme/ops/LAST"}, docsApp(),
			StateLocation{Kind: StateActionsVariable, Owner: "acme", Repo: "ops", Variable: "LAST", From: "--state"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustResolve(t, tc.flags, tc.env, nil)
			if s.State != tc.want {
				t.Errorf("state = %+v, want %+v", s.State, tc.want)
			}
		})
	}
}

func TestResolveTargetFlags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags Flags
		env   envMap
		want  TargetSpec
	}{
		{"--org", Flags{Org: "acme"}, tokenEnv, TargetSpec{Kind: redeliver.KindOrg, Owner: "acme"}},
		{"--org --hook", Flags{Org: "acme", Hook: " 12 "}, tokenEnv, TargetSpec{Kind: redeliver.KindOrg, Owner: "acme", HookID: 12}},
		{"--org --hook-url", Flags{Org: "acme", HookURL: "https://ci.example.com/hook"}, tokenEnv, TargetSpec{Kind: redeliver.KindOrg, Owner: "acme", HookURL: "https://ci.example.com/hook"}},
		{"--repo", Flags{Repo: "acme/api.v2"}, tokenEnv, TargetSpec{Kind: redeliver.KindRepo, Owner: "acme", Repo: "api.v2"}},
		{"--repo --hook", Flags{Repo: "acme/api", Hook: "34"}, tokenEnv, TargetSpec{Kind: redeliver.KindRepo, Owner: "acme", Repo: "api", HookID: 34}},
		{"--app", Flags{App: true}, docsApp(), TargetSpec{Kind: redeliver.KindApp, AppID: 56}},
		{"flags win over the docs env", Flags{Org: "other"}, docsRepo, TargetSpec{Kind: redeliver.KindOrg, Owner: "other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := mustResolve(t, tc.flags, tc.env, nil)
			if len(s.Targets) != 1 {
				t.Fatalf("targets = %+v", s.Targets)
			}
			got := s.Targets[0]
			got.Policy = redeliver.Policy{}
			if got.Kind != tc.want.Kind || got.Owner != tc.want.Owner || got.Repo != tc.want.Repo || got.HookID != tc.want.HookID || got.HookURL != tc.want.HookURL || got.AppID != tc.want.AppID {
				t.Errorf("target = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestResolveConfigFile(t *testing.T) {
	s := mustResolve(t, Flags{Config: "testdata/valid.yaml"}, docsApp(), nil)
	if s.APIURL != "https://ghe.example.com/api/v3/" || !s.GHES || s.APIURLFrom != "api_url in testdata/valid.yaml" {
		t.Errorf("API = %s from %q (GHES %v)", s.APIURL, s.APIURLFrom, s.GHES)
	}
	if len(s.Targets) != 4 {
		t.Fatalf("targets = %+v, want 4", s.Targets)
	}
	type short struct {
		Kind        redeliver.Kind
		Owner, Repo string
		HookID      int64
		HookURL     string
		AppID       int64
	}
	want := []short{
		{Kind: redeliver.KindOrg, Owner: "acme", HookID: 12},
		{Kind: redeliver.KindRepo, Owner: "acme", Repo: "api"},
		{Kind: redeliver.KindOrg, Owner: "acme", HookURL: "https://ci.example.com/hook"},
		{Kind: redeliver.KindApp, AppID: 56},
	}
	for i, tg := range s.Targets {
		got := short{tg.Kind, tg.Owner, tg.Repo, tg.HookID, tg.HookURL, tg.AppID}
		if got != want[i] {
			t.Errorf("targets[%d] = %+v, want %+v", i, got, want[i])
		}
		if tg.Policy.Horizon != redeliver.HorizonGHES || tg.Policy.SinceAgo != 36*time.Hour {
			t.Errorf("targets[%d]: horizon %s, since %s: want the GHES horizon and the file's since", i, tg.Policy.Horizon, tg.Policy.SinceAgo)
		}
	}
	for i := range 3 {
		if p := s.Targets[i].Policy; p.MaxAttempts != 7 || p.Events != nil || p.ExcludeEvents != nil {
			t.Errorf("targets[%d] policy = %+v, want the file's defaults", i, p)
		}
	}
	app := s.Targets[3].Policy
	if app.MaxAttempts != 3 || !slices.Equal(app.Events, []string{"push", "pull_request.opened"}) || !slices.Equal(app.ExcludeEvents, []string{"ping"}) {
		t.Errorf("App policy = %+v", app)
	}
	if s.Policy.MaxAttempts != 7 {
		t.Errorf("default policy MaxAttempts = %d, want the file's 7", s.Policy.MaxAttempts)
	}
}

func TestResolveConfigLayering(t *testing.T) {
	// Built-ins, then the file's defaults, then a target's own options.
	def := redeliver.DefaultPolicy()
	s := mustResolve(t, Flags{Config: "testdata/layering.yaml"}, tokenEnv, nil)
	if len(s.Targets) != 2 {
		t.Fatalf("targets = %+v", s.Targets)
	}
	p0, p1 := s.Targets[0].Policy, s.Targets[1].Policy
	if p0.MaxAttempts != 7 || p0.RetryBase != def.RetryBase || !slices.Equal(p0.Events, []string{"push"}) || p0.MaxRedeliveries != 0 {
		t.Errorf("targets[0] policy = %+v: want max_attempts and events from defaults, the rest built in", p0)
	}
	if p1.MaxAttempts != 2 || p1.RetryBase != 15*time.Minute || !slices.Equal(p1.Events, []string{"issues.opened"}) || p1.MaxRedeliveries != 40 {
		t.Errorf("targets[1] policy = %+v: want its own options", p1)
	}
	if p1.Horizon != def.Horizon || p1.FirstWindow != def.FirstWindow || p1.Overlap != def.Overlap || p1.PendingGrace != def.PendingGrace {
		t.Errorf("targets[1] policy = %+v: want the built-in horizon, window, overlap and grace", p1)
	}

	// Flags sit between the file's defaults and a target's own options.
	s = mustResolve(t, Flags{Config: "testdata/layering.yaml", MaxAttempts: 9, RetryBase: "2h"}, tokenEnv, nil)
	if p := s.Targets[0].Policy; p.MaxAttempts != 9 || p.RetryBase != 2*time.Hour {
		t.Errorf("targets[0] with --max-attempts 9 --retry-base 2h: %+v", p)
	}
	if p := s.Targets[1].Policy; p.MaxAttempts != 2 || p.RetryBase != 15*time.Minute {
		t.Errorf("targets[1] with --max-attempts 9: %+v", p)
	}
}
