package ghfake

import (
	"crypto/tls"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// FaultKind is what an injected fault does to a request.
type FaultKind int

const (
	// FaultLatency delays the request by Latency (wall time), then serves it.
	FaultLatency FaultKind = iota
	// FaultStatus answers Status (default 502) with a GitHub-like body.
	FaultStatus
	// FaultReset drops the connection without answering (a TCP reset).
	FaultReset
	// FaultPrimaryLimit answers a primary rate-limit exhaustion (Status 403
	// or 429, x-ratelimit-remaining: 0, reset RetryAfter seconds ahead, default 60).
	FaultPrimaryLimit
	// FaultSecondaryLimit answers a secondary rate limit (Status 403 or 429,
	// retry-after: RetryAfter, default 60; negative sends no retry-after).
	FaultSecondaryLimit
)

// Fault is a failure injected into matching requests. A limit fault also
// makes its caller wait, as GitHub does: until the wait is over (on the wall
// clock or the emulator clock, whichever passes it first) the caller's
// requests are refused again and recorded as violations. ClearFaults lifts
// those waits.
type Fault struct {
	Route       string        // "METHOD /path/{param}", a path pattern for any method, or "" for all
	Kind        FaultKind     //
	Times       int           // apply at most this many times; 0: forever
	After       int           // skip the first After matching calls
	Every       int           // then apply to every Every-th matching call; 0 or 1: each
	Status      int           // FaultStatus: 500/502/503 (default 502); limits: 403 (default) or 429
	Latency     time.Duration // FaultLatency
	RetryAfter  int           // limits: seconds to wait; 0: 60
	Probability float64       // apply with this probability (seeded, see SetFaultSeed); 0: always
}

type faultEntry struct {
	Fault
	seen    int // matching calls
	applied int
}

type faultState struct {
	mu     sync.Mutex
	faults []*faultEntry
	rng    *rand.Rand
}

// AddFault injects a fault. Faults apply in the order added; latency faults
// add up, and the first fault that answers the request ends it.
func (s *Server) AddFault(f Fault) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.faults = append(s.faults.faults, &faultEntry{Fault: f})
}

// ClearFaults removes every injected fault and lifts the waits limit faults imposed.
func (s *Server) ClearFaults() {
	s.faults.mu.Lock()
	s.faults.faults = nil
	s.faults.mu.Unlock()
	s.liftFaultBlocks()
}

// SetFaultSeed reseeds the generator behind Fault.Probability.
func (s *Server) SetFaultSeed(seed int64) {
	s.faults.mu.Lock()
	defer s.faults.mu.Unlock()
	s.faults.rng = rand.New(rand.NewPCG(uint64(seed), uint64(seed)))
}

func (f *Fault) matches(rt *route) bool {
	switch {
	case f.Route == "":
		return true
	case strings.HasPrefix(f.Route, "/"):
		return f.Route == rt.path
	}
	return f.Route == rt.name
}

// due picks the faults that fire for this request; call with mu held.
func (fs *faultState) due(rt *route) []Fault {
	var out []Fault
	for _, f := range fs.faults {
		if !f.matches(rt) || (f.Times > 0 && f.applied >= f.Times) {
			continue
		}
		f.seen++
		n := f.seen - f.After
		if n <= 0 || (f.Every > 1 && n%f.Every != 0) {
			continue
		}
		if f.Probability > 0 && fs.rng.Float64() >= f.Probability {
			continue
		}
		f.applied++
		out = append(out, f.Fault)
	}
	return out
}

// applyFaults runs the faults due for this request and reports whether one
// of them answered it.
func (s *Server) applyFaults(c *reqCtx) bool {
	s.faults.mu.Lock()
	due := s.faults.due(c.rt)
	s.faults.mu.Unlock()
	for _, f := range due {
		switch f.Kind {
		case FaultLatency:
			t := time.NewTimer(f.Latency)
			select {
			case <-t.C:
			case <-c.r.Context().Done():
				t.Stop()
			}
		case FaultStatus:
			status := f.Status
			if status == 0 {
				status = http.StatusBadGateway
			}
			c.json(status, serverErrorBody(status))
			return true
		case FaultReset:
			resetConn(c.w)
			return true
		case FaultPrimaryLimit, FaultSecondaryLimit:
			status := f.Status
			if status == 0 {
				status = http.StatusForbidden
			}
			ra := f.RetryAfter
			if ra == 0 {
				ra = 60
			}
			kind := secondaryLimit
			if f.Kind == FaultPrimaryLimit {
				kind = primaryLimit
			}
			s.limitResponse(c, kind, status, time.Duration(max(ra, 0))*time.Second, ra < 0, true)
			return true
		}
	}
	return false
}

// serverErrorBody is what GitHub's API answers with on server errors.
func serverErrorBody(status int) map[string]string {
	switch status {
	case http.StatusInternalServerError, http.StatusBadGateway:
		return map[string]string{"message": "Server Error"}
	case http.StatusServiceUnavailable:
		return map[string]string{"message": "Service Unavailable"}
	case http.StatusGatewayTimeout:
		return map[string]string{"message": "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists."}
	}
	return map[string]string{"message": http.StatusText(status)}
}

// resetConn closes the client's connection with a TCP reset, unanswered
// (counted as status 0).
func resetConn(w *respWriter) {
	w.status = -1
	w.onStatus(0)
	conn, _, err := w.Hijack()
	if err != nil {
		// Not a real connection (e.g. httptest.ResponseRecorder): abort.
		panic(http.ErrAbortHandler)
	}
	raw := conn
	if tc, ok := raw.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
}
