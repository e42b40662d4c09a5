package githubapi

import (
	"context"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

var _ redeliver.HookLister = (*Client)(nil)

// maxHookPages stops a hook listing that never ends: GHES allows 250 hooks
// per event, so 100 pages of 100 is far beyond any real answer.
const maxHookPages = 100

// ListHooks returns every hook of org owner (repo == "") or of repository
// owner/repo, following page/per_page=100 paging. Errors: ENotFound for an
// unknown org or repository (or one the credentials cannot see), EAuth,
// ERateLimited, EInternal.
func (c *Client) ListHooks(ctx context.Context, owner, repo string) ([]redeliver.Hook, error) {
	if owner == "" {
		return nil, redeliver.Errorf(redeliver.EInvalid, "list hooks: owner is empty")
	}
	a, err := c.ownerAPI(ctx, owner, repo)
	if err != nil {
		return nil, err
	}
	what, missing := "list hooks of org "+owner, "org "+owner+" not found, or "+a.who+" cannot see its hooks"
	if repo != "" {
		what, missing = "list hooks of repo "+owner+"/"+repo, "repo "+owner+"/"+repo+" not found, or "+a.who+" cannot see its hooks"
	}
	var out []redeliver.Hook
	opts := &github.ListOptions{PerPage: perPage, Page: 1}
	for range maxHookPages {
		var (
			hooks []*github.Hook
			resp  *github.Response
		)
		if repo == "" {
			hooks, resp, err = a.gh.Organizations.ListHooks(ctx, owner, opts)
		} else {
			hooks, resp, err = a.gh.Repositories.ListHooks(ctx, owner, repo, opts)
		}
		if err != nil {
			return nil, c.fail(a, undecodable(resp, err), what, missing)
		}
		for _, h := range hooks {
			if h == nil || h.GetID() <= 0 {
				return nil, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered a hook without a valid id", what)
			}
			out = append(out, redeliver.Hook{
				ID:     h.GetID(),
				URL:    h.GetConfig().GetURL(),
				Events: h.Events,
				Active: h.GetActive(),
			})
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		if resp.NextPage <= opts.Page {
			return nil, redeliver.Errorf(redeliver.EInternal, "%s: GitHub's next page (%d) does not follow page %d", what, resp.NextPage, opts.Page)
		}
		opts.Page = resp.NextPage
	}
	return nil, redeliver.Errorf(redeliver.EInternal, "%s: more than %d pages of hooks", what, maxHookPages)
}
