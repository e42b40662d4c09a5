package githubapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

var _ redeliver.Redeliverer = (*Client)(nil)

// Redeliver asks GitHub to deliver attempt attemptID of t again (POST
// …/deliveries/{id}/attempts) and returns GitHub's clock (the Date header)
// when it accepted. go-github reports the 202 as *github.AcceptedError;
// that is success.
//
// Errors:
//   - EInvalid wrapping *RedeliveryRefused: GitHub answered 400 or 422
//     (too old, or "spammed"); asking again will not help.
//   - ENotFound: no such hook or delivery, or the credentials cannot see it.
//   - EInternal wrapping *OutcomeUnknown: the connection failed after the
//     request may have reached GitHub, or GitHub answered 5xx. The POST is
//     resent only when it provably never left (dial errors, connection
//     refused, no installation token); otherwise it could redeliver twice,
//     so the caller reconciles by listing attempts instead.
//   - EAuth, ERateLimited as for ListAttempts.
//
// If an accepting answer has no usable Date header, the time is our
// estimate of GitHub's clock (from earlier answers) rather than an error:
// the redelivery did happen and must not be reported as failed.
func (c *Client) Redeliver(ctx context.Context, t redeliver.Target, attemptID int64) (time.Time, error) {
	if err := t.Validate(); err != nil {
		return time.Time{}, err
	}
	if attemptID <= 0 {
		return time.Time{}, redeliver.Errorf(redeliver.EInvalid, "redeliver %s: attempt id must be a positive integer", t)
	}
	a, err := c.apiFor(ctx, t)
	if err != nil {
		return time.Time{}, err
	}
	if err := ctx.Err(); err != nil {
		// Not sent: say so plainly rather than "outcome unknown" below.
		return time.Time{}, redeliver.Wrap(redeliver.EInternal, err, "redeliver attempt %d of %s", attemptID, t)
	}
	var resp *github.Response
	switch t.Kind {
	case redeliver.KindOrg:
		_, resp, err = a.gh.Organizations.RedeliverHookDelivery(ctx, t.Owner, t.HookID, attemptID)
	case redeliver.KindRepo:
		_, resp, err = a.gh.Repositories.RedeliverHookDelivery(ctx, t.Owner, t.Repo, t.HookID, attemptID)
	case redeliver.KindApp:
		_, resp, err = a.gh.Apps.RedeliverHookDelivery(ctx, attemptID)
	}
	what := "redeliver attempt " + itoa(attemptID) + " of " + t.String()

	var accepted *github.AcceptedError
	if err == nil || errors.As(err, &accepted) {
		if resp != nil {
			if d, ok := serverDate(resp.Header); ok {
				return d.UTC(), nil
			}
		}
		c.log.Warn("GitHub accepted a redelivery without a Date header; using the estimated server time", "target", t.Key(), "attempt", attemptID)
		return c.skew.now().UTC(), nil
	}

	if (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) && !a.st.limited() {
		// The context ended while the POST was on its way: GitHub may
		// have acted. (Ending during a rate-limit wait means it was not
		// sent; fail reports that as ERateLimited.)
		return time.Time{}, redeliver.Wrap(redeliver.EInternal, &OutcomeUnknown{Method: http.MethodPost, Path: redeliverPath(t, attemptID), Err: err}, "%s", what)
	}
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		ae := fromResponse(er.Response, er.Message)
		switch s := ae.Status; {
		case s == http.StatusBadRequest || s == http.StatusUnprocessableEntity:
			return time.Time{}, redeliver.Wrap(redeliver.EInvalid, &RedeliveryRefused{Status: s, Message: ae.Message}, "%s", what)
		case s >= 500:
			return time.Time{}, redeliver.Wrap(redeliver.EInternal, &OutcomeUnknown{Method: ae.Method, Path: ae.Path, Status: s}, "%s", what)
		}
	}
	return time.Time{}, c.fail(a, err, what,
		"delivery "+itoa(attemptID)+" of "+t.String()+" not found, or "+a.who+" cannot see it")
}

// redeliverPath is the route of a redelivery, for messages.
func redeliverPath(t redeliver.Target, attemptID int64) string {
	switch t.Kind {
	case redeliver.KindOrg:
		return "/orgs/" + t.Owner + "/hooks/" + itoa(t.HookID) + "/deliveries/" + itoa(attemptID) + "/attempts"
	case redeliver.KindRepo:
		return "/repos/" + t.Owner + "/" + t.Repo + "/hooks/" + itoa(t.HookID) + "/deliveries/" + itoa(attemptID) + "/attempts"
	}
	return "/app/hook/deliveries/" + itoa(attemptID) + "/attempts"
}
