package config

import (
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/githubapi"
)

func TestParseSince(t *testing.T) {
	for _, tc := range []struct {
		in   string
		at   time.Time
		ago  time.Duration
		fail bool
	}{
		{in: "36h", ago: 36 * time.Hour},
		{in: "90m", ago: 90 * time.Minute},
		{in: " 2h30m ", ago: 150 * time.Minute},
		{in: "2d", ago: 48 * time.Hour},
		{in: "1d", ago: 24 * time.Hour},
		{in: "3650d", ago: 3650 * 24 * time.Hour},
		{in: "2026-11-25T06:00:00Z", at: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)},
		{in: "2026-11-25T08:00:00+02:00", at: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)},
		{in: "2026-11-25T06:00:00.250Z", at: time.Date(2026, 11, 25, 6, 0, 0, 250e6, time.UTC)},
		{in: "2026-11-25T06:00:00", at: time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)},
		{in: "2026-11-25", at: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)},
		{in: "1764230400000", at: time.UnixMilli(1764230400000).UTC()},
		{in: "1", at: time.UnixMilli(1).UTC()},

		{in: "", fail: true},
		{in: "   ", fail: true},
		{in: "banana", fail: true},
		{in: "-5h", fail: true},
		{in: "0s", fail: true},
		{in: "0d", fail: true},
		{in: "-2d", fail: true},
		{in: "3651d", fail: true},
		{in: "1.5d", fail: true},
		{in: "d", fail: true},
		{in: "2dd", fail: true},
		{in: "1d12h", fail: true},
		{in: "0", fail: true},
		{in: "-1764230400000", fail: true},
		{in: "253402300800000", fail: true}, // year 10000
		{in: "2026-13-01", fail: true},
		{in: "2026-11-25 06:00", fail: true},
		{in: "yesterday", fail: true},
		// The zero time would be read as "no --since": it must be refused,
		// not silently ignored (exactly one result is non-zero).
		{in: "0001-01-01", fail: true},
		{in: "0001-01-01T00:00:00Z", fail: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			at, ago, err := ParseSince(tc.in)
			if tc.fail {
				if err == nil {
					t.Fatalf("ParseSince(%q) = %s, %s; want an error", tc.in, at, ago)
				}
				if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), truncate(strings.TrimSpace(tc.in))) {
					t.Errorf("error %q (code %s) does not quote the value", err, redeliver.ErrorCode(err))
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSince(%q): %v", tc.in, err)
			}
			if !at.Equal(tc.at) || ago != tc.ago {
				t.Errorf("ParseSince(%q) = %s, %s; want %s, %s", tc.in, at, ago, tc.at, tc.ago)
			}
			if at.IsZero() == (ago == 0) {
				t.Errorf("ParseSince(%q): want exactly one non-zero result", tc.in)
			}
			if !at.IsZero() && at.Location() != time.UTC {
				t.Errorf("ParseSince(%q) location = %s, want UTC", tc.in, at.Location())
			}
		})
	}
}

func TestNormalizeAPIURL(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"https://api.github.com", "https://api.github.com/"},
		{"https://api.github.com/", "https://api.github.com/"},
		{"https://ghe.example.com/api/v3", "https://ghe.example.com/api/v3/"},
		{" https://ghe.example.com/api/v3/ ", "https://ghe.example.com/api/v3/"},
		{"https://ghe.example.com:8443/api/v3", "https://ghe.example.com:8443/api/v3/"},
		{"HTTPS://ghe.example.com/api/v3", "https://ghe.example.com/api/v3/"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{"http://127.1.2.3/api/v3", "http://127.1.2.3/api/v3/"},
		{"http://localhost:3000/api/v3", "http://localhost:3000/api/v3/"},
		{"http://[::1]:9000", "http://[::1]:9000/"},
		{"https://ghe.example.com/api%2Fv3", "https://ghe.example.com/api%2Fv3/"},
	} {
		got, err := NormalizeAPIURL(tc.in, "--api-url")
		if err != nil || got != tc.want {
			t.Errorf("NormalizeAPIURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			continue
		}
		if again, err := NormalizeAPIURL(got, "--api-url"); err != nil || again != got {
			t.Errorf("NormalizeAPIURL(%q) = %q, %v; not idempotent", got, again, err)
		}
	}
	for _, in := range []string{
		"", "   ", "api.github.com", "/api/v3", "ftp://ghe.example.com/", "file:///etc/passwd",
		"https://", "https:///api/v3", "https://:443/api/v3",
		"http://ghe.example.com/api/v3", "http://10.0.0.1/", "http://192.168.1.1:8080/", "http://localhost.example.com/",
		"https://user:pass@ghe.example.com/", "https://user@ghe.example.com/",
		"https://ghe.example.com/api/v3?x=1", "https://ghe.example.com/api/v3#frag", "https://ghe.example.com/api/v3?",
		"https://ghe.example.com:port/", "https://ghe example.com/",
	} {
		got, err := NormalizeAPIURL(in, "GITHUB_API_URL")
		if err == nil {
			t.Errorf("NormalizeAPIURL(%q) = %q; want an error", in, got)
			continue
		}
		if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "GITHUB_API_URL") {
			t.Errorf("NormalizeAPIURL(%q): error %q (code %s) does not name GITHUB_API_URL", in, err, redeliver.ErrorCode(err))
		}
		if strings.Contains(in, "pass@") && strings.Contains(err.Error(), "pass@") {
			t.Errorf("NormalizeAPIURL(%q): error %q quotes the password", in, err)
		}
	}
}

func TestIsGHES(t *testing.T) {
	for in, want := range map[string]bool{
		"https://ghe.example.com/api/v3/":  true,
		"https://ghe.example.com/api/v3":   true,
		"http://127.0.0.1:8080/api/v3/":    true,
		"https://api.github.com/":          false,
		"https://api.acme.ghe.com/":        false,
		"https://ghe.example.com/":         false,
		"https://ghe.example.com/api/v3x/": false,
		"https://ghe.example.com/api/v4/":  false,
		"":                                 false,
		"://":                              false,
	} {
		if got := IsGHES(in); got != want {
			t.Errorf("IsGHES(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	for in, want := range map[string]bool{
		"localhost":             true,
		"LocalHost":             true,
		"127.0.0.1":             true,
		"127.255.0.9":           true,
		"::1":                   true,
		"0:0:0:0:0:0:0:1":       true,
		"":                      false,
		"[::1]":                 false, // a host name, as url.URL.Hostname gives it, has no brackets
		"localhost.example.com": false,
		"10.0.0.1":              false,
		"0.0.0.0":               false,
		"::":                    false,
		"ghe.example.com":       false,
		"::ffff:10.0.0.1":       false,
	} {
		if got := githubapi.IsLoopback(in); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestCheckVariableName(t *testing.T) {
	for _, ok := range []string{"LAST_REDELIVERY", "last_redelivery", "_X", "A1", "a", "GITHUBX", "MY_GITHUB_TIME"} {
		if err := CheckVariableName(ok, "LAST_REDELIVERY_VARIABLE_NAME"); err != nil {
			t.Errorf("CheckVariableName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1abc", "GITHUB_X", "github_x", "Github_", "with-dash", "with space", "ÄPFEL", "a.b", "x\n"} {
		err := CheckVariableName(bad, "LAST_REDELIVERY_VARIABLE_NAME")
		if err == nil {
			t.Errorf("CheckVariableName(%q) accepted", bad)
			continue
		}
		if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "LAST_REDELIVERY_VARIABLE_NAME") {
			t.Errorf("CheckVariableName(%q): %q does not name its source", bad, err)
		}
	}
}

func TestParseState(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want StateLocation
	}{
		{"state.db", StateLocation{Kind: StateSQLite, Path: "state.db", From: "--state"}},
		{"/var/lib/redeliver/state.db", StateLocation{Kind: StateSQLite, Path: "/var/lib/redeliver/state.db", From: "--state"}},
		{"sqlite:/tmp/s.db", StateLocation{Kind: StateSQLite, Path: "/tmp/s.db", From: "--state"}},
		{"actions:acme/ops/LAST_REDELIVERY", StateLocation{Kind: StateActionsVariable, Owner: "acme", Repo: "ops", Variable: "LAST_REDELIVERY", From: "--state"}},
		{"actions:o/r.js/_x1", StateLocation{Kind: StateActionsVariable, Owner: "o", Repo: "r.js", Variable: "_x1", From: "--state"}},
	} {
		got, err := ParseState(tc.in, "--state")
		if err != nil || got != tc.want {
			t.Errorf("ParseState(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"", " ", "sqlite:", "sqlite: ", "a\x00b",
		"actions:", "actions:o/r", "actions:o", "actions:o/r/N/x", "actions:/r/N", "actions:o//N",
		"actions:o/r/", "actions:o/r/GITHUB_X", "actions:o/r/1abc", "actions:o/r/a-b", "actions:b@d/r/N",
	} {
		got, err := ParseState(bad, "state in c.yaml")
		if err == nil {
			t.Errorf("ParseState(%q) = %+v; want an error", bad, got)
			continue
		}
		if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "state in c.yaml") {
			t.Errorf("ParseState(%q): %q does not name its source", bad, err)
		}
	}
	if s := (StateLocation{Kind: StateActionsVariable, Owner: "o", Repo: "r", Variable: "V"}).String(); s != "Actions variable V of o/r" {
		t.Errorf("String() = %q", s)
	}
	if s := (StateLocation{Kind: StateSQLite}).String(); s != "the default state file" {
		t.Errorf("String() = %q", s)
	}
}

func TestParseHookID(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "12": 12, " 34 ": 34, "9223372036854775807": 1<<63 - 1} {
		got, err := ParseHookID(in, "HOOK_ID")
		if err != nil || got != want {
			t.Errorf("ParseHookID(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", " ", "abc", "0", "-3", "1.5", "1e3", "0x10", "12abc", "9223372036854775808", "YOUR_HOOK_ID"} {
		got, err := ParseHookID(bad, "HOOK_ID")
		if err == nil {
			t.Errorf("ParseHookID(%q) = %d; want an error", bad, got)
			continue
		}
		if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "HOOK_ID") {
			t.Errorf("ParseHookID(%q): %q does not name HOOK_ID", bad, err)
		}
	}
}

func TestParseFile(t *testing.T) {
	fm := testdataFiles()
	f, err := ParseFile([]byte(fm["testdata/valid.yaml"]), "testdata/valid.yaml")
	if err != nil {
		t.Fatalf("ParseFile: %v", err)
	}
	if f.APIURL != "https://ghe.example.com/api/v3" || f.State != "/var/lib/redeliver/state.db" || len(f.Targets) != 4 {
		t.Errorf("file = %+v", f)
	}
	if f.Defaults.MaxAttempts == nil || *f.Defaults.MaxAttempts != 7 || f.Defaults.Since != "36h" {
		t.Errorf("defaults = %+v", f.Defaults)
	}
	if tg := f.Targets[3]; !tg.App || tg.MaxAttempts == nil || *tg.MaxAttempts != 3 || len(tg.Events) != 2 {
		t.Errorf("targets[3] = %+v", tg)
	}

	for _, tc := range []struct {
		name string
		data string
		want []string
	}{
		{"empty", "", []string{"empty"}},
		{"whitespace", " \n\t\n", []string{"empty"}},
		{"null", "null", nil},
		{"list at top", "- org: acme\n", nil},
		{"scalar at top", "hello", nil},
		{"unknown key", "targets:\n  - org: acme\n    hooks: 1\n", []string{"hooks"}},
		{"unknown key in defaults", "defaults:\n  max_attempt: 1\ntargets:\n  - org: acme\n", []string{"max_attempt"}},
		{"tab indentation", "targets:\n\t- org: acme\n", nil},
		{"targets not a list", "targets: acme\n", nil},
		{"max_attempts not a number", "defaults:\n  max_attempts: many\ntargets:\n  - org: acme\n", nil},
		{"app not a bool", "targets:\n  - app: maybe\n", nil},
		{"app false alone", "targets:\n  - app: false\n", []string{"targets[0]"}},
		{"hook_url on app", "targets:\n  - app: true\n    hook_url: https://x.example.com/\n", []string{"targets[0]", "hook_url"}},
		{"repo without name", "targets:\n  - org: acme\n    hook: 1\n  - repo: acme/\n", []string{"targets[1]", "acme/"}},
		{"duplicate key", "targets:\n  - org: acme\n    org: other\n", nil},
		{"tag on an empty list", "targets:\n  - org: acme\n    events: !!seq\n", nil},
		{"unknown tag on a list", "defaults:\n  events: !00\n0000000:000000000", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFileNoPanic(t, []byte(tc.data), "etc/redeliver.yaml")
			if err == nil {
				t.Fatalf("ParseFile accepted %q: %+v", tc.data, got)
			}
			assertInvalid(t, err, append([]string{"etc/redeliver.yaml"}, tc.want...)...)
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans several lines", err)
			}
		})
	}
}

// TestEventFilterSuggestions: a typo in an event or an action is refused,
// naming it and the nearest name GitHub uses.
func TestEventFilterSuggestions(t *testing.T) {
	for in, want := range map[string]string{
		"pushh":          `did you mean "push"?`,
		"Push":           `did you mean "push"?`,
		"issues.opend":   `did you mean "issues.opened"?`,
		"pull_requst":    `did you mean "pull_request"?`,
		"issues.flew":    "its actions: assigned",
		"xyzzyplugh":     `unknown webhook event "xyzzyplugh"`,
		"workflow_run.x": "GitHub sends no action",
	} {
		_, err := Resolve(Flags{Org: "acme", Hook: "1", Events: []string{in}}, envMap{"GH_TOKEN": "t"}.get, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--events") {
			t.Errorf("--events %s: %v; want an error naming --events with %q", in, err, want)
		}
	}
	for _, ok := range []string{"push", "issues.opened", "pull_request.synchronize", "deployment.created", "ping"} {
		if _, err := Resolve(Flags{Org: "acme", Hook: "1", Events: []string{ok}}, envMap{"GH_TOKEN": "t"}.get, nil); err != nil {
			t.Errorf("--events %s: %v", ok, err)
		}
	}
}
