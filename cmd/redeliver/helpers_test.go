package main

// Helpers for the end-to-end tests of the redeliver command: an emulated
// GitHub (ghfake over real HTTP) with an organization, repositories, hooks,
// a token and a GitHub App; the command run in-process through execute()
// with an injected environment; and the real binary, built once, for the
// tests that need a process of their own (SIGKILL, two runs at once, the
// HOSTNAME trap).

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// testToken is the token every emulated GitHub accepts. It is recognisable
// on purpose: no output, report, summary or state may ever contain it.
const testToken = "ghp_SECRETSECRETtok3nNeverPrintMe0123456789"

// appID is the GitHub App the emulator knows.
const appID = 4242

// downURL is a hook payload URL where nothing listens: port 1 on loopback
// refuses every connection, so GitHub records a failed delivery (status code
// 0) for each redelivery. A closed ephemeral port could be reused by another
// test's server while the tests run in parallel; port 1 cannot.
const downURL = "http://127.0.0.1:1/webhook"

// binPath is the real binary, built once by TestMain.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "redeliver-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// A safety net: the command's default state path reads the real
	// XDG_STATE_HOME (sqlite.DefaultPath), so a test that forgot --state
	// must not write to the home directory of whoever runs the tests.
	os.Setenv("XDG_STATE_HOME", filepath.Join(dir, "xdg-state"))
	binPath = filepath.Join(dir, "redeliver")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the redeliver binary:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ---------------------------------------------------------------------------
// Keys.

var appKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })
var otherKey = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA() })

func mustRSA() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func pemPKCS1(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

// keyLines are the base64 lines of the App's private key: none of them may
// appear anywhere the tool writes.
func keyLines() []string {
	var out []string
	for _, l := range strings.Split(string(pemPKCS1(appKey())), "\n") {
		if l != "" && !strings.HasPrefix(l, "-----") {
			out = append(out, l)
		}
	}
	return out
}

// writeFile writes a file in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// ---------------------------------------------------------------------------
// The emulated GitHub.

// world is an emulator with org acme (one hook), repository acme/api (one
// hook), repository acme/ops (where Actions variables live), App appID with
// its hook and an installation on acme, and testToken. Every hook points at
// downURL unless a test moves it. dir is the test's temporary directory and
// state a fresh SQLite state path in it.
type world struct {
	t                          *testing.T
	srv                        *ghfake.Server
	clock                      *ghfake.Clock
	api                        string // --api-url for the emulator
	dir                        string
	state                      string
	keyFile                    string // the App's private key, mode 0600
	orgHook, repoHook, appHook int64
}

func newWorld(t *testing.T, opts ghfake.Options) *world {
	t.Helper()
	if !downIsDown() {
		t.Fatalf("something listens on 127.0.0.1:1; the tests need it closed (downURL)")
	}
	if opts.Clock == nil {
		opts.Clock = ghfake.NewClock(ghfake.DefaultStart)
	}
	srv := ghfake.New(opts)
	t.Cleanup(srv.Close)
	w := &world{t: t, srv: srv, clock: opts.Clock, api: srv.URL(), dir: t.TempDir()}
	if opts.Platform == ghfake.GHES {
		w.api = srv.URL() + "/api/v3"
	}
	w.state = filepath.Join(w.dir, "state.db")
	srv.AddToken(ghfake.Token{Value: testToken, All: true})
	srv.AddOrg("acme")
	srv.AddRepo("acme", "api")
	srv.AddRepo("acme", "ops")
	w.orgHook = srv.AddOrgHook("acme", ghfake.HookConfig{URL: downURL, Secret: "s"})
	w.repoHook = srv.AddRepoHook("acme", "api", ghfake.HookConfig{URL: downURL, Secret: "s"})
	srv.AddApp(ghfake.App{ID: appID, Slug: "redeliver-test", PublicKey: &appKey().PublicKey})
	w.appHook = srv.SetAppHook(appID, ghfake.HookConfig{URL: downURL, Secret: "s"})
	srv.AddInstallation(appID, "acme")
	w.keyFile = writeFile(t, w.dir, "app.pem", pemPKCS1(appKey()), 0o600)
	return w
}

func (w *world) now() time.Time { return w.clock.Now() }

// ago is the emulator's now minus d.
func (w *world) ago(d time.Duration) time.Time { return w.clock.Now().Add(-d) }

// seed stores attempts on a hook and returns their ids.
func (w *world) seed(hook int64, seeds ...ghfake.Seed) []int64 {
	w.t.Helper()
	return w.srv.SeedAttempts(hook, seeds)
}

// failed seeds one failed original attempt per guid, d apart going back
// from at, with status code 500, and returns the guids.
func (w *world) failed(hook int64, prefix string, n int, at time.Time, step time.Duration) []string {
	w.t.Helper()
	var guids []string
	var seeds []ghfake.Seed
	for i := range n {
		g := fmt.Sprintf("%s-%04d", prefix, i)
		guids = append(guids, g)
		seeds = append(seeds, ghfake.Seed{GUID: g, Event: "push", At: at.Add(-time.Duration(i) * step), StatusCode: 500})
	}
	w.srv.SeedAttempts(hook, seeds)
	return guids
}

// env is the environment of an ordinary shell with a token: the machine's
// own HOSTNAME (as every shell exports it), a HOME and nothing else.
func (w *world) env(extra ...string) map[string]string {
	me, _ := os.Hostname()
	e := map[string]string{
		"GH_TOKEN":       testToken,
		"HOSTNAME":       me,
		"HOME":           w.dir,
		"XDG_STATE_HOME": filepath.Join(w.dir, "xdg"),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			delete(e, extra[i])
		} else {
			e[extra[i]] = extra[i+1]
		}
	}
	return e
}

// args are the connection, state and pace flags every run against this
// world takes, followed by extra.
func (w *world) args(cmd string, extra ...string) []string {
	return append([]string{cmd, "--api-url", w.api, "--state", w.state, "--rate", "0"}, extra...)
}

// run runs `redeliver ARGS` in-process with w.env().
func (w *world) run(args ...string) result {
	w.t.Helper()
	return runIn(w.t, w.env(), args...)
}

// redeliveries counts the redeliveries GitHub was asked for, by guid.
func (w *world) redeliveries() map[string]int {
	out := map[string]int{}
	for _, r := range w.srv.Redeliveries() {
		out[r.GUID]++
	}
	return out
}

// writes counts the requests that change something at GitHub (POST, PATCH,
// PUT, DELETE), by route.
func (w *world) writes() map[string]int {
	out := map[string]int{}
	for route, n := range w.srv.Requests() {
		if !strings.HasPrefix(route, "GET ") && n > 0 {
			out[route] = n
		}
	}
	return out
}

// list routes of the three hook kinds, as the emulator counts them.
const (
	orgListRoute  = "GET /orgs/{org}/hooks/{hook_id}/deliveries"
	repoListRoute = "GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries"
	appListRoute  = "GET /app/hook/deliveries"
	orgPostRoute  = "POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"
)

// wantRedeliveredOnce checks that each guid in want was redelivered exactly
// once and nothing else was.
func wantRedeliveredOnce(t *testing.T, got map[string]int, want []string) {
	t.Helper()
	wantSet := map[string]int{}
	for _, g := range want {
		wantSet[g] = 1
	}
	if !maps.Equal(got, wantSet) {
		var extra, missing []string
		for g, n := range got {
			if wantSet[g] != n {
				extra = append(extra, fmt.Sprintf("%s×%d", g, n))
			}
		}
		for g := range wantSet {
			if got[g] == 0 {
				missing = append(missing, g)
			}
		}
		slices.Sort(extra)
		slices.Sort(missing)
		t.Errorf("redeliveries: want each of %d guids exactly once; wrong counts %v, missing %v", len(want), extra, missing)
	}
}

// ---------------------------------------------------------------------------
// Running the command in-process.

// result is what one run of the command left.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// syncBuffer is a bytes.Buffer safe for the command's concurrent writers
// (log lines from redelivery workers); waitFor lets a test wait for a line
// without polling.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
	return s.b.Write(p)
}

// waitFor waits until the buffer contains sub, or until done is closed or
// the timeout passes; it reports whether sub is there.
func (s *syncBuffer) waitFor(sub string, done <-chan struct{}, timeout time.Duration) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if strings.Contains(s.b.String(), sub) {
			s.mu.Unlock()
			return true
		}
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-done:
			return strings.Contains(s.String(), sub)
		case <-deadline.C:
			return false
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runOpts are how the command's streams look.
type runOpts struct {
	tty bool // stdout and stderr are terminals
}

// runIn runs the command in-process with env as its whole environment. Its
// output is searched for the token and the key, whatever the test.
func runIn(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runInOpts(t, runOpts{}, env, args...)
}

func runInOpts(t *testing.T, o runOpts, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ios, out, errb := testStreams(env, o.tty)
	code := execute(ctx, args, ios)
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	noSecrets(t, "output of redeliver "+strings.Join(args, " "), r.stdout+r.stderr)
	return r
}

// testStreams are a command's streams in a test, as gh's iostreams.Test:
// env is the whole environment, stdin is empty, and stdout and stderr are
// captured; tty says whether they pass for terminals.
func testStreams(env map[string]string, tty bool) (ios *streams, stdout, stderr *syncBuffer) {
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ios = &streams{
		in: strings.NewReader(""), out: stdout, err: stderr,
		getenv: func(k string) string { return env[k] },
		outTTY: tty, errTTY: tty,
	}
	return ios, stdout, stderr
}

// noSecrets fails the test when text holds the token or a line of the key.
func noSecrets(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, testToken) {
		t.Errorf("%s contains the token", what)
	}
	for _, l := range keyLines() {
		if strings.Contains(text, l) {
			t.Errorf("%s contains a line of the private key", what)
			return
		}
	}
}

// decodeResult parses the --output json report.
func decodeResult(t *testing.T, text string) runResult {
	t.Helper()
	var r runResult
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("the JSON report does not parse: %v\n%s", err, text)
	}
	return r
}

// wantCode fails unless the run exited with code.
func wantCode(t *testing.T, r result, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("want exit %d, got %s", code, r)
	}
}

// ---------------------------------------------------------------------------
// The real binary.

// proc is the binary started in the background.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

// startBin starts the binary with env as its whole environment.
func startBin(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	cmd := exec.CommandContext(ctx, binPath, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process and returns what it left.
func (p *proc) wait(t *testing.T) result {
	t.Helper()
	<-p.done
	code := 0
	if p.err != nil {
		ee, ok := p.err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s: %v", p.cmd, p.err)
		}
		code = ee.ExitCode() // -1 when killed by a signal
	}
	r := result{code: code, stdout: p.stdout.String(), stderr: p.stderr.String()}
	noSecrets(t, "output of the redeliver binary", r.stdout+r.stderr)
	return r
}

// runBin runs the binary to its end.
func runBin(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return startBin(t, env, args...).wait(t)
}

// ---------------------------------------------------------------------------
// Receivers.

// receiver is a webhook receiver that answers status and counts the
// deliveries it got. onDelivery, when set, runs before it answers, with the
// delivery's number (from 1); it may change status.
type receiver struct {
	*httptest.Server
	status     atomic.Int32
	onDelivery func(n int)
	n          atomic.Int32
}

func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.status.Store(int32(status))
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		n := int(rc.n.Add(1))
		if rc.onDelivery != nil {
			rc.onDelivery(n)
		}
		w.WriteHeader(int(rc.status.Load()))
	}))
	t.Cleanup(rc.Close)
	return rc
}

// downIsDown checks once that downURL really refuses connections.
var downIsDown = sync.OnceValue(func() bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
	if err == nil {
		c.Close()
	}
	return err != nil
})

// dirEntries lists a directory's names.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// newFiles checks that dir holds nothing beyond had, but for the sidecars
// SQLite makes when it opens a WAL database read-only — its shared-memory
// index (-shm) and an empty -wal — which it notes (see the report).
func newFiles(t *testing.T, dir string, had []string) {
	t.Helper()
	for _, n := range dirEntries(t, dir) {
		if slices.Contains(had, n) {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case n == "state.db-shm", n == "state.db-wal" && st.Size() == 0:
			t.Logf("note: a read-only open left the SQLite sidecar %s (%d bytes) beside the state", n, st.Size())
		default:
			t.Errorf("%s was created (%d bytes)", n, st.Size())
		}
	}
}

// exists reports whether a path exists.
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
