package alert

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

// GitHubIssues keeps one open issue per target in an operations repository
// (--alert-repo OWNER/REPO): it opens the issue at the first alert, adds a
// comment for each later one, and closes it with a comment when the target
// is healthy again. The issue is found again by its title, so nothing about
// it needs to be stored.
type GitHubIssues struct {
	client      *github.Client
	owner, repo string
}

// NewGitHubIssues returns the notifier for repository ownerRepo
// ("OWNER/REPO"), using client (githubapi.Client.REST() gives one with the
// run's credentials; the token needs issues write on that repository).
func NewGitHubIssues(client *github.Client, ownerRepo string) (*GitHubIssues, error) {
	owner, repo, ok := strings.Cut(ownerRepo, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return nil, redeliver.Errorf(redeliver.EInvalid, "--alert-repo %q: want OWNER/REPO", ownerRepo)
	}
	return &GitHubIssues{client: client, owner: owner, repo: repo}, nil
}

// Name implements Notifier.
func (g *GitHubIssues) Name() string { return "github-issues" }

// IssueTitle is the title of a target's issue.
func IssueTitle(name string) string { return "redeliver: webhook events lost on " + name }

// Notify implements Notifier: a new issue, or a comment on the open one.
func (g *GitHubIssues) Notify(ctx context.Context, n Notice) error {
	num, err := g.find(ctx, n.Name)
	if err != nil {
		return err
	}
	body := n.Text()
	if num == 0 {
		intro := fmt.Sprintf("`redeliver` could not recover webhook events of %s (`%s`). It adds a comment here at each new loss and closes this issue when the target is healthy again.\n\n", n.Name, n.Target)
		_, resp, err := g.client.Issues.Create(ctx, g.owner, g.repo, github.CreateIssueRequest{Title: IssueTitle(n.Name), Body: new(intro + body)})
		return g.err("create an issue", resp, err)
	}
	_, resp, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, num, github.IssueCommentRequest{Body: body})
	return g.err(fmt.Sprintf("comment on issue #%d", num), resp, err)
}

// Resolve implements Resolver: a closing comment, and the issue closed.
func (g *GitHubIssues) Resolve(ctx context.Context, key, name string) error {
	num, err := g.find(ctx, name)
	if err != nil || num == 0 {
		return err
	}
	_, resp, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, num,
		github.IssueCommentRequest{Body: fmt.Sprintf("%s (`%s`) is healthy again: no event is failing and no span is unchecked. Closing.", name, key)})
	if err := g.err(fmt.Sprintf("comment on issue #%d", num), resp, err); err != nil {
		return err
	}
	_, resp, err = g.client.Issues.Update(ctx, g.owner, g.repo, num, github.UpdateIssueRequest{State: new("closed"), StateReason: new("completed")})
	return g.err(fmt.Sprintf("close issue #%d", num), resp, err)
}

// find returns the number of the target's open issue, 0 when none.
func (g *GitHubIssues) find(ctx context.Context, name string) (int, error) {
	title := IssueTitle(name)
	opts := &github.IssueListByRepoOptions{State: "open", ListOptions: github.ListOptions{PerPage: 100}}
	for range 50 { // 5,000 open issues: far past any operations repository
		issues, resp, err := g.client.Issues.ListByRepo(ctx, g.owner, g.repo, opts)
		if err := g.err("list issues", resp, err); err != nil {
			return 0, err
		}
		for _, is := range issues {
			if is.PullRequestLinks == nil && is.GetTitle() == title {
				return is.GetNumber(), nil
			}
		}
		if resp.NextPage == 0 {
			return 0, nil
		}
		opts.ListOptions.Page = resp.NextPage
	}
	return 0, nil
}

// err names what failed; answers that retrying cannot fix are Permanent.
func (g *GitHubIssues) err(what string, resp *github.Response, err error) error {
	if err == nil {
		return nil
	}
	e := fmt.Errorf("alert repository %s/%s: cannot %s: %w", g.owner, g.repo, what, err)
	var rl *github.RateLimitError
	var ab *github.AbuseRateLimitError
	if errors.As(err, &rl) || errors.As(err, &ab) {
		return e
	}
	if resp != nil && resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
		return Permanent(e)
	}
	return e
}
