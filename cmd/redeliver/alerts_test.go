package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/alert"
	"github.com/redeliver/redeliver/ghfake"
)

// hookSink is a local webhook receiver that keeps the bodies it got.
type hookSink struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	posted chan struct{}
}

func newHookSink(t *testing.T) *hookSink {
	s := &hookSink{posted: make(chan struct{}, 100)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		s.posted <- struct{}{}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

// An event exhausted (one redelivery allowed, the receiver down) is told
// once on the webhook: not again on the next run.
func TestRunAlertWebhookOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	sink := newHookSink(t)
	urlFile := writeFile(t, w.dir, "alert-url", []byte(sink.URL+"/hooks/T000/B000/secretpart\n"), 0o600)
	guids := w.failed(w.orgHook, "x", 1, w.ago(time.Hour), 0)
	flags := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--max-attempts", "1",
		"--alert-webhook-url-file", urlFile, "--alert-webhook-format", "json", "--output", "json")
	for i := range 3 {
		r := w.run(flags...)
		wantCode(t, r, 0)
		if res := decodeResult(t, r.stdout); len(res.Problems) > 0 {
			t.Errorf("run %d: problems %v", i+1, res.Problems)
		}
		w.clock.Advance(6 * time.Hour)
	}
	bodies := sink.got()
	if len(bodies) != 1 {
		t.Fatalf("%d webhook messages, want 1: %q", len(bodies), bodies)
	}
	var n alert.Notice
	if err := json.Unmarshal([]byte(bodies[0]), &n); err != nil || len(n.Alerts) != 1 ||
		n.Alerts[0].GUID != guids[0] || n.Alerts[0].Kind != alert.KindExhausted {
		t.Errorf("message %s (%v): want the exhausted event %s", bodies[0], err, guids[0])
	}
}

// A destination that fails is a problem in the report, never a failed run.
func TestRunAlertFailureKeepsExitCode(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	urlFile := writeFile(t, w.dir, "alert-url", []byte(downURL+"/hook\n"), 0o600)
	w.failed(w.orgHook, "x", 1, w.ago(time.Hour), 0)
	flags := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--max-attempts", "1",
		"--alert-webhook-url-file", urlFile, "--output", "json")
	wantCode(t, w.run(flags...), 0)
	w.clock.Advance(6 * time.Hour)
	r := w.run(flags...)
	wantCode(t, r, 0)
	res := decodeResult(t, r.stdout)
	if len(res.Problems) == 0 || !strings.Contains(strings.Join(res.Problems, "\n"), "webhook") {
		t.Errorf("want the webhook's failure among the problems: %v", res.Problems)
	}
}

// --alert-repo opens one issue in the operations repository through the
// API, for the target whose event was exhausted.
func TestRunAlertRepoOpensIssue(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	w.failed(w.orgHook, "x", 1, w.ago(time.Hour), 0)
	flags := w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--max-attempts", "1", "--alert-repo", "acme/ops")
	for range 3 {
		wantCode(t, w.run(flags...), 0)
		w.clock.Advance(6 * time.Hour)
	}
	issues := w.srv.Issues("acme", "ops")
	if len(issues) != 1 || !strings.HasPrefix(issues[0].Title, "redeliver: webhook events lost on") {
		t.Fatalf("issues in acme/ops: %+v, want one", issues)
	}
}

// Bad alert flags are refused with exit 2 naming the flag, before the
// state is created or GitHub asked anything.
func TestRunAlertFlagsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	good := writeFile(t, w.dir, "alert-url", []byte("https://hooks.example.com/x\n"), 0o600)
	plain := writeFile(t, w.dir, "plain-url", []byte("http://hooks.example.com/secretpart\n"), 0o600)
	empty := writeFile(t, w.dir, "empty", nil, 0o600)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"format", []string{"--alert-webhook-url-file", good, "--alert-webhook-format", "xml"}, "--alert-webhook-format"},
		{"repo", []string{"--alert-repo", "acme"}, "--alert-repo"},
		{"repo with path", []string{"--alert-repo", "acme/ops/x"}, "--alert-repo"},
		{"missing file", []string{"--alert-webhook-url-file", w.dir + "/nope"}, "--alert-webhook-url-file"},
		{"empty file", []string{"--alert-webhook-url-file", empty}, "--alert-webhook-url-file"},
		{"plain http", []string{"--alert-webhook-url-file", plain}, "--alert-webhook-url-file"},
		{"actions state", []string{"--alert-repo", "acme/ops", "--state", "actions:acme/ops/CP"}, "Actions variable"},
	} {
		for _, cmd := range []string{"run", "serve"} {
			args := append(w.args(cmd, "--org", "acme", "--hook", fmt.Sprint(w.orgHook)), tc.args...)
			r := w.run(args...)
			if r.code != exitInvalid || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("%s %s: want exit 2 naming %s, got %s", cmd, tc.name, tc.want, r)
			}
			if strings.Contains(r.stderr, "secretpart") {
				t.Errorf("%s %s: the error shows the webhook URL", cmd, tc.name)
			}
			if exists(w.state) {
				t.Fatalf("%s %s: the state was created", cmd, tc.name)
			}
			if n := len(w.writes()); n != 0 {
				t.Fatalf("%s %s: %d writes at GitHub", cmd, tc.name, n)
			}
		}
	}
}

// serve: a person gives up on an event on the status page; the target is
// polled at once and the loss told on the webhook, once, and counted in
// /metrics.
func TestServeAlertAfterGiveUp(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	sink := newHookSink(t)
	urlFile := writeFile(t, w.dir, "alert-url", []byte(sink.URL+"/hook\n"), 0o600)
	guids := w.failed(w.orgHook, "x", 1, w.ago(time.Hour), 0)
	p := startBin(t, w.binEnv(), w.serveArgs("--alert-webhook-url-file", urlFile)...)
	p.waitLog(t, "msg=listening")
	base := "http://" + listenRE.FindStringSubmatch(p.stderr.String())[1]
	p.waitLog(t, "msg=poll")
	key := redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: w.orgHook}.Key()
	resp, _ := pageDo(t, "POST", base+"/action", "", url.Values{"key": {key}, "guid": {guids[0]}, "action": {string(redeliver.ManualGiveUp)}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("give up: %d", resp.StatusCode)
	}
	select {
	case <-sink.posted:
	case <-time.After(20 * time.Second):
		t.Fatalf("no webhook message after the give up:\n%s", p.stderr)
	}
	p.waitLog(t, `msg="alerts sent"`)
	if bodies := sink.got(); len(bodies) != 1 || !strings.Contains(bodies[0], guids[0]) {
		t.Errorf("webhook messages %q, want one naming %s", bodies, guids[0])
	}
	_, metrics := httpGet(t, base+"/metrics")
	if !strings.Contains(metrics, `redeliver_alert_notices_total{notifier="webhook",result="sent"} 1`) {
		t.Errorf("/metrics lacks the notice sent:\n%s", grepLines(metrics, "redeliver_alert"))
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wantCode(t, p.wait(t), 0)
	if n := len(sink.got()); n != 1 {
		t.Errorf("%d webhook messages by the end, want 1", n)
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// --alert-repo with GitHub App credentials alone is refused (an issue
// needs a token) before the state is created.
func TestAlertRepoNeedsToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	app := []string{"--app", "--app-id", fmt.Sprint(appID), "--private-key-file", w.keyFile, "--alert-repo", "acme/ops"}
	for _, cmd := range []string{"run", "serve"} {
		r := runIn(t, w.env("GH_TOKEN", ""), w.args(cmd, app...)...)
		if r.code != exitInvalid || !strings.Contains(r.stderr, "--alert-repo") {
			t.Errorf("%s: want exit 2 naming --alert-repo, got %s", cmd, r)
		}
		if exists(w.state) {
			t.Fatalf("%s: the state was created", cmd)
		}
	}
}
