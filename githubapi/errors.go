package githubapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/gofri/go-github-ratelimit/v2/github_ratelimit/github_primary_ratelimit"
	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

// APIError is an answer GitHub gave to a request, reduced to what is safe to
// show: no headers, no body beyond GitHub's own message. It sits in the
// chain of the *redeliver.Error this package returns.
type APIError struct {
	Method  string // "GET"
	Path    string // "/orgs/acme/hooks/12/deliveries"
	Status  int    // 404
	Message string // GitHub's "message", e.g. "Not Found"
}

// Error reads "GET /orgs/acme/hooks/12/deliveries: 404 Not Found".
func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// RedeliveryRefused is GitHub answering 400 or 422 to a redelivery request:
// the request reached GitHub and it declined, typically because the
// delivery is older than the redelivery window (3 days on github.com, 7 on
// GHES) or the endpoint "has been spammed". It is wrapped in a
// *redeliver.Error with code EInvalid; asking again will not help.
type RedeliveryRefused struct {
	Status  int    // 400 or 422
	Message string // GitHub's message, e.g. "Validation Failed"
}

// Error reads "GitHub refused the redelivery (422 Validation Failed)".
func (e *RedeliveryRefused) Error() string {
	return fmt.Sprintf("GitHub refused the redelivery (%d %s)", e.Status, e.Message)
}

// OutcomeUnknown is a mutating request (the redelivery POST) that failed
// after it may have reached GitHub: the connection broke or timed out once
// the request was on its way, or GitHub answered with a 5xx. GitHub may or
// may not have acted, so it is not sent again automatically; the caller
// reconciles by listing attempts (a redelivery shows up as a new attempt
// with the same GUID). It is wrapped in a *redeliver.Error with code
// EInternal.
type OutcomeUnknown struct {
	Method string
	Path   string
	Status int   // GitHub's 5xx answer, or 0 for a network failure
	Err    error // the network failure, if any
}

// Error names the request and says why its outcome is unknown.
func (e *OutcomeUnknown) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s %s: GitHub answered %d; whether it acted is unknown", e.Method, e.Path, e.Status)
	}
	return fmt.Sprintf("%s %s: the connection failed after the request may have reached GitHub (%v); whether it acted is unknown", e.Method, e.Path, e.Err)
}

// Unwrap returns the network failure, if any.
func (e *OutcomeUnknown) Unwrap() error { return e.Err }

// limitError is a rate limit that could not be waited out.
type limitError struct {
	route     string
	secondary bool      // kept answering with a secondary limit
	times     int       // … this many times
	until     time.Time // the limit lasts until then …
	why       string    // … which is "past the deadline", or tries ran out
	err       error     // the context ended during the wait
}

func (e *limitError) Error() string {
	switch {
	case e.err != nil:
		return fmt.Sprintf("%s: the wait for a GitHub rate limit ended early: %v", e.route, e.err)
	case e.secondary:
		return fmt.Sprintf("%s: GitHub answered with a secondary rate limit %d times in a row", e.route, e.times)
	default:
		return fmt.Sprintf("%s: GitHub rate limit in force until %s, %s", e.route, e.until.Format(time.RFC3339), e.why)
	}
}

func (e *limitError) Unwrap() error { return e.err }

// tokenError is a failure to obtain an installation token; the request it
// was for was not sent.
type tokenError struct {
	installation int64
	status       int
	message      string
	err          error
}

func (e *tokenError) Error() string {
	if e.status != 0 {
		msg := e.message
		if msg == "" {
			msg = http.StatusText(e.status)
		}
		return fmt.Sprintf("POST /app/installations/%d/access_tokens: %d %s", e.installation, e.status, msg)
	}
	return fmt.Sprintf("POST /app/installations/%d/access_tokens: %v", e.installation, e.err)
}

func (e *tokenError) Unwrap() error { return e.err }

// fail turns an error from a go-github call made with a into a
// *redeliver.Error. what names the call ("list deliveries of org acme hook
// 12"); notFound is the message for a 404. Nothing of the request's headers
// or GitHub's body beyond its message survives.
func (c *Client) fail(a *api, err error, what, notFound string) error {
	if err == nil {
		return nil
	}
	var coded *redeliver.Error
	if errors.As(err, &coded) {
		return err
	}
	who := "the credentials"
	if a != nil {
		who = a.who
	}

	var (
		lim  *limitError
		rle  *github.RateLimitError
		abe  *github.AbuseRateLimitError
		prim *github_primary_ratelimit.RateLimitReachedError
	)
	switch {
	case errors.As(err, &lim):
		return redeliver.Wrap(redeliver.ERateLimited, lim, "%s: rate limit not waited out", what)
	case errors.As(err, &rle):
		return redeliver.Wrap(redeliver.ERateLimited, fromResponse(rle.Response, rle.Message),
			"%s: GitHub primary rate limit exhausted for %s until %s", what, who, rle.Rate.Reset.Format(time.RFC3339))
	case errors.As(err, &abe):
		return redeliver.Wrap(redeliver.ERateLimited, fromResponse(abe.Response, abe.Message),
			"%s: GitHub secondary rate limit not waited out", what)
	case errors.As(err, &prim):
		return redeliver.Errorf(redeliver.ERateLimited, "%s: GitHub primary rate limit exhausted for %s", what, who)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		if a != nil && a.st.limited() {
			return redeliver.Wrap(redeliver.ERateLimited, err, "%s: the context ended while waiting out a GitHub rate limit", what)
		}
		return redeliver.Wrap(redeliver.EInternal, err, "%s", what)
	}

	var tok *tokenError
	if errors.As(err, &tok) {
		safe := &tokenError{installation: tok.installation, status: tok.status, message: tok.message, err: tok.err}
		switch tok.status {
		case http.StatusUnauthorized:
			return redeliver.Wrap(redeliver.EAuth, safe, "%s: GitHub refused the App's JWT when asked for an installation token (check the App id and private key)", what)
		case http.StatusForbidden:
			return redeliver.Wrap(redeliver.EAuth, safe, "%s: GitHub refused an installation token (the App may be suspended or lack permission)", what)
		case http.StatusNotFound:
			return redeliver.Wrap(redeliver.ENotFound, safe, "%s: installation %d of App %d not found", what, tok.installation, c.appID)
		}
		return redeliver.Wrap(redeliver.EInternal, safe, "%s: could not get an installation token", what)
	}

	var ou *OutcomeUnknown
	if errors.As(err, &ou) {
		return redeliver.Wrap(redeliver.EInternal, ou, "%s", what)
	}

	var er *github.ErrorResponse
	if errors.As(err, &er) {
		ae := fromResponse(er.Response, er.Message)
		lacks := lacking(er)
		switch s := ae.Status; {
		case (s == http.StatusForbidden || s == http.StatusTooManyRequests) && limitAnswer(er):
			// A secondary limit (or a primary one) that outlasted the
			// retries: the credentials are fine.
			return redeliver.Wrap(redeliver.ERateLimited, ae, "%s: GitHub rate limit not waited out (%d %s)", what, s, msgOr(ae.Message, http.StatusText(s)))
		case s == http.StatusUnauthorized:
			return redeliver.Wrap(redeliver.EAuth, ae, "%s with %s: GitHub refused the credentials (401 %s)", what, who, msgOr(ae.Message, "Bad credentials"))
		case s == http.StatusForbidden && lacks != "":
			return redeliver.Wrap(redeliver.EAuth, ae, "%s: GitHub denied %s (403 %s): %s", what, who, msgOr(ae.Message, "Forbidden"), lacks)
		case s == http.StatusForbidden:
			return redeliver.Wrap(redeliver.EAuth, ae, "%s: GitHub denied %s (403 %s); it lacks a permission or scope", what, who, msgOr(ae.Message, "Forbidden"))
		case s == http.StatusNotFound && lacks != "":
			// GitHub hides what a token may not administer behind a 404;
			// its scope headers tell the two apart.
			return redeliver.Wrap(redeliver.EAuth, ae, "%s: GitHub answered 404 because %s %s", what, who, lacks)
		case s == http.StatusNotFound:
			return redeliver.Wrap(redeliver.ENotFound, ae, "%s", notFound)
		case s == http.StatusTooManyRequests:
			return redeliver.Wrap(redeliver.ERateLimited, ae, "%s: GitHub rate limit not waited out", what)
		default:
			return redeliver.Wrap(redeliver.EInternal, ae, "%s: GitHub answered %d", what, s)
		}
	}

	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		tpe *time.ParseError
	)
	var dec *decodeError
	if errors.As(err, &dec) || errors.As(err, &syn) || errors.As(err, &typ) || errors.As(err, &tpe) {
		return redeliver.Wrap(redeliver.EInternal, err, "%s: GitHub answered nonsense", what)
	}
	if unreachable(err) {
		// Not "what": it may name a credential, and none was tried.
		return redeliver.Wrap(redeliver.EInternal, netCause(err), "cannot reach GitHub at %s, so nothing was sent: check the API URL (--api-url, GITHUB_API_URL or --hostname) and the network or proxy", c.base.Host)
	}
	if certError(err) {
		return redeliver.Wrap(redeliver.EInternal, err, "%s: the TLS certificate of %s is not trusted (for a GHES with a private CA, give its CA certificate with --ca-file, or ca_file in the config file)", what, c.base.Host)
	}
	return redeliver.Wrap(redeliver.EInternal, err, "%s", what)
}

// limitAnswer tells a rate-limit answer from a refusal: a Retry-After, an
// exhausted quota, or GitHub's secondary-limit message or documentation.
func limitAnswer(er *github.ErrorResponse) bool {
	if er.Response != nil {
		h := er.Response.Header
		if h.Get(hdrRetryAfter) != "" || h.Get(hdrRemaining) == "0" {
			return true
		}
	}
	return strings.Contains(strings.ToLower(er.Message), "secondary rate limit") ||
		strings.Contains(er.DocumentationURL, "rate-limit")
}

// lacking names what the credentials lack, from GitHub's headers: a
// classic token's scopes (X-OAuth-Scopes against X-Accepted-OAuth-Scopes)
// or a fine-grained token's or App's permission
// (X-Accepted-GitHub-Permissions). "" when the headers show nothing
// missing.
func lacking(er *github.ErrorResponse) string {
	if er.Response == nil {
		return ""
	}
	h := er.Response.Header
	if perm := strings.TrimSpace(h.Get("X-Accepted-GitHub-Permissions")); perm != "" && er.Response.StatusCode == http.StatusForbidden {
		return "lacks the permission " + perm + " (a fine-grained token or App needs it granted)"
	}
	accepted := scopeList(h.Get("X-Accepted-OAuth-Scopes"))
	if len(accepted) == 0 || len(h.Values("X-OAuth-Scopes")) == 0 {
		return "" // not a classic token, or GitHub named no scope
	}
	have := scopeList(h.Get("X-OAuth-Scopes"))
	for _, a := range accepted {
		for _, g := range have {
			if a == g {
				return "" // the scope is there: not a scope problem
			}
		}
	}
	has := "no scope"
	if len(have) > 0 {
		has = strings.Join(have, ", ")
	}
	return "lacks the scope " + strings.Join(accepted, " or ") + " (it has " + has + ")"
}

func scopeList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// maxUnreachableTries bounds the tries of a request whose connection
// could not be made (refused, no such host): such a host rarely comes back
// within seconds, and a wrong --api-url must fail fast.
const maxUnreachableTries = 2

// unreachable reports a request that never reached a server: the
// connection was refused or the host name does not resolve.
func unreachable(err error) bool {
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) || errors.As(err, &dns)
}

// netCause is the network failure at the bottom of err, without the
// URL that net/http puts around it (the route is named already).
func netCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	return err
}

// Explain maps an error of a call made through REST() — go-github's
// errors, rate limits, network failures — to a *redeliver.Error the way
// every call of this package is mapped. what names the call; notFound is
// the message for a 404.
func (c *Client) Explain(err error, what, notFound string) error {
	return c.fail(c.token, err, what, notFound)
}

// decodeError marks an answer with a 2xx status whose body go-github could
// not decode.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// undecodable wraps err as a decodeError when GitHub's status said success,
// so fail reports nonsense rather than a network problem.
func undecodable(resp *github.Response, err error) error {
	if err == nil || resp == nil || resp.Response == nil || resp.StatusCode < 200 || resp.StatusCode > 299 {
		return err
	}
	var accepted *github.AcceptedError
	if errors.As(err, &accepted) || transient(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // reading the body failed, not decoding it
	}
	return &decodeError{err: err}
}

// fromResponse builds an APIError from an answer, taking the route from the
// request (already without credentials) and nothing else.
func fromResponse(resp *http.Response, msg string) *APIError {
	ae := &APIError{Message: strings.TrimSpace(msg)}
	if resp != nil {
		ae.Status = resp.StatusCode
		if resp.Request != nil && resp.Request.URL != nil {
			ae.Method = resp.Request.Method
			ae.Path = resp.Request.URL.Path
		}
	}
	return ae
}

// apiMessage reads GitHub's "message" from an error answer.
func apiMessage(resp *http.Response) string {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(data, &body)
	return body.Message
}

func msgOr(msg, def string) string {
	if msg == "" {
		return def
	}
	return msg
}

// Is lets the engine recognise the outcome as unknown without knowing
// this package: errors.Is(err, redeliver.ErrOutcomeUnknown).
func (e *OutcomeUnknown) Is(target error) bool { return target == redeliver.ErrOutcomeUnknown }

// Is lets the engine recognise a refusal: errors.Is(err, redeliver.ErrRefused).
func (e *RedeliveryRefused) Is(target error) bool { return target == redeliver.ErrRefused }
