package ghfake

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Platform selects which GitHub the emulator imitates.
type Platform int

const (
	// DotCom is github.com (and GHEC): 3-day redelivery horizon, 10 s receiver
	// timeout, rate limiting always on.
	DotCom Platform = iota
	// GHES is GitHub Enterprise Server: 7-day horizon, 30 s receiver timeout,
	// rate limiting off unless Options.RateLimiting is set.
	GHES
)

// String returns "dotcom" or "ghes".
func (p Platform) String() string {
	if p == GHES {
		return "ghes"
	}
	return "dotcom"
}

// Horizon returns how old a delivery may be and still be redelivered
// (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks: 3 days on github.com/GHEC, 7 days on GHES).
func (p Platform) Horizon() time.Duration {
	if p == GHES {
		return 7 * 24 * time.Hour
	}
	return 3 * 24 * time.Hour
}

// ReceiverTimeout returns how long GitHub waits for a receiver (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/troubleshooting-webhooks).
func (p Platform) ReceiverTimeout() time.Duration {
	if p == GHES {
		return 30 * time.Second
	}
	return 10 * time.Second
}

// APIVersion is the REST API version the emulator serves.
const APIVersion = "2022-11-28"

// Options configures a Server. The zero value is a github.com emulator on a
// random loopback port with a clock frozen at DefaultStart.
type Options struct {
	Platform     Platform
	RateLimiting bool   // GHES only: turn rate limiting on (DotCom: always on)
	Clock        *Clock // nil: NewFuncClock(Now) with Now, else NewClock(DefaultStart)
	// Now makes the emulator read an outside clock (a test's fake clock
	// shared with the service under test): the same as Clock:
	// NewFuncClock(Now). Not together with Clock.
	Now               func() time.Time
	ReceiverTimeout   time.Duration // 0: platform default (10 s / 30 s)
	TokenTTL          time.Duration // 0: 1 h
	DeferRedeliveries bool          // queue redeliveries until ProcessRedeliveries
	// RedeliveryWorkers > 0 performs redeliveries in the background with
	// that many workers, as GitHub does: the POST answers 202 at once and
	// the new attempt is listed once the receiver has been sent it. WaitIdle
	// waits for them. Not together with DeferRedeliveries.
	RedeliveryWorkers int
	Budget            *Budget // nil: no enforced secondary limits
	PrimaryLimit      int     // per token per hour; 0: 5000
	TLS               bool    // serve HTTPS with a self-signed cert (see CertPEM())
	Addr              string  // listen address; "" = 127.0.0.1:0
	// Retention hides attempts older than this from the delivery lists (GitHub
	// is assumed to list about as far back as it redelivers (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks), but
	// that is unverified). 0 lists everything stored.
	Retention time.Duration
	// RequestLogSize is how many requests RequestLog keeps (the newest);
	// 0: DefaultRequestLogSize; negative: none.
	RequestLogSize int
}

// Server is a running emulator. All methods are safe for concurrent use.
type Server struct {
	opts     Options
	clock    *Clock
	horizon  time.Duration
	timeout  time.Duration
	tokenTTL time.Duration
	limit    int
	rateOn   bool

	mux      *http.ServeMux
	handler  http.Handler
	listener net.Listener
	srv      *http.Server
	url      string
	certPEM  []byte
	sendCli  *http.Client // verifies receiver certificates
	sendCliI *http.Client // insecure_ssl hooks

	reqSeq atomic.Uint64

	mu    sync.RWMutex // guards the store below
	st    store
	names names

	auth   authState  // guarded by mu
	limits limitState // own lock
	faults faultState // own lock
	stats  stats      // own lock
	queue  redeliveryQueue
	pool   *asyncPool // RedeliveryWorkers; nil otherwise

	receivers []*Receiver // NewReceiver; guarded by mu, closed with the server

	sendCtx    context.Context // ends at Close, abandoning deliveries in flight
	sendCancel context.CancelFunc
}

// New creates a Server and starts serving. It panics if it cannot listen,
// as httptest.NewServer does.
func New(opts Options) *Server {
	if opts.DeferRedeliveries && opts.RedeliveryWorkers > 0 {
		panic("ghfake: Options.DeferRedeliveries and Options.RedeliveryWorkers exclude each other")
	}
	if opts.Now != nil && opts.Clock != nil {
		panic("ghfake: Options.Clock and Options.Now exclude each other")
	}
	s := &Server{opts: opts, clock: opts.Clock}
	if opts.Now != nil {
		s.clock = NewFuncClock(opts.Now)
	}
	if s.clock == nil {
		s.clock = NewClock(DefaultStart)
	}
	s.horizon = opts.Platform.Horizon()
	s.timeout = opts.ReceiverTimeout
	if s.timeout == 0 {
		s.timeout = opts.Platform.ReceiverTimeout()
	}
	s.tokenTTL = opts.TokenTTL
	if s.tokenTTL == 0 {
		s.tokenTTL = time.Hour
	}
	s.limit = opts.PrimaryLimit
	if s.limit == 0 {
		s.limit = 5000
	}
	if opts.Budget != nil && opts.Budget.PrimaryPerHour > 0 {
		s.limit = opts.Budget.PrimaryPerHour
	}
	// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api: GHES ships with rate limiting off.
	s.rateOn = opts.Platform == DotCom || opts.RateLimiting
	s.st.init()
	s.names.init()
	s.auth.init()
	s.limits.init()
	s.faults.rng = rand.New(rand.NewPCG(1, 1))
	s.stats.log.size = opts.RequestLogSize
	if s.stats.log.size == 0 {
		s.stats.log.size = DefaultRequestLogSize
	}
	s.stats.reset()
	keepAlive := opts.RedeliveryWorkers
	s.sendCli = newSendClient(s.timeout, false, keepAlive)
	s.sendCliI = newSendClient(s.timeout, true, keepAlive)
	s.sendCtx, s.sendCancel = context.WithCancel(context.Background())
	if opts.RedeliveryWorkers > 0 {
		s.startPool(opts.RedeliveryWorkers)
	}
	s.routes()

	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(fmt.Sprintf("ghfake: listen %s: %v", addr, err))
	}
	scheme := "http"
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 30 * time.Second}
	if opts.TLS {
		cert, pemBytes, err := selfSignedCert()
		if err != nil {
			panic(fmt.Sprintf("ghfake: certificate: %v", err))
		}
		s.certPEM = pemBytes
		// HTTP/1.1 only: FaultReset hijacks the connection, which HTTP/2 cannot do.
		s.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
		scheme = "https"
	}
	s.listener = ln
	s.url = scheme + "://" + ln.Addr().String()
	go s.srv.Serve(ln)
	return s
}

// URL returns the root base URL, e.g. http://127.0.0.1:PORT. The GHES-style
// base is URL()+"/api/v3"; both are served whatever the Platform.
func (s *Server) URL() string { return s.url }

// Close stops the server and closes its connections.
func (s *Server) Close() {
	s.srv.Close()
	s.sendCancel()
	if s.pool != nil {
		s.pool.close()
	}
	s.mu.Lock()
	rcs := s.receivers
	s.receivers = nil
	s.mu.Unlock()
	for _, rc := range rcs {
		rc.Close()
	}
	s.sendCli.CloseIdleConnections()
	s.sendCliI.CloseIdleConnections()
}

// Handler returns the emulator's HTTP handler, for mounting elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// CertPEM returns the PEM-encoded self-signed certificate when Options.TLS is set.
func (s *Server) CertPEM() []byte { return s.certPEM }

// Clock returns the emulator clock.
func (s *Server) Clock() *Clock { return s.clock }

// Platform returns the platform the server imitates.
func (s *Server) Platform() Platform { return s.opts.Platform }

// now returns the emulator time.
func (s *Server) now() time.Time { return s.clock.Now() }

// docsURL turns a docs.github.com path ("/rest/...") into the URL GitHub
// puts in documentation_url for this platform.
func (s *Server) docsURL(path string) string {
	if s.opts.Platform == GHES {
		return "https://docs.github.com/enterprise-server@3.19" + path
	}
	return "https://docs.github.com" + path
}

// apiBase returns the base URL a request was made against (scheme, host and
// mount prefix), which GitHub uses to build Link headers and url fields.
func apiBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host
	if strings.HasPrefix(r.URL.Path, ghesPrefix+"/") {
		base += ghesPrefix
	}
	return base
}

const ghesPrefix = "/api/v3"
