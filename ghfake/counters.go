package ghfake

import (
	"maps"
	"net/http"
	"sync"
	"time"
)

// Redelivery is one redelivery a client asked for.
type Redelivery struct {
	HookID       int64
	DeliveryID   int64 // the attempt id the client named
	NewAttemptID int64 // the attempt it produced; 0 until performed (deferred, or queued for the workers)
	GUID         string
	At           time.Time // emulator time of the request
}

// stats counts what clients did; it has its own lock.
type stats struct {
	mu           sync.Mutex
	total        int
	requests     map[string]int
	statuses     map[string]map[int]int
	billed       map[string]int
	notModified  map[string]int
	redeliveries []Redelivery
	log          requestLog
}

func (st *stats) reset() {
	st.total = 0
	st.requests = map[string]int{}
	st.statuses = map[string]map[int]int{}
	st.billed = map[string]int{}
	st.notModified = map[string]int{}
	st.redeliveries = nil
	st.log.reset()
}

// count records a request as it arrives.
func (st *stats) count(route string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.total++
	st.requests[route]++
}

// record counts a request's answer, and logs it, before any byte of it is
// sent: a client that has its answer can rely on the counters.
func (s *Server) record(c *reqCtx, status int) {
	route := c.rt.name
	st := &s.stats
	st.mu.Lock()
	defer st.mu.Unlock()
	m := st.statuses[route]
	if m == nil {
		m = map[int]int{}
		st.statuses[route] = m
	}
	m[status]++
	if c.billed {
		st.billed[route]++
	}
	if status == http.StatusNotModified {
		st.notModified[route]++
	}
	st.log.add(LoggedRequest{
		At: s.now(), Method: c.r.Method, Route: route, Path: c.r.URL.Path, Query: redactQuery(c.r.URL.RawQuery),
		Status: status, Billed: c.billed, Caller: c.p.key, UserAgent: c.r.UserAgent(),
	})
}

// Requests returns request counts by route pattern ("METHOD /path/{param}",
// without the /api/v3 prefix). Unknown paths count under "METHOD /their/path".
func (s *Server) Requests() map[string]int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return maps.Clone(s.stats.requests)
}

// RequestCount returns the requests made to one route pattern.
func (s *Server) RequestCount(route string) int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.requests[route]
}

// TotalRequests returns every request served (faulted and refused ones too).
func (s *Server) TotalRequests() int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.total
}

// Statuses returns, by route pattern, how many responses had each status
// code (0 counts connections reset by FaultReset).
func (s *Server) Statuses() map[string]map[int]int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := make(map[string]map[int]int, len(s.stats.statuses))
	for k, v := range s.stats.statuses {
		out[k] = maps.Clone(v)
	}
	return out
}

// Billed returns, by route pattern, the requests counted against the
// caller's primary rate limit (or that would be, where rate limiting is
// off): every request that passed authentication and the primary limit
// (secondary-limit refusals included), except GET /rate_limit and 304
// answers to authenticated conditional requests.
func (s *Server) Billed() map[string]int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return maps.Clone(s.stats.billed)
}

// BilledCount returns the billed requests to one route pattern.
func (s *Server) BilledCount(route string) int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.billed[route]
}

// TotalBilled returns the billed requests to every route.
func (s *Server) TotalBilled() int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return sum(s.stats.billed)
}

// NotModified returns, by route pattern, the requests answered 304 Not
// Modified (conditional requests whose If-None-Match named the current ETag).
func (s *Server) NotModified() map[string]int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return maps.Clone(s.stats.notModified)
}

// TotalNotModified returns the 304 answers on every route.
func (s *Server) TotalNotModified() int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return sum(s.stats.notModified)
}

// sum adds up a counter's routes.
func sum(byRoute map[string]int) int {
	n := 0
	for _, v := range byRoute {
		n += v
	}
	return n
}

// NotModifiedCount returns the 304 answers on one route pattern.
func (s *Server) NotModifiedCount(route string) int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.notModified[route]
}

// Redeliveries returns every redelivery asked for, in order.
func (s *Server) Redeliveries() []Redelivery {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return append([]Redelivery(nil), s.stats.redeliveries...)
}

// ResetCounters forgets request, status, billed and 304 counts, the request
// log, the redelivery log,
// limit-response counts and violations (not stored attempts or rate-limit windows).
func (s *Server) ResetCounters() {
	s.stats.mu.Lock()
	s.stats.reset()
	s.stats.mu.Unlock()
	s.limits.mu.Lock()
	s.limits.violations = nil
	s.limits.primaryN, s.limits.secondaryN = 0, 0
	s.limits.mu.Unlock()
}

// logRedelivery appends to the redelivery log and returns its index.
func (s *Server) logRedelivery(r Redelivery) int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	s.stats.redeliveries = append(s.stats.redeliveries, r)
	return len(s.stats.redeliveries) - 1
}

// completeRedelivery fills in the attempt a logged redelivery produced. A
// ResetCounters in between may have dropped the entry; then nothing is done.
func (s *Server) completeRedelivery(idx int, r Redelivery, newID int64) {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	if idx < len(s.stats.redeliveries) && s.stats.redeliveries[idx] == r {
		s.stats.redeliveries[idx].NewAttemptID = newID
	}
}
