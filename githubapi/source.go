package githubapi

import (
	"context"
	"net/http"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

// perPage is the page size for deliveries and hooks: GitHub's documented
// maximum, so a pass takes as few requests as it can.
const perPage = 100

var _ redeliver.Source = (*Client)(nil)

// ListAttempts returns one page of t's delivery attempts, newest first
// (per_page=100). cursor is "" for the first page; Page.Next is the cursor
// go-github read from the rel="next" Link ("" on the last page).
// Page.ServerTime is the answer's Date header.
//
// A page is checked before it is trusted: every attempt must have an id
// above zero, a GUID, a delivered_at and a status, the Date header must
// parse, and the next cursor must differ from this one; otherwise the
// whole page is refused with EInternal. Other errors: ENotFound for an
// unknown hook (or one the credentials cannot see), EAuth, ERateLimited.
func (c *Client) ListAttempts(ctx context.Context, t redeliver.Target, cursor string) (redeliver.Page, error) {
	if err := t.Validate(); err != nil {
		return redeliver.Page{}, err
	}
	a, err := c.apiFor(ctx, t)
	if err != nil {
		return redeliver.Page{}, err
	}
	opts := &github.ListCursorOptions{PerPage: perPage, Cursor: cursor}
	var (
		items []*github.HookDelivery
		resp  *github.Response
	)
	switch t.Kind {
	case redeliver.KindOrg:
		items, resp, err = a.gh.Organizations.ListHookDeliveries(ctx, t.Owner, t.HookID, opts)
	case redeliver.KindRepo:
		items, resp, err = a.gh.Repositories.ListHookDeliveries(ctx, t.Owner, t.Repo, t.HookID, opts)
	case redeliver.KindApp:
		items, resp, err = a.gh.Apps.ListHookDeliveries(ctx, opts)
	}
	what := "list deliveries of " + t.String()
	if err != nil {
		return redeliver.Page{}, c.fail(a, undecodable(resp, err), what, notFoundHook(t, a))
	}
	now, err := dateOf(resp.Response, what)
	if err != nil {
		return redeliver.Page{}, err
	}
	page := redeliver.Page{Attempts: make([]redeliver.Attempt, 0, len(items)), Next: resp.Cursor, ServerTime: now}
	for _, d := range items {
		at, err := attemptOf(d, what)
		if err != nil {
			return redeliver.Page{}, err
		}
		page.Attempts = append(page.Attempts, at)
	}
	if page.Next != "" && page.Next == cursor {
		return redeliver.Page{}, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered the same next cursor it was given (%q)", what, cursor)
	}
	return page, nil
}

// attemptOf checks one list item and converts it.
func attemptOf(d *github.HookDelivery, what string) (redeliver.Attempt, error) {
	if d == nil {
		return redeliver.Attempt{}, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered a null delivery", what)
	}
	id := d.GetID()
	switch {
	case id <= 0:
		return redeliver.Attempt{}, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered a delivery without a valid id (id %d)", what, id)
	case d.GetGUID() == "":
		return redeliver.Attempt{}, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered a delivery without guid (id %d)", what, id)
	case d.DeliveredAt == nil || d.DeliveredAt.IsZero():
		return redeliver.Attempt{}, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered a delivery without delivered_at (id %d)", what, id)
	case d.Status == nil:
		// A missing status would read as a failure and be redelivered.
		return redeliver.Attempt{}, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered a delivery without status (id %d)", what, id)
	}
	return redeliver.Attempt{
		ID:          id,
		GUID:        d.GetGUID(),
		DeliveredAt: d.DeliveredAt.UTC(),
		Redelivery:  d.GetRedelivery(),
		Status:      d.GetStatus(),
		StatusCode:  d.GetStatusCode(),
		Event:       d.GetEvent(),
		Action:      d.GetAction(),
	}, nil
}

// dateOf returns GitHub's clock from an answer's Date header.
func dateOf(resp *http.Response, what string) (time.Time, error) {
	if resp == nil {
		return time.Time{}, redeliver.Errorf(redeliver.EInternal, "%s: no answer", what)
	}
	d, ok := serverDate(resp.Header)
	if !ok {
		if resp.Header.Get("Date") == "" {
			return time.Time{}, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered without a Date header", what)
		}
		return time.Time{}, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered an unreadable Date header %q", what, resp.Header.Get("Date"))
	}
	return d.UTC(), nil
}

// notFoundHook is the 404 message for a target's hook.
func notFoundHook(t redeliver.Target, a *api) string {
	switch t.Kind {
	case redeliver.KindOrg:
		return "hook " + itoa(t.HookID) + " of org " + t.Owner + " not found, or " + a.who + " cannot see it"
	case redeliver.KindRepo:
		return "hook " + itoa(t.HookID) + " of repo " + t.Owner + "/" + t.Repo + " not found, or " + a.who + " cannot see it"
	}
	return "the hook of App " + itoa(t.AppID) + " not found (does the App have a webhook?)"
}
