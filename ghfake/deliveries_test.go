package ghfake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fixture is a github.com emulator with one org hook and an admin token.
type fixture struct {
	srv   *Server
	clock *Clock
	hook  int64
	base  string // root URL
	hooks string // base + "/orgs/acme/hooks/{id}"
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = NewClock(DefaultStart)
	}
	srv := newServer(t, opts)
	hook := srv.AddOrgHook("acme", HookConfig{URL: "http://127.0.0.1:1/unused"})
	srv.AddToken(Token{Value: "ghp_admin", All: true})
	return &fixture{srv: srv, clock: opts.Clock, hook: hook, base: srv.URL(),
		hooks: srv.URL() + "/orgs/acme/hooks/" + strconv.FormatInt(hook, 10)}
}

func (f *fixture) get(t *testing.T, path string) response {
	t.Helper()
	return call(t, nil, "GET", f.base+path, "ghp_admin", nil)
}

func ids(t *testing.T, r response) []int64 {
	t.Helper()
	var items []struct{ ID int64 }
	r.json(t, &items)
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func TestStatusFilterLeavesNoResponseOut(t *testing.T) {
	f := newFixture(t, Options{})
	codes := []int{200, 204, 302, 399, 400, 404, 500, 599, 0, 0}
	var seeds []Seed
	for i, c := range codes {
		seeds = append(seeds, Seed{At: f.clock.Now().Add(time.Duration(i-20) * time.Minute), StatusCode: c})
	}
	seeds[9].Status = StatusTimedOut
	idList := f.srv.SeedAttempts(f.hook, seeds)
	byID := map[int64]int{}
	for i, id := range idList {
		byID[id] = codes[i]
	}
	codesOf := func(r response) []int {
		var out []int
		for _, id := range ids(t, r) {
			out = append(out, byID[id])
		}
		return out
	}
	path := strings.TrimPrefix(f.hooks, f.base) + "/deliveries"
	if got := fmt.Sprint(codesOf(f.get(t, path+"?status=success"))); got != "[399 302 204 200]" {
		t.Errorf("success: %s", got)
	}
	if got := fmt.Sprint(codesOf(f.get(t, path+"?status=failure"))); got != "[599 500 404 400]" {
		t.Errorf("failure: %s", got)
	}
	if got := fmt.Sprint(codesOf(f.get(t, path))); got != "[0 0 599 500 404 400 399 302 204 200]" {
		t.Errorf("all: %s", got)
	}
	var items []map[string]any
	f.get(t, path+"?per_page=1").json(t, &items)
	if items[0]["status"] != StatusTimedOut || items[0]["status_code"] != 0.0 || items[0]["action"] != nil || items[0]["url"] != "" {
		t.Errorf("connection failure item: %v", items[0])
	}
}

func TestPagingLinkAndCursor(t *testing.T) {
	f := newFixture(t, Options{})
	st := f.srv.SeedHistory(f.hook, History{N: 250, FailureRatio: 0.3, Seed: 1})
	path := strings.TrimPrefix(f.hooks, f.base) + "/deliveries"

	r := f.get(t, path+"?per_page=100")
	got := ids(t, r)
	if len(got) != 100 || got[0] != st.NewestID {
		t.Fatalf("first page: %d items, first %d", len(got), got[0])
	}
	// GitHub's shape: absolute URL, per_page, then an opaque cursor.
	wantLink := fmt.Sprintf(`<%s/deliveries?per_page=100&cursor=v1_%d>; rel="next"`, f.hooks, got[99])
	if r.Header.Get("Link") != wantLink {
		t.Errorf("Link:\n got %s\nwant %s", r.Header.Get("Link"), wantLink)
	}
	seen := len(got)
	for next := nextLink(r.Header.Get("Link")); next != ""; {
		r = call(t, nil, "GET", next, "ghp_admin", nil)
		page := ids(t, r)
		if page[0] >= got[len(got)-1] {
			t.Fatalf("page overlaps: %d after %d", page[0], got[len(got)-1])
		}
		got = page
		seen += len(page)
		next = nextLink(r.Header.Get("Link"))
	}
	if seen != 250 || got[len(got)-1] != st.OldestID {
		t.Errorf("paged %d items ending at %d, want 250 ending at %d", seen, got[len(got)-1], st.OldestID)
	}
	if strings.Contains(r.Header.Get("Link"), `rel="next"`) {
		t.Errorf("last page has a next link: %s", r.Header.Get("Link"))
	}

	if n := len(ids(t, f.get(t, path))); n != 30 {
		t.Errorf("default page size %d, want 30", n)
	}
	if n := len(ids(t, f.get(t, path+"?per_page=500"))); n != 100 {
		t.Errorf("per_page=500 gave %d, want 100 (clamped)", n)
	}
	r = f.get(t, path+"?per_page=10&status=failure")
	if l := r.Header.Get("Link"); !strings.Contains(l, "&status=failure>") {
		t.Errorf("filtered Link loses the filter: %s", l)
	}
	// Under /api/v3 the links stay under /api/v3.
	r = call(t, nil, "GET", f.base+ghesPrefix+path+"?per_page=5", "ghp_admin", nil)
	if l := r.Header.Get("Link"); !strings.HasPrefix(l, "<"+f.base+ghesPrefix+path+"?") {
		t.Errorf("/api/v3 Link: %s", l)
	}
	for _, q := range []string{"per_page=x", "per_page=-1", "cursor=abc", "cursor=v1_x", "status=failed"} {
		r = f.get(t, path+"?"+q)
		var e struct {
			Message string
			Errors  []struct{ Field, Code string }
		}
		r.json(t, &e)
		if r.Status != 422 || e.Message != "Validation Failed" || len(e.Errors) != 1 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
	// Ids above 2^53 are written as exact integers.
	if !strings.Contains(string(f.get(t, path+"?per_page=1").Body), `"id":`+strconv.FormatInt(st.NewestID, 10)+",") {
		t.Errorf("id %d not encoded exactly", st.NewestID)
	}
	if st.NewestID < 1<<53 {
		t.Errorf("ids should be above 2^53, got %d", st.NewestID)
	}
}

func TestSeedOutOfOrderListsNewestFirst(t *testing.T) {
	f := newFixture(t, Options{})
	now := f.clock.Now()
	late := f.srv.SeedAttempts(f.hook, []Seed{{At: now.Add(-time.Hour), StatusCode: 200}, {At: now.Add(-3 * time.Hour), StatusCode: 500}})
	early := f.srv.SeedAttempts(f.hook, []Seed{{At: now.Add(-2 * time.Hour), StatusCode: 502, GUID: "not-a-uuid"}})
	atts := f.srv.Attempts(f.hook)
	if len(atts) != 3 || atts[0].ID != late[0] || atts[1].ID != early[0] || atts[2].ID != late[1] {
		t.Fatalf("order: %+v", atts)
	}
	if atts[1].GUID != "not-a-uuid" || atts[1].Status != "Invalid HTTP Response: 502" || atts[1].Event != "push" {
		t.Errorf("seeded attempt: %+v", atts[1])
	}
	for i := 1; i < len(atts); i++ {
		if !atts[i].DeliveredAt.Before(atts[i-1].DeliveredAt) {
			t.Errorf("time order broken at %d", i)
		}
	}
	// Same History, same attempts.
	g := newFixture(t, Options{})
	a := f.srv.SeedHistory(f.hook, History{N: 50, FailureRatio: 0.5, NoResponseRatio: 0.5, RecoveredRatio: 0.5, Seed: 9})
	b := g.srv.SeedHistory(g.hook, History{N: 50, FailureRatio: 0.5, NoResponseRatio: 0.5, RecoveredRatio: 0.5, Seed: 9})
	if fmt.Sprint(a.FailedGUIDs) != fmt.Sprint(b.FailedGUIDs) || a.Failed != b.Failed || a.Attempts != 50 || a.Recovered == 0 {
		t.Errorf("not deterministic or incomplete: %+v vs %+v", a, b)
	}
}

func TestRedeliveryHorizon(t *testing.T) {
	for _, p := range []Platform{DotCom, GHES} {
		t.Run(p.String(), func(t *testing.T) {
			f := newFixture(t, Options{Platform: p})
			now := f.clock.Now()
			h := p.Horizon()
			ok := f.srv.SeedAttempts(f.hook, []Seed{{At: now.Add(-h + time.Minute), StatusCode: 500}})[0]
			old := f.srv.SeedAttempts(f.hook, []Seed{{At: now.Add(-h - time.Minute), StatusCode: 500}})[0]
			post := func(id int64) response {
				return call(t, nil, "POST", fmt.Sprintf("%s/deliveries/%d/attempts", f.hooks, id), "ghp_admin", nil)
			}
			if r := post(ok); r.Status != 202 || string(r.Body) != "{}" {
				t.Errorf("inside horizon: %d %s", r.Status, r.Body)
			}
			r := post(old)
			if r.Status != HorizonRejectStatus || !strings.Contains(string(r.Body), "Validation Failed") {
				t.Errorf("outside horizon: %d %s", r.Status, r.Body)
			}
			// The clock moves the horizon.
			f.clock.Advance(2 * time.Minute)
			if r := post(ok); r.Status != HorizonRejectStatus {
				t.Errorf("after Advance: %d", r.Status)
			}
			r = post(12345)
			if r.Status != 404 || !strings.Contains(string(r.Body), `"message":"Not Found"`) {
				t.Errorf("unknown id: %d %s", r.Status, r.Body)
			}
			if n := len(f.srv.Redeliveries()); n != 1 {
				t.Errorf("%d redeliveries logged, want 1", n)
			}
		})
	}
}

func TestDeliveryOverHTTP(t *testing.T) {
	f := newFixture(t, Options{ReceiverTimeout: 200 * time.Millisecond})
	rcv := newReceiver(t, http.StatusAccepted)
	f.srv.AddRepo("acme", "web")
	repoHook := f.srv.AddRepoHook("acme", "web", HookConfig{URL: rcv.URL, Secret: "It's a Secret to Everybody"})

	a, err := f.srv.Send(repoHook, "issues", "opened", map[string]any{"action": "opened", "issue": map[string]int{"number": 1}})
	if err != nil {
		t.Fatal(err)
	}
	got := rcv.deliveries()
	if len(got) != 1 {
		t.Fatalf("receiver got %d deliveries", len(got))
	}
	h, body := got[0].Header, got[0].Body
	if h.Get("X-Hub-Signature-256") != Signature("It's a Secret to Everybody", body) {
		t.Errorf("signature %q does not verify", h.Get("X-Hub-Signature-256"))
	}
	for k, v := range map[string]string{
		"X-GitHub-Event": "issues", "X-GitHub-Delivery": a.GUID, "X-GitHub-Hook-ID": strconv.FormatInt(repoHook, 10),
		"X-GitHub-Hook-Installation-Target-Type": "repository", "Content-Type": "application/json",
	} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
	if !strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") || h.Get("X-GitHub-Hook-Installation-Target-ID") == "" {
		t.Errorf("User-Agent %q, target id %q", h.Get("User-Agent"), h.Get("X-GitHub-Hook-Installation-Target-ID"))
	}
	if a.Status != "OK" || a.StatusCode != 202 || a.Redelivery || !a.DeliveredAt.Equal(f.clock.Now()) || string(a.Payload) != string(body) {
		t.Errorf("attempt: %+v", a)
	}

	// "Get one" shows what was sent and what came back.
	var d struct {
		URL     string
		Request struct {
			Headers map[string]string
			Payload map[string]any
		}
		Response struct {
			Headers map[string]string
			Payload *string
		}
	}
	call(t, nil, "GET", fmt.Sprintf("%s/repos/acme/web/hooks/%d/deliveries/%d", f.base, repoHook, a.ID), "ghp_admin", nil).json(t, &d)
	if d.URL != rcv.URL || d.Request.Headers["X-GitHub-Delivery"] != a.GUID || d.Request.Payload["action"] != "opened" ||
		d.Response.Payload == nil || *d.Response.Payload != "thanks" {
		t.Errorf("delivery detail: %+v", d)
	}

	rcv.mu.Lock()
	rcv.status = 500
	rcv.mu.Unlock()
	if a, _ := f.srv.Send(repoHook, "push", "", nil); a.Status != "Invalid HTTP Response: 500" || a.StatusCode != 500 {
		t.Errorf("500 receiver: %+v", a)
	}

	// A receiver that is down: connection refused.
	down := newReceiver(t, 200)
	downURL := down.URL
	down.Close()
	f.srv.SetHookURL(repoHook, downURL)
	if a, _ := f.srv.Send(repoHook, "push", "", nil); a.Status != StatusConnectNetwork || a.StatusCode != 0 {
		t.Errorf("down receiver: %+v", a)
	}

	// A receiver slower than the timeout: held until the test lets it go.
	release := make(chan struct{})
	slow := newReceiver(t, 200)
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release })
	f.srv.SetHookURL(repoHook, slow.URL)
	a, _ = f.srv.Send(repoHook, "push", "", nil)
	close(release)
	if a.Status != StatusTimedOut || a.StatusCode != 0 || a.Duration < 0.2 {
		t.Errorf("slow receiver: %+v", a)
	}
	// A redelivery sends the same payload again, with a new id and the same guid.
	f.srv.SetHookURL(repoHook, rcv.URL)
	first := f.srv.Attempts(repoHook)
	orig := first[len(first)-1]
	r := call(t, nil, "POST", fmt.Sprintf("%s/repos/acme/web/hooks/%d/deliveries/%d/attempts", f.base, repoHook, orig.ID), "ghp_admin", nil)
	if r.Status != 202 {
		t.Fatalf("redeliver: %d %s", r.Status, r.Body)
	}
	newest := f.srv.Attempts(repoHook)[0]
	last := rcv.deliveries()[len(rcv.deliveries())-1]
	if newest.GUID != orig.GUID || !newest.Redelivery || newest.ID <= first[0].ID || string(last.Body) != string(orig.Payload) ||
		last.Header.Get("X-GitHub-Delivery") != orig.GUID {
		t.Errorf("redelivery: %+v (original %+v)", newest, orig)
	}
}

func TestDeferRedeliveries(t *testing.T) {
	f := newFixture(t, Options{DeferRedeliveries: true})
	rcv := newReceiver(t, 200)
	f.srv.SetHookURL(f.hook, rcv.URL)
	id := f.srv.SeedAttempts(f.hook, []Seed{{StatusCode: 0}})[0]
	r := call(t, nil, "POST", fmt.Sprintf("%s/deliveries/%d/attempts", f.hooks, id), "ghp_admin", nil)
	if r.Status != 202 {
		t.Fatal(r.Status)
	}
	if n := len(f.srv.Attempts(f.hook)); n != 1 || len(rcv.deliveries()) != 0 || f.srv.PendingRedeliveries() != 1 {
		t.Fatalf("redelivery happened before ProcessRedeliveries: %d attempts", n)
	}
	if rd := f.srv.Redeliveries(); len(rd) != 1 || rd[0].NewAttemptID != 0 || rd[0].DeliveryID != id {
		t.Errorf("pending redelivery log: %+v", rd)
	}
	f.clock.Advance(time.Minute)
	if n := f.srv.ProcessRedeliveries(); n != 1 {
		t.Fatalf("processed %d", n)
	}
	atts := f.srv.Attempts(f.hook)
	rd := f.srv.Redeliveries()
	if len(atts) != 2 || atts[0].Status != "OK" || !atts[0].Redelivery || rd[0].NewAttemptID != atts[0].ID ||
		!atts[0].DeliveredAt.Equal(f.clock.Now()) || len(rcv.deliveries()) != 1 {
		t.Errorf("after processing: %+v %+v", atts, rd)
	}
}

func TestRequestCounters(t *testing.T) {
	f := newFixture(t, Options{})
	path := strings.TrimPrefix(f.hooks, f.base)
	f.get(t, path+"/deliveries")
	call(t, nil, "GET", f.base+ghesPrefix+path+"/deliveries", "ghp_admin", nil)
	f.get(t, path+"/deliveries/1")
	f.get(t, "/nowhere")
	route := "GET /orgs/{org}/hooks/{hook_id}/deliveries"
	if f.srv.RequestCount(route) != 2 || f.srv.TotalRequests() != 4 || f.srv.RequestCount("GET /nowhere") != 1 {
		t.Errorf("counts: %v", f.srv.Requests())
	}
	if st := f.srv.Statuses(); st[route][200] != 2 || st["GET /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}"][404] != 1 {
		t.Errorf("statuses: %v", st)
	}
	f.srv.ResetCounters()
	if f.srv.TotalRequests() != 0 || len(f.srv.Requests()) != 0 {
		t.Errorf("after reset: %v", f.srv.Requests())
	}
}

func TestRetentionHidesOldAttempts(t *testing.T) {
	f := newFixture(t, Options{Retention: 72 * time.Hour})
	now := f.clock.Now()
	f.srv.SeedAttempts(f.hook, []Seed{{At: now.Add(-73 * time.Hour)}, {At: now.Add(-71 * time.Hour)}})
	if n := len(ids(t, f.get(t, strings.TrimPrefix(f.hooks, f.base)+"/deliveries"))); n != 1 {
		t.Errorf("listed %d attempts, want 1 inside retention", n)
	}
	if n := len(f.srv.Attempts(f.hook)); n != 2 {
		t.Errorf("store holds %d, want 2", n)
	}
}
