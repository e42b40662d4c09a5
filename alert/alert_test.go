package alert_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/alert"
	"github.com/redeliver/redeliver/sqlite"
)

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// chat is a Slack-compatible incoming webhook: it records each message's
// body and answers with the statuses queued in fail (then 200).
type chat struct {
	mu     sync.Mutex
	bodies []string
	fail   []int
	srv    *httptest.Server
}

func newChat(t *testing.T) *chat {
	c := &chat{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		if len(c.fail) > 0 {
			code := c.fail[0]
			c.fail = c.fail[1:]
			http.Error(w, "no", code)
			return
		}
		c.bodies = append(c.bodies, string(b))
		io.WriteString(w, "ok")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *chat) url() string { return c.srv.URL + "/services/T000/B000/XXXXSECRET" }

func (c *chat) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, b := range c.bodies {
		var m struct{ Text string }
		json.Unmarshal([]byte(b), &m)
		out = append(out, m.Text)
	}
	return out
}

func (c *chat) failNext(codes ...int) {
	c.mu.Lock()
	c.fail = append(c.fail, codes...)
	c.mu.Unlock()
}

func webhook(t *testing.T, url, format string) *alert.Webhook {
	t.Helper()
	w, err := alert.NewWebhook(alert.WebhookOptions{URL: url, Format: format, Every: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func openStore(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func entry(guid string, s redeliver.State, used int) redeliver.LedgerEntry {
	return redeliver.LedgerEntry{GUID: guid, Event: "push", FirstSeen: now.Add(-time.Hour), AttemptID: 1,
		AttemptAt: now.Add(-time.Hour), Requests: used, State: s, Updated: now}
}

const key, name = "org/acme/hooks/1", "org acme hook 1"

func alerter(st alert.Marks, ns ...alert.Notifier) *alert.Alerter {
	return &alert.Alerter{Notifiers: ns, Marks: st, Tries: 3, Backoff: time.Millisecond,
		Logger: discard()}
}

func TestOncePerEventAcrossRunsAndRestarts(t *testing.T) {
	ctx := context.Background()
	c := newChat(t)
	path := filepath.Join(t.TempDir(), "state.db")
	entries := []redeliver.LedgerEntry{
		entry("g-exhausted", redeliver.StateExhausted, 5),
		entry("g-expired", redeliver.StateExpired, 2),
		entry("g-failed", redeliver.StateFailed, 1),
		entry("g-recovered", redeliver.StateRecovered, 1),
	}
	gap := redeliver.Span{From: now.Add(-5 * time.Hour), To: now.Add(-4 * time.Hour), Reason: "listing stopped early"}
	in := alert.Input{Key: key, Name: name, Entries: entries, Uncovered: []redeliver.Span{gap}, Now: now}

	st := openStore(t, path)
	a := alerter(st, webhook(t, c.url(), alert.FormatSlack))
	res, err := a.Check(ctx, in)
	if err != nil || res.Sent != 1 || res.New != 3 || len(res.Errors) > 0 {
		t.Fatalf("first check: %+v %v", res, err)
	}
	msgs := c.messages()
	if len(msgs) != 1 {
		t.Fatalf("messages: %q", msgs)
	}
	for _, want := range []string{"1 event exhausted, 1 event expired, 1 coverage gap on org acme hook 1",
		"g-exhausted", "5 redeliveries failed", "g-expired", "listing stopped early"} {
		if !strings.Contains(msgs[0], want) {
			t.Errorf("message lacks %q:\n%s", want, msgs[0])
		}
	}
	if strings.Contains(msgs[0], "g-failed") || strings.Contains(msgs[0], "g-recovered") {
		t.Errorf("message tells of events not lost:\n%s", msgs[0])
	}

	// The next pass, and a restart with a new Alerter on the same file: nothing again.
	if res, _ := a.Check(ctx, in); res.Sent != 0 || res.New != 0 {
		t.Errorf("second check: %+v", res)
	}
	st.Close()
	st = openStore(t, path)
	a = alerter(st, webhook(t, c.url(), alert.FormatSlack))
	if res, _ := a.Check(ctx, in); res.Sent != 0 {
		t.Errorf("check after a restart: %+v", res)
	}
	if n := len(c.messages()); n != 1 {
		t.Errorf("messages after three checks: %d, want 1", n)
	}

	// A person retried the exhausted event and it failed again: told again.
	in.Entries[0].Requests = 6
	in.Entries[0].Granted = 1
	// A new gap, later than the one told.
	in.Uncovered = append(in.Uncovered, redeliver.Span{From: now.Add(-time.Hour), To: now, Reason: "checkpoint older than the horizon"})
	res, _ = a.Check(ctx, in)
	msgs = c.messages()
	if res.Sent != 1 || len(msgs) != 2 {
		t.Fatalf("after a retry: %+v, %d messages", res, len(msgs))
	}
	if !strings.Contains(msgs[1], "g-exhausted") || strings.Contains(msgs[1], "g-expired") ||
		!strings.Contains(msgs[1], "horizon") {
		t.Errorf("second message:\n%s", msgs[1])
	}
}

func TestSummaryWhenMany(t *testing.T) {
	c := newChat(t)
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	var es []redeliver.LedgerEntry
	for i := range 25 {
		es = append(es, entry("g"+string(rune('a'+i)), redeliver.StateExhausted, 5))
	}
	a := alerter(st, webhook(t, c.url(), ""))
	if res, err := a.Check(context.Background(), alert.Input{Key: key, Name: name, Entries: es, Now: now}); err != nil || res.Sent != 1 {
		t.Fatalf("check: %+v %v", res, err)
	}
	msgs := c.messages()
	if len(msgs) != 1 || !strings.Contains(msgs[0], "25 events exhausted") || !strings.Contains(msgs[0], "and 15 more") ||
		strings.Count(msgs[0], "\n- ") != alert.ListMax {
		t.Errorf("summary:\n%s", msgs)
	}
}

func TestFailuresRetriedNotFatal(t *testing.T) {
	ctx := context.Background()
	c := newChat(t)
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	in := alert.Input{Key: key, Name: name, Entries: []redeliver.LedgerEntry{entry("g1", redeliver.StateExhausted, 5)}, Now: now}
	wall := now
	a := alerter(st, webhook(t, c.url(), alert.FormatSlack))
	a.Wall = func() time.Time { return wall }

	// Two failures, then it goes through within the same check.
	c.failNext(503, 502)
	res, err := a.Check(ctx, in)
	if err != nil || res.Sent != 1 || len(res.Errors) != 0 {
		t.Fatalf("check with two failures: %+v %v", res, err)
	}
	if s := a.Stats()["webhook"]; s.Sent != 1 || s.Retries != 2 || s.Failures != 0 {
		t.Errorf("stats: %+v", s)
	}

	// Every try fails: an error in the result, nothing marked, paused.
	in.Entries = append(in.Entries, entry("g2", redeliver.StateExpired, 1))
	c.failNext(503, 503, 503)
	res, err = a.Check(ctx, in)
	if err != nil || res.Sent != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "503") {
		t.Fatalf("check failing every try: %+v %v", res, err)
	}
	if strings.Contains(res.Errors[0], "XXXXSECRET") || strings.Contains(a.Stats()["webhook"].LastError, "XXXXSECRET") {
		t.Errorf("the webhook URL's secret leaked into an error: %v", res.Errors)
	}
	if s := a.Stats()["webhook"]; s.Failures != 1 {
		t.Errorf("stats after a failure: %+v", s)
	}
	if res, _ := a.Check(ctx, in); res.Sent != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "paused") {
		t.Errorf("check while paused: %+v", res)
	}
	// After the pause it is told, once, and only what was not told.
	wall = wall.Add(2 * time.Minute)
	res, _ = a.Check(ctx, in)
	if res.Sent != 1 {
		t.Fatalf("check after the pause: %+v", res)
	}
	msgs := c.messages()
	if len(msgs) != 2 || !strings.Contains(msgs[1], "g2") || strings.Contains(msgs[1], "g1") {
		t.Errorf("messages: %q", msgs)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	c := newChat(t)
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	a := alerter(st, webhook(t, c.url(), alert.FormatSlack))
	c.failNext(404, 404, 404)
	res, _ := a.Check(context.Background(), alert.Input{Key: key, Name: name, Entries: []redeliver.LedgerEntry{entry("g1", redeliver.StateExhausted, 5)}, Now: now})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "404") {
		t.Errorf("result: %+v", res)
	}
	if s := a.Stats()["webhook"]; s.Retries != 0 || s.Failures != 1 {
		t.Errorf("a 404 was retried: %+v", s)
	}
}

// Two notifiers: the one that worked is not repeated while the other one
// catches up.
func TestEachNotifierToldOnce(t *testing.T) {
	ctx := context.Background()
	good, bad := newChat(t), newChat(t)
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	wall := now
	jsonHook := webhook(t, bad.url(), alert.FormatJSON)
	a := alerter(st, webhook(t, good.url(), alert.FormatSlack), namedAs{"json-hook", jsonHook})
	a.Wall = func() time.Time { return wall }
	in := alert.Input{Key: key, Name: name, Entries: []redeliver.LedgerEntry{entry("g1", redeliver.StateExhausted, 5)}, Now: now}
	bad.failNext(500, 500, 500)
	if res, _ := a.Check(ctx, in); res.Sent != 1 || len(res.Errors) != 1 {
		t.Fatalf("first check: %+v", res)
	}
	wall = wall.Add(time.Hour)
	if res, _ := a.Check(ctx, in); res.Sent != 1 || len(res.Errors) != 0 {
		t.Fatalf("second check: %+v", res)
	}
	if len(good.messages()) != 1 || len(bad.bodies) != 1 {
		t.Errorf("good got %d, json got %d; want 1 each", len(good.messages()), len(bad.bodies))
	}
	var n alert.Notice
	if err := json.Unmarshal([]byte(bad.bodies[0]), &n); err != nil || n.Target != key || len(n.Alerts) != 1 || n.Alerts[0].GUID != "g1" || n.Alerts[0].Kind != alert.KindExhausted {
		t.Errorf("JSON notice: %s (%v)", bad.bodies[0], err)
	}
}

// namedAs gives a notifier another name, for two of the same kind.
type namedAs struct {
	name string
	alert.Notifier
}

func (n namedAs) Name() string { return n.name }

func TestWebhookInput(t *testing.T) {
	for _, c := range []struct{ url, format, want string }{
		{"", "", "http(s) URL"},
		{"ftp://x/y", "", "http(s) URL"},
		{"http://hooks.example.com/services/SECRET", "", "https"},
		{"https://hooks.example.com/x", "xml", "format"},
	} {
		_, err := alert.NewWebhook(alert.WebhookOptions{URL: c.url, Format: c.format})
		if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("NewWebhook(%q, %q): %v", c.url, c.format, err)
		}
	}
	dir := t.TempDir()
	for name, content := range map[string]string{"empty": "\n", "two": "https://a/b https://c/d"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := alert.ReadURLFile(p); redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "--alert-webhook-url-file") || strings.Contains(err.Error(), "https://a") {
			t.Errorf("ReadURLFile(%s): %v", name, err)
		}
	}
	p := filepath.Join(dir, "ok")
	os.WriteFile(p, []byte(" https://hooks.example.com/services/T/B/X \n"), 0o600)
	if u, err := alert.ReadURLFile(p); err != nil || u != "https://hooks.example.com/services/T/B/X" {
		t.Errorf("ReadURLFile: %q %v", u, err)
	}
}

// A receiver that is not there: the error names the host, never the URL.
func TestWebhookUnreachableKeepsTheURLSecret(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w := webhook(t, "http://"+addr+"/services/T000/B000/XXXXSECRET", alert.FormatSlack)
	err = w.Notify(context.Background(), alert.Notice{Target: key, Name: name, Alerts: []alert.Alert{{Kind: alert.KindExhausted, GUID: "g"}}})
	if err == nil || strings.Contains(err.Error(), "XXXXSECRET") || !strings.Contains(err.Error(), addr) {
		t.Errorf("error: %v", err)
	}
}

func TestCollector(t *testing.T) {
	c := newChat(t)
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	a := alerter(st, webhook(t, c.url(), alert.FormatSlack))
	c.failNext(503)
	a.Check(context.Background(), alert.Input{Key: key, Name: name, Entries: []redeliver.LedgerEntry{entry("g1", redeliver.StateExhausted, 5)}, Now: now})
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			k := mf.GetName()
			for _, l := range m.GetLabel() {
				k += "," + l.GetValue()
			}
			got[k] = m.GetCounter().GetValue()
		}
	}
	if got["redeliver_alert_retries_total,webhook"] != 1 || got["redeliver_alert_notices_total,webhook,sent"] != 1 ||
		got["redeliver_alert_notices_total,webhook,failed"] != 0 {
		t.Errorf("metrics: %v", got)
	}
}
