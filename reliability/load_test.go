//go:build unix

package reliability

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// Promise 8 — load. 100,000 attempts with 2,000 failed events across 4 org
// hooks (REDELIVER_HEAVY=1: 1,000,000 attempts, 50,000 failed, 20 hooks),
// one `redeliver run --org acme --rate 0 --concurrency 8` against a GHES with
// rate limiting off: it completes, every failed event is redelivered once,
// and a second run finds nothing left. Peak memory (the child's maxrss) and
// API calls are recorded.
func TestLoad(t *testing.T) {
	attempts, failed, hooks := 100_000, 2_000, 4
	if heavy {
		attempts, failed, hooks = 1_000_000, 50_000, 20
	}
	fig := newFigures(t)
	began := time.Now()
	var specs []hookSpec
	for i := range hooks {
		specs = append(specs, hookSpec{Kind: "org", Hist: ghfake.History{N: attempts / hooks, FailureRatio: float64(failed) / float64(attempts),
			NoResponseRatio: 0.3, Seed: int64(1000 + i), From: t0.Add(-23 * time.Hour), To: t0.Add(-time.Minute)}})
	}
	w := newWorld(t, worldOpts{Platform: ghfake.GHES, Hooks: specs})
	seeded := time.Since(began)
	stored := 0
	for _, h := range w.hooks {
		stored += h.Stats.Attempts
	}
	args := []string{"run", "--api-url", w.apiURL, "--org", "acme", "--state", filepath.Join(w.dir, "state.db"),
		"--rate", "0", "--concurrency", "8", "--output", "json"}
	c := start(t, w.env(), args...)
	c.watchPeak()
	r := c.wait(t, 30*time.Minute)
	if r.Code != 0 {
		t.Fatalf("load run: %s", r)
	}
	rep := parseReport(t, r)
	calls := w.srv.Requests()
	total := w.srv.TotalRequests()
	once := w.exactlyOnce()
	if len(once) > 0 {
		t.Errorf("%v", once)
	}
	// The next run: nothing left to do.
	w.srv.Clock().Advance(16 * time.Minute)
	w.srv.ResetCounters()
	c2 := start(t, w.env(), args...)
	c2.watchPeak()
	r2 := c2.wait(t, 10*time.Minute)
	if r2.Code != 0 {
		t.Fatalf("second run: %s", r2)
	}
	rep2 := parseReport(t, r2)
	if runtime.GOOS == "linux" && (r.PeakRSS == 0 || r2.PeakRSS == 0) {
		t.Errorf("the children's peak memory could not be read from /proc")
	}
	if rep2.Totals.Redelivered != 0 || len(w.srv.Redeliveries()) != 0 {
		t.Errorf("second run redelivered %d", rep2.Totals.Redelivered)
	}
	st, _ := os.Stat(filepath.Join(w.dir, "state.db"))
	var size int64
	if st != nil {
		size = st.Size()
	}
	list := calls["GET /orgs/{org}/hooks/{hook_id}/deliveries"]
	post := calls["POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"]
	fig.add("command: go test ./reliability -run TestLoad -v%s", map[bool]string{true: "   (REDELIVER_HEAVY=1)", false: "   (REDELIVER_HEAVY=1 for the full size)"}[heavy])
	fig.add("size: %d attempts stored across %d org hooks, %d failed events (emulator seeded in %s); machine: %d CPUs, %s/%s",
		stored, hooks, w.totalFailed(), seeded.Round(time.Millisecond), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	fig.add("run 1 (--rate 0 --concurrency 8): exit %d in %s; peak RSS %.1f MiB (VmHWM; wait4 ru_maxrss: %.1f MiB, which under vfork is at least the test process's own RSS); listed %d attempts in %d pages; redelivered %d (exactly once each: %v)",
		r.Code, r.Wall.Round(time.Millisecond), float64(r.PeakRSS)/1024, float64(r.MaxRSS)/1024, rep.Totals.Attempts, list, rep.Totals.Redelivered, len(once) == 0)
	fig.add("API calls in run 1: %d in total — %d deliveries pages, %d redeliveries, %d others (auth check, rate-limit probe, hooks list)",
		total, list, post, total-list-post)
	fig.add("run 2 (16 min later): exit %d in %s; peak RSS %.1f MiB (VmHWM); %d API calls; redelivered %d; %d events recovered",
		r2.Code, r2.Wall.Round(time.Millisecond), float64(r2.PeakRSS)/1024, w.srv.TotalRequests(), rep2.Totals.Redelivered, rep2.Totals.Recovered)
	fig.add("state file after run 2: %.1f MiB", float64(size)/(1<<20))
}
