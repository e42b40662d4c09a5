//go:build unix

package reliability

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// Promise 7 — secrets. Every byte the end-to-end runs write — stdout,
// stderr with -v, the JSON report, the metrics file, the job summary and
// annotations (GITHUB_ACTIONS=true), the state file and its sidecars, the
// Actions variables, any panic — is collected, and the token, a wrong
// token, the App's private key, installation tokens and JWTs appear in
// none of it. TLS: a GHES on HTTPS with a self-signed certificate is refused
// by default and accepted with --ca-file; plain http to a non-loopback host
// is refused; a private key file others can read gets a warning.

// wrongToken is a second recognisable secret: a token GitHub refuses.
const wrongToken = "ghp_RELIABILITYwrong0TOKEN0must0never0leak0Xk7"

// secretNeedles are the strings no output may contain, with a name each.
func secretNeedles() map[string]*regexp.Regexp {
	n := map[string]*regexp.Regexp{
		"the token":              regexp.MustCompile(regexp.QuoteMeta(secretToken)),
		"the token's tail":       regexp.MustCompile(regexp.QuoteMeta(secretToken[len(secretToken)-16:])),
		"the wrong token":        regexp.MustCompile(regexp.QuoteMeta(wrongToken)),
		"an installation token":  regexp.MustCompile(`ghs_[A-Za-z0-9]{20,}`),
		"a JWT":                  regexp.MustCompile(`eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}`),
		"an Authorization value": regexp.MustCompile(`(?i)(bearer|token) (ghp_|ghs_|eyJ)`),
		"a PEM private key":      regexp.MustCompile(`PRIVATE KEY-----`),
	}
	return n
}

// keyGrams are the 16-character pieces of the App key's base64 body (and of
// its raw bytes): a leak of any 16 consecutive characters of the key shows.
var keyGrams = func() map[string]bool {
	block, _ := pem.Decode(appKeyPEM())
	m := map[string]bool{}
	for _, s := range []string{base64.StdEncoding.EncodeToString(block.Bytes), string(block.Bytes)} {
		for i := 0; i+16 <= len(s); i++ {
			m[s[i:i+16]] = true
		}
	}
	return m
}()

// leakScan collects outputs and scans them.
type leakScan struct {
	needles map[string]*regexp.Regexp
	bytes   int
	sources int
	leaks   []string
}

func (l *leakScan) scan(source string, data []byte) {
	l.sources++
	l.bytes += len(data)
	for name, re := range l.needles {
		if loc := re.FindIndex(data); loc != nil {
			from := max(loc[0]-40, 0)
			l.leaks = append(l.leaks, fmt.Sprintf("%s holds %s: …%q…", source, name, data[from:min(loc[1]+20, len(data))]))
		}
	}
	for i := 0; i+16 <= len(data); i++ {
		if keyGrams[string(data[i:i+16])] {
			l.leaks = append(l.leaks, fmt.Sprintf("%s holds 16 characters of the App's private key at byte %d", source, i))
			break
		}
	}
	if bytes.Contains(data, []byte("panic:")) || bytes.Contains(data, []byte("goroutine ")) {
		l.leaks = append(l.leaks, source+" holds a panic")
	}
}

// scanDump scans a stack dump, which is expected to mention goroutines.
func (l *leakScan) scanDump(source string, data []byte) {
	n := len(l.leaks)
	l.scan(source, data)
	for i := n; i < len(l.leaks); i++ {
		if l.leaks[i] == source+" holds a panic" {
			l.leaks = append(l.leaks[:i], l.leaks[i+1:]...)
			break
		}
	}
}

// scanTree scans every file under dir except the ones named in skip.
func (l *leakScan) scanTree(t *testing.T, dir string, skip ...string) {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, s := range skip {
			if p == s {
				return nil
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		l.scan(p, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestSecretsNeverWritten(t *testing.T) {
	fig := newFigures(t)
	var hooks []hookSpec
	for i, k := range []string{"org", "repo", "app"} {
		hooks = append(hooks, hookSpec{Kind: k, Hist: ghfake.History{N: 80, FailureRatio: 0.3, NoResponseRatio: 0.3,
			Seed: int64(40 + i), From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}})
	}
	// Dotcom: rate limits on, so limit answers and their log lines happen.
	w := newWorld(t, worldOpts{Platform: ghfake.DotCom, Hooks: hooks, TokenTTL: 10 * time.Minute})
	out := filepath.Join(w.dir, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		t.Fatal(err)
	}
	report, summary, metrics := filepath.Join(out, "report.json"), filepath.Join(out, "summary.md"), filepath.Join(out, "metrics.prom")
	actions := []string{"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + summary}
	cfg := w.writeConfig("")
	l := &leakScan{needles: secretNeedles()}
	// The scanner itself finds what it looks for.
	self := &leakScan{needles: l.needles}
	block, _ := pem.Decode(appKeyPEM())
	self.scan("self-test", []byte("Authorization: Bearer "+secretToken+"\n"+base64.StdEncoding.EncodeToString(block.Bytes)[300:320]))
	if len(self.leaks) < 4 {
		t.Fatalf("the leak scanner misses planted secrets: %v", self.leaks)
	}
	runs := 0
	do := func(name string, env []string, args ...string) result {
		r := run(t, env, args...)
		runs++
		l.scan(name+" stdout", []byte(r.Stdout))
		l.scan(name+" stderr", []byte(r.Stderr))
		return r
	}
	full := append([]string{"run", "--config", cfg, "--rate", "0", "-v", "--report", report, "--metrics-file", metrics}, w.appArgs()...)

	// 1. Faults on the way: 5xx on redeliveries (outcome unknown), a
	// secondary limit, resets; verbose logs of all of it.
	w.srv.SetFaultSeed(7)
	w.srv.AddFault(ghfake.Fault{Kind: ghfake.FaultStatus, Status: 502, Probability: 0.1,
		Route: "POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"})
	w.srv.AddFault(ghfake.Fault{Kind: ghfake.FaultReset, Probability: 0.05})
	w.srv.AddFault(ghfake.Fault{Kind: ghfake.FaultSecondaryLimit, RetryAfter: 1, Times: 1, After: 15})
	r := do("run with faults", w.env(actions...), full...)
	if r.Code != 0 && r.Code != 1 {
		t.Errorf("run with faults: %s", r)
	}
	w.srv.ClearFaults()
	w.srv.Clock().Advance(16 * time.Minute)
	// 2. JSON on stdout, then a dry run, status, deliveries.
	do("run -o json", w.env(actions...), append(full, "--output", "json")...)
	do("dry run", w.env(actions...), append(full, "--dry-run")...)
	do("status", w.env(), "status", "--state", w.state, "--output", "json")
	do("deliveries", w.env(), "deliveries", "--api-url", w.apiURL, "--org", "acme", "--hook", strconv.FormatInt(w.hooks[0].ID, 10), "--output", "json")
	// 3. The App alone: installation tokens for the org and repo hooks,
	// one of them expiring mid-run (TTL 10 min, clock moved 11 min).
	w.srv.Clock().Advance(16 * time.Minute)
	var n atomic.Int32
	w.tap.setHook(func(st stage, c *call) bool {
		if st == stageArrive {
			if n.Add(1) == 6 {
				w.srv.Clock().Advance(11 * time.Minute)
			}
		}
		return true
	})
	if r := do("App-only run", append(baseEnv(w.dir), actions...), append([]string{"run", "--config", cfg, "--rate", "0", "-v"}, w.appArgs()...)...); r.Code != 0 {
		t.Errorf("App-only run with an installation token expiring mid-run: %s", r)
	}
	w.tap.setHook(nil)
	// 4. A wrong token, and a key that is not the App's: exit 3.
	hook := strconv.FormatInt(w.hooks[0].ID, 10)
	if r := do("wrong token", append(baseEnv(w.dir), "GH_TOKEN="+wrongToken), "run", "--api-url", w.apiURL, "--org", "acme", "--hook", hook,
		"--state", w.state, "-v"); r.Code != 3 {
		t.Errorf("wrong token: exit %d, want 3: %s", r.Code, r)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(out, "other.pem")
	otherPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)})
	if err := os.WriteFile(otherFile, otherPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := do("wrong App key", baseEnv(w.dir), "run", "--api-url", w.apiURL, "--app", "--app-id", strconv.Itoa(appID),
		"--private-key-file", otherFile, "--state", w.state, "-v"); r.Code != 3 {
		t.Errorf("wrong App key: exit %d, want 3: %s", r.Code, r)
	}
	otherBody := strings.Join(strings.Split(string(otherPEM), "\n")[1:4], "")
	l.needles["the wrong App key"] = regexp.MustCompile(regexp.QuoteMeta(otherBody[10:40]))
	// 5. The docs script's environment with the Actions-variable state.
	w.srv.AddRepo("acme", "ops")
	docs := append(baseEnv(w.dir), "TOKEN="+secretToken, "GITHUB_API_URL="+w.apiURL, "ORGANIZATION_NAME=acme",
		"HOOK_ID="+strconv.FormatInt(w.hooks[0].ID, 10), "LAST_REDELIVERY_VARIABLE_NAME=LAST_REDELIVERY",
		"WORKFLOW_REPO_OWNER=acme", "WORKFLOW_REPO_NAME=ops", "GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY="+summary)
	if r := do("docs-script environment", docs, "run", "--rate", "0", "-v"); r.Code != 0 {
		t.Errorf("docs-script environment: %s", r)
	}
	// 6. A crash dump mid-run: SIGQUIT makes the Go runtime print every
	// goroutine's stack, as a panic does, while a redelivery is in flight.
	w.srv.Clock().Advance(16 * time.Minute)
	c := startWith(t, nil, append(w.env(), "GOTRACEBACK=all"), append(full, "--since", "30d")...)
	var once sync.Once
	w.tap.setHook(func(st stage, cl *call) bool {
		if st == stageArrive && cl.Kind == "list" {
			once.Do(func() {
				c.cmd.Process.Signal(syscall.SIGQUIT)
				<-c.done
			})
			return false
		}
		return true
	})
	r = c.wait(t, time.Minute)
	w.tap.setHook(nil)
	runs++
	if !strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("SIGQUIT gave no stack dump: %s", r)
	}
	l.scan("crash dump stdout", []byte(r.Stdout))
	l.scanDump("crash dump stderr", []byte(r.Stderr))
	for _, name := range []string{"LAST_REDELIVERY", "LAST_REDELIVERY_LEDGER"} {
		v, _ := w.srv.Variable("acme", "ops", name)
		l.scan("variable "+name, []byte(v))
	}
	// Every file the runs left: report, summary, metrics, the state and
	// its -wal, -shm and .lock, anything else under the run's home.
	l.scanTree(t, w.dir, w.key, otherFile)
	for _, p := range []string{report, summary, metrics, w.state} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was not written: %v", p, err)
		}
	}
	for _, leak := range l.leaks {
		t.Errorf("LEAK: %s", leak)
	}
	fig.add("command: go test ./reliability -run TestSecretsNeverWritten -v")
	fig.add("%d runs (faults, -v, --report, --metrics-file, job summary, JSON, dry run, status, deliveries, App-only with an installation token expiring mid-run, a wrong token, a wrong App key, the docs script's environment with Actions variables, a SIGQUIT stack dump mid-run); %d outputs and files scanned, %d bytes", runs, l.sources, l.bytes)
	fig.add("secrets looked for: the token (and its last 16 characters), a wrong token, any 16 characters of the App key (base64 or raw), a wrong App key, installation tokens (ghs_…), JWTs, Authorization values, PEM headers; found: %d", len(l.leaks))
}

func TestTLS(t *testing.T) {
	fig := newFigures(t)
	w := newWorld(t, worldOpts{Platform: ghfake.GHES, TLS: true, Hooks: []hookSpec{{Kind: "org", Hist: ghfake.History{N: 50, FailureRatio: 0.3,
		Seed: 8, From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}}}})
	hook := strconv.FormatInt(w.hooks[0].ID, 10)
	args := []string{"run", "--api-url", w.apiURL, "--org", "acme", "--hook", hook, "--state", w.state, "--rate", "0"}

	r := run(t, w.env(), args...)
	if r.Code == 0 || !strings.Contains(r.Stderr, "certificate") {
		t.Errorf("a self-signed GHES certificate was not refused: %s", r)
	}
	if n := len(w.srv.Redeliveries()); n != 0 {
		t.Errorf("%d redeliveries through an untrusted certificate", n)
	}
	fig.add("self-signed GHES, no --ca-file: exit %d: %s", r.Code, firstLine(r.Stderr))

	ca := filepath.Join(w.dir, "ghes-ca.pem")
	if err := os.WriteFile(ca, w.srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	r = run(t, w.env(), append(args, "--ca-file", ca)...)
	if r.Code != 0 {
		t.Errorf("with --ca-file: %s", r)
	}
	if got, want := len(w.srv.Redeliveries()), w.totalFailed(); got != want {
		t.Errorf("with --ca-file: %d redeliveries, want %d", got, want)
	}
	fig.add("self-signed GHES with --ca-file: exit %d, %d of %d failed events redelivered", r.Code, len(w.srv.Redeliveries()), w.totalFailed())

	for _, u := range []struct{ how, url string }{
		{"--api-url", "http://ghe.example.com/api/v3"},
		{"--api-url", "http://10.0.0.7/api/v3"},
		{"GITHUB_API_URL", "http://ghe.example.com/api/v3"},
	} {
		var r result
		if u.how == "--api-url" {
			r = run(t, w.env(), "run", "--api-url", u.url, "--org", "acme", "--hook", hook, "--state", w.state)
		} else {
			r = run(t, w.env("GITHUB_API_URL="+u.url), "run", "--org", "acme", "--hook", hook, "--state", w.state)
		}
		if r.Code != 2 || !strings.Contains(r.Stderr, "plain http") {
			t.Errorf("%s %s: want exit 2 refusing plain http: %s", u.how, u.url, r)
		}
		fig.add("%s %s: exit %d: %s", u.how, u.url, r.Code, firstLine(r.Stderr))
	}
	fig.add("command: go test ./reliability -run TestTLS -v")
}

func TestPrivateKeyPermissions(t *testing.T) {
	fig := newFigures(t)
	w := newWorld(t, worldOpts{Platform: ghfake.GHES, Hooks: []hookSpec{{Kind: "app", Hist: ghfake.History{N: 20, FailureRatio: 0.2,
		Seed: 9, From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}}}})
	for _, mode := range []os.FileMode{0o600, 0o640, 0o644} {
		if err := os.Chmod(w.key, mode); err != nil {
			t.Fatal(err)
		}
		r := run(t, baseEnv(w.dir), "run", "--api-url", w.apiURL, "--app", "--app-id", strconv.Itoa(appID),
			"--private-key-file", w.key, "--state", w.state, "--rate", "0")
		warned := strings.Contains(r.Stderr, "readable by others")
		if r.Code != 0 {
			t.Errorf("mode %o: %s", mode, r)
		}
		if warned != (mode&0o077 != 0) {
			t.Errorf("mode %o: warned %v: %s", mode, warned, r)
		}
		fig.add("key file mode %o: exit %d, warning: %v %s", mode, r.Code, warned, firstLine(r.Stderr))
	}
	fig.add("command: go test ./reliability -run TestPrivateKeyPermissions -v")
}
