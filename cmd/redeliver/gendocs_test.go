package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenDocs: the release's man pages and completions come from the
// command tree, one page per command, and the hidden command has none.
func TestGenDocs(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	r := runIn(t, nil, "gen-docs", "--dir", dir, "--date", "2026-12-01T08:00:00Z")
	wantCode(t, r, 0)
	for _, name := range []string{"redeliver.1", "redeliver-run.1", "redeliver-deliveries.1", "redeliver-status.1", "redeliver-version.1", "redeliver-completion-bash.1"} {
		b, err := os.ReadFile(filepath.Join(dir, "man", name))
		if err != nil {
			t.Errorf("man page %s: %v", name, err)
			continue
		}
		if !strings.HasPrefix(string(b), ".nh\n.TH \"REDELIVER\" \"1\" \"Dec 2026\"") {
			t.Errorf("%s does not start as a man page:\n%.200s", name, b)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "man", "redeliver-run.1")); !strings.Contains(string(b), `\fB--max-attempts\fP`) {
		t.Errorf("redeliver-run.1 does not list --max-attempts")
	}
	if exists(filepath.Join(dir, "man", "redeliver-gen-docs.1")) {
		t.Errorf("the hidden gen-docs command has a man page")
	}
	for name, want := range map[string]string{
		"redeliver.bash": "__start_redeliver", "_redeliver": "#compdef redeliver",
		"redeliver.fish": "complete -c redeliver", "redeliver.ps1": "Register-ArgumentCompleter",
	} {
		b, err := os.ReadFile(filepath.Join(dir, "completions", name))
		if err != nil || !strings.Contains(string(b), want) {
			t.Errorf("completion %s: %v; want it to hold %q", name, err, want)
		}
	}

	bad := filepath.Join(t.TempDir(), "bad")
	r = runIn(t, nil, "gen-docs", "--dir", bad, "--date", "yesterday")
	wantCode(t, r, exitInvalid)
	if !strings.Contains(r.stderr, `--date "yesterday"`) || exists(bad) {
		t.Errorf("a bad --date: %s; wrote %v", r, exists(bad))
	}
}
