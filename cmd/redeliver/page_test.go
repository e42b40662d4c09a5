package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/sqlite"
	"github.com/redeliver/redeliver/statuspage"
)

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func pageDo(t *testing.T, method, u, token string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// serve shows the status page at /, with the target, under a strict
// Content-Security-Policy; an action on an event is applied and recorded.
func TestServeStatusPage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	guids := w.failed(w.orgHook, "x", 1, w.ago(time.Hour), 0)
	p := startBin(t, w.binEnv(), w.serveArgs()...)
	p.waitLog(t, "msg=listening")
	base := "http://" + listenRE.FindStringSubmatch(p.stderr.String())[1]
	p.waitLog(t, "msg=poll")
	key := redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: w.orgHook}.Key()

	resp, body := pageDo(t, "GET", base+"/", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, fmt.Sprint(w.orgHook)) {
		t.Errorf("GET /: %d, want 200 listing hook %d:\n%s", resp.StatusCode, w.orgHook, body)
	}
	if got := resp.Header.Get("Content-Security-Policy"); got != statuspage.CSP {
		t.Errorf("Content-Security-Policy %q, want %q", got, statuspage.CSP)
	}

	resp, _ = pageDo(t, "POST", base+"/action", "", url.Values{"key": {key}, "guid": {guids[0]}, "action": {string(redeliver.ManualGiveUp)}})
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=") {
		t.Fatalf("give up: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	p.waitLog(t, "status page action")
	_, body = pageDo(t, "GET", base+"/target?key="+url.QueryEscape(key), "", nil)
	if !strings.Contains(body, "exhausted") {
		t.Errorf("the target page does not show the event given up:\n%s", body)
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	wantCode(t, p.wait(t), 0)
	st, err := sqlite.OpenReadOnly(w.state)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.Entries(t.Context(), key)
	if err != nil || len(entries) != 1 || entries[0].State != redeliver.StateExhausted || entries[0].Manual != redeliver.ManualGiveUp {
		t.Errorf("ledger after give up: %+v, %v", entries, err)
	}
}

// Beyond loopback the page needs a token: without --auth-token-file (or
// --insecure-no-auth) serve refuses to start, writes nothing, and names
// the flag; a bad token file is refused too.
func TestServePageNeedsAuthBeyondLoopback(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	short := writeFile(t, w.dir, "short", []byte("abc\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no auth", []string{"--listen", "0.0.0.0:0"}, "--auth-token-file"},
		{"every interface", []string{"--listen", ":0"}, "--auth-token-file"},
		{"short token", []string{"--auth-token-file", short}, "--auth-token-file"},
		{"missing token file", []string{"--auth-token-file", w.dir + "/nope"}, "--auth-token-file"},
	} {
		r := w.run(append(w.serveArgs(), tc.args...)...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: want exit 2 naming %s, got %s", tc.name, tc.want, r)
		}
		if exists(w.state) {
			t.Fatalf("%s: the state was created", tc.name)
		}
	}
}

// With a token, the page and /metrics refuse a request without it and
// answer one that carries it; /healthz stays open for probes.
func TestServePageToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	const token = "s3cret-page-token-0123456789"
	file := writeFile(t, w.dir, "page-token", []byte(token+"\n"), 0o600)
	p := startBin(t, w.binEnv(), w.serveArgs("--auth-token-file", file)...)
	p.waitLog(t, "msg=listening")
	base := "http://" + listenRE.FindStringSubmatch(p.stderr.String())[1]
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/", "", http.StatusSeeOther},
		{"POST", "/action", "", http.StatusUnauthorized},
		{"GET", "/metrics", "", http.StatusUnauthorized},
		{"GET", "/metrics", "wrong-token-0123456789", http.StatusUnauthorized},
		{"GET", "/", token, http.StatusOK},
		{"GET", "/metrics", token, http.StatusOK},
		{"GET", "/healthz", "", http.StatusOK},
	} {
		var form url.Values
		if tc.method == "POST" {
			form = url.Values{"key": {"k"}, "guid": {"g"}, "action": {"give-up"}}
		}
		resp, body := pageDo(t, tc.method, base+tc.path, tc.token, form)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (token %v): %d, want %d", tc.method, tc.path, tc.token != "", resp.StatusCode, tc.want)
		}
		noSecrets(t, tc.path, body)
		if strings.Contains(body, token) {
			t.Errorf("%s shows the page token", tc.path)
		}
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	r := p.wait(t)
	wantCode(t, r, 0)
	if strings.Contains(r.stderr, token) {
		t.Error("the log shows the page token")
	}
}
