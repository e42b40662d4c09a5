package ghfake

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// limitState is the primary rate limiter, the budget windows, the waits the
// emulator has told callers to observe, and what they did about them.
type limitState struct {
	mu         sync.Mutex
	primary    map[string]*primaryWindow
	budget     map[string]*budgetState
	blocks     map[string]*block
	violations []Violation
	primaryN   int
	secondaryN int
}

func (l *limitState) init() {
	l.primary = map[string]*primaryWindow{}
	l.budget = map[string]*budgetState{}
	l.blocks = map[string]*block{}
}

type primaryWindow struct {
	used  int
	reset time.Time // on the limiter clock
}

type limitKind uint8

const (
	primaryLimit limitKind = iota + 1
	secondaryLimit
)

// block is a wait the emulator asked a caller to observe: until retry-after
// has passed (secondary) or until x-ratelimit-reset (primary). It ends when
// either the wall clock (or Budget.Now) or the emulator clock has passed its
// end, so a client may wait by sleeping or a test by advancing the Clock.
type block struct {
	kind      limitKind
	status    int
	untilWall time.Time
	untilEmu  time.Time
	fault     bool // made by an injected fault: ClearFaults lifts it
}

// Violation is a request sent while a wait the emulator asked for was still
// running: before a retry-after it was given expired, or after a primary-limit
// exhaustion before the reset.
type Violation struct {
	At     time.Time     // wall time (Budget.Now when set) of the offending request
	Route  string        // "METHOD /path" pattern
	Caller string        // "user:ID" (a token's user, see TokenCaller), "installation:ID", "app:ID" or "ip:ADDR"
	Kind   string        // "retry-after" or "rate-limit-reset"
	Early  time.Duration // how long before the end of the wait it came
}

// rateInfo is what the x-ratelimit-* headers say.
type rateInfo struct {
	limit, used int
	reset       int64 // epoch seconds on the emulator clock
}

func (ri rateInfo) remaining() int { return max(ri.limit-ri.used, 0) }

// wallNow is the clock for retry-after waits and the budget: real time, or Budget.Now.
func (s *Server) wallNow() time.Time {
	if b := s.opts.Budget; b != nil && b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// primaryClock returns the clock and window of the primary limit: the
// emulator clock and one hour, or with a Budget its clock and a scaled hour.
func (s *Server) primaryClock() (now time.Time, window time.Duration) {
	if b := s.opts.Budget; b != nil {
		return s.wallNow(), b.scaled(time.Hour)
	}
	return s.now(), time.Hour
}

func (s *Server) limitFor(p *principal) int {
	if p.kind == anonymous {
		return 60
	}
	return s.limit
}

// primary reads (and with consume, charges) the caller's primary window.
func (s *Server) primary(p *principal, consume bool) (ri rateInfo, exceeded bool) {
	ri, _, exceeded = s.primaryWindow(p, consume)
	return ri, exceeded
}

// primaryWindow is primary that also returns the window it read or charged.
func (s *Server) primaryWindow(p *principal, consume bool) (ri rateInfo, w *primaryWindow, exceeded bool) {
	now, window := s.primaryClock()
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	w = s.limits.primary[p.key]
	if w == nil || !now.Before(w.reset) {
		w = &primaryWindow{reset: now.Add(window)}
		s.limits.primary[p.key] = w
	}
	ri.limit = s.limitFor(p)
	if consume {
		if w.used >= ri.limit {
			exceeded = true
		} else {
			w.used++
		}
	}
	ri.used = w.used
	ri.reset = s.emuEpoch(now, w.reset)
	return ri, w, exceeded
}

// refund takes back the primary charge of a request answered 304, when the
// window it was charged to is still the current one, and rewrites the
// x-ratelimit-* headers to match.
func (s *Server) refund(c *reqCtx) {
	c.billed = false
	if !s.rateOn || c.charged == nil {
		return
	}
	s.limits.mu.Lock()
	if s.limits.primary[c.p.key] == c.charged && c.charged.used > 0 {
		c.charged.used--
	}
	s.limits.mu.Unlock()
	ri, _ := s.primary(c.p, false)
	setRateHeaders(c.w.Header(), ri)
}

// emuEpoch turns a moment on the limiter clock into epoch seconds on the
// emulator clock (which the Date header shows), rounded up.
func (s *Server) emuEpoch(limNow, t time.Time) int64 {
	if s.opts.Budget == nil {
		return int64(math.Ceil(float64(t.UnixNano()) / 1e9))
	}
	return s.now().Add(t.Sub(limNow)).Add(time.Second - 1).Unix()
}

// rateHeaders charges the primary limit and sets the x-ratelimit-* headers.
// It answers the primary-limit error itself and returns false when the
// caller has exhausted its limit.
func (s *Server) rateHeaders(c *reqCtx, p *principal, consume bool) bool {
	if !s.rateOn {
		return true
	}
	ri, w, exceeded := s.primaryWindow(p, consume)
	setRateHeaders(c.w.Header(), ri)
	if !exceeded {
		if consume {
			c.charged = w
		}
		return true
	}
	limNow, _ := s.primaryClock()
	s.limits.mu.Lock()
	reset := s.limits.primary[p.key].reset
	s.limits.mu.Unlock()
	wait := reset.Sub(limNow)
	s.limitResponse(c, primaryLimit, s.primaryStatus(), wait, false, false)
	return false
}

func setRateHeaders(h http.Header, ri rateInfo) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(ri.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(ri.remaining()))
	h.Set("X-RateLimit-Used", strconv.Itoa(ri.used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(ri.reset, 10))
	h.Set("X-RateLimit-Resource", "core")
}

func (s *Server) primaryStatus() int {
	if b := s.opts.Budget; b != nil && b.Status != 0 {
		return b.Status
	}
	return http.StatusForbidden
}

// limitResponse answers a primary or secondary limit and remembers the wait
// it asked for. wait is how long the caller must hold off; for a secondary
// limit it is sent as retry-after unless noRetryAfter.
func (s *Server) limitResponse(c *reqCtx, kind limitKind, status int, wait time.Duration, noRetryAfter, fault bool) {
	wait = max(wait, 0)
	h := c.w.Header()
	s.limits.mu.Lock()
	b := &block{kind: kind, status: status, untilWall: s.wallNow().Add(wait), untilEmu: s.now().Add(wait), fault: fault}
	if kind == primaryLimit {
		s.limits.primaryN++
	} else {
		s.limits.secondaryN++
	}
	s.limits.blocks[c.p.key] = b
	s.limits.mu.Unlock()
	if kind == primaryLimit {
		h.Set("X-RateLimit-Remaining", "0")
		if h.Get("X-RateLimit-Limit") == "" {
			h.Set("X-RateLimit-Limit", strconv.Itoa(s.limitFor(c.p)))
			h.Set("X-RateLimit-Used", strconv.Itoa(s.limitFor(c.p)))
			h.Set("X-RateLimit-Resource", "core")
		}
		h.Set("X-RateLimit-Reset", strconv.FormatInt(s.now().Add(wait).Add(time.Second-1).Unix(), 10))
		c.failDoc(status, s.primaryMessage(c), "/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-primary-rate-limits")
		return
	}
	if !noRetryAfter {
		h.Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
	}
	msg := "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. " +
		"If you reach out to GitHub Support for help, please include the request ID " + c.rid + "."
	// go-github recognizes secondary limits by this URL's fragment.
	doc := "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	if s.opts.Platform == GHES {
		doc = s.docsURL("/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits")
	}
	c.json(status, apiError{Message: msg, DocURL: doc, Status: strconv.Itoa(status)})
}

func retryAfterSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

func (s *Server) primaryMessage(c *reqCtx) string {
	p := c.p
	var who string
	switch p.kind {
	case patUser:
		who = fmt.Sprintf("user ID %d", p.userID)
	case installationBot:
		who = fmt.Sprintf("installation ID %d", p.inst.id)
	case appJWT:
		who = fmt.Sprintf("integration ID %d", p.app.ID)
	default:
		return fmt.Sprintf("API rate limit exceeded for %s. (But here's the good news: Authenticated requests get a higher rate limit. Check out the documentation for more details.)", p.key[len("ip:"):])
	}
	return fmt.Sprintf("API rate limit exceeded for %s. If you reach out to GitHub Support for help, please include the request ID %s and timestamp %s.",
		who, c.rid, s.now().UTC().Format("2006-01-02 15:04:05 UTC"))
}

// graceEarly forgives clients whose timers fire a hair early (node's setTimeout can).
const graceEarly = 50 * time.Millisecond

// blocked answers, and records as a violation, a request from a caller that
// is still inside a wait it was given.
func (s *Server) blocked(c *reqCtx) bool {
	wall, emu := s.wallNow(), s.now()
	s.limits.mu.Lock()
	b := s.limits.blocks[c.p.key]
	if b == nil || !wall.Add(graceEarly).Before(b.untilWall) || !emu.Before(b.untilEmu) {
		if b != nil {
			delete(s.limits.blocks, c.p.key)
		}
		s.limits.mu.Unlock()
		return false
	}
	early := min(b.untilWall.Sub(wall), b.untilEmu.Sub(emu))
	v := Violation{At: wall, Route: c.rt.name, Caller: c.p.key, Kind: "retry-after", Early: early}
	if b.kind == primaryLimit {
		v.Kind = "rate-limit-reset"
	}
	s.limits.violations = append(s.limits.violations, v)
	kind, status, fault := b.kind, b.status, b.fault
	s.limits.mu.Unlock()
	s.limitResponse(c, kind, status, early, false, fault)
	return true
}

// ResetLimits forgets every rate-limit window, budget window and pending
// wait (not the violations already recorded).
func (s *Server) ResetLimits() {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	s.limits.primary = map[string]*primaryWindow{}
	s.limits.budget = map[string]*budgetState{}
	s.limits.blocks = map[string]*block{}
}

// liftFaultBlocks ends the waits that injected faults imposed.
func (s *Server) liftFaultBlocks() {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	for k, b := range s.limits.blocks {
		if b.fault {
			delete(s.limits.blocks, k)
		}
	}
}

// Violations returns the requests sent too early after a retry-after or a
// primary-limit reset, in order.
func (s *Server) Violations() []Violation {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	return append([]Violation(nil), s.limits.violations...)
}

// LimitResponses returns how many primary and secondary rate-limit responses were sent.
func (s *Server) LimitResponses() int {
	p, sec := s.LimitResponsesByKind()
	return p + sec
}

// LimitResponsesByKind returns the primary and secondary rate-limit responses sent.
func (s *Server) LimitResponsesByKind() (primary, secondary int) {
	s.limits.mu.Lock()
	defer s.limits.mu.Unlock()
	return s.limits.primaryN, s.limits.secondaryN
}

// RateLimit returns what x-ratelimit-* would say for a token now (limit,
// remaining, reset on the emulator clock) without charging it.
func (s *Server) RateLimit(token string) (limit, remaining int, reset time.Time) {
	p := &principal{key: s.TokenCaller(token), kind: patUser}
	if strings.HasPrefix(p.key, "installation:") {
		p.kind = installationBot
	}
	if p.key == "" {
		p.key = "unknown-token" // a fresh window: the full limit
	}
	ri, _ := s.primary(p, false)
	return ri.limit, ri.remaining(), time.Unix(ri.reset, 0).UTC()
}

// getRateLimit serves GET /rate_limit.
func (s *Server) getRateLimit(c *reqCtx) {
	if !s.rateOn {
		// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api: GHES with rate limiting off answers 404.
		c.fail(http.StatusNotFound, "Rate limiting is not enabled.")
		return
	}
	ri, _ := s.primary(c.p, false)
	rl := func(limit, used int) map[string]int64 {
		return map[string]int64{"limit": int64(limit), "used": int64(used), "remaining": int64(max(limit-used, 0)), "reset": ri.reset}
	}
	core := rl(ri.limit, ri.used)
	body := map[string]any{
		"resources": map[string]any{
			"core":                        core,
			"search":                      rl(30, 0),
			"graphql":                     rl(ri.limit, 0),
			"integration_manifest":        rl(5000, 0),
			"source_import":               rl(100, 0),
			"code_scanning_upload":        rl(ri.limit, 0),
			"actions_runner_registration": rl(10000, 0),
			"scim":                        rl(15000, 0),
			"code_search":                 rl(10, 0),
		},
		"rate": core,
	}
	if c.r.Header.Get("X-GitHub-Api-Version") == "2026-03-10" {
		delete(body, "rate") // https://docs.github.com/en/rest/about-the-rest-api/api-versions: removed in 2026-03-10
	}
	c.json(http.StatusOK, body)
}
