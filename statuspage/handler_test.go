package statuspage_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
	"github.com/redeliver/redeliver/statuspage"
	"github.com/redeliver/redeliver/storetest"
)

const testToken = "s3cret-page-token-0123456789"

var (
	now    = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	target = redeliver.Target{Kind: redeliver.KindRepo, Owner: "acme", Repo: "api", HookID: 34}
)

// fixture is a state file with one target's ledger: a failed event waiting
// for its spacing, one due, one exhausted, one recovered.
type fixture struct {
	store *sqlite.Store
	src   *statuspage.StoreSource
	actor *statuspage.StoreActor
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := target.Key()
	e := func(guid, event, action string, s redeliver.State, used int, firstAgo, lastAgo time.Duration) redeliver.LedgerEntry {
		le := redeliver.LedgerEntry{GUID: guid, Event: event, Action: action, FirstSeen: now.Add(-firstAgo),
			AttemptID: 100, AttemptAt: now.Add(-firstAgo), Requests: used, State: s, Updated: now.Add(-lastAgo)}
		if used > 0 {
			le.LastRequest = now.Add(-lastAgo)
		}
		return le
	}
	if err := st.Put(ctx, key,
		e("guid-waiting", "push", "", redeliver.StateFailed, 1, 2*time.Hour, 10*time.Minute),
		e("guid-due", "issues", "opened", redeliver.StateFailed, 0, time.Hour, time.Hour),
		e("guid-exhausted", "push", "", redeliver.StateExhausted, 5, 30*time.Hour, 3*time.Hour),
		e("guid-recovered", "pull_request", "closed", redeliver.StateRecovered, 1, 5*time.Hour, 4*time.Hour),
	); err != nil {
		t.Fatal(err)
	}
	if err := st.SetCheckpoint(ctx, key, redeliver.Checkpoint{Time: now.Add(-time.Hour), RunAt: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	f := &fixture{store: st}
	f.src = &statuspage.StoreSource{Store: st, Now: clock,
		Configured: []statuspage.Configured{{Target: target, Policy: redeliver.DefaultPolicy()}},
		Live: func(string) statuspage.Live {
			return statuspage.Live{LastPoll: now.Add(-30 * time.Second), Receiver: statuspage.HealthDown, ReceiverSince: now.Add(-time.Hour),
				LastPing: now.Add(-40 * time.Second), NextPing: now.Add(80 * time.Second),
				Budget: statuspage.Budget{Known: true, Remaining: 4321, Limit: 5000}}
		}}
	f.actor = &statuspage.StoreActor{Store: st, Now: clock, Policy: func(string) redeliver.Policy { return redeliver.DefaultPolicy() }}
	return f
}

func (f *fixture) server(t *testing.T, token string) *httptest.Server {
	t.Helper()
	h, err := statuspage.New(statuspage.Options{Source: f.src, Actor: f.actor, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func (f *fixture) entry(t *testing.T, guid string) redeliver.LedgerEntry {
	t.Helper()
	es, err := f.store.Entries(context.Background(), target.Key())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.GUID == guid {
			return e
		}
	}
	t.Fatalf("no entry %s", guid)
	return redeliver.LedgerEntry{}
}

// noRedirect is a client that reports redirects instead of following them.
func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func post(t *testing.T, c *http.Client, u string, form url.Values, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func mustContain(t *testing.T, body string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func TestOverview(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, "")
	resp, body := get(t, srv.Client(), srv.URL+"/")
	if resp.StatusCode != 200 {
		t.Fatalf("GET /: %s", resp.Status)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); csp != statuspage.CSP || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	mustContain(t, body, "repo acme/api hook 34", "30s ago", "4321 / 5000", ">down for 1h0m", "pinged 40s ago, next ping in 1m",
		"/target?key=repo%2Facme%2Fapi%2Fhooks%2F34")
	if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Error("the page has script or inline style, which the CSP forbids")
	}
	// Counts: 1 due, 1 waiting, 1 exhausted, 1 recovered.
	for _, cell := range []string{`<td class="n bad">1</td>`, `<td class="n">1</td>`} {
		if !strings.Contains(body, cell) {
			t.Errorf("overview lacks cell %s", cell)
		}
	}
}

func TestTargetPageAndFilters(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, "")
	base := srv.URL + "/target?key=" + url.QueryEscape(target.Key())
	resp, body := get(t, srv.Client(), base)
	if resp.StatusCode != 200 {
		t.Fatalf("target page: %s", resp.Status)
	}
	mustContain(t, body, "<svg", "guid-waiting", "guid-due", "guid-exhausted", "guid-recovered",
		"in 50m", "1 / 5", "5 / 5", "issues.opened", `value="redeliver-now"`, `value="retry-exhausted"`, `value="give-up"`,
		"down for 1h0m; pinged 40s ago, next ping in 1m")

	_, body = get(t, srv.Client(), base+"&state=exhausted")
	if !strings.Contains(body, "guid-exhausted") || strings.Contains(body, "guid-waiting") {
		t.Errorf("state=exhausted filter: %s", body)
	}
	_, body = get(t, srv.Client(), base+"&state=waiting")
	if !strings.Contains(body, "guid-waiting") || strings.Contains(body, "guid-due") {
		t.Error("state=waiting filter shows the wrong events")
	}
	_, body = get(t, srv.Client(), base+"&event=issues.opened")
	if !strings.Contains(body, "guid-due") || strings.Contains(body, "guid-waiting") {
		t.Error("event filter shows the wrong events")
	}
	_, body = get(t, srv.Client(), base+"&event=push&state=open")
	if !strings.Contains(body, "guid-waiting") || strings.Contains(body, "guid-exhausted") || strings.Contains(body, "guid-due") {
		t.Error("event and state filters together show the wrong events")
	}

	if resp, body := get(t, srv.Client(), base+"&state=bogus"); resp.StatusCode != 400 || !strings.Contains(body, "bogus") {
		t.Errorf("bad state filter: %s", resp.Status)
	}
	if resp, _ := get(t, srv.Client(), srv.URL+"/target?key=nope"); resp.StatusCode != 404 {
		t.Errorf("unknown target: %s", resp.Status)
	}
	if resp, _ := get(t, srv.Client(), srv.URL+"/assets/style.css"); resp.StatusCode != 200 || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("style sheet: %s", resp.Status)
	}
}

func TestActions(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, "")
	c := noRedirect()
	act := func(guid, action string, hdr ...string) (*http.Response, string) {
		return post(t, c, srv.URL+"/action", url.Values{"key": {target.Key()}, "guid": {guid}, "action": {action}}, hdr...)
	}

	resp, _ := act("guid-waiting", "redeliver-now", "Sec-Fetch-Site", "same-origin", "Origin", srv.URL)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "done=") {
		t.Fatalf("redeliver now: %s %s", resp.Status, resp.Header.Get("Location"))
	}
	e := f.entry(t, "guid-waiting")
	if !e.Force || e.Manual != redeliver.ManualRedeliverNow || e.ManualBy != "status page" || !e.ManualAt.Equal(now) {
		t.Errorf("after redeliver now: %+v", e)
	}
	// The page shows it: due now, and who asked.
	_, body := get(t, srv.Client(), srv.URL+resp.Header.Get("Location"))
	mustContain(t, body, "Done: redeliver now: guid-waiting", "now (asked)", "redeliver now by status page")

	act("guid-due", "give-up")
	if e := f.entry(t, "guid-due"); e.State != redeliver.StateExhausted || e.Manual != redeliver.ManualGiveUp {
		t.Errorf("after give up: %+v", e)
	}
	act("guid-exhausted", "retry-exhausted")
	if e := f.entry(t, "guid-exhausted"); e.State != redeliver.StateFailed || e.Granted != 1 || !e.Force {
		t.Errorf("after retry exhausted: %+v", e)
	}

	// An action that does not apply says why, and changes nothing.
	before := f.entry(t, "guid-recovered")
	resp, _ = act("guid-recovered", "give-up")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "err=") {
		t.Errorf("give up on a recovered event: %s %s", resp.Status, loc)
	}
	if f.entry(t, "guid-recovered") != before {
		t.Error("a refused action changed the entry")
	}
	resp, _ = act("guid-nope", "give-up")
	if !strings.Contains(resp.Header.Get("Location"), "err=") {
		t.Errorf("unknown guid: %s", resp.Header.Get("Location"))
	}
	resp, _ = act("guid-waiting", "delete")
	if !strings.Contains(resp.Header.Get("Location"), "err=") {
		t.Errorf("unknown action: %s", resp.Header.Get("Location"))
	}
}

// A POST from another site is refused before it reaches the ledger.
func TestCrossOriginPostRefused(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, "")
	before := f.entry(t, "guid-due")
	form := url.Values{"key": {target.Key()}, "guid": {"guid-due"}, "action": {"give-up"}}
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "http://evil.example"},
	} {
		resp, _ := post(t, noRedirect(), srv.URL+"/action", form, hdr...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST with %v: %s, want 403", hdr, resp.Status)
		}
	}
	if f.entry(t, "guid-due") != before {
		t.Error("a cross-origin POST changed the ledger")
	}
}

func TestAuth(t *testing.T) {
	f := newFixture(t)
	srv := f.server(t, testToken)
	c := noRedirect()
	var pages []string

	resp, _ := get(t, c, srv.URL+"/target?key=x")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Errorf("GET without auth: %s %s, want a redirect to /login", resp.Status, resp.Header.Get("Location"))
	}
	form := url.Values{"key": {target.Key()}, "guid": {"guid-due"}, "action": {"give-up"}}
	if resp, _ := post(t, c, srv.URL+"/action", form); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without auth: %s", resp.Status)
	}
	if resp, _ := get(t, c, srv.URL+"/", "Authorization", "Bearer wrong-token-0123456789"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("wrong bearer token: %s", resp.Status)
	}
	if resp, _ := get(t, c, srv.URL+"/", "Cookie", "redeliver_session=YW5u.Zm9yZ2Vk"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("forged cookie: %s", resp.Status)
	}
	if f.entry(t, "guid-due").State != redeliver.StateFailed {
		t.Error("an unauthenticated POST changed the ledger")
	}
	resp, body := get(t, c, srv.URL+"/", "Authorization", "Bearer "+testToken)
	if resp.StatusCode != 200 {
		t.Errorf("bearer token: %s", resp.Status)
	}
	pages = append(pages, body)

	// Sign in with the form: a wrong token is refused, the right one gives a cookie.
	_, body = get(t, c, srv.URL+"/login")
	pages = append(pages, body)
	resp, body = post(t, c, srv.URL+"/login", url.Values{"token": {"nope"}, "next": {"/"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong token: %s", resp.Status)
	}
	pages = append(pages, body)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, body = post(t, browser, srv.URL+"/login", url.Values{"token": {testToken}, "name": {"Ann"}, "next": {"/target?key=" + url.QueryEscape(target.Key())}})
	if resp.StatusCode != 200 || !strings.Contains(body, "guid-due") || !strings.Contains(body, "Ann") {
		t.Fatalf("after sign-in: %s", resp.Status)
	}
	pages = append(pages, body)
	u, _ := url.Parse(srv.URL)
	for _, ck := range jar.Cookies(u) {
		if strings.Contains(ck.Value, testToken) {
			t.Error("the session cookie holds the token")
		}
	}
	resp, body = post(t, browser, srv.URL+"/action", form)
	if resp.StatusCode != 200 {
		t.Fatalf("action after sign-in: %s", resp.Status)
	}
	pages = append(pages, body)
	if e := f.entry(t, "guid-due"); e.State != redeliver.StateExhausted || e.ManualBy != "Ann" {
		t.Errorf("action by a signed-in person: %+v", e)
	}
	// An open redirect after sign-in is not possible.
	resp, _ = post(t, c, srv.URL+"/login", url.Values{"token": {testToken}, "next": {"//evil.example/"}})
	if loc := resp.Header.Get("Location"); loc != "/" {
		t.Errorf("sign-in next=//evil.example/ redirects to %q", loc)
	}

	for _, p := range pages {
		if strings.Contains(p, testToken) {
			t.Fatalf("a page shows the access token")
		}
	}
}

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr            string
		token, insecure bool
		ok              bool
	}{
		{"127.0.0.1:8080", false, false, true},
		{"localhost:8080", false, false, true},
		{"[::1]:8080", false, false, true},
		{"127.3.4.5:80", false, false, true},
		{":8080", false, false, false},
		{"0.0.0.0:8080", false, false, false},
		{"192.0.2.1:8080", false, false, false},
		{"example.com:8080", false, false, false},
		{"0.0.0.0:8080", true, false, true},
		{"0.0.0.0:8080", false, true, true},
		{"no-port", true, true, false},
	} {
		err := statuspage.CheckListen(c.addr, c.token, c.insecure)
		if (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, token=%v, insecure=%v) = %v, want ok=%v", c.addr, c.token, c.insecure, err, c.ok)
		}
		if err != nil && (redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "--listen")) {
			t.Errorf("CheckListen(%q): error %v does not name --listen with EInvalid", c.addr, err)
		}
	}
}

func TestLoadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if tok, err := statuspage.LoadToken(write("ok", testToken+"\n")); err != nil || tok != testToken {
		t.Errorf("LoadToken: %q %v", tok, err)
	}
	for name, content := range map[string]string{"empty": " \n", "short": "abc", "spaces": "abcdefgh ijklmnopqrs"} {
		_, err := statuspage.LoadToken(write(name, content))
		if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "--auth-token-file") {
			t.Errorf("LoadToken(%s): %v", name, err)
		}
		if err != nil && strings.TrimSpace(content) != "" && strings.Contains(err.Error(), strings.TrimSpace(content)) {
			t.Errorf("LoadToken(%s): the error shows the file's content", name)
		}
	}
	if _, err := statuspage.LoadToken(filepath.Join(dir, "missing")); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("LoadToken(missing): %v", err)
	}
}

func TestProtect(t *testing.T) {
	f := newFixture(t)
	h, err := statuspage.New(statuspage.Options{Source: f.src, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Protect(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "metrics") })))
	defer srv.Close()
	if resp, _ := get(t, srv.Client(), srv.URL); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Protect without a token: %s", resp.Status)
	}
	if resp, body := get(t, srv.Client(), srv.URL, "Authorization", "Bearer "+testToken); resp.StatusCode != 200 || body != "metrics" {
		t.Errorf("Protect with the token: %s %q", resp.Status, body)
	}
}

func TestLiveBoard(t *testing.T) {
	var b statuspage.LiveBoard
	if l := b.Get("k"); !l.LastPoll.IsZero() {
		t.Errorf("unknown target: %+v", l)
	}
	b.Update("k", func(l *statuspage.Live) {
		l.LastPoll = now
		l.Uncovered = []redeliver.Span{{From: now, To: now, Reason: "r"}}
	})
	l := b.Get("k")
	l.Uncovered[0].Reason = "changed"
	if got := b.Get("k"); !got.LastPoll.Equal(now) || got.Uncovered[0].Reason != "r" {
		t.Errorf("board: %+v", got)
	}
}

// The overview, refreshed every half minute, and a target's page count its
// events and list them without reading its ledger whole, and count them as
// the whole ledger would.
func TestPagesDoNotReadTheLedgerWhole(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	entries, err := f.store.Entries(ctx, target.Key())
	if err != nil {
		t.Fatal(err)
	}
	var want statuspage.Counts
	for _, e := range entries {
		ev := statuspage.EventOf(e, redeliver.DefaultPolicy(), now)
		switch e.State {
		case redeliver.StateFailed:
			want.Failed++
			if !ev.Due.IsZero() {
				want.Waiting++
			}
		case redeliver.StateExhausted:
			want.Exhausted++
		case redeliver.StateRecovered:
			want.Recovered++
		}
	}
	src := *f.src
	src.Store = storetest.NoWholeReads{Store: f.store}
	ts, err := src.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Counts != want || want.Waiting != 1 || want.Failed != 2 {
		t.Fatalf("overview counts %+v; want %+v (2 failed, 1 of them waiting)", ts[0].Counts, want)
	}
	one, events, err := src.Target(ctx, target.Key())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range events {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if one.Counts != want || n != len(entries) {
		t.Fatalf("target counts %+v and %d events; want %+v and %d", one.Counts, n, want, len(entries))
	}
	h, err := statuspage.New(statuspage.Options{Source: &src, Actor: f.actor})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	if resp, body := get(t, srv.Client(), srv.URL+"/target?key="+url.QueryEscape(target.Key())); resp.StatusCode != 200 || !strings.Contains(body, "guid-waiting") {
		t.Fatalf("target page over a store that reads batches: %s", resp.Status)
	}
}
