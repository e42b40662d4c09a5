//go:build unix

package reliability

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/sqlite"
)

// Promise 4 — concurrency. 2 and 8 `redeliver run` processes started at
// once on the same state and the same targets: exactly one redelivery per
// failed guid in total, and every process that did not get the state says
// why it waited or stopped.
func TestConcurrentRuns(t *testing.T) {
	fig := newFigures(t)
	for _, tc := range []struct {
		name     string
		procs    int
		existing bool   // the state exists (a first run did part of the work)
		lockWait string // "" : the default (1m)
	}{
		{"2-fresh-state", 2, false, ""},
		{"8-fresh-state", 8, false, ""},
		{"8-existing-state", 8, true, ""},
		{"8-existing-state-lock-wait-0", 8, true, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hooks []hookSpec
			for i, k := range []string{"org", "repo", "app"} {
				hooks = append(hooks, hookSpec{Kind: k, Hist: ghfake.History{N: 300, FailureRatio: 0.25, NoResponseRatio: 0.3,
					Seed: int64(100 + i), From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}})
			}
			w := newWorld(t, worldOpts{Platform: ghfake.GHES, Hooks: hooks})
			cfg := w.writeConfig("")
			args := append([]string{"run", "--config", cfg, "--rate", "0", "--output", "json"}, w.appArgs()...)
			if tc.existing {
				r := run(t, w.env(), append(args, "--max-redeliveries", "5")...)
				if r.Code != 0 {
					t.Fatalf("first run: %s", r)
				}
			}
			if tc.lockWait != "" {
				args = append(args, "--lock-wait", tc.lockWait)
			}
			began := time.Now()
			children := make([]*child, tc.procs)
			for i := range children {
				children[i] = start(t, w.env(), args...)
			}
			pids := map[int]bool{}
			for _, c := range children {
				pids[c.cmd.Process.Pid] = true
			}
			var worked, waited, stopped int
			for i, c := range children {
				r := c.wait(t, 2*time.Minute)
				says := strings.Contains(r.Stderr, "in use by another redeliver run")
				holder := holderPID(r.Stderr)
				switch {
				case r.Code == 0 && !says:
					worked++
				case r.Code == 0 && says && strings.Contains(r.Stderr, "waiting up to"):
					waited++
				case r.Code == 1 && says && tc.lockWait == "0":
					stopped++
				default:
					t.Errorf("process %d: unexpected end: %s", i, r)
					continue
				}
				// One that stopped must name the holder (README); one that
				// waited may have looked just as the holder finished.
				if says && !pids[holder] && (r.Code == 1 || holder != 0) {
					t.Errorf("process %d names holder pid %d, not one of the runs started (%v): %s", i, holder, pids, r.Stderr)
				}
				if r.Code == 0 {
					if rep := parseReport(t, r); rep.Totals.Errors > 0 {
						t.Errorf("process %d: %d errors: %s", i, rep.Totals.Errors, r)
					}
				}
			}
			wall := time.Since(began)
			if worked+waited+stopped != tc.procs || worked < 1 {
				t.Errorf("%d processes: %d ran at once, %d waited, %d stopped", tc.procs, worked, waited, stopped)
			}
			if p := w.exactlyOnce(); len(p) > 0 {
				t.Errorf("%v", p)
			}
			if _, sr := statusReadable(t, w, w.state); sr.Code != 0 {
				t.Errorf("status after the runs: %s", sr)
			}
			fig.add("%s: %d processes, %d failed guids, %d redeliveries; %d got the state at once, %d waited for the lock and then found nothing left, %d stopped with exit 1 naming the holder; %s",
				tc.name, tc.procs, w.totalFailed(), len(w.srv.Redeliveries()), worked, waited, stopped, wall.Round(time.Millisecond))
		})
	}
	fig.add("command: go test ./reliability -run TestConcurrentRuns -v")
}

// holderPID reads the pid from "… in use by another redeliver run (pid N) …".
func holderPID(stderr string) int {
	i := strings.Index(stderr, "(pid ")
	if i < 0 {
		return 0
	}
	rest := stderr[i+5:]
	j := strings.IndexByte(rest, ')')
	if j < 0 {
		return 0
	}
	n, _ := strconv.Atoi(rest[:j])
	return n
}

// Many rounds of 8 first runs started at once on a state file that does
// not exist yet: every process must either run or wait for the lock, never
// refuse the file another run is creating, and a process that waits or
// stops must name the holder's pid (README: "exits with code 1 naming the
// holder's pid").
func TestConcurrentFirstRuns(t *testing.T) {
	const rounds, procs = 16, 8
	fig := newFigures(t)
	w := newWorld(t, worldOpts{Platform: ghfake.GHES, Hooks: []hookSpec{{Kind: "org", Hist: ghfake.History{N: 20, FailureRatio: 0.2, Seed: 3,
		From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}}, {Kind: "app"}}})
	refused, unknownPID, waitedUnknown, ok := 0, 0, 0, 0
	var examples []string
	for round := range rounds {
		state := fmt.Sprintf("%s/round%02d.db", w.dir, round)
		// Token and App credentials: each process signs a JWT while
		// checking them, which spreads the moments they open the file.
		args := append([]string{"run", "--api-url", w.apiURL, "--org", "acme", "--hook", strconv.FormatInt(w.hooks[0].ID, 10),
			"--state", state, "--rate", "0", "--output", "json"}, w.appArgs()...)
		if round%2 == 1 {
			args = append(args, "--lock-wait", "0")
		}
		children := make([]*child, procs)
		for i := range children {
			children[i] = start(t, w.env(), args...)
		}
		for _, c := range children {
			r := c.wait(t, time.Minute)
			switch {
			case r.Code == 2:
				refused++
				if len(examples) < 3 {
					examples = append(examples, strings.TrimSpace(r.Stderr))
				}
			case r.Code == 1 && strings.Contains(r.Stderr, "pid unknown"):
				// A run that waited and then ran may have looked just as
				// the holder finished; one that gave up must name it.
				unknownPID++
				if len(examples) < 6 {
					examples = append(examples, strings.TrimSpace(r.Stderr))
				}
			case r.Code == 0 || (r.Code == 1 && strings.Contains(r.Stderr, "in use by another redeliver run (pid ")):
				if strings.Contains(r.Stderr, "pid unknown") {
					waitedUnknown++
				}
				ok++
			default:
				t.Errorf("round %d: %s", round, r)
			}
		}
	}
	fig.add("command: go test ./reliability -run TestConcurrentFirstRuns -v")
	fig.add("%d rounds × %d processes on a new state file: %d ran, or waited, or stopped naming the holder; %d refused the file with exit 2; %d stopped (exit 1) naming the holder \"pid unknown\"; %d waited saying \"pid unknown\" (the holder finished as they looked) and then ran",
		rounds, procs, ok, refused, unknownPID, waitedUnknown)
	if refused > 0 {
		t.Errorf("BUG: %d of %d first runs started together refused the state file another run was creating (exit 2), e.g.\n%s",
			refused, rounds*procs, strings.Join(examples, "\n"))
	}
	if unknownPID > 0 {
		t.Errorf("BUG: %d of %d runs that stopped on a locked state could not name the holder (\"pid unknown\"), e.g.\n%s",
			unknownPID, rounds*procs, strings.Join(examples, "\n"))
	}
}

// The same race without processes, so it shows in every run: four
// sqlite.Open calls at once on a state file that does not exist yet, as
// four `redeliver run` started together make before any takes the lock.
// Every one must succeed (one creates the schema, the others find it).
func TestOpenNewStateConcurrently(t *testing.T) {
	const rounds, openers = 200, 8
	fig := newFigures(t)
	dir := t.TempDir()
	var (
		mu    sync.Mutex
		kinds = map[string]int{}
	)
	for i := range rounds {
		path := filepath.Join(dir, fmt.Sprintf("state%03d.db", i))
		var wg sync.WaitGroup
		for range openers {
			wg.Go(func() {
				st, err := sqlite.Open(path)
				if err == nil {
					st.Close()
					return
				}
				msg := strings.ReplaceAll(err.Error(), path, "STATE")
				mu.Lock()
				kinds[msg]++
				mu.Unlock()
			})
		}
		wg.Wait()
	}
	n := 0
	for _, c := range kinds {
		n += c
	}
	fig.add("command: go test ./reliability -run TestOpenNewStateConcurrently -v")
	fig.add("%d rounds × %d concurrent sqlite.Open of a new file: %d failed", rounds, openers, n)
	fig.counts("failures", kinds)
	if n > 0 {
		t.Errorf("BUG: %d of %d concurrent opens of a new state file failed: %v", n, rounds*openers, kinds)
	}
}
