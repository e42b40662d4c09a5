package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// serveArgs are the flags of a serve against w with short intervals: the
// binary runs on the wall clock.
func (w *world) serveArgs(extra ...string) []string {
	return append([]string{"serve", "--api-url", w.api, "--state", w.state, "--rate", "0",
		"--listen", "127.0.0.1:0", "--log-level", "debug",
		"--poll-min", "50ms", "--poll-interval", "100ms", "--poll-max", "200ms",
		"--org", "acme", "--hook", fmt.Sprint(w.orgHook)}, extra...)
}

// waitLog waits for a line of p's stderr, failing the test after 20 s.
func (p *proc) waitLog(t *testing.T, sub string) {
	t.Helper()
	if !p.stderr.waitFor(sub, p.done, 20*time.Second) {
		t.Fatalf("no %q in the log:\n%s", sub, p.stderr)
	}
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The service end to end: deliveries fail while the receiver is down and
// nothing is redelivered; the receiver comes back, a delivery reaches it,
// and every failed event is redelivered exactly once. /metrics, /healthz
// and /readyz answer; a `run` on the same state is refused while the
// service holds it; SIGTERM stops it cleanly with exit code 0.
func TestServeRecoversAndStopsCleanly(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	rc := newReceiver(t, 503)
	w.srv.SetHookURL(w.orgHook, rc.URL)

	p := startBin(t, w.binEnv(), w.serveArgs()...)
	p.waitLog(t, "msg=listening")
	base := "http://" + listenRE.FindStringSubmatch(p.stderr.String())[1]
	p.waitLog(t, "msg=poll")
	if code, body := httpGet(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz after the first poll: %d %s", code, body)
	}

	var failed []string
	for range 5 {
		a, err := w.srv.Send(w.orgHook, "push", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		failed = append(failed, a.GUID)
	}
	p.waitLog(t, "receiver failing")
	if n := len(w.srv.Redeliveries()); n != 0 {
		t.Fatalf("%d redeliveries while the receiver is down", n)
	}

	r := runBin(t, w.binEnv(), w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--lock-wait", "0")...)
	if r.code != exitFailed || !strings.Contains(r.stderr, "pid") {
		t.Errorf("run beside serve: want exit 1 naming the holder, got %s", r)
	}

	rc.status.Store(200)
	if _, err := w.srv.Send(w.orgHook, "push", "", nil); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "receiver back")
	p.waitLog(t, "redelivered=5")

	code, metrics := httpGet(t, base+"/metrics")
	target := fmt.Sprintf("org/acme/hooks/%d", w.orgHook)
	for _, want := range []string{
		fmt.Sprintf(`redeliver_serve_redeliveries_total{target=%q} 5`, target),
		// Whether a 304 poll came yet depends on the wall clock here; the
		// serve package's tests count them on a fake clock.
		`redeliver_serve_api_calls_total{route="GET /orgs/{org}/hooks/{hook_id}/deliveries",status="200"}`,
		`redeliver_serve_budget_remaining{credential="the token"}`,
		fmt.Sprintf(`redeliver_serve_receiver_up{target=%q} 1`, target),
		`redeliver_serve_ready 1`,
	} {
		if code != 200 || !strings.Contains(metrics, want) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}
	if code, body := httpGet(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r = p.wait(t)
	wantCode(t, r, 0)
	if !strings.Contains(r.stderr, "msg=stopped") {
		t.Errorf("no clean stop in the log:\n%s", r.stderr)
	}
	wantRedeliveredOnce(t, w.redeliveries(), failed)
}

// Bad serve flags are refused with exit code 2 before anything starts.
func TestServeBadFlags(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--budget", "0"}, "--budget 0"},
		{[]string{"--budget", "1.5"}, "--budget 1.5"},
		{[]string{"--listen", "nonsense"}, `--listen "nonsense"`},
		{[]string{"--log-format", "xml"}, `--log-format "xml"`},
		{[]string{"--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"--workers", "0"}, "--workers 0"},
		{[]string{"--poll-min", "1m", "--poll-interval", "10s"}, "--poll-min 1m0s"},
		{[]string{"--lease-ttl", "100ms"}, "--lease-ttl 100ms: want 500ms to 1h"},
		{[]string{"--lease-ttl", "2h"}, "--lease-ttl 2h0m0s"},
	} {
		r := w.run(w.serveArgs(c.args...)...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, c.want) {
			t.Errorf("serve %v: want exit 2 naming %s, got %s", c.args, c.want, r)
		}
	}
	if exists(w.state) {
		t.Errorf("a refused serve created the state")
	}
}

// SIGHUP reloads the targets of the config file: an added hook is polled,
// a config that does not load changes nothing, and the service goes on.
func TestServeSIGHUPReloadsTargets(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	cfg := writeFile(t, w.dir, "redeliver.yaml", fmt.Appendf(nil, "targets:\n  - org: acme\n    hook: %d\n", w.orgHook), 0o600)
	args := w.serveArgs()
	args = args[:len(args)-4] // the flags without --org and --hook
	p := startBin(t, w.binEnv(), append(args, "--config", cfg)...)
	p.waitLog(t, "msg=poll")

	writeFile(t, w.dir, "redeliver.yaml", fmt.Appendf(nil, "targets:\n  - org: acme\n    hook: %d\n  - repo: acme/api\n    hook: %d\n", w.orgHook, w.repoHook), 0o600)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "SIGHUP: config reloaded")
	repoTarget := fmt.Sprintf("repo/acme/api/hooks/%d", w.repoHook)
	p.waitLog(t, "target="+repoTarget)

	writeFile(t, w.dir, "redeliver.yaml", []byte("targets: [oops\n"), 0o600)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLog(t, "SIGHUP: config not reloaded")

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := p.wait(t)
	wantCode(t, r, 0)
}

// SIGKILL at random redeliveries across a long serve: outages come and
// go, the service is killed while GitHub is delivering one of its
// redeliveries and started again. In the end every failed event was
// redelivered exactly once: none twice, none lost.
func TestServeKilledAtRandomRedeliveries(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	rc := newReceiver(t, 200)
	w.srv.SetHookURL(w.orgHook, rc.URL)
	rng := rand.New(rand.NewPCG(1, 2))
	var (
		running atomic.Pointer[proc]
		killAt  atomic.Int32
		wantN   atomic.Int32
		reached = make(chan struct{})
		once    sync.Once
	)
	rc.onDelivery = func(n int) {
		if p := running.Load(); p != nil && int32(n) == killAt.Load() {
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
		if want := wantN.Load(); want > 0 && int32(n) >= want {
			once.Do(func() { close(reached) })
		}
	}
	const rounds, perOutage = 6, 4
	var failed []string
	for round := range rounds {
		// The outage: connection refused. (The receiver itself keeps
		// answering 200, so the delivery a kill interrupts still succeeds.)
		w.srv.SetHookURL(w.orgHook, downURL)
		for range perOutage {
			a, err := w.srv.Send(w.orgHook, "push", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			failed = append(failed, a.GUID)
		}
		w.srv.SetHookURL(w.orgHook, rc.URL)
		if _, err := w.srv.Send(w.orgHook, "push", "", nil); err != nil {
			t.Fatal(err)
		}
		// Killed while GitHub delivers one of this round's redeliveries.
		killAt.Store(rc.n.Load() + 1 + int32(rng.IntN(perOutage)))
		p := startBin(t, w.binEnv(), w.serveArgs()...)
		running.Store(p)
		if r := p.wait(t); r.code != -1 {
			t.Fatalf("round %d: want the service killed, got %s", round, r)
		}
		running.Store(nil)
	}
	// A last service finishes the work.
	wantN.Store(int32(rounds + len(failed))) // one delivery a round got through, and the redeliveries
	if rc.n.Load() >= wantN.Load() {
		once.Do(func() { close(reached) })
	}
	p := startBin(t, w.binEnv(), w.serveArgs()...)
	select {
	case <-reached:
	case <-p.done:
		t.Fatalf("the last service ended:\n%s", p.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("not every failed event was redelivered:\n%s", p.stderr)
	}
	p.waitLog(t, "msg=poll")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	last := p.wait(t)
	wantCode(t, last, 0)
	// Whatever a later pass finds, nothing is asked again.
	w.clock.Advance(3 * time.Hour)
	wantCode(t, w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook))...), 0)
	wantRedeliveredOnce(t, w.redeliveries(), failed)
}
