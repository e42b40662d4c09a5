package main

// The docs scripts' environment: `redeliver run` with no target or state
// flags reads what GitHub's documented workflows set, keeps the checkpoint
// in their variable in their format, and can take over from the script and
// hand back to it. And the HOSTNAME trap.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// docsEnv is the environment of the docs' workflow for the org hook, with
// GITHUB_API_URL (set by Actions) pointing at the emulator.
func (w *world) docsEnv(extra ...string) map[string]string {
	base := []string{
		"GH_TOKEN", "",
		"TOKEN", testToken,
		"ORGANIZATION_NAME", "acme",
		"HOOK_ID", fmt.Sprint(w.orgHook),
		"LAST_REDELIVERY_VARIABLE_NAME", "LAST_REDELIVERY",
		"WORKFLOW_REPO_OWNER", "acme",
		"WORKFLOW_REPO_NAME", "ops",
		"GITHUB_API_URL", w.api,
	}
	return w.env(append(base, extra...)...)
}

var msEpoch = regexp.MustCompile(`^[0-9]{13}$`)

// TestDocsEnvironment: with the environment of each of the three docs
// workflows and no flags, `redeliver run` finds the hook, redelivers its
// failed events once, writes the checkpoint into the script's variable as
// milliseconds since the epoch and the ledger into NAME_LEDGER, and leaves
// no state file behind.
func TestDocsEnvironment(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		hook func(*world) int64
		env  func(*world) []string
		key  func(*world) string
	}{
		{"org", func(w *world) int64 { return w.orgHook }, func(w *world) []string { return nil },
			func(w *world) string { return fmt.Sprintf("org/acme/hooks/%d", w.orgHook) }},
		{"repo", func(w *world) int64 { return w.repoHook }, func(w *world) []string {
			return []string{"ORGANIZATION_NAME", "", "REPO_OWNER", "acme", "REPO_NAME", "api", "HOOK_ID", fmt.Sprint(w.repoHook)}
		}, func(w *world) string { return fmt.Sprintf("repo/acme/api/hooks/%d", w.repoHook) }},
		{"app", func(w *world) int64 { return w.appHook }, func(w *world) []string {
			return []string{"ORGANIZATION_NAME", "", "HOOK_ID", "", "APP_ID", fmt.Sprint(appID), "PRIVATE_KEY", string(pemPKCS1(appKey()))}
		}, func(w *world) string { return fmt.Sprintf("app/%d/hook", appID) }},
		// A key pasted into a one-line secret carries literal \n.
		{"app, one-line key", func(w *world) int64 { return w.appHook }, func(w *world) []string {
			oneLine := strings.ReplaceAll(string(pemPKCS1(appKey())), "\n", `\n`)
			return []string{"ORGANIZATION_NAME", "", "HOOK_ID", "", "APP_ID", fmt.Sprint(appID), "PRIVATE_KEY", oneLine}
		}, func(w *world) string { return fmt.Sprintf("app/%d/hook", appID) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghfake.Options{})
			gs := w.failed(c.hook(w), "docs", 2, w.ago(time.Hour), time.Minute)
			w.seed(c.hook(w), ghfake.Seed{GUID: "ok", At: w.ago(time.Minute), StatusCode: 200})
			r := runIn(t, w.docsEnv(c.env(w)...), "run")
			wantCode(t, r, 0)
			wantRedeliveredOnce(t, w.redeliveries(), gs)
			if !strings.Contains(r.stdout, "Redelivered 2 failed webhook deliveries out of 3 total deliveries since ") {
				t.Errorf("summary line:\n%s", r)
			}
			cp, ok := w.srv.Variable("acme", "ops", "LAST_REDELIVERY")
			if !ok || !msEpoch.MatchString(cp) || cp != strconv.FormatInt(w.now().UnixMilli(), 10) {
				t.Errorf("LAST_REDELIVERY = %q (set %v), want GitHub's clock in ms, %d", cp, ok, w.now().UnixMilli())
			}
			ledger, ok := w.srv.Variable("acme", "ops", "LAST_REDELIVERY_LEDGER")
			if !ok || !strings.HasPrefix(ledger, "rdl1:"+c.key(w)+":") {
				t.Errorf("LAST_REDELIVERY_LEDGER = %.60q (set %v), want rdl1:%s:…", ledger, ok, c.key(w))
			}
			noSecrets(t, "the variables", cp+ledger)
			if got := dirEntries(t, w.dir); len(got) != 1 {
				t.Errorf("files left beside app.pem: %v", got)
			}
		})
	}
}

// TestDocsCheckpointHonoured: a checkpoint the docs script wrote (its own
// clock in milliseconds, not whole seconds) is where the tool starts
// looking (minus its 10-minute overlap): a failed event from before it is
// not redelivered again, one after it is; and the ledger is carried across
// runs in NAME_LEDGER.
func TestDocsCheckpointHonoured(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	scriptRan := w.ago(2 * time.Hour).Add(123 * time.Millisecond)
	w.srv.SetVariable("acme", "ops", "LAST_REDELIVERY", strconv.FormatInt(scriptRan.UnixMilli(), 10))
	w.failed(w.orgHook, "before", 1, w.ago(3*time.Hour), 0) // the script's business
	after := w.failed(w.orgHook, "after", 1, w.ago(time.Hour), 0)

	r := runIn(t, w.docsEnv(), "run", "--output", "json")
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), after)
	rep := decodeResult(t, r.stdout).Targets[0]
	if want := scriptRan.Add(-10 * time.Minute); !rep.From.Equal(want) {
		t.Errorf("listed from %s, want the script's checkpoint − 10m = %s", rep.From, want)
	}

	// Six hours later, with the state only in the variables: "after" is
	// behind the checkpoint, the ledger carries it, and it is due again.
	w.clock.Advance(6 * time.Hour)
	r = runIn(t, w.docsEnv(), "run", "--output", "json")
	wantCode(t, r, 0)
	if got := w.redeliveries(); got["after-0000"] != 2 || len(got) != 1 {
		t.Errorf("redeliveries %v, want after-0000 twice (the receiver is down; due again after 1h)", got)
	}
	// A quiet hook: the newest attempt listed is run 1's redelivery, six
	// hours behind GitHub's clock, and the checkpoint stays with it rather
	// than follow a clock that far ahead of anything listed.
	if cp, _ := w.srv.Variable("acme", "ops", "LAST_REDELIVERY"); cp != strconv.FormatInt(w.now().Add(-6*time.Hour).UnixMilli(), 10) {
		t.Errorf("LAST_REDELIVERY = %s, want %d", cp, w.now().Add(-6*time.Hour).UnixMilli())
	}
}

// TestDocsScriptSwitch runs GitHub's docs script itself (node and octokit,
// its baseUrl pointed at the emulator, nothing else changed), then
// redeliver on the variable the script wrote, then the script again on the
// variable redeliver wrote: each honours the other's checkpoint and nothing
// is redelivered twice.
func TestDocsScriptSwitch(t *testing.T) {
	t.Parallel()
	node, modules, script := docsScriptSetup(t)

	// The script reads the wall clock (Date.now()): the emulator starts at it.
	w := newWorld(t, ghfake.Options{Clock: ghfake.NewClock(time.Now().UTC().Truncate(time.Second))})
	rc := newReceiver(t, 200)
	w.srv.SetHookURL(w.orgHook, rc.URL)
	a := w.failed(w.orgHook, "a", 1, w.ago(3*time.Hour), 0)

	runScript := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, script)
		cmd.Dir = filepath.Dir(script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "NODE_PATH=" + modules}
		for k, v := range w.docsEnv() {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the docs script failed: %v\n%s", err, out)
		}
		return string(out)
	}

	out := runScript()
	if !strings.Contains(out, "Redelivered 1 failed webhook deliveries out of 1 total deliveries") {
		t.Fatalf("docs script:\n%s", out)
	}
	wantRedeliveredOnce(t, w.redeliveries(), a)
	scriptCP, _ := w.srv.Variable("acme", "ops", "LAST_REDELIVERY")
	ms, err := strconv.ParseInt(scriptCP, 10, 64)
	if err != nil {
		t.Fatalf("the script wrote %q", scriptCP)
	}

	// redeliver takes over an hour later.
	w.clock.Advance(time.Hour)
	b := w.failed(w.orgHook, "b", 1, w.ago(30*time.Minute), 0)
	r := runIn(t, w.docsEnv(), "run", "--output", "json")
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), append(a, b...))
	if rep := decodeResult(t, r.stdout).Targets[0]; !rep.From.Equal(time.UnixMilli(ms).Add(-10 * time.Minute)) {
		t.Errorf("redeliver listed from %s, want the script's checkpoint %s − 10m", rep.From, time.UnixMilli(ms).UTC())
	}
	ourCP, _ := w.srv.Variable("acme", "ops", "LAST_REDELIVERY")
	if ourCP != strconv.FormatInt(w.now().UnixMilli(), 10) {
		t.Errorf("redeliver wrote %q, want %d", ourCP, w.now().UnixMilli())
	}

	// And back: the script reads redeliver's checkpoint and finds nothing.
	out = runScript()
	if !strings.Contains(out, "Redelivered 0 failed webhook deliveries") {
		t.Errorf("docs script after redeliver:\n%s", out)
	}
	wantRedeliveredOnce(t, w.redeliveries(), append(a, b...))
	if n := rc.n.Load(); n != 2 {
		t.Errorf("the receiver got %d deliveries, want 2", n)
	}
}

// docsScriptSetup finds node, octokit and the docs script, and copies the
// script with its placeholder baseUrl pointed at GITHUB_API_URL.
func docsScriptSetup(t *testing.T) (node, modules, script string) {
	t.Helper()
	// In CI, or when REDELIVER_NODE_MODULES says where octokit is, a
	// missing piece is a failure: a silent skip would hide that the
	// comparison with the docs script never ran.
	missing := t.Skipf
	if os.Getenv("CI") != "" || os.Getenv("REDELIVER_NODE_MODULES") != "" {
		missing = t.Fatalf
	}
	const howTo = "install Node.js and run: npm install --prefix .cache/node octokit@5 (.ci/run does both), or set REDELIVER_NODE_MODULES"
	node, err := exec.LookPath("node")
	if err != nil {
		missing("the docs-script tests need node on PATH: %s", howTo)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	modules = os.Getenv("REDELIVER_NODE_MODULES")
	if modules == "" {
		modules = filepath.Join(root, ".cache", "node", "node_modules")
	}
	if !exists(filepath.Join(modules, "octokit", "package.json")) {
		missing("the docs-script tests need octokit, which is not in %s: %s", modules, howTo)
	}
	src := filepath.Join(root, "..", "shared", "seed", "redeliver-failed-deliveries.js")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Skipf("skipping: the docs script is absent: %v", err)
	}
	const placeholder = `baseUrl: "http(s)://HOSTNAME/api/v3",`
	if strings.Count(string(b), placeholder) != 1 {
		t.Fatalf("%s: %q is not there exactly once", src, placeholder)
	}
	dir := t.TempDir()
	script = writeFile(t, dir, "redeliver-failed-deliveries.js",
		[]byte(strings.Replace(string(b), placeholder, "baseUrl: process.env.GITHUB_API_URL,", 1)), 0o644)
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return node, modules, script
}

// TestDocsHostnameGHES: in the docs environment a HOSTNAME that names a
// real host (dotted, not this machine) is the GHES: https://HOST/api/v3,
// with its 7-day horizon. (The emulator serves TLS on 127.0.0.1 with a
// private CA, given with --ca-file.)
func TestDocsHostnameGHES(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{Platform: ghfake.GHES, TLS: true})
	ca := writeFile(t, w.dir, "ca.pem", w.srv.CertPEM(), 0o644)
	host := strings.TrimPrefix(w.srv.URL(), "https://")
	gs := w.failed(w.orgHook, "ghes", 2, w.ago(time.Hour), time.Minute)
	r := runIn(t, w.docsEnv("GITHUB_API_URL", "", "HOSTNAME", host), "run", "--ca-file", ca, "--rate", "0", "--output", "json")
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
	if res := decodeResult(t, r.stdout); res.APIURL != "https://"+host+"/api/v3/" {
		t.Errorf("api_url %q, want https://%s/api/v3/", res.APIURL, host)
	}
	if strings.Contains(r.stderr, "HOSTNAME") {
		t.Errorf("no HOSTNAME warning expected:\n%s", r)
	}
}

// TestHostnameTrap: shells and containers export HOSTNAME as the machine's
// name. It must never become https://HOSTNAME/api/v3. The binary runs with
// HTTPS_PROXY pointing at a proxy that records where each connection goes
// (CONNECT host and TLS server name) and then fails the handshake, so the
// test sees where the tool would have gone without reaching any network.
func TestHostnameTrap(t *testing.T) {
	t.Parallel()
	me, err := os.Hostname()
	if err != nil || me == "" {
		t.Skip("no host name")
	}
	cases := []struct {
		name     string
		hostname string
		docs     bool   // the docs script's environment (ORGANIZATION_NAME…)
		wantHost string // where the tool connects
		warning  string // on stderr
	}{
		{"machine name, docs env", me, true, "api.github.com", "HOSTNAME=" + me + " is this machine's own name, not a GitHub Enterprise Server host: using https://api.github.com/"},
		{"buildkitsandbox, docs env", "buildkitsandbox", true, "api.github.com", "HOSTNAME=buildkitsandbox is not a dotted host name"},
		{"machine name, flags", me, false, "api.github.com", ""},
		{"real GHES host, docs env", "ghe.example.com", true, "ghe.example.com", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			px := newRecordingProxy(t)
			dir := t.TempDir()
			env := map[string]string{
				"HOME": dir, "XDG_STATE_HOME": dir, "HOSTNAME": c.hostname,
				"HTTPS_PROXY": px.url, "https_proxy": px.url, "TOKEN": testToken,
			}
			args := []string{"run", "--state", filepath.Join(dir, "state.db"), "--output", "json"}
			if c.docs {
				env["ORGANIZATION_NAME"], env["HOOK_ID"] = "acme", "1"
			} else {
				args = append(args, "--org", "acme", "--hook", "1")
			}
			r := runBin(t, env, args...)
			if r.code == 0 || !strings.Contains(r.stderr, "x509: certificate signed by unknown authority") {
				t.Errorf("want the run to fail at the proxy's TLS handshake, got %s", r)
			}
			connects, names := px.seen()
			want := c.wantHost + ":443"
			if len(connects) == 0 || len(names) == 0 {
				t.Fatalf("the tool connected nowhere: %s", r)
			}
			for _, h := range connects {
				if h != want {
					t.Errorf("CONNECT %s, want only %s", h, want)
				}
			}
			for _, n := range names {
				if n != c.wantHost {
					t.Errorf("TLS handshake for %q, want only %q", n, c.wantHost)
				}
			}
			if c.warning != "" && !strings.Contains(r.stderr, "warning: "+c.warning) {
				t.Errorf("want the warning %q on stderr:\n%s", c.warning, r)
			}
			if c.warning == "" && strings.Contains(r.stderr, "HOSTNAME") {
				t.Errorf("no HOSTNAME warning expected:\n%s", r)
			}
			if exists(filepath.Join(dir, "state.db")) {
				t.Errorf("a state file was created")
			}
		})
	}
}

// recordingProxy is an HTTPS proxy that records each CONNECT target and the
// TLS server name the client then asks for, and presents a certificate no
// client trusts, so no request ever gets through.
type recordingProxy struct {
	url      string
	mu       sync.Mutex
	connects []string
	names    []string
}

func newRecordingProxy(t *testing.T) *recordingProxy {
	t.Helper()
	cert := untrustedCert(t)
	p := &recordingProxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.url = "http://" + ln.Addr().String()
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		p.mu.Lock()
		p.connects = append(p.connects, r.Host)
		p.mu.Unlock()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Server(conn, &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			p.mu.Lock()
			p.names = append(p.names, h.ServerName)
			p.mu.Unlock()
			return &cert, nil
		}})
		_ = tc.Handshake() // the client refuses the certificate
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *recordingProxy) seen() (connects, names []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.connects...), append([]string(nil), p.names...)
}

// untrustedCert is a self-signed certificate for any name.
func untrustedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "recording proxy"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"api.github.com", "ghe.example.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
