package githubapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/gofri/go-github-ratelimit/v2/github_ratelimit/github_primary_ratelimit"
	"github.com/gofri/go-github-ratelimit/v2/github_ratelimit/github_secondary_ratelimit"
	"github.com/google/go-github/v93/github"
)

// Header names GitHub uses for rate limits (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
const (
	hdrRemaining  = "X-RateLimit-Remaining"
	hdrReset      = "X-RateLimit-Reset"
	hdrRetryAfter = "Retry-After"
	hdrAPIVersion = "X-GitHub-Api-Version"
)

// Rate-limit waits beyond what GitHub's headers say.
const (
	// resetSlack is added to a primary reset before sending again: the
	// reset is whole seconds and our translation of it to local time is
	// already rounded up, so a little is enough.
	resetSlack = 100 * time.Millisecond
	// firstBlindWait is the wait after a secondary limit that names no
	// time; it doubles on each repeat for the same request, up to
	// maxBlindWait (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api: "wait ≥1 min, then back off").
	firstBlindWait = time.Minute
	maxBlindWait   = 16 * time.Minute
	// maxRetryElapsed bounds one request's retries and waits together; a
	// primary limit resets within the hour.
	maxRetryElapsed = 65 * time.Minute
	// maxErrorBody bounds how much of an error answer is kept.
	maxErrorBody = 1 << 20
)

// newAPI builds a go-github client over a full stack whose auth layer is
// auth (see the package comment for the layers).
func (c *Client) newAPI(who string, auth http.RoundTripper) *api {
	st := &stack{}
	secondary := func(cb *github_secondary_ratelimit.CallbackContext) {
		if cb != nil && cb.ResetTime != nil {
			st.markLimited(*cb.ResetTime)
			c.log.Warn("GitHub secondary rate limit", "credential", who, "route", route(cb.Request), "until", cb.ResetTime.Format(time.RFC3339))
		}
		switch {
		case c.onWait != nil:
			var wait time.Duration
			if cb != nil && cb.ResetTime != nil {
				wait = time.Until(*cb.ResetTime)
			}
			var r string
			if cb != nil && cb.Request != nil && cb.Request.URL != nil {
				r = RouteTemplate(cb.Request.Method, strings.TrimPrefix(cb.Request.URL.Path, strings.TrimSuffix(c.base.Path, "/")))
			}
			c.onWait(r, wait)
		case c.onLimit != nil:
			c.onLimit()
		}
	}
	rt := http.RoundTripper(&originRT{auth: auth, plain: c.wire, base: c.base})
	rt = &normalizeRT{next: rt, st: st, max: c.retries, onGiveUp: func() { secondary(nil) }}
	rt = github_primary_ratelimit.New(rt,
		github_primary_ratelimit.WithLimitDetectedCallback(func(cb *github_primary_ratelimit.CallbackContext) {
			if cb.ResetTime != nil {
				st.markLimited(*cb.ResetTime)
				c.log.Warn("GitHub primary rate limit reached", "credential", who, "category", string(cb.Category), "until", cb.ResetTime.Format(time.RFC3339))
			}
		}),
	)
	// The limiter calls back before it sleeps, and (through the per-request
	// sleep limit retryRT sets) when a wait would outlast the deadline.
	rt = github_secondary_ratelimit.New(rt, github_secondary_ratelimit.WithLimitDetectedCallback(secondary))
	rt = &retryRT{next: rt, st: st, max: c.retries, minWait: c.minWait, log: c.log, who: who, onSecondary: secondary}
	if c.onAnswer != nil {
		rt = &observeRT{next: rt, who: who, base: c.base.Path, on: c.onAnswer}
	}
	if c.cond {
		rt = newConditional(rt)
	}
	base := c.base.String()
	gh, err := github.NewClient(
		github.WithHTTPClient(&http.Client{Transport: rt}),
		github.WithURLs(&base, &base),
		github.WithUserAgent(c.userAgent),
		// Our stack handles limits with GitHub's clock; go-github's own
		// pre-check compares the reset with the local clock.
		github.WithDisableRateLimitCheck(),
	)
	if err != nil {
		// Only a malformed URL fails here, and parseBaseURL checked it.
		panic("githubapi: go-github refused a checked base URL: " + err.Error())
	}
	return &api{gh: gh, st: st, who: who}
}

// stack is the state shared by the layers of one credential's stack.
type stack struct {
	limitedUntil atomic.Int64 // local unix nanoseconds
}

// markLimited records that GitHub asked us to hold back until t.
func (s *stack) markLimited(t time.Time) {
	n := t.UnixNano()
	for {
		old := s.limitedUntil.Load()
		if old >= n || s.limitedUntil.CompareAndSwap(old, n) {
			return
		}
	}
}

// limited reports whether a rate-limit wait is in force now.
func (s *stack) limited() bool { return time.Now().UnixNano() < s.limitedUntil.Load() }

// reqState follows one logical request through its retries.
type reqState struct {
	secondary atomic.Int32 // secondary-limit answers so far
}

type reqStateKey struct{}

func stateOf(ctx context.Context) *reqState {
	s, _ := ctx.Value(reqStateKey{}).(*reqState)
	return s
}

// ---------------------------------------------------------------------------
// wire: the bottom layer.

// wireRT sets the headers every request carries, bounds each attempt with
// the HTTP timeout and learns GitHub's clock from the Date header.
type wireRT struct {
	next      http.RoundTripper
	userAgent string
	timeout   time.Duration
	skew      *skewClock
	limits    *limitsSeen
}

func (t *wireRT) RoundTrip(req *http.Request) (*http.Response, error) {
	parent := req.Context()
	ctx, cancel := context.WithTimeout(parent, t.timeout)
	r := req.Clone(ctx)
	r.Header.Set("User-Agent", t.userAgent)
	if r.Header.Get(hdrAPIVersion) == "" {
		r.Header.Set(hdrAPIVersion, apiVersion)
	}
	if r.Header.Get("Accept") == "" {
		r.Header.Set("Accept", "application/vnd.github+json")
	}
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		cancel()
		if parent.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, &attemptTimeout{after: t.timeout}
		}
		return nil, err
	}
	t.skew.observe(resp.Header)
	t.limits.observe(r, resp)
	// The attempt's deadline also bounds reading the body; closing the
	// body releases the timer.
	resp.Body = &cancelBody{ReadCloser: limitBody(resp, maxResponseBody), cancel: cancel}
	return resp, nil
}

// cancelBody cancels the attempt's context once the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// attemptTimeout is one attempt running past Config.HTTPTimeout.
type attemptTimeout struct{ after time.Duration }

func (e *attemptTimeout) Error() string {
	return fmt.Sprintf("no complete answer within %s", e.after)
}

// Timeout marks the error as a timeout for net.Error users.
func (e *attemptTimeout) Timeout() bool { return true }

// Temporary is part of net.Error.
func (e *attemptTimeout) Temporary() bool { return true }

// skewClock estimates GitHub's clock from the Date headers it sends.
type skewClock struct {
	offset atomic.Int64 // server minus local, nanoseconds
}

func (s *skewClock) observe(h http.Header) {
	if d, ok := serverDate(h); ok {
		s.offset.Store(int64(time.Until(d)))
	}
}

// now is our best guess of GitHub's clock.
func (s *skewClock) now() time.Time { return time.Now().Add(s.offsetNow()) }

// offsetNow is GitHub's clock minus ours, as last seen.
func (s *skewClock) offsetNow() time.Duration { return time.Duration(s.offset.Load()) }

// movedSince reports whether the offset changed by more than Date's
// one-second grain (and then some) since it was before.
func (s *skewClock) movedSince(before time.Duration) bool {
	d := s.offsetNow() - before
	return d > 5*time.Second || d < -5*time.Second
}

// limitsSeen learns from GitHub's answers whether it limits rates: where
// it does, every answer carries x-ratelimit-limit; a GHES with rate
// limiting off sends none (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
// So the answers a run gets anyway tell what GET /rate_limit would.
type limitsSeen struct {
	base  *url.URL
	state atomic.Int32 // 0: no answer yet; limitsOn; limitsOff
}

const (
	limitsOn  = 1
	limitsOff = 2
)

// observe judges by the API's own successful answers only: an error page
// from a proxy on the way says nothing about GitHub's settings.
func (l *limitsSeen) observe(req *http.Request, resp *http.Response) {
	if l == nil || req.URL == nil || !sameOrigin(req.URL, l.base) {
		return
	}
	switch {
	case resp.Header.Get("X-RateLimit-Limit") != "":
		l.state.Store(limitsOn)
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		l.state.CompareAndSwap(0, limitsOff)
	}
}

// known returns whether GitHub limits rates, once an answer has said so.
func (l *limitsSeen) known() (off, ok bool) {
	switch l.state.Load() {
	case limitsOn:
		return false, true
	case limitsOff:
		return true, true
	}
	return false, false
}

// serverDate parses the Date header.
func serverDate(h http.Header) (time.Time, bool) {
	v := h.Get("Date")
	if v == "" {
		return time.Time{}, false
	}
	d, err := http.ParseTime(v)
	if err != nil || d.IsZero() {
		return time.Time{}, false
	}
	return d, true
}

// ---------------------------------------------------------------------------
// auth helpers.

// bearerRT adds "Authorization: Bearer <token>".
type bearerRT struct {
	next  http.RoundTripper
	value string // "Bearer " + token
}

func (t *bearerRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", t.value)
	return t.next.RoundTrip(r)
}

// originRT sends credentials only to the API's own origin (a redirect to
// another host or to plain http goes out without them), and hands upwards
// responses whose Request is the one without credentials, so no error
// built from a response can reach an Authorization header.
type originRT struct {
	auth  http.RoundTripper
	plain http.RoundTripper
	base  *url.URL
}

func (t *originRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if !sameOrigin(req.URL, t.base) {
		return t.plain.RoundTrip(req)
	}
	clean := req.Clone(req.Context())
	clean.Header.Del("Authorization")
	resp, err := t.auth.RoundTrip(req.Clone(req.Context()))
	if resp != nil {
		resp.Request = clean
	}
	return resp, err
}

func sameOrigin(u, base *url.URL) bool {
	return strings.EqualFold(u.Scheme, base.Scheme) &&
		strings.EqualFold(u.Hostname(), base.Hostname()) &&
		port(u) == port(base)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// ---------------------------------------------------------------------------
// normalize: between the auth layer and the rate limiters.

// normalizeRT makes GitHub's rate-limit headers safe for the limiters above
// it:
//   - x-ratelimit-reset is an epoch on GitHub's clock; the limiters compare
//     it with ours. It is rewritten as now + (reset − Date), rounded up, so
//     a skewed local clock (or the emulator's) never makes us send early
//     or wait for hours.
//   - a secondary limit without retry-after gets one: a minute, doubling on
//     each repeat for the same request (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api). The limiter above
//     would otherwise wait until x-ratelimit-reset, which may be now.
//   - after more secondary limits for one request than retries allowed, it
//     gives up with a rate-limit error instead of letting the limiter wait
//     forever.
type normalizeRT struct {
	next     http.RoundTripper
	st       *stack
	max      int
	onGiveUp func() // tells the caller about the last secondary limit
}

func (t *normalizeRT) RoundTrip(req *http.Request) (*http.Response, error) {
	// The secondary limiter above resends the very request it was given
	// after a wait; give every pass a fresh body when there is one.
	if req.Body != nil && req.Body != http.NoBody && req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			req.Body.Close()
			return nil, err
		}
		req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = body
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if date, ok := serverDate(resp.Header); ok {
		if reset, ok := headerInt(resp.Header, hdrReset); ok && reset > 0 {
			local := time.Now().Add(time.Unix(reset, 0).Sub(date))
			resp.Header.Set(hdrReset, strconv.FormatInt(ceilUnix(local), 10))
		}
	}
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return resp, nil
	}
	if resp.Header.Get(hdrRemaining) == "0" { // primary limit
		if reset, ok := headerInt(resp.Header, hdrReset); ok {
			t.st.markLimited(time.Unix(reset, 0))
		}
		return resp, nil
	}
	if !isSecondaryLimit(resp) {
		return resp, nil
	}
	n := 1
	if rs := stateOf(req.Context()); rs != nil {
		n = int(rs.secondary.Add(1))
	}
	if n > max(t.max, 1) {
		discard(resp)
		t.onGiveUp()
		return nil, &limitError{secondary: true, times: n, route: route(req)}
	}
	wait := time.Duration(0)
	if s, ok := headerInt(resp.Header, hdrRetryAfter); ok && s > 0 {
		wait = time.Duration(s) * time.Second
	} else {
		wait = min(firstBlindWait<<(n-1), maxBlindWait)
		resp.Header.Set(hdrRetryAfter, strconv.Itoa(int(wait/time.Second)))
	}
	t.st.markLimited(time.Now().Add(wait))
	return resp, nil
}

// isSecondaryLimit tells a secondary-limit answer by its body, as GitHub
// documents it and as go-github and go-github-ratelimit do. The body is
// restored for the layers above.
func isSecondaryLimit(resp *http.Response) bool {
	if resp.Header.Get(hdrRemaining) == "0" {
		return false
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err != nil {
		return false
	}
	var body struct {
		Message string `json:"message"`
		DocURL  string `json:"documentation_url"`
	}
	if json.Unmarshal(data, &body) != nil {
		return false
	}
	return strings.HasPrefix(body.Message, github_secondary_ratelimit.SecondaryRateLimitMessage) ||
		github_secondary_ratelimit.HasSecondaryRateLimitSuffix(body.DocURL)
}

// ---------------------------------------------------------------------------
// retries: the top layer.

// retryRT retries with exponential backoff and jitter (cenkalti/backoff):
//   - 5xx answers and network errors, for idempotent methods;
//   - any method when the request provably never left (dial errors,
//     connection refused, an installation token that could not be had);
//   - after a primary rate limit, once its reset has passed.
//
// A POST that failed after it may have reached GitHub is not retried: it
// comes back as *OutcomeUnknown (a network error) or as GitHub's 5xx answer,
// and the caller reconciles by listing attempts. A wait that would outlast
// the context's deadline is not started.
type retryRT struct {
	next        http.RoundTripper
	st          *stack
	max         int
	minWait     time.Duration
	log         *slog.Logger
	who         string
	onSecondary github_secondary_ratelimit.OnSingleLimitExceeded
}

func (t *retryRT) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := context.WithValue(req.Context(), reqStateKey{}, &reqState{})
	tries := 0
	op := func() (*http.Response, error) {
		tries++
		actx := ctx
		if dl, ok := ctx.Deadline(); ok {
			// The secondary limiter must not start a sleep it cannot finish.
			actx = github_secondary_ratelimit.WithOverrideConfig(ctx,
				github_secondary_ratelimit.WithSingleSleepLimit(time.Until(dl), t.onSecondary))
		}
		r := req.Clone(actx)
		if tries > 1 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, backoff.Permanent(fmt.Errorf("%s: cannot resend a request whose body was consumed", route(req)))
			}
			body, err := req.GetBody()
			if err != nil {
				return nil, backoff.Permanent(err)
			}
			r.Body = body
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil && tries >= maxUnreachableTries && unreachable(err) {
			return nil, backoff.Permanent(err)
		}
		if err != nil {
			return nil, t.onError(ctx, r, err)
		}
		return t.onResponse(ctx, r, resp)
	}
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = t.minWait
	bo.Multiplier = 2
	bo.MaxInterval = 30 * time.Second
	resp, err := backoff.Retry(ctx, op,
		backoff.WithBackOff(bo),
		backoff.WithMaxTries(uint(t.max+1)),
		backoff.WithMaxElapsedTime(maxRetryElapsed),
		backoff.WithNotify(func(err error, d time.Duration) {
			t.log.Warn("GitHub request failed; retrying", "credential", t.who, "route", route(req), "in", d.Round(time.Millisecond).String(), "reason", err.Error())
		}),
	)
	if err == nil {
		return resp, nil
	}
	// Out of tries on an answer GitHub gave: hand it up as it was, so
	// go-github reports GitHub's status and message.
	var last *retryable
	if errors.As(err, &last) && last.resp != nil {
		return last.resp, nil
	}
	if ctx.Err() != nil && t.st.limited() {
		return nil, &limitError{route: route(req), err: err}
	}
	var lim *limitError
	if errors.As(err, &lim) && lim.why != "" && !lim.until.IsZero() && tries > 1 {
		return nil, &limitError{route: lim.route, until: lim.until, why: fmt.Sprintf("still limited after %d attempts", tries)}
	}
	if tries > 1 && !errors.Is(err, ctx.Err()) {
		return nil, fmt.Errorf("after %d attempts: %w", tries, err)
	}
	return nil, err
}

// onError classifies a failed attempt for backoff.Retry.
func (t *retryRT) onError(ctx context.Context, r *http.Request, err error) error {
	if ctx.Err() != nil {
		return backoff.Permanent(err)
	}
	var prim *github_primary_ratelimit.RateLimitReachedError
	if errors.As(err, &prim) {
		until := time.Now()
		if prim.ResetTime != nil {
			until = *prim.ResetTime // already on our clock (normalizeRT)
		}
		if prim.Response != nil {
			if s, ok := headerInt(prim.Response.Header, hdrRetryAfter); ok && s > 0 {
				until = later(until, time.Now().Add(time.Duration(s)*time.Second))
			}
			discard(prim.Response)
		}
		until = until.Add(resetSlack)
		t.st.markLimited(until)
		return t.waitUntil(ctx, until, &limitError{route: route(r), until: until, why: "past the deadline"})
	}
	var lim *limitError
	if errors.As(err, &lim) {
		return backoff.Permanent(err)
	}
	var tok *tokenError
	if errors.As(err, &tok) {
		if tok.status >= 500 || (tok.status == 0 && tok.err != nil && transient(tok.err)) {
			return err // the request itself was never sent
		}
		return backoff.Permanent(err)
	}
	switch {
	case certError(err):
		return backoff.Permanent(err)
	case neverSent(err):
		return err
	case transient(err):
		if idempotent(r.Method) {
			return err
		}
		return backoff.Permanent(&OutcomeUnknown{Method: r.Method, Path: r.URL.Path, Err: err})
	}
	return backoff.Permanent(err)
}

// onResponse classifies an answer for backoff.Retry.
func (t *retryRT) onResponse(ctx context.Context, r *http.Request, resp *http.Response) (*http.Response, error) {
	code := resp.StatusCode
	switch {
	case code >= 500 && idempotent(r.Method):
		return nil, &retryable{resp: buffer(resp), msg: fmt.Sprintf("GitHub answered %d", code)}
	case (code == http.StatusForbidden || code == http.StatusTooManyRequests) && resp.Header.Get(hdrRemaining) == "0":
		// A primary limit the limiter did not take (no or unknown
		// x-ratelimit-resource). The request was refused, so it is safe
		// to send again after the reset, whatever the method.
		until := time.Now()
		if reset, ok := headerInt(resp.Header, hdrReset); ok {
			until = time.Unix(reset, 0)
		}
		if s, ok := headerInt(resp.Header, hdrRetryAfter); ok && s > 0 {
			until = later(until, time.Now().Add(time.Duration(s)*time.Second))
		}
		until = until.Add(resetSlack)
		t.st.markLimited(until)
		return nil, t.waitUntil(ctx, until, &retryable{resp: buffer(resp), msg: "GitHub primary rate limit"})
	}
	return resp, nil
}

// waitUntil asks backoff.Retry to wait until the given time, or gives up at
// once with cause when the context's deadline comes first.
func (t *retryRT) waitUntil(ctx context.Context, until time.Time, cause error) error {
	if dl, ok := ctx.Deadline(); ok && dl.Before(until) {
		return backoff.Permanent(cause)
	}
	return &waitError{cause: cause, after: backoff.RetryAfterError{Duration: max(time.Until(until), 0)}}
}

// waitError carries a wait for backoff.Retry alongside its cause.
type waitError struct {
	cause error
	after backoff.RetryAfterError
}

func (e *waitError) Error() string   { return e.cause.Error() }
func (e *waitError) Unwrap() []error { return []error{e.cause, &e.after} }

// retryable is an answer worth asking again; resp is the buffered answer,
// handed up as is when the tries run out.
type retryable struct {
	resp *http.Response
	msg  string
}

func (e *retryable) Error() string { return e.msg }

// idempotent methods may be sent twice without changing the outcome.
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// neverSent reports errors raised before any byte of the request left:
// dialing (including DNS and connection refused) and proxy connects.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect") {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED)
}

// transient reports network failures worth another try.
func transient(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection reset", "broken pipe", "GOAWAY", "connection lost", "server closed idle connection", "EOF"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// certError reports TLS verification failures: retrying will not help.
func certError(err error) bool {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cv  *tls.CertificateVerificationError
		rec tls.RecordHeaderError
	)
	return errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci) ||
		errors.As(err, &cv) || errors.As(err, &rec)
}

// buffer reads an answer's body into memory so the answer can be handed up
// later, and releases the connection.
func buffer(resp *http.Response) *http.Response {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	return resp
}

// discard drains and closes an answer we will not use.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

func headerInt(h http.Header, key string) (int64, bool) {
	v := strings.TrimSpace(h.Get(key))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// route names a request in messages: method and path, no query, no host.
func route(r *http.Request) string {
	if r == nil || r.URL == nil {
		return ""
	}
	return r.Method + " " + r.URL.Path
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
