package githubapi

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	// ghinstallation's Signer interface is written in jwt/v4 types.
	jwt "github.com/golang-jwt/jwt/v4"
	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

// Which credential serves which call:
//
//	App hook (/app/hook/…)        the App JWT (ghinstallation.AppsTransport)
//	org and repo targets, hooks   the token; without one, an installation
//	                              token of the App for that org or repo
//	REST() (Actions variables)    the token
//
// Installation ids are looked up once per org or repo (GET
// /orgs/{org}/installation, GET /repos/{o}/{r}/installation, with the JWT)
// and each installation keeps one transport, which renews its token before
// it expires.

// apiFor returns the client that serves target t.
func (c *Client) apiFor(ctx context.Context, t redeliver.Target) (*api, error) {
	switch t.Kind {
	case redeliver.KindApp:
		if c.app == nil {
			return nil, redeliver.Errorf(redeliver.EInvalid, "%s: needs the App's id and private key", t)
		}
		if t.AppID != c.appID {
			return nil, redeliver.Errorf(redeliver.EInvalid, "%s: the configured App is %d; its JWT cannot read another App's hook", t, c.appID)
		}
		return c.app, nil
	case redeliver.KindOrg:
		return c.ownerAPI(ctx, t.Owner, "")
	case redeliver.KindRepo:
		return c.ownerAPI(ctx, t.Owner, t.Repo)
	}
	return nil, t.Validate()
}

// ownerAPI returns the client for an org (repo == "") or a repository: the
// token when there is one, else the App's installation there.
func (c *Client) ownerAPI(ctx context.Context, owner, repo string) (*api, error) {
	if c.token != nil {
		return c.token, nil
	}
	return c.installation(ctx, owner, repo)
}

// RESTFor returns the go-github client that serves owner/repo (the org when
// repo is ""): the token's when there is one, else the App installation's.
// Like REST, it carries the retry and rate-limit stack.
func (c *Client) RESTFor(ctx context.Context, owner, repo string) (*github.Client, error) {
	a, err := c.ownerAPI(ctx, owner, repo)
	if err != nil {
		return nil, err
	}
	return a.gh, nil
}

// installation finds (once) the App's installation on an org or repository
// and returns its client.
func (c *Client) installation(ctx context.Context, owner, repo string) (*api, error) {
	key := "org/" + strings.ToLower(owner)
	if repo != "" {
		key = "repo/" + strings.ToLower(owner) + "/" + strings.ToLower(repo)
	}
	c.mu.Lock()
	if id, ok := c.instByKey[key]; ok {
		a := c.instByID[id]
		c.mu.Unlock()
		return a, nil
	}
	c.mu.Unlock()

	var (
		inst          *github.Installation
		err           error
		what, missing string
	)
	if repo == "" {
		what = "find the App's installation on org " + owner
		missing = fmt.Sprintf("GitHub App %d is not installed on org %s", c.appID, owner)
		inst, _, err = c.app.gh.Apps.GetOrganizationInstallation(ctx, owner)
	} else {
		what = "find the App's installation on repo " + owner + "/" + repo
		missing = fmt.Sprintf("GitHub App %d is not installed on repo %s/%s (or the repository does not exist)", c.appID, owner, repo)
		inst, _, err = c.app.gh.Apps.GetRepositoryInstallation(ctx, owner, repo)
	}
	if err != nil {
		return nil, c.fail(c.app, err, what, missing)
	}
	id := inst.GetID()
	if id <= 0 {
		return nil, redeliver.Errorf(redeliver.EInternal, "%s: GitHub answered an installation without id", what)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.instByID[id]
	if a == nil {
		who := fmt.Sprintf("the installation token of App %d (installation %d)", c.appID, id)
		a = c.newAPI(who, &instRT{c: c, id: id})
		c.instByID[id] = a
	}
	c.instByKey[key] = id
	return a, nil
}

// appsTransport returns a fresh JWT transport for the App over tr. Each
// installation gets its own: ghinstallation writes to the AppsTransport
// while renewing a token, so sharing one would race.
func (c *Client) appsTransport(tr http.RoundTripper) *ghinstallation.AppsTransport {
	atr, err := ghinstallation.NewAppsTransportWithOptions(tr, c.appID,
		ghinstallation.WithSigner(&skewSigner{key: c.key, skew: c.skew}))
	if err != nil {
		// Only a missing signer fails, and there is one.
		panic("githubapi: " + err.Error())
	}
	atr.BaseURL = strings.TrimSuffix(c.base.String(), "/")
	return atr
}

// skewSigner signs App JWTs with iat and exp moved onto GitHub's clock, as
// learned from Date headers. GitHub (and the emulator) check both against
// their own clock; ghinstallation takes them from ours, so a runner whose
// clock is a few minutes off would otherwise be refused every JWT.
type skewSigner struct {
	key  *rsa.PrivateKey
	skew *skewClock
}

// Sign implements ghinstallation.Signer.
func (s *skewSigner) Sign(claims jwt.Claims) (string, error) {
	if rc, ok := claims.(*jwt.RegisteredClaims); ok {
		off := s.skew.offsetNow()
		moved := *rc
		if rc.IssuedAt != nil {
			moved.IssuedAt = jwt.NewNumericDate(rc.IssuedAt.Add(off).Truncate(time.Second))
		}
		if rc.ExpiresAt != nil {
			moved.ExpiresAt = jwt.NewNumericDate(rc.ExpiresAt.Add(off).Truncate(time.Second))
		}
		claims = &moved
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(s.key)
}

// jwtRT sends App-JWT requests. A 401 that taught us a different server
// clock (the first answer may be the one that does) is sent once more with
// a JWT signed for that clock.
type jwtRT struct {
	next http.RoundTripper // the AppsTransport
	skew *skewClock
}

func (t *jwtRT) RoundTrip(req *http.Request) (*http.Response, error) {
	before := t.skew.offsetNow()
	// AppsTransport writes to the request it is given: give it a copy.
	resp, err := t.next.RoundTrip(req.Clone(req.Context()))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !t.skew.movedSince(before) {
		return resp, err
	}
	r, ok := replay(req)
	if !ok {
		return resp, nil
	}
	discard(resp)
	return t.next.RoundTrip(r)
}

// replay returns a copy of req that can be sent again, if there is one.
func replay(req *http.Request) (*http.Request, bool) {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	r.Body = body
	return r, true
}

// tokenClockRT sits under an installation's transport and moves the
// expires_at of each new installation token from GitHub's clock onto ours,
// since ghinstallation compares it with ours: a clock running ahead would
// otherwise fetch a new token for every request, one running behind would
// keep an expired token (instRT also covers that case).
type tokenClockRT struct {
	next http.RoundTripper
}

func (t *tokenClockRT) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost || resp.StatusCode != http.StatusCreated ||
		!strings.HasSuffix(req.URL.Path, "/access_tokens") {
		return resp, err
	}
	date, ok := serverDate(resp.Header)
	if !ok {
		return resp, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return resp, nil
	}
	var body map[string]json.RawMessage
	var exp time.Time
	if json.Unmarshal(data, &body) != nil || json.Unmarshal(body["expires_at"], &exp) != nil || exp.IsZero() {
		return resp, nil // ghinstallation will report what is wrong
	}
	local := exp.Add(time.Since(date)) // exp − (date − now)
	if body["expires_at"], err = json.Marshal(local.UTC()); err != nil {
		return resp, nil
	}
	if data, err = json.Marshal(body); err != nil {
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	resp.ContentLength = int64(len(data))
	resp.Header.Del("Content-Length")
	return resp, nil
}

// instRT authenticates as one installation through ghinstallation, which
// renews the token a minute before the expires_at GitHub gave.
//
// ghinstallation judges expiry with the local clock. When that clock runs
// behind GitHub's (or the emulator's), GitHub may refuse a token
// ghinstallation still thinks fresh; a 401 therefore drops the transport and
// sends the request once more with a new token.
type instRT struct {
	c  *Client
	id int64

	mu sync.Mutex
	tr *ghinstallation.Transport
}

func (t *instRT) current() *ghinstallation.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr == nil {
		t.tr = ghinstallation.NewFromAppsTransport(t.c.appsTransport(&tokenClockRT{next: t.c.wire}), t.id)
	}
	return t.tr
}

func (t *instRT) drop(old *ghinstallation.Transport) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tr == old {
		t.tr = nil
	}
}

func (t *instRT) RoundTrip(req *http.Request) (*http.Response, error) {
	before := t.c.skew.offsetNow()
	tr := t.current()
	resp, err := t.send(tr, req)
	var tok *tokenError
	switch {
	case err == nil && resp.StatusCode == http.StatusUnauthorized:
		// GitHub refused a token ghinstallation deems fresh.
	case errors.As(err, &tok) && tok.status == http.StatusUnauthorized && t.c.skew.movedSince(before):
		// The JWT for the token was refused, and we just learned that
		// GitHub's clock differs from the one we signed for.
	default:
		return resp, err
	}
	r, ok := replay(req)
	if !ok {
		return resp, err
	}
	if resp != nil {
		discard(resp)
	}
	t.drop(tr)
	t.c.log.Info("GitHub refused an installation token; renewing it", "installation", t.id, "route", route(req))
	return t.send(t.current(), r)
}

// send makes one request; a failure to get a token becomes a *tokenError,
// except a rate-limit answer, which goes up to the limiters as it is.
func (t *instRT) send(tr *ghinstallation.Transport, req *http.Request) (*http.Response, error) {
	resp, err := tr.RoundTrip(req)
	if err == nil {
		return resp, nil
	}
	var he *ghinstallation.HTTPError
	if !errors.As(err, &he) {
		return nil, err
	}
	if he.Response == nil {
		return nil, &tokenError{installation: t.id, err: he.RootCause}
	}
	r := he.Response
	if r.StatusCode == http.StatusForbidden || r.StatusCode == http.StatusTooManyRequests {
		if r.Header.Get(hdrRemaining) == "0" || isSecondaryLimit(r) {
			return r, nil
		}
	}
	te := &tokenError{installation: t.id, status: r.StatusCode, message: apiMessage(r)}
	discard(r)
	return nil, te
}

// CheckAuth makes the cheapest calls that show GitHub accepts the
// credentials, so a bad token or key fails before any work, with EAuth:
//   - the token: GET /rate_limit, which costs no primary quota. A GHES
//     with rate limiting off answers 404 there; that counts as accepted
//     (a later call still reports a bad token).
//   - the App: GET /app with the JWT.
//
// Installation tokens are obtained on first use of each org or repo.
func (c *Client) CheckAuth(ctx context.Context) error {
	if c.token != nil {
		_, _, err := c.token.gh.RateLimit.Get(ctx)
		if err != nil && !isStatus(err, http.StatusNotFound) {
			return c.fail(c.token, err, "check the token (GET /rate_limit)", "GET /rate_limit: not found")
		}
		c.setLimitsOff(err != nil) // a 404: rate limiting is off
	}
	return c.CheckApp(ctx)
}

// CheckApp is CheckAuth for the App alone (GET /app with the JWT), when
// there is one: it also learns GitHub's clock from the answer, so the JWTs
// that follow are signed for it and not refused first.
func (c *Client) CheckApp(ctx context.Context) error {
	if c.app == nil {
		return nil
	}
	if _, _, err := c.app.gh.Apps.Get(ctx, ""); err != nil {
		return c.fail(c.app, err, fmt.Sprintf("check App %d (GET /app)", c.appID), fmt.Sprintf("App %d not found", c.appID))
	}
	return nil
}

// RateLimitingOff reports whether GitHub has rate limiting turned off,
// which only a GHES can: GET /rate_limit answers 404 there (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
// The engine may then go faster. Once any answer came, its headers tell
// (x-ratelimit-limit comes with every answer where limits are on) and no
// request is made; before that the call is made with the token, or
// without credentials when there is only an App (its JWT is for /app
// routes only); either way it costs no primary quota.
func (c *Client) RateLimitingOff(ctx context.Context) (bool, error) {
	c.mu.Lock()
	known := c.limitsOff
	c.mu.Unlock()
	if known != nil {
		return *known, nil // CheckAuth asked already
	}
	if off, ok := c.limits.known(); ok {
		return off, nil
	}
	a := c.token
	if a == nil {
		a = c.anon
	}
	_, _, err := a.gh.RateLimit.Get(ctx)
	switch {
	case err == nil:
		c.setLimitsOff(false)
		return false, nil
	case isStatus(err, http.StatusNotFound):
		c.setLimitsOff(true)
		return true, nil
	}
	return false, c.fail(a, err, "read the rate limits (GET /rate_limit)", "GET /rate_limit: not found")
}

// setLimitsOff remembers what GET /rate_limit said, so it is asked once.
func (c *Client) setLimitsOff(off bool) {
	c.mu.Lock()
	c.limitsOff = &off
	c.mu.Unlock()
}

// isStatus reports whether err is GitHub answering status.
func isStatus(err error, status int) bool {
	var er *github.ErrorResponse
	return errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == status
}
