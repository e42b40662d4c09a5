//go:build unix

package reliability

import (
	"bufio"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// secretToken is the recognisable token every end-to-end run uses; the
// secrets test asserts it is written nowhere.
const secretToken = "ghp_RELIABILITYsecret0TOKEN0must0never0leak0Zq9"

// appID is the GitHub App of the worlds.
const appID = 4242

// t0 is where emulator clocks start: away from the wall clock on purpose,
// so nothing the engine decides may come from the runner's clock.
var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// appKey is the App's private key (generated once per test process).
var appKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func appKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(appKey())})
}

// ---------------------------------------------------------------------------
// The tap: a front server around the emulator's handler that sees every
// request the client makes and lets a test act at three moments of each.

// stage is a moment in the life of one request.
type stage int

const (
	// stageArrive: the request reached "GitHub", which has not acted yet.
	stageArrive stage = iota
	// stageAnswer: GitHub acted and wrote its status line; the client has
	// not received it yet.
	stageAnswer
	// stageSent: the answer is on its way to the client.
	stageSent
)

func (s stage) String() string {
	return [...]string{"arrive", "answer", "sent"}[s]
}

// call is one request as the tap saw it.
type call struct {
	N      int // 1-based, since the last reset
	Method string
	Path   string // without the /api/v3 prefix
	Kind   string // "list", "redeliver" or "other"
	Hook   int64  // list and redeliver calls: the hook's emulator id
	Status int    // 0 until answered
	Next   bool   // a list page whose Link has rel="next"
	Done   bool   // the handler returned

	Arrived, Answered, Finished time.Time // wall times of the three stages
}

// tap is an http.Handler in front of the emulator.
type tap struct {
	next    http.Handler
	appHook int64

	mu    sync.Mutex
	calls []*call
	hook  func(stage, *call) bool
}

// setHook installs fn, called at each stage of each request (concurrently,
// from the server's goroutines). At stageArrive, false means the request is
// dropped unanswered: GitHub never saw it.
func (tp *tap) setHook(fn func(stage, *call) bool) {
	tp.mu.Lock()
	tp.hook = fn
	tp.mu.Unlock()
}

// reset forgets the calls seen so far and removes the hook.
func (tp *tap) reset() {
	tp.mu.Lock()
	tp.calls, tp.hook = nil, nil
	tp.mu.Unlock()
}

// snapshot returns copies of the calls seen since the last reset.
func (tp *tap) snapshot() []call {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	out := make([]call, len(tp.calls))
	for i, c := range tp.calls {
		out[i] = *c
	}
	return out
}

func (tp *tap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := tp.classify(r)
	c.Arrived = time.Now()
	tp.mu.Lock()
	c.N = len(tp.calls) + 1
	tp.calls = append(tp.calls, c)
	hook := tp.hook
	tp.mu.Unlock()
	if hook == nil {
		hook = func(stage, *call) bool { return true }
	}
	if !hook(stageArrive, c) {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	tw := &tapWriter{ResponseWriter: w, onHeader: func(status int, h http.Header) {
		tp.mu.Lock()
		c.Status = status
		c.Answered = time.Now()
		c.Next = strings.Contains(h.Get("Link"), `rel="next"`)
		tp.mu.Unlock()
		hook(stageAnswer, c)
	}}
	tp.next.ServeHTTP(tw, r)
	tp.mu.Lock()
	c.Done = true
	c.Finished = time.Now()
	tp.mu.Unlock()
	hook(stageSent, c)
}

// classify names a request: list pages and redeliveries with their hook.
func (tp *tap) classify(r *http.Request) *call {
	p := strings.TrimPrefix(r.URL.Path, "/api/v3")
	c := &call{Method: r.Method, Path: p, Kind: "other"}
	parts := strings.Split(strings.Trim(p, "/"), "/")
	hookAt := -1
	switch {
	case len(parts) >= 3 && parts[0] == "app" && parts[1] == "hook" && parts[2] == "deliveries":
		c.Hook = tp.appHook
		parts = parts[3:]
	case len(parts) >= 5 && parts[0] == "orgs" && parts[2] == "hooks" && parts[4] == "deliveries":
		hookAt = 3
	case len(parts) >= 6 && parts[0] == "repos" && parts[3] == "hooks" && parts[5] == "deliveries":
		hookAt = 4
	default:
		return c
	}
	if hookAt >= 0 {
		c.Hook, _ = strconv.ParseInt(parts[hookAt], 10, 64)
		parts = parts[hookAt+2:]
	}
	switch {
	case len(parts) == 0 && r.Method == http.MethodGet:
		c.Kind = "list"
	case len(parts) == 2 && parts[1] == "attempts" && r.Method == http.MethodPost:
		c.Kind = "redeliver"
	}
	return c
}

// tapWriter reports the status line before it is written.
type tapWriter struct {
	http.ResponseWriter
	wrote    bool
	onHeader func(int, http.Header)
}

func (w *tapWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		w.onHeader(code, w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *tapWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *tapWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *tapWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
		return hj.Hijack()
	}
	return nil, nil, fmt.Errorf("tap: cannot hijack")
}

// ---------------------------------------------------------------------------
// The receiver: a webhook endpoint that takes everything (HTTP 200) and
// counts deliveries per guid.

type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	byGUID map[string]int
	total  atomic.Int64
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{byGUID: map[string]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := r.Header.Get("X-GitHub-Delivery")
		rc.mu.Lock()
		rc.byGUID[g]++
		rc.mu.Unlock()
		rc.total.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// deadURL is a receiver that is down: nothing listens there, so GitHub
// records "failed to connect to host" at once.
func deadURL(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/webhook"
}

// ---------------------------------------------------------------------------
// Worlds: an emulator with hooks of every kind, history, the tap in front,
// a receiver behind, and a directory with the run's files.

// hookSpec is one hook of a world.
type hookSpec struct {
	Kind string // "org", "repo", "app"
	Hist ghfake.History
}

// worldOpts shapes a world.
type worldOpts struct {
	Platform     ghfake.Platform
	RateLimiting bool
	Hooks        []hookSpec
	ReceiverDown bool
	TokenTTL     time.Duration
	Clock        *ghfake.Clock
	Budget       *ghfake.Budget
	TLS          bool
	NoToken      bool // App-only credentials: org and repo hooks use installation tokens
}

// hookInfo is one hook of a world with what its history holds.
type hookInfo struct {
	Kind   string
	ID     int64
	Target redeliver.Target
	Stats  ghfake.HistoryStats
}

type world struct {
	t       testing.TB
	srv     *ghfake.Server
	tap     *tap
	front   *httptest.Server
	recv    *receiver
	hookURL string
	apiURL  string // the GHES-style base when Platform is GHES, else the root
	hooks   []hookInfo
	dir     string
	state   string // SQLite state path
	key     string // private key file (0600)
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	if o.Clock == nil {
		o.Clock = ghfake.NewClock(t0)
	}
	srv := ghfake.New(ghfake.Options{Platform: o.Platform, RateLimiting: o.RateLimiting, Clock: o.Clock,
		TokenTTL: o.TokenTTL, Budget: o.Budget, TLS: o.TLS})
	t.Cleanup(srv.Close)
	w := &world{t: t, srv: srv, dir: t.TempDir()}
	if !o.NoToken {
		srv.AddToken(ghfake.Token{Value: secretToken, All: true})
	}
	srv.AddOrg("acme")
	srv.AddRepo("acme", "api")
	srv.AddApp(ghfake.App{ID: appID, PublicKey: &appKey().PublicKey})
	srv.AddInstallation(appID, "acme")

	if o.ReceiverDown {
		w.hookURL = deadURL(t)
	} else {
		w.recv = newReceiver(t)
		w.hookURL = w.recv.srv.URL + "/webhook"
	}
	cfg := ghfake.HookConfig{URL: w.hookURL, Secret: "hook-secret"}
	w.tap = &tap{next: srv.Handler(), appHook: srv.SetAppHook(appID, cfg)}
	for i, h := range o.Hooks {
		hi := hookInfo{Kind: h.Kind}
		switch h.Kind {
		case "org":
			hi.ID = srv.AddOrgHook("acme", cfg)
			hi.Target = redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: hi.ID}
		case "repo":
			hi.ID = srv.AddRepoHook("acme", "api", cfg)
			hi.Target = redeliver.Target{Kind: redeliver.KindRepo, Owner: "acme", Repo: "api", HookID: hi.ID}
		case "app":
			hi.ID = w.tap.appHook
			hi.Target = redeliver.Target{Kind: redeliver.KindApp, AppID: appID}
		default:
			t.Fatalf("hook %d: unknown kind %q", i, h.Kind)
		}
		if h.Hist.N > 0 {
			hi.Stats = srv.SeedHistory(hi.ID, h.Hist)
		}
		w.hooks = append(w.hooks, hi)
	}
	if o.TLS {
		w.apiURL = srv.URL()
	} else {
		w.front = httptest.NewServer(w.tap)
		t.Cleanup(w.front.Close)
		w.apiURL = w.front.URL
	}
	if o.Platform == ghfake.GHES {
		w.apiURL += "/api/v3"
	}
	w.state = filepath.Join(w.dir, "state.db")
	w.key = filepath.Join(w.dir, "app.pem")
	if err := os.WriteFile(w.key, appKeyPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// failed returns every failed guid of the world's histories, by hook id.
func (w *world) failed() map[int64][]string {
	out := map[int64][]string{}
	for _, h := range w.hooks {
		out[h.ID] = append(out[h.ID], h.Stats.FailedGUIDs...)
	}
	return out
}

// totalFailed counts the failed guids of all histories.
func (w *world) totalFailed() int {
	n := 0
	for _, h := range w.hooks {
		n += len(h.Stats.FailedGUIDs)
	}
	return n
}

// redeliveries counts the redeliveries GitHub performed, by hook and guid.
func (w *world) redeliveries() map[int64]map[string]int {
	out := map[int64]map[string]int{}
	for _, r := range w.srv.Redeliveries() {
		if out[r.HookID] == nil {
			out[r.HookID] = map[string]int{}
		}
		out[r.HookID][r.GUID]++
	}
	return out
}

// exactlyOnce checks that every failed guid was redelivered exactly once and
// nothing else was; it returns the problems found (at most a few of each
// kind are named).
func (w *world) exactlyOnce() []string {
	got := w.redeliveries()
	var missing, twice, extra []string
	var nMissing, nTwice, nExtra int
	name := func(list *[]string, n *int, s string) {
		*n++
		if len(*list) < 5 {
			*list = append(*list, s)
		}
	}
	for hook, guids := range w.failed() {
		want := map[string]bool{}
		for _, g := range guids {
			want[g] = true
			switch n := got[hook][g]; {
			case n == 0:
				name(&missing, &nMissing, fmt.Sprintf("hook %d guid %s", hook, g))
			case n > 1:
				name(&twice, &nTwice, fmt.Sprintf("hook %d guid %s ×%d", hook, g, n))
			}
		}
		for g, n := range got[hook] {
			if !want[g] {
				name(&extra, &nExtra, fmt.Sprintf("hook %d guid %s ×%d", hook, g, n))
			}
		}
	}
	for hook, guids := range got {
		if _, ok := w.failed()[hook]; !ok {
			for g, n := range guids {
				name(&extra, &nExtra, fmt.Sprintf("unknown hook %d guid %s ×%d", hook, g, n))
			}
		}
	}
	var out []string
	if nMissing > 0 {
		out = append(out, fmt.Sprintf("%d failed guids never redelivered (e.g. %s)", nMissing, strings.Join(missing, "; ")))
	}
	if nTwice > 0 {
		out = append(out, fmt.Sprintf("%d guids redelivered more than once (e.g. %s)", nTwice, strings.Join(twice, "; ")))
	}
	if nExtra > 0 {
		out = append(out, fmt.Sprintf("%d guids redelivered that had not failed (e.g. %s)", nExtra, strings.Join(extra, "; ")))
	}
	return out
}

// duplicates counts guids GitHub was asked to redeliver more than once.
func (w *world) duplicates() int {
	n := 0
	for _, guids := range w.redeliveries() {
		for _, c := range guids {
			if c > 1 {
				n++
			}
		}
	}
	return n
}

// writeConfig writes a config file listing the world's hooks as targets:
// org hooks as "every hook of acme" (so the hooks API is exercised), the
// repo hooks by id, the App hook as app: true.
func (w *world) writeConfig(extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "api_url: %s\nstate: %s\n%stargets:\n", w.apiURL, w.state, extra)
	kinds := map[string]bool{}
	for _, h := range w.hooks {
		switch h.Kind {
		case "org":
			if !kinds["org"] {
				b.WriteString("  - org: acme\n")
			}
		case "repo":
			fmt.Fprintf(&b, "  - repo: acme/api\n    hook: %d\n", h.ID)
		case "app":
			b.WriteString("  - app: true\n")
		}
		kinds[h.Kind] = true
	}
	path := filepath.Join(w.dir, "config.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// env is the child's environment with the world's token.
func (w *world) env(extra ...string) []string {
	return append(append(baseEnv(w.dir), "GH_TOKEN="+secretToken), extra...)
}

// appArgs are the App's credentials as flags.
func (w *world) appArgs() []string {
	return []string{"--app-id", strconv.Itoa(appID), "--private-key-file", w.key}
}

// hookKinds lists the kinds of the world's hooks, sorted, for messages.
func (w *world) hookKinds() string {
	var ks []string
	for _, h := range w.hooks {
		ks = append(ks, h.Kind)
	}
	slices.Sort(ks)
	return strings.Join(ks, ",")
}
