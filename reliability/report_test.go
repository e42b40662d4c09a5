//go:build unix

package reliability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// runReport is the part of `redeliver run --output json` the tests read.
type runReport struct {
	Version  int `json:"version"`
	ExitCode int `json:"exit_code"`
	Targets  []struct {
		Target    string    `json:"target"`
		Complete  bool      `json:"complete"`
		From      time.Time `json:"from"`
		To        time.Time `json:"to"`
		Uncovered []struct {
			From   time.Time `json:"from"`
			To     time.Time `json:"to"`
			Reason string    `json:"reason"`
		} `json:"uncovered"`
		Failed      int    `json:"failed"`
		Redelivered int    `json:"redelivered"`
		Pending     int    `json:"pending"`
		Waiting     int    `json:"waiting"`
		Deferred    int    `json:"deferred"`
		Exhausted   int    `json:"exhausted"`
		Expired     int    `json:"expired"`
		Errors      int    `json:"errors"`
		Stopped     string `json:"stopped"`
		Error       string `json:"error"`
		ErrorCode   string `json:"error_code"`
		Items       []struct {
			GUID      string `json:"guid"`
			Verdict   string `json:"verdict"`
			Attempts  int    `json:"redeliveries"`
			AttemptID int64  `json:"attempt_id"`
			Error     string `json:"error"`
		} `json:"items"`
	} `json:"targets"`
	Totals struct {
		Targets     int `json:"targets"`
		Attempts    int `json:"attempts"`
		Failed      int `json:"failed"`
		Redelivered int `json:"redelivered"`
		Waiting     int `json:"waiting"`
		Pending     int `json:"pending"`
		Deferred    int `json:"deferred"`
		Recovered   int `json:"recovered"`
		Exhausted   int `json:"exhausted"`
		Expired     int `json:"expired"`
		Errors      int `json:"errors"`
	} `json:"totals"`
	Problems []string `json:"problems"`
}

func parseReport(t testing.TB, r result) runReport {
	t.Helper()
	var rep runReport
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%s", err, r)
	}
	return rep
}

// statusReport is `redeliver status --output json`.
type statusReport struct {
	State   string `json:"state"`
	Targets []struct {
		Target     string         `json:"target"`
		Checkpoint time.Time      `json:"checkpoint"`
		Counts     map[string]int `json:"counts"`
	} `json:"targets"`
}

// ---------------------------------------------------------------------------
// Figures: each test records the numbers RELIABILITY.md quotes. They are
// logged (go test -v) and, with REDELIVER_FIGURES=DIR, written to
// DIR/<test>.txt so a run's figures can be pasted as they are.

type figures struct {
	t     testing.TB
	mu    sync.Mutex
	lines []string
}

func newFigures(t testing.TB) *figures {
	f := &figures{t: t}
	t.Cleanup(f.flush)
	return f
}

func (f *figures) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, fmt.Sprintf(format, args...))
}

// counts adds a "name: k1 n1, k2 n2" line, keys sorted.
func (f *figures) counts(name string, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	f.add("%s: %s", name, strings.Join(parts, ", "))
}

func (f *figures) flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.lines) == 0 {
		return
	}
	text := strings.Join(f.lines, "\n") + "\n"
	f.t.Logf("FIGURES %s\n%s", f.t.Name(), text)
	if dir := os.Getenv("REDELIVER_FIGURES"); dir != "" {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(f.t.Name()) + ".txt"
		_ = os.MkdirAll(dir, 0o755)
		_ = os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
}
