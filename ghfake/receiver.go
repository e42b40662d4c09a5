package ghfake

import (
	"crypto/hmac"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
)

// Receiver is a webhook receiver for tests, served beside the emulator: it
// records every delivery it gets and answers as told — healthy (200),
// failing with a status, or down (the connection dropped unanswered) — and
// can be set to fail until a moment on the emulator clock and be healthy
// from then on, so a test chooses exactly when an outage ends.
type Receiver struct {
	srv   *httptest.Server
	clock *Clock

	mu     sync.Mutex
	status int       // answer while failing: an HTTP status, or 0 for down
	until  time.Time // failing while the clock is before it; zero: always
	fail   bool
	got    []ReceivedDelivery
}

// ReceivedDelivery is one delivery a Receiver got.
type ReceivedDelivery struct {
	At     time.Time // emulator clock
	GUID   string    // X-GitHub-Delivery
	Event  string    // X-GitHub-Event
	HookID int64     // X-GitHub-Hook-ID
	Header http.Header
	Body   []byte
	Answer int // status answered; 0: connection dropped
}

// ValidSignature reports whether the delivery's X-Hub-Signature-256 is the
// HMAC of its body under secret.
func (d ReceivedDelivery) ValidSignature(secret string) bool {
	return hmac.Equal([]byte(d.Header.Get("X-Hub-Signature-256")), []byte(Signature(secret, d.Body)))
}

// NewReceiver starts a healthy receiver that reads the server's clock; it is
// closed with the server.
func (s *Server) NewReceiver() *Receiver {
	rc := &Receiver{clock: s.clock}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	s.mu.Lock()
	s.receivers = append(s.receivers, rc)
	s.mu.Unlock()
	return rc
}

func (rc *Receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 25<<20))
	now := rc.clock.Now()
	hookID, _ := strconv.ParseInt(r.Header.Get("X-GitHub-Hook-ID"), 10, 64)
	d := ReceivedDelivery{At: now, GUID: r.Header.Get("X-GitHub-Delivery"), Event: r.Header.Get("X-GitHub-Event"),
		HookID: hookID, Header: r.Header.Clone(), Body: body, Answer: http.StatusOK}
	rc.mu.Lock()
	if rc.fail && (rc.until.IsZero() || now.Before(rc.until)) {
		d.Answer = rc.status
	}
	rc.got = append(rc.got, d)
	rc.mu.Unlock()
	if d.Answer == 0 {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	w.WriteHeader(d.Answer)
	io.WriteString(w, http.StatusText(d.Answer))
}

// URL returns the receiver's URL, for HookConfig.URL.
func (rc *Receiver) URL() string { return rc.srv.URL }

// SetHealthy makes the receiver answer 200 from now on.
func (rc *Receiver) SetHealthy() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.fail, rc.until = false, time.Time{}
}

// SetFailing makes the receiver answer status (e.g. 500, 503) from now on;
// status 0 makes it drop connections unanswered (GitHub records no status code).
func (rc *Receiver) SetFailing(status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.fail, rc.status, rc.until = true, status, time.Time{}
}

// FailUntil makes the receiver fail as SetFailing(status) does while the
// emulator clock is before t, and answer 200 from t on.
func (rc *Receiver) FailUntil(t time.Time, status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.fail, rc.status, rc.until = true, status, t
}

// Deliveries returns what the receiver got, in order of arrival.
func (rc *Receiver) Deliveries() []ReceivedDelivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]ReceivedDelivery(nil), rc.got...)
}

// Count returns how many deliveries the receiver got.
func (rc *Receiver) Count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.got)
}

// Close stops the receiver (Server.Close does too).
func (rc *Receiver) Close() { rc.srv.Close() }
