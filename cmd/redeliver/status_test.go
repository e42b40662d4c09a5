package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// TestStatePathShown: with the default state, run's report and status
// name the real file (from the environment the command was given), not
// "the default state file"; status --config reads the state the file
// names.
func TestStatePathShown(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 1, w.ago(time.Hour), time.Minute)
	def := filepath.Join(w.dir, "xdg", "redeliver", "state.db") // XDG_STATE_HOME of w.env
	r := w.run("run", "--api-url", w.api, "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--rate", "0", "--output", "json")
	wantCode(t, r, 0)
	if res := decodeResult(t, r.stdout); res.State != def {
		t.Errorf("run report state %q, want %q", res.State, def)
	}
	if !exists(def) {
		t.Fatalf("no state at %s", def)
	}

	r = w.run("status")
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "state: "+def) || !strings.Contains(r.stdout, fmt.Sprintf("org/acme/hooks/%d", w.orgHook)) {
		t.Errorf("status:\n%s", r)
	}
	r = w.run("status", "-o", "json")
	var st struct{ State string }
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.State != def {
		t.Errorf("status -o json: state %q (%v), want %q", st.State, err, def)
	}

	// --config: its state: key, and no target is needed from the flags.
	cfg := writeFile(t, w.dir, "c.yaml", fmt.Appendf(nil, "state: %s\ntargets:\n  - org: acme\n    hook: %d\n", def, w.orgHook), 0o644)
	r = runIn(t, w.env("XDG_STATE_HOME", filepath.Join(w.dir, "elsewhere")), "status", "--config", cfg)
	wantCode(t, r, 0)
	if !strings.Contains(r.stdout, "state: "+def) || !strings.Contains(r.stdout, "org/acme/hooks/") {
		t.Errorf("status --config:\n%s", r)
	}
}

// TestJSONFieldsJQTemplate: --json FIELDS, --jq and --template work as
// gh's on status and deliveries; unknown fields and --jq without --json
// are refused naming the fields there are; --jq with --template is refused.
func TestJSONFieldsJQTemplate(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "f", 2, w.ago(time.Hour), time.Minute)
	hook := fmt.Sprint(w.orgHook)
	wantCode(t, w.run(w.args("run", "--org", "acme", "--hook", hook)...), 0)
	key := "org/acme/hooks/" + hook

	r := w.run("status", "--state", w.state, "--json", "target")
	wantCode(t, r, 0)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 || rows[0]["target"] != key || len(rows[0]) != 1 {
		t.Errorf("status --json target: %v\n%s", err, r)
	}
	r = w.run("status", "--state", w.state, "--json", "target,counts", "--jq", ".[].counts.pending")
	if wantCode(t, r, 0); strings.TrimSpace(r.stdout) != "2" {
		t.Errorf("--jq: %q, want 2", r.stdout)
	}
	r = w.run("status", "--state", w.state, "--json", "target", "--template", "{{range .}}{{.target}}!{{end}}")
	if wantCode(t, r, 0); r.stdout != key+"!" {
		t.Errorf("--template: %q", r.stdout)
	}
	r = w.run("deliveries", "--api-url", w.api, "--state", w.state, "--org", "acme", "--hook", hook, "--json", "guid,outcome", "--jq", `map(.guid) | join(",")`)
	if wantCode(t, r, 0); strings.TrimSpace(r.stdout) != "f-0000,f-0001" {
		t.Errorf("deliveries --jq: %q", r.stdout)
	}

	for _, args := range [][]string{
		{"status", "--state", w.state, "--json", "target,bogus"},
		{"status", "--state", w.state, "--jq", ".[]"},
		{"status", "--state", w.state, "--json", "target", "--jq", ".[", "--template", "x"},
	} {
		r := w.run(args...)
		wantCode(t, r, 2)
		if r.stdout != "" || !strings.Contains(r.stderr, "--") {
			t.Errorf("%v: want a refusal naming the flag:\n%s", args, r)
		}
	}
}

// TestColors: colors only on a terminal and never with NO_COLOR.
func TestColors(t *testing.T) {
	for _, c := range []struct {
		tty  bool
		env  map[string]string
		want bool
	}{
		{false, nil, false},
		{true, nil, true},
		{true, map[string]string{"NO_COLOR": "1"}, false},
		{true, map[string]string{"CLICOLOR": "0"}, false},
		{false, map[string]string{"CLICOLOR_FORCE": "1"}, true},
	} {
		ios, _, _ := testStreams(c.env, c.tty)
		if got := colorEnabled(ios); got != c.want {
			t.Errorf("tty %v env %v: color %v, want %v", c.tty, c.env, got, c.want)
		}
	}
}
