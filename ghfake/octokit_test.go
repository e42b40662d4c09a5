package ghfake

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// octokitModules finds a node_modules holding octokit: $REDELIVER_NODE_MODULES,
// then <module root>/.cache/node/node_modules, installing octokit@5 there
// with npm when neither has it.
func octokitModules(t *testing.T) string {
	t.Helper()
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "octokit", "package.json"))
		return dir != "" && err == nil
	}
	if d := os.Getenv("REDELIVER_NODE_MODULES"); has(d) {
		return d
	}
	prefix := filepath.Join(moduleRoot(t), ".cache", "node")
	d := filepath.Join(prefix, "node_modules")
	if has(d) {
		return d
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatalf("octokit is not installed in %s and npm is not on PATH to install it", d)
	}
	t.Logf("installing octokit@5 into %s", prefix)
	cmd := exec.Command(npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "octokit@5")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install octokit@5: %v\n%s", err, out)
	}
	if !has(d) {
		t.Fatalf("npm install did not leave octokit in %s", d)
	}
	return d
}

// docsScript copies the docs' script into dir with its placeholder baseUrl
// replaced by process.env.GITHUB_API_URL (the only change made to it).
func docsScript(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(sharedDir(t), "seed", "redeliver-failed-deliveries.js")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	const placeholder = `baseUrl: "http(s)://HOSTNAME/api/v3",`
	if strings.Count(string(b), placeholder) != 1 {
		t.Fatalf("%s: the line %q is not there exactly once; the script changed", src, placeholder)
	}
	out := strings.Replace(string(b), placeholder, "baseUrl: process.env.GITHUB_API_URL,", 1)
	path := filepath.Join(dir, "redeliver-failed-deliveries.js")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestOctokitDocsScript runs GitHub's documented redelivery script, unchanged
// but for its baseUrl, with node and octokit against the emulator, and checks
// that it redelivered exactly the failed guids and wrote its checkpoint.
func TestOctokitDocsScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("skipping: node is not on PATH")
	}
	dir := t.TempDir()
	script := docsScript(t, dir)
	if err := os.Symlink(octokitModules(t), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}

	// node reads the wall clock (Date.now()), so the emulator starts at it.
	clock := NewClock(time.Now().UTC().Truncate(time.Second))
	now := clock.Now()
	srv := newServer(t, Options{Platform: GHES, RateLimiting: true, Clock: clock})
	rcv := newReceiver(t, http.StatusOK)
	hook := srv.AddOrgHook("acme", HookConfig{URL: rcv.URL, Secret: "docs"})
	srv.AddRepo("acme", "ops")
	srv.AddToken(Token{Value: "ghp_docs", Scopes: []string{"admin:org_hook", "repo"}, Orgs: []string{"acme"}})

	// 400 good deliveries over the last 23 h, and older history the script must not look at.
	srv.SeedHistory(hook, History{N: 400, From: now.Add(-23 * time.Hour), To: now.Add(-time.Minute), Seed: 11})
	srv.SeedHistory(hook, History{N: 40, From: now.Add(-30 * time.Hour), To: now.Add(-25 * time.Hour), FailureRatio: 0.5, Seed: 12})
	// 30 failed guids: connection failures (status_code 0, which status=failure
	// would miss) and HTTP errors; some failed twice. Then 5 recovered guids.
	var seeds []Seed
	want := map[string]bool{}
	for i := 0; i < 30; i++ {
		guid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		at := now.Add(-time.Duration(22*60-i*40) * time.Minute)
		code := []int{0, 500, 502, 404, 0, 503}[i%6]
		seeds = append(seeds, Seed{GUID: guid, At: at, StatusCode: code, Event: "issues", Action: "opened"})
		if i%10 == 0 {
			seeds = append(seeds, Seed{GUID: guid, At: at.Add(5 * time.Minute), StatusCode: 0, Status: StatusTimedOut, Redelivery: true, Event: "issues", Action: "opened"})
		}
		want[guid] = true
	}
	for i := 0; i < 5; i++ {
		guid := fmt.Sprintf("00000000-0000-4000-9000-%012d", i)
		at := now.Add(-time.Duration(20-i) * time.Hour)
		seeds = append(seeds, Seed{GUID: guid, At: at, StatusCode: 500}, Seed{GUID: guid, At: at.Add(10 * time.Minute), StatusCode: 200, Redelivery: true})
	}
	srv.SeedAttempts(hook, seeds)
	// The id the script picks for a guid is its newest attempt in the window.
	wantID := map[string]int64{}
	inWindow := 0
	for _, a := range srv.Attempts(hook) {
		if a.DeliveredAt.After(now.Add(-24 * time.Hour)) {
			inWindow++
			if _, ok := wantID[a.GUID]; !ok && want[a.GUID] {
				wantID[a.GUID] = a.ID
			}
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GITHUB_API_URL="+srv.URL()+"/api/v3",
		"TOKEN=ghp_docs",
		"ORGANIZATION_NAME=acme",
		"HOOK_ID="+strconv.FormatInt(hook, 10),
		"LAST_REDELIVERY_VARIABLE_NAME=LAST_REDELIVERY",
		"WORKFLOW_REPO_OWNER=acme",
		"WORKFLOW_REPO_NAME=ops",
		"HOSTNAME=unused.invalid",
	)
	started := time.Now()
	out, err := cmd.CombinedOutput()
	finished := time.Now()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	t.Logf("script took %v:\n%s", finished.Sub(started).Round(time.Millisecond), out)

	if !strings.Contains(string(out), fmt.Sprintf("Redelivered 30 failed webhook deliveries out of %d total deliveries", inWindow)) {
		t.Errorf("unexpected summary (want 30 of %d):\n%s", inWindow, out)
	}
	got := map[string]int64{}
	for _, r := range srv.Redeliveries() {
		if _, dup := got[r.GUID]; dup {
			t.Errorf("guid %s redelivered twice", r.GUID)
		}
		got[r.GUID] = r.DeliveryID
		if r.NewAttemptID <= r.DeliveryID {
			t.Errorf("redelivery of %d made attempt %d", r.DeliveryID, r.NewAttemptID)
		}
	}
	var missing, extra []string
	for g := range want {
		if _, ok := got[g]; !ok {
			missing = append(missing, g)
		}
	}
	for g, id := range got {
		if !want[g] {
			extra = append(extra, g)
		} else if id != wantID[g] {
			// octokit parses ids above 2^53 as BigInt; a float would be off here.
			t.Errorf("guid %s: redelivered id %d, want %d", g, id, wantID[g])
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("redelivered guids: missing %v, unexpected %v", missing, extra)
	}
	if n := len(rcv.deliveries()); n != 30 {
		t.Errorf("receiver got %d redeliveries, want 30", n)
	}

	v, ok := srv.Variable("acme", "ops", "LAST_REDELIVERY")
	ms, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || ms < started.Add(-time.Second).UnixMilli() || ms > finished.UnixMilli() {
		t.Errorf("LAST_REDELIVERY = %q (ok=%v), want a ms epoch between %d and %d", v, ok, started.UnixMilli(), finished.UnixMilli())
	}
	reqs := srv.Requests()
	for route, n := range map[string]int{
		"GET /repos/{owner}/{repo}/actions/variables/{name}":                 1,
		"GET /orgs/{org}/hooks/{hook_id}/deliveries":                         5,
		"POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts": 30,
		"POST /repos/{owner}/{repo}/actions/variables":                       1,
	} {
		if reqs[route] != n {
			t.Errorf("%s: %d requests, want %d (all: %v)", route, reqs[route], n, reqs)
		}
	}
	if len(reqs) != 4 {
		t.Errorf("unexpected routes: %v", reqs)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
}
