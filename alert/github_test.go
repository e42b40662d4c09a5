package alert_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/alert"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/githubapi"
)

// issuesFixture is the emulator with an operations repository and a
// notifier opening issues there.
func issuesFixture(t *testing.T) (*ghfake.Server, *alert.GitHubIssues) {
	t.Helper()
	gh := ghfake.New(ghfake.Options{Clock: ghfake.NewClock(now)})
	t.Cleanup(gh.Close)
	gh.AddRepo("acme", "ops")
	gh.AddToken(ghfake.Token{Value: "ghp_alerts_test", All: true})
	c, err := githubapi.New(githubapi.Config{BaseURL: gh.URL() + "/", Token: "ghp_alerts_test"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := alert.NewGitHubIssues(c.REST(), "acme/ops")
	if err != nil {
		t.Fatal(err)
	}
	return gh, n
}

func TestGitHubIssuePerTarget(t *testing.T) {
	ctx := context.Background()
	gh, n := issuesFixture(t)
	path := filepath.Join(t.TempDir(), "state.db")
	st := openStore(t, path)
	a := alerter(st, n)
	in := alert.Input{Key: key, Name: name, Now: now, Entries: []redeliver.LedgerEntry{
		entry("g1", redeliver.StateExhausted, 5), entry("g-open", redeliver.StateFailed, 1)}}

	// The first loss opens an issue.
	if res, err := a.Check(ctx, in); err != nil || res.Sent != 1 || len(res.Errors) > 0 {
		t.Fatalf("first check: %+v %v", res, err)
	}
	issues := gh.Issues("acme", "ops")
	if len(issues) != 1 || issues[0].State != "open" || issues[0].Title != alert.IssueTitle(name) ||
		!strings.Contains(issues[0].Body, "g1") || !strings.Contains(issues[0].Body, key) {
		t.Fatalf("issues after the first loss: %+v", issues)
	}
	// Nothing new, nothing healthy (g-open is still failing): nothing done.
	if res, _ := a.Check(ctx, in); res.Sent != 0 || res.Resolved != 0 {
		t.Errorf("second check: %+v", res)
	}
	// A second loss, after a restart: a comment on the same issue.
	st.Close()
	st = openStore(t, path)
	a = alerter(st, n)
	in.Entries = append(in.Entries, entry("g2", redeliver.StateExpired, 2))
	if res, _ := a.Check(ctx, in); res.Sent != 1 {
		t.Fatalf("check with a second loss: %+v", res)
	}
	issues = gh.Issues("acme", "ops")
	if len(issues) != 1 || len(issues[0].Comments) != 1 || !strings.Contains(issues[0].Comments[0].Body, "g2") ||
		strings.Contains(issues[0].Comments[0].Body, "g1") {
		t.Fatalf("issues after the second loss: %+v", issues)
	}
	// The failing event recovers: the target is healthy, the issue closed.
	in.Entries[1].State = redeliver.StateRecovered
	if res, _ := a.Check(ctx, in); res.Resolved != 1 {
		t.Fatalf("check when healthy: %+v", res)
	}
	issues = gh.Issues("acme", "ops")
	if len(issues) != 1 || issues[0].State != "closed" || len(issues[0].Comments) != 2 ||
		!strings.Contains(issues[0].Comments[1].Body, "healthy again") {
		t.Fatalf("issues after healthy: %+v", issues)
	}
	// Healthy again on the next pass: not closed twice.
	if res, _ := a.Check(ctx, in); res.Resolved != 0 || res.Sent != 0 {
		t.Errorf("check when still healthy: %+v", res)
	}
	// A new loss later opens a new issue.
	in.Entries = append(in.Entries, entry("g3", redeliver.StateExhausted, 5))
	if res, _ := a.Check(ctx, in); res.Sent != 1 {
		t.Fatalf("check with a new loss: %+v", res)
	}
	issues = gh.Issues("acme", "ops")
	if len(issues) != 2 || issues[1].State != "open" || !strings.Contains(issues[1].Body, "g3") || strings.Contains(issues[1].Body, "g1") {
		t.Fatalf("issues after a new loss: %+v", issues)
	}
}

func TestGitHubIssueFailuresRetried(t *testing.T) {
	ctx := context.Background()
	gh, n := issuesFixture(t)
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	wall := now
	a := alerter(st, n)
	a.Wall = func() time.Time { return wall }
	in := alert.Input{Key: key, Name: name, Now: now, Entries: []redeliver.LedgerEntry{entry("g1", redeliver.StateExhausted, 5)}}

	gh.AddFault(ghfake.Fault{Route: "POST /repos/{owner}/{repo}/issues", Kind: ghfake.FaultStatus, Status: 502})
	res, err := a.Check(ctx, in)
	if err != nil || res.Sent != 0 || len(res.Errors) != 1 {
		t.Fatalf("check while GitHub fails: %+v %v", res, err)
	}
	if s := a.Stats()["github-issues"]; s.Failures != 1 || s.Retries != 2 {
		t.Errorf("stats: %+v", s)
	}
	if len(gh.Issues("acme", "ops")) != 0 {
		t.Fatal("an issue was opened while GitHub failed")
	}
	gh.ClearFaults()
	wall = wall.Add(2 * time.Minute)
	if res, _ := a.Check(ctx, in); res.Sent != 1 {
		t.Fatalf("check once GitHub answers: %+v", res)
	}
	if is := gh.Issues("acme", "ops"); len(is) != 1 {
		t.Fatalf("issues: %+v", is)
	}
}

func TestGitHubIssuesInput(t *testing.T) {
	for _, r := range []string{"", "acme", "acme/", "/ops", "a/b/c"} {
		if _, err := alert.NewGitHubIssues(nil, r); redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "--alert-repo") {
			t.Errorf("NewGitHubIssues(%q): %v", r, err)
		}
	}
}
