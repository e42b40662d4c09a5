package ghfake

import (
	"net/url"
	"strings"
	"time"
)

// DefaultRequestLogSize is how many requests the request log keeps when
// Options.RequestLogSize is 0.
const DefaultRequestLogSize = 10000

// LoggedRequest is one request as the emulator answered it. It names the
// caller, never its credential.
type LoggedRequest struct {
	Seq       int       // 1 for the first request since New or ResetCounters
	At        time.Time // emulator clock when the answer was decided
	Method    string    // GET, POST …
	Route     string    // "METHOD /path/{param}" pattern, as Requests counts it
	Path      string    // the path as requested (with /api/v3 when used)
	Query     string    // the raw query, credential-like parameters redacted
	Status    int       // 0: connection reset by a fault
	Billed    bool      // counted against the primary rate limit (see Billed)
	Caller    string    // "user:ID" (see TokenCaller), "installation:ID", "app:ID", "ip:ADDR"
	UserAgent string
}

// NotModified reports whether the request was answered 304.
func (r LoggedRequest) NotModified() bool { return r.Status == 304 }

// requestLog keeps the newest entries in a ring; guarded by stats.mu.
type requestLog struct {
	size    int // capacity; < 0: off
	entries []LoggedRequest
	next    int // ring position of the next write once full
	seq     int
}

func (l *requestLog) reset() {
	l.entries, l.next, l.seq = nil, 0, 0
}

func (l *requestLog) add(r LoggedRequest) {
	l.seq++
	if l.size < 0 {
		return
	}
	r.Seq = l.seq
	if len(l.entries) < l.size {
		l.entries = append(l.entries, r)
		return
	}
	l.entries[l.next] = r
	l.next = (l.next + 1) % l.size
}

// all returns the entries oldest first.
func (l *requestLog) all() []LoggedRequest {
	out := make([]LoggedRequest, 0, len(l.entries))
	out = append(out, l.entries[l.next:]...)
	return append(out, l.entries[:l.next]...)
}

// RequestLog returns the logged requests, oldest first: every request since
// New or ResetCounters, or the newest Options.RequestLogSize of them
// (Seq tells how many came before).
func (s *Server) RequestLog() []LoggedRequest {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.log.all()
}

// redactQuery hides the values of query parameters that could carry a
// credential (GitHub no longer accepts any, but a client may still send one).
func redactQuery(raw string) string {
	if raw == "" || !strings.ContainsAny(raw, "tT") {
		return raw
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "(unparsable)"
	}
	changed := false
	for k := range q {
		lk := strings.ToLower(k)
		if strings.Contains(lk, "token") || strings.Contains(lk, "secret") || lk == "client_id" {
			q[k] = []string{"REDACTED"}
			changed = true
		}
	}
	if !changed {
		return raw
	}
	return q.Encode()
}
