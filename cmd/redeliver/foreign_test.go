package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// TestForeignRedeliveriesAreTold: a hook that another redeliverer works
// on (redelivery attempts this state never asked for) is named in the
// text output, the JSON report and the metrics file.
func TestForeignRedeliveriesAreTold(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.seed(w.orgHook,
		ghfake.Seed{GUID: "elsewhere", At: w.ago(3 * time.Hour), StatusCode: 500},
		ghfake.Seed{GUID: "elsewhere", At: w.ago(2 * time.Hour), StatusCode: 500, Redelivery: true},
	)
	metrics := filepath.Join(w.dir, "m.prom")
	flags := []string{"--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--dry-run"}
	r := w.run(w.args("run", append(flags, "--output", "json", "--metrics-file", metrics)...)...)
	wantCode(t, r, 0)
	if rep := decodeResult(t, r.stdout).Targets[0]; rep.Foreign != 1 {
		t.Errorf("report: foreign_redeliveries %d, want 1", rep.Foreign)
	}
	m, err := os.ReadFile(metrics)
	if err != nil || !strings.Contains(string(m), fmt.Sprintf(`redeliver_foreign_redeliveries{target="org/acme/hooks/%d"} 1`, w.orgHook)) {
		t.Errorf("metrics file (%v):\n%s", err, m)
	}
	r = w.run(w.args("run", flags...)...)
	if !strings.Contains(r.stdout+r.stderr, "another redeliverer") || !strings.Contains(r.stdout+r.stderr, fmt.Sprint(w.orgHook)) {
		t.Errorf("text output does not name the hook another redeliverer works on:\n%s", r)
	}
}
