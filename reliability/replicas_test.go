//go:build unix

package reliability

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/postgres/pgtest"
)

// Promise 9 — `serve` replicas on one PostgreSQL state. Three processes
// share 20 hooks while deliveries, some failing, keep arriving; a random
// replica is SIGKILLed (and started again) or SIGSTOPped (and continued
// after more than its lease's life) every couple of seconds. Every failed
// event is redelivered exactly once; every hook is polled by one replica
// at a time, as the emulator's log of who asked shows (each replica has
// its own token); a dead replica's hooks are taken over soon after its
// leases run out.
func TestServeReplicas(t *testing.T) {
	pgtest.Require(t)
	fig := newFigures(t)
	const (
		replicas = 3
		hooks    = 20
		ttl      = time.Second
		scale    = 4 // emulated seconds per wall second
	)
	chaos := 30 * time.Second // 2 minutes of emulated traffic
	if heavy {
		chaos = 2 * time.Minute
	}
	rx := newReplicaWorld(t, hooks, scale, replicas)
	dsn := pgtest.DSN(t)
	// No pace at all: a held redelivery (receiver seen failing) still
	// takes a slot of the per-minute window, and with polls every 50 ms
	// the window would hold the recoveries back for a minute.
	args := []string{"serve", "--api-url", rx.api, "--state", dsn, "--rate", "0", "--per-minute", "0", "--per-hour", "0",
		"--listen", "127.0.0.1:0", "--log-level", "debug", "--repo", "acme/api",
		"--poll-min", "50ms", "--poll-interval", "100ms", "--poll-max", "200ms",
		"--lease-ttl", ttl.String()}

	procs := make([]*replica, replicas)
	var all []*replica // every process started, for REDELIVER_REPLICA_LOGS
	for i := range procs {
		procs[i] = startReplica(t, rx.env(i), args)
		all = append(all, procs[i])
	}
	for _, p := range procs {
		p.waitLog(t, "msg=listening", 30*time.Second)
	}

	rng := rand.New(rand.NewPCG(10, 42))
	traffic := rx.sendTraffic(rng.Uint64(), 200*time.Millisecond)
	end := time.Now().Add(chaos)
	kills, stops := 0, 0
	for time.Now().Before(end) {
		i := rng.IntN(replicas)
		p := procs[i]
		if rng.IntN(2) == 0 {
			p.kill()
			kills++
			procs[i] = startReplica(t, rx.env(i), args)
			all = append(all, procs[i])
		} else {
			_ = p.cmd.Process.Signal(syscall.SIGSTOP)
			stops++
			time.Sleep(ttl + ttl/2) // past its leases: the others take over meanwhile
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			rx.continued(i)
		}
		time.Sleep(time.Duration(1000+rng.IntN(1500)) * time.Millisecond)
	}
	sent, failed := traffic.stop()

	// Every hook's newest delivery succeeds, so the receiver is seen up
	// everywhere, and what is still open goes.
	rx.healthy()
	// A replica that lost its lease between recording an intent and
	// sending the request cannot record that it did not send it: the new
	// holder waits the pending grace (15 min of GitHub's clock) before
	// it asks again. Move the emulator's clock past it.
	// Once more if an intent was left after the first move.
	advances := 0
	for range 3 {
		rx.srv.Clock().Advance(16 * time.Minute)
		rx.advanced = 16 * time.Minute
		advances++
		deadline := time.Now().Add(20 * time.Second)
		for len(rx.srv.Redeliveries()) < len(failed) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if len(rx.srv.Redeliveries()) >= len(failed) {
			break
		}
	}
	for _, p := range procs {
		p.stop(t)
	}
	if dir := os.Getenv("REDELIVER_REPLICA_LOGS"); dir != "" {
		for i, p := range all {
			_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("replica-%02d.log", i)), []byte(p.out.String()), 0o644)
		}
		var b strings.Builder
		for _, r := range rx.srv.RequestLog() {
			fmt.Fprintf(&b, "%s %s %s %s %d %s\n", r.At.Format("15:04:05.000"), r.Caller, r.Method, r.Path, r.Status, r.Query)
		}
		_ = os.WriteFile(filepath.Join(dir, "requests.log"), []byte(b.String()), 0o644)
	}

	// Exactly once.
	got := map[string]int{}
	for _, r := range rx.srv.Redeliveries() {
		got[r.GUID]++
	}
	twice, missed, extra := 0, 0, 0
	for g := range failed {
		switch got[g] {
		case 0:
			missed++
			if missed <= 5 {
				t.Errorf("guid %s (failed) never redelivered", g)
			}
		case 1:
		default:
			twice++
			t.Errorf("guid %s redelivered %d times", g, got[g])
		}
	}
	for g := range got {
		if !failed[g] {
			extra++
			t.Errorf("guid %s redelivered but had not failed", g)
		}
	}
	if missed > 0 {
		t.Errorf("%d of %d failed guids never redelivered", missed, len(failed))
	}

	// One replica at a time, from the emulator's log of who asked.
	own := rx.ownership(ttl)
	for _, v := range own.violations {
		t.Error(v)
	}
	if own.maxTakeover > 3*ttl {
		t.Errorf("longest takeover %s, want within the lease TTL %s, a beat and a poll", own.maxTakeover, ttl)
	}
	fig.add("command: go test ./reliability -run TestServeReplicas -v (REDELIVER_HEAVY=1: 2 minutes of chaos instead of 30 s)")
	fig.add("3 serve replicas, one PostgreSQL schema, %d hooks, lease TTL %s; emulator clock ×%d: %s of chaos = %s of emulated traffic",
		hooks, ttl, scale, chaos, chaos*scale)
	fig.add("chaos: %d SIGKILLs (replica restarted at once, as a new replica), %d SIGSTOPs of 1.5 TTL then SIGCONT", kills, stops)
	fig.add("deliveries sent: %d, failed (receiver answered 503 the first time): %d; redelivered: %d; twice: %d; missed: %d; not failed: %d",
		sent, len(failed), len(got), twice, missed, extra)
	fig.add("polls (first pages asked): %d; hand-overs of a hook between replicas: %d; two replicas polling one hook at once: %d (besides %d listing request(s) sent by a replica as it woke from SIGSTOP, its lease checked just before the stop)",
		own.polls, own.handovers, len(own.violations), own.late)
	fig.add("takeover (wall time from the old holder's last poll to the new one's first): median %s, max %s",
		own.medianTakeover, own.maxTakeover)
	fig.add("pending grace moved past %d time(s); wall time from the chaos's start: %s", advances, time.Since(end.Add(-chaos)).Round(time.Second))
}

// TestServePostgresOutage cuts PostgreSQL away from a serve (a TCP proxy
// between them is closed, as in a restart or failover, then opened again)
// while failed deliveries arrive: /readyz says not ready meanwhile, nothing
// is redelivered while the state cannot record it, and once it answers
// again every failed event is redelivered exactly once.
func TestServePostgresOutage(t *testing.T) {
	pgtest.Require(t)
	fig := newFigures(t)
	rx := newReplicaWorld(t, 5, 1, 1)
	dsn := pgtest.DSN(t)
	px := newPGProxy(t, dsn)
	args := []string{"serve", "--api-url", rx.api, "--state", px.dsn, "--rate", "0",
		"--listen", "127.0.0.1:0", "--log-level", "debug", "--repo", "acme/api",
		"--poll-min", "50ms", "--poll-interval", "100ms", "--poll-max", "200ms",
		"--lease-ttl", "1s"}
	p := startReplica(t, rx.env(0), args)
	p.waitLog(t, "msg=listening", 30*time.Second)
	base := "http://" + listenAddr.FindStringSubmatch(p.out.String())[1]
	waitReady(t, base, 200, 30*time.Second)

	failed := map[string]bool{}
	send := func(n int) {
		for i := range n {
			g := rx.send(i%len(rx.hooks), true)
			failed[g] = true
		}
	}
	send(5)
	px.down()
	send(10)
	waitReady(t, base, 503, 30*time.Second)
	before := len(rx.srv.Redeliveries())
	rx.healthy() // the receiver is back while the state is not
	outage := time.Now()
	// While the state is down the replica must not redeliver: give it a
	// few of its polling intervals to do wrong.
	for time.Since(outage) < 2*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	during := len(rx.srv.Redeliveries()) - before
	if during > 0 {
		t.Errorf("%d redeliveries while the state could not record them", during)
	}
	px.up()
	waitReady(t, base, 200, 30*time.Second)
	resumed := time.Since(outage)
	deadline := time.Now().Add(20 * time.Second)
	for len(rx.srv.Redeliveries()) < len(failed) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// An intent recorded just before the cut, whose request the lease's
	// guard then stopped, cannot be cleared while the state is away: it
	// waits the pending grace (15 min of GitHub's clock) and then goes.
	graced := len(failed) - len(rx.srv.Redeliveries())
	if graced > 0 {
		rx.srv.Clock().Advance(16 * time.Minute)
		deadline = time.Now().Add(20 * time.Second)
		for len(rx.srv.Redeliveries()) < len(failed) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	p.stop(t)
	got := map[string]int{}
	for _, r := range rx.srv.Redeliveries() {
		got[r.GUID]++
	}
	twice, missed := 0, 0
	for g := range failed {
		switch got[g] {
		case 0:
			missed++
		case 1:
		default:
			twice++
		}
	}
	if twice > 0 || missed > 0 || len(got) != len(failed) {
		t.Errorf("after the outage: %d failed, %d redelivered, %d twice, %d missed", len(failed), len(got), twice, missed)
	}
	if !strings.Contains(p.out.String(), "state answering again") {
		t.Errorf("no 'state answering again' in the log:\n%s", p.out.String())
	}
	fig.add("command: go test ./reliability -run TestServePostgresOutage -v")
	fig.add("PostgreSQL cut away (proxy closed, connections reset) for %s while %d failed deliveries arrived: /readyz 503; redeliveries meanwhile: %d",
		resumed.Round(100*time.Millisecond), len(failed), during)
	fig.add("after it answered again: /readyz 200; redelivered %d of %d (%d after the pending grace), twice %d, missed %d", len(got), len(failed), max(graced, 0), twice, missed)
}

// ---------------------------------------------------------------------------

// replicaWorld is the emulator with one repository of hooks, a receiver
// that fails the first delivery of the events the test marks, and a token
// per replica, so the request log tells who asked.
type replicaWorld struct {
	t      *testing.T
	srv    *ghfake.Server
	api    string
	hooks  []int64
	scale  int
	tokens []string
	dir    string

	advanced time.Duration // the emulator clock's moves: gaps that long are not takeovers
	start    time.Time     // the emulator clock at wall
	wall     time.Time
	conts    map[string][]time.Time // caller → wall times its replica was continued after a SIGSTOP

	mu       sync.Mutex
	failNext map[string]bool // hook path → fail the next new guid
	seen     map[string]bool
	lastFail string
}

func newReplicaWorld(t *testing.T, hooks, scale, replicas int) *replicaWorld {
	// The emulator's clock runs scale times faster than the wall clock,
	// from its now: GitHub's clock runs ahead of the replicas' (the HTTP
	// cache of the conditional requests once took a page for fresh then,
	// and answered polls without asking).
	wall := time.Now()
	start := wall.UTC().Truncate(time.Second)
	clock := ghfake.NewFuncClock(func() time.Time {
		return start.Add(time.Since(wall) * time.Duration(scale))
	})
	srv := ghfake.New(ghfake.Options{Clock: clock, RequestLogSize: 1 << 20})
	t.Cleanup(srv.Close)
	rx := &replicaWorld{t: t, srv: srv, scale: scale, dir: t.TempDir(), failNext: map[string]bool{}, seen: map[string]bool{},
		start: start, wall: wall, conts: map[string][]time.Time{}}
	for i := range replicas {
		tok := fmt.Sprintf("ghp_REPLICA%dsecret0TOKEN0must0never0leak0000", i)
		srv.AddToken(ghfake.Token{Value: tok, All: true})
		rx.tokens = append(rx.tokens, tok)
	}
	srv.AddOrg("acme")
	srv.AddRepo("acme", "api")
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		g := r.Header.Get("X-GitHub-Delivery")
		rx.mu.Lock()
		fail := !rx.seen[g] && rx.failNext[r.URL.Path]
		if !rx.seen[g] {
			rx.seen[g] = true
			rx.failNext[r.URL.Path] = false
		}
		if fail {
			rx.lastFail = g
		}
		rx.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)
	for i := range hooks {
		rx.hooks = append(rx.hooks, srv.AddRepoHook("acme", "api", ghfake.HookConfig{URL: fmt.Sprintf("%s/hook/%d", recv.URL, i)}))
	}
	front := httptest.NewServer(srv.Handler())
	t.Cleanup(front.Close)
	rx.api = front.URL
	return rx
}

// continued notes that replica i was just continued after a SIGSTOP.
func (rx *replicaWorld) continued(i int) {
	c := rx.srv.TokenCaller(rx.tokens[i])
	rx.conts[c] = append(rx.conts[c], time.Now())
}

// justWoke reports whether caller's replica had been continued less than
// a second before the emulator's time at: a request it checked its lease
// for before the SIGSTOP and sent after it (the check and the request are
// not one step; the writes and redeliveries that follow are fenced).
func (rx *replicaWorld) justWoke(caller string, at time.Time) bool {
	w := rx.wall.Add(at.Sub(rx.start) / time.Duration(rx.scale))
	for _, c := range rx.conts[caller] {
		if !w.Before(c.Add(-100*time.Millisecond)) && w.Before(c.Add(time.Second)) {
			return true
		}
	}
	return false
}

// env is replica i's environment: its own token.
func (rx *replicaWorld) env(i int) []string {
	return append(baseEnv(rx.dir), "GH_TOKEN="+rx.tokens[i])
}

// send delivers one event to hook i, failing it the first time if fail;
// it returns the guid.
func (rx *replicaWorld) send(i int, fail bool) string {
	rx.mu.Lock()
	rx.failNext[fmt.Sprintf("/hook/%d", i)] = fail
	rx.mu.Unlock()
	a, err := rx.srv.Send(rx.hooks[i], "push", "", nil)
	if err != nil {
		rx.t.Errorf("send to hook %d: %v", i, err)
	}
	return a.GUID
}

// healthy sends one event that succeeds to every hook.
func (rx *replicaWorld) healthy() {
	for i := range rx.hooks {
		rx.send(i, false)
	}
}

// trafficRun sends events to random hooks until stopped; a third fail.
type trafficRun struct {
	stopc  chan struct{}
	done   chan struct{}
	sent   int
	failed map[string]bool
}

func (rx *replicaWorld) sendTraffic(seed uint64, every time.Duration) *trafficRun {
	tr := &trafficRun{stopc: make(chan struct{}), done: make(chan struct{}), failed: map[string]bool{}}
	rng := rand.New(rand.NewPCG(seed, 7))
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-tr.stopc:
				return
			case <-tick.C:
			}
			fail := rng.IntN(3) == 0
			g := rx.send(rng.IntN(len(rx.hooks)), fail)
			tr.sent++
			if fail {
				tr.failed[g] = true
			}
		}
	}()
	return tr
}

func (tr *trafficRun) stop() (int, map[string]bool) {
	close(tr.stopc)
	<-tr.done
	return tr.sent, tr.failed
}

// ownershipReport is what the request log says of who polled which hook.
type ownershipReport struct {
	polls, handovers int
	violations       []string
	late             int // requests a replica sent as it woke, checked before its SIGSTOP
	medianTakeover   time.Duration
	maxTakeover      time.Duration
}

// ownership reads the request log: each poll starts with the first page of
// a hook's deliveries (no cursor). A hand-over is a hook's poll by another
// replica than its previous one. Two replicas polling one hook at once
// shows as A, B, A again within a third of the TTL: taking a hook back
// needs its new holder to release it (a beat later) or to lose its lease.
func (rx *replicaWorld) ownership(ttl time.Duration) ownershipReport {
	type poll struct {
		caller string
		at     time.Time
	}
	byHook := map[string][]poll{}
	var rep ownershipReport
	for _, r := range rx.srv.RequestLog() {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.Path, "/deliveries") || strings.Contains(r.Query, "cursor=") {
			continue
		}
		rep.polls++
		byHook[r.Path] = append(byHook[r.Path], poll{r.Caller, r.At})
	}
	wall := func(d time.Duration) time.Duration { return d / time.Duration(rx.scale) }
	var takeovers []time.Duration
	for hook, ps := range byHook {
		// Runs of consecutive polls by one caller.
		type run struct {
			caller      string
			first, last time.Time
		}
		var runs []run
		for _, p := range ps {
			if n := len(runs); n > 0 && runs[n-1].caller == p.caller {
				runs[n-1].last = p.at
				continue
			}
			runs = append(runs, run{p.caller, p.at, p.at})
		}
		for i := 1; i < len(runs); i++ {
			rep.handovers++
			if gap := runs[i].first.Sub(runs[i-1].last); gap < rx.advanced {
				takeovers = append(takeovers, wall(gap))
			}
			if i >= 2 && runs[i].caller == runs[i-2].caller && wall(runs[i].first.Sub(runs[i-1].first)) < ttl/3 {
				if rx.justWoke(runs[i].caller, runs[i].first) || rx.justWoke(runs[i-1].caller, runs[i-1].first) {
					rep.late++
					continue
				}
				rep.violations = append(rep.violations, fmt.Sprintf("%s: %s polled at %s, %s at %s, %s again at %s",
					hook, runs[i-2].caller, runs[i-2].last.Format("15:04:05.000"), runs[i-1].caller,
					runs[i-1].first.Format("15:04:05.000"), runs[i].caller, runs[i].first.Format("15:04:05.000")))
			}
		}
	}
	if len(takeovers) > 0 {
		slices.Sort(takeovers)
		rep.medianTakeover = takeovers[len(takeovers)/2].Round(time.Millisecond)
		rep.maxTakeover = takeovers[len(takeovers)-1].Round(time.Millisecond)
	}
	return rep
}

// replica is one running `redeliver serve`.
type replica struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	once sync.Once
}

func startReplica(t *testing.T, env, args []string) *replica {
	t.Helper()
	p := &replica{out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *replica) kill() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	})
}

// stop asks for a clean stop (continuing it first, if stopped).
func (p *replica) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("a replica did not stop within 20 s of SIGTERM:\n%s", p.out.String())
		p.kill()
	}
}

func (p *replica) waitLog(t *testing.T, sub string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.out.String(), sub) {
		select {
		case <-p.done:
			t.Fatalf("the replica ended before %q:\n%s", sub, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %s:\n%s", sub, within, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var listenAddr = regexp.MustCompile(`msg=listening addr=(\S+)`)

// waitReady waits until base/readyz answers code.
func waitReady(t *testing.T, base string, code int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/readyz did not answer %d within %s; last: %s", code, within, last)
}

// syncBuffer is a bytes.Buffer safe to read while the child writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pgProxy forwards TCP to the PostgreSQL server; down closes it and every
// connection through it (as a server restart does), up opens it again on
// the same port.
type pgProxy struct {
	t      *testing.T
	addr   string // the proxy's
	target string // the server's host:port
	dsn    string // dsn through the proxy

	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newPGProxy(t *testing.T, dsn string) *pgProxy {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := &pgProxy{t: t, target: u.Host}
	if px.target == "" || !strings.Contains(px.target, ":") {
		px.target = net.JoinHostPort(cmpOr(u.Hostname(), "127.0.0.1"), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	px.addr = ln.Addr().String()
	u.Host = px.addr
	px.dsn = u.String()
	px.serve(ln)
	t.Cleanup(px.down)
	return px
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (px *pgProxy) serve(ln net.Listener) {
	px.mu.Lock()
	px.ln = ln
	px.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", px.target)
			if err != nil {
				c.Close()
				continue
			}
			px.mu.Lock()
			px.conns = append(px.conns, c, s)
			px.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
}

func (px *pgProxy) down() {
	px.mu.Lock()
	defer px.mu.Unlock()
	if px.ln != nil {
		px.ln.Close()
		px.ln = nil
	}
	for _, c := range px.conns {
		c.Close()
	}
	px.conns = nil
}

func (px *pgProxy) up() {
	ln, err := net.Listen("tcp", px.addr)
	if err != nil {
		px.t.Fatal(err)
	}
	px.serve(ln)
}
