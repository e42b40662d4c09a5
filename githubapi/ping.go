package githubapi

import (
	"context"
	"errors"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

// ErrPingUnsupported is what Ping returns (wrapped, with code EInvalid) for
// an App's hook: GitHub has no ping operation for it.
var ErrPingUnsupported = errors.New("GitHub has no ping operation for an App's webhook")

// Ping asks GitHub to send t's hook a ping event (POST …/hooks/{id}/pings)
// and returns GitHub's clock (the Date header) when it accepted. The ping
// is a new delivery with its own guid, listed with the hook's others: it
// tells whether the receiver answers without spending an attempt of a
// user's event. It costs one request of the primary rate limit.
//
// Errors: EInvalid wrapping ErrPingUnsupported for an App's hook;
// ENotFound, EAuth, ERateLimited and EInternal as for Redeliver (a ping
// sent twice is harmless, so an unknown outcome is just an error).
func (c *Client) Ping(ctx context.Context, t redeliver.Target) (time.Time, error) {
	if err := t.Validate(); err != nil {
		return time.Time{}, err
	}
	if t.Kind == redeliver.KindApp {
		return time.Time{}, redeliver.Wrap(redeliver.EInvalid, ErrPingUnsupported, "ping %s", t)
	}
	a, err := c.apiFor(ctx, t)
	if err != nil {
		return time.Time{}, err
	}
	var resp *github.Response
	switch t.Kind {
	case redeliver.KindOrg:
		resp, err = a.gh.Organizations.PingHook(ctx, t.Owner, t.HookID)
	case redeliver.KindRepo:
		resp, err = a.gh.Repositories.PingHook(ctx, t.Owner, t.Repo, t.HookID)
	}
	if err == nil {
		if resp != nil {
			if d, ok := serverDate(resp.Header); ok {
				return d.UTC(), nil
			}
		}
		return c.skew.now().UTC(), nil
	}
	return time.Time{}, c.fail(a, err, "ping "+t.String(), "hook "+t.String()+" not found, or "+a.who+" cannot ping it")
}
