package ghfake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-github/v93/github"
)

// issueClient is go-github on the emulator with a token.
func issueClient(t *testing.T, srv *Server, token string) *github.Client {
	t.Helper()
	base := srv.URL() + "/"
	cli, err := github.NewClient(github.WithAuthToken(token), github.WithURLs(&base, &base))
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

func labelNames(is *github.Issue) []string {
	var out []string
	for _, l := range is.Labels {
		out = append(out, l.GetName())
	}
	return out
}

func numbers(list []*github.Issue) []int {
	var out []int
	for _, is := range list {
		out = append(out, is.GetNumber())
	}
	return out
}

func TestIssuesWithGoGitHub(t *testing.T) {
	srv := newServer(t, Options{})
	srv.AddRepo("acme", "ops")
	srv.AddToken(Token{Value: "ghp_alice", Repos: []string{"acme/ops"}, Login: "alice"})
	srv.AddToken(Token{Value: "ghp_bob", Repos: []string{"acme/ops"}, Login: "bob"})
	srv.AddToken(Token{Value: "ghp_elsewhere", Repos: []string{"acme/other"}})
	alice, bob := issueClient(t, srv, "ghp_alice"), issueClient(t, srv, "ghp_bob")
	ctx := context.Background()

	labels := []string{"redeliver", "alert"}
	is, resp, err := alice.Issues.Create(ctx, "acme", "ops", github.CreateIssueRequest{Title: "hook 42 lost events", Body: new("3 exhausted"), Labels: labels})
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %v", err)
	}
	if is.GetNumber() != 1 || is.GetState() != "open" || is.GetUser().GetLogin() != "alice" || strings.Join(labelNames(is), ",") != "redeliver,alert" ||
		is.GetBody() != "3 exhausted" || resp.Header.Get("Location") != is.GetURL() || is.CreatedAt == nil {
		t.Fatalf("created: %+v", is)
	}
	other := []string{"other"}
	if _, _, err := bob.Issues.Create(ctx, "acme", "ops", github.CreateIssueRequest{Title: "unrelated", Labels: other}); err != nil {
		t.Fatal(err)
	}
	cm, resp, err := alice.Issues.CreateComment(ctx, "acme", "ops", 1, github.IssueCommentRequest{Body: "2 more exhausted"})
	if err != nil || resp.StatusCode != 201 || cm.GetBody() != "2 more exhausted" || cm.GetUser().GetLogin() != "alice" || cm.GetID() == 0 {
		t.Fatalf("comment: %+v %v", cm, err)
	}
	got, _, err := alice.Issues.Get(ctx, "acme", "ops", 1)
	if err != nil || got.GetComments() != 1 {
		t.Fatalf("get: %+v %v", got, err)
	}
	comments, _, err := alice.Issues.ListComments(ctx, "acme", "ops", 1, nil)
	if err != nil || len(comments) != 1 || comments[0].GetBody() != "2 more exhausted" {
		t.Fatalf("comments: %v %v", comments, err)
	}

	list := func(opts *github.IssueListByRepoOptions) []int {
		t.Helper()
		l, _, err := alice.Issues.ListByRepo(ctx, "acme", "ops", opts)
		if err != nil {
			t.Fatal(err)
		}
		return numbers(l)
	}
	for _, c := range []struct {
		opts *github.IssueListByRepoOptions
		want string
	}{
		{nil, "[2 1]"},
		{&github.IssueListByRepoOptions{Labels: []string{"redeliver"}}, "[1]"},
		{&github.IssueListByRepoOptions{Labels: []string{"Redeliver", "alert"}}, "[1]"},
		{&github.IssueListByRepoOptions{Labels: []string{"redeliver", "other"}}, "[]"},
		{&github.IssueListByRepoOptions{Creator: "bob"}, "[2]"},
		{&github.IssueListByRepoOptions{Direction: "asc"}, "[1 2]"},
		{&github.IssueListByRepoOptions{Sort: "comments"}, "[1 2]"},
	} {
		if got := fmtInts(list(c.opts)); got != c.want {
			t.Errorf("list %+v: %s, want %s", c.opts, got, c.want)
		}
	}

	// Close, then reopen.
	closed, _, err := alice.Issues.Update(ctx, "acme", "ops", 1, github.UpdateIssueRequest{State: new("closed")})
	if err != nil || closed.GetState() != "closed" || closed.ClosedAt == nil || closed.GetClosedBy().GetLogin() != "alice" || closed.GetStateReason() != "completed" {
		t.Fatalf("close: %+v %v", closed, err)
	}
	if got := fmtInts(list(nil)); got != "[2]" {
		t.Errorf("open after closing 1: %s", got)
	}
	if got := fmtInts(list(&github.IssueListByRepoOptions{State: "closed"})); got != "[1]" {
		t.Errorf("closed: %s", got)
	}
	if got := fmtInts(list(&github.IssueListByRepoOptions{State: "all", Labels: []string{"alert"}})); got != "[1]" {
		t.Errorf("all with alert: %s", got)
	}
	reopened, _, err := bob.Issues.Update(ctx, "acme", "ops", 1, github.UpdateIssueRequest{State: new("open"), Title: new("hook 42 lost events again")})
	if err != nil || reopened.GetState() != "open" || reopened.ClosedAt != nil || reopened.GetStateReason() != "reopened" || reopened.GetTitle() != "hook 42 lost events again" {
		t.Fatalf("reopen: %+v %v", reopened, err)
	}

	// What a test sees from Go.
	all := srv.Issues("acme", "ops")
	if len(all) != 2 || all[0].State != "open" || all[0].Creator != "alice" || len(all[0].Comments) != 1 || all[0].Comments[0].User != "alice" || all[1].Creator != "bob" {
		t.Errorf("Issues: %+v", all)
	}

	// Refusals.
	var er *github.ErrorResponse
	if _, _, err := alice.Issues.Create(ctx, "acme", "ops", github.CreateIssueRequest{Title: " "}); !errors.As(err, &er) ||
		er.Response.StatusCode != 422 || len(er.Errors) != 1 || er.Errors[0].Field != "title" || er.Errors[0].Code != "missing_field" {
		t.Errorf("no title: %v", err)
	}
	if _, _, err := alice.Issues.ListByRepo(ctx, "acme", "ops", &github.IssueListByRepoOptions{State: "sleeping"}); !errors.As(err, &er) || er.Response.StatusCode != 422 {
		t.Errorf("bad state filter: %v", err)
	}
	if _, _, err := alice.Issues.Update(ctx, "acme", "ops", 1, github.UpdateIssueRequest{State: new("shut")}); !errors.As(err, &er) || er.Response.StatusCode != 422 {
		t.Errorf("bad state: %v", err)
	}
	if _, _, err := alice.Issues.CreateComment(ctx, "acme", "ops", 99, github.IssueCommentRequest{Body: "x"}); !errors.As(err, &er) || er.Response.StatusCode != 404 {
		t.Errorf("comment on a missing issue: %v", err)
	}
	if _, _, err := alice.Issues.CreateComment(ctx, "acme", "ops", 1, github.IssueCommentRequest{}); !errors.As(err, &er) || er.Response.StatusCode != 422 {
		t.Errorf("comment without a body: %v", err)
	}
	if _, _, err := issueClient(t, srv, "ghp_elsewhere").Issues.ListByRepo(ctx, "acme", "ops", nil); !errors.As(err, &er) || er.Response.StatusCode != 404 {
		t.Errorf("a token without the repository: %v", err)
	}
	if r := call(t, nil, "POST", srv.URL()+"/repos/acme/ops/issues", "ghp_alice", nil); r.Status != 400 {
		t.Errorf("no JSON body: %d %s", r.Status, r.Body)
	}
}

func fmtInts(v []int) string { return fmt.Sprint(v) }

func TestIssuePagingAndBots(t *testing.T) {
	srv := newServer(t, Options{})
	good, _ := keys(t)
	srv.AddApp(App{ID: 9, Slug: "redeliver-alerts", PublicKey: &good.PublicKey})
	inst := srv.AddInstallation(9, "acme", "ops")
	ghs, _ := srv.IssueInstallationToken(inst)
	bot := issueClient(t, srv, ghs)
	ctx := context.Background()
	for i := range 5 {
		if _, _, err := bot.Issues.Create(ctx, "acme", "ops", github.CreateIssueRequest{Title: fmt.Sprint("alert ", i), Labels: []string{"redeliver"}}); err != nil {
			t.Fatal(err)
		}
	}
	srv.AddIssue("acme", "ops", Issue{Title: "old", Labels: []string{"redeliver"}, State: "closed"})
	var seen []int
	opts := &github.IssueListByRepoOptions{Labels: []string{"redeliver"}, ListOptions: github.ListOptions{PerPage: 2}}
	pages := 0
	for {
		l, resp, err := bot.Issues.ListByRepo(ctx, "acme", "ops", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		seen = append(seen, numbers(l)...)
		if pages == 1 && (resp.LastPage != 3 || !strings.Contains(resp.Header.Get("Link"), "labels=redeliver")) {
			t.Errorf("first page Link: %s", resp.Header.Get("Link"))
		}
		if resp.NextPage == 0 {
			break
		}
		opts.ListOptions.Page = resp.NextPage
	}
	if fmt.Sprint(seen) != "[5 4 3 2 1]" || pages != 3 {
		t.Errorf("paged: %v in %d pages", seen, pages)
	}
	is, _, err := bot.Issues.Get(ctx, "acme", "ops", 1)
	if err != nil || is.GetUser().GetLogin() != "redeliver-alerts[bot]" || is.GetUser().GetType() != "Bot" {
		t.Errorf("bot issue: %+v %v", is.GetUser(), err)
	}
	// The list answers conditional requests like the delivery lists.
	r := call(t, nil, "GET", srv.URL()+"/repos/acme/ops/issues", ghs, nil)
	if c := conditional(t, srv.URL()+"/repos/acme/ops/issues", ghs, r.Header.Get("ETag")); c.Status != 304 {
		t.Errorf("conditional issue list: %d", c.Status)
	}
}
