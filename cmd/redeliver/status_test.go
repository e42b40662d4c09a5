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
