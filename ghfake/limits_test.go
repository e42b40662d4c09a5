package ghfake

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGHESRateLimitingOffByDefault(t *testing.T) {
	f := newFixture(t, Options{Platform: GHES})
	r := call(t, nil, "GET", f.base+ghesPrefix+strings.TrimPrefix(f.hooks, f.base)+"/deliveries", "ghp_admin", nil)
	if r.Status != 200 {
		t.Fatal(r.Status)
	}
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "x-ratelimit") {
			t.Errorf("GHES sent %s", k)
		}
	}
	r = call(t, nil, "GET", f.base+ghesPrefix+"/rate_limit", "ghp_admin", nil)
	if r.Status != 404 || !strings.Contains(string(r.Body), `"message":"Rate limiting is not enabled."`) ||
		!strings.Contains(string(r.Body), `"documentation_url":"https://docs.github.com/enterprise-server@3.19/rest/rate-limit/`) {
		t.Errorf("/rate_limit: %d %s", r.Status, r.Body)
	}
	// DotCom always sends them.
	g := newFixture(t, Options{})
	r = g.get(t, "/rate_limit")
	if r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "5000" || r.Header.Get("X-RateLimit-Resource") != "core" {
		t.Errorf("dotcom /rate_limit: %d %v", r.Status, r.Header)
	}
}

func TestPrimaryLimitAndReset(t *testing.T) {
	f := newFixture(t, Options{PrimaryLimit: 3})
	path := strings.TrimPrefix(f.hooks, f.base) + "/deliveries"
	for i := 1; i <= 3; i++ {
		r := f.get(t, path)
		if r.Status != 200 || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(3-i) || r.Header.Get("X-RateLimit-Used") != strconv.Itoa(i) {
			t.Fatalf("request %d: %d remaining %s", i, r.Status, r.Header.Get("X-RateLimit-Remaining"))
		}
	}
	reset := f.clock.Now().Add(time.Hour).Unix()
	r := f.get(t, path)
	if r.Status != 403 || r.Header.Get("X-RateLimit-Remaining") != "0" || r.Header.Get("X-RateLimit-Reset") != strconv.FormatInt(reset, 10) ||
		!strings.Contains(string(r.Body), "API rate limit exceeded for user ID") {
		t.Fatalf("exhausted: %d %v %s", r.Status, r.Header, r.Body)
	}
	if len(f.srv.Violations()) != 0 {
		t.Fatal("the first refusal is no violation")
	}
	// Sending again before the reset is.
	if r := f.get(t, path); r.Status != 403 {
		t.Errorf("still limited: %d", r.Status)
	}
	v := f.srv.Violations()
	if len(v) != 1 || v[0].Kind != "rate-limit-reset" || v[0].Caller != f.srv.TokenCaller("ghp_admin") || v[0].Route != "GET /orgs/{org}/hooks/{hook_id}/deliveries" {
		t.Errorf("violations: %+v", v)
	}
	// /rate_limit is free and never blocked.
	if r := f.get(t, "/rate_limit"); r.Status != 200 || r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("/rate_limit while limited: %d", r.Status)
	}
	f.clock.Advance(time.Hour)
	if r := f.get(t, path); r.Status != 200 || r.Header.Get("X-RateLimit-Remaining") != "2" {
		t.Errorf("after reset: %d %s", r.Status, r.Header.Get("X-RateLimit-Remaining"))
	}
	if n := len(f.srv.Violations()); n != 1 {
		t.Errorf("waiting for the reset is no violation, got %d", n)
	}
	if p, s := f.srv.LimitResponsesByKind(); p != 2 || s != 0 || f.srv.LimitResponses() != 2 {
		t.Errorf("limit responses %d/%d", p, s)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, Options{})
	path := strings.TrimPrefix(f.hooks, f.base) + "/deliveries"
	route := "GET /orgs/{org}/hooks/{hook_id}/deliveries"
	statuses := func(n int) []int {
		var out []int
		for i := 0; i < n; i++ {
			out = append(out, f.get(t, path).Status)
		}
		return out
	}
	f.srv.AddFault(Fault{Route: route, Kind: FaultStatus, Status: 503, Times: 2, After: 1})
	if got := statuses(4); !equalInts(got, []int{200, 503, 503, 200}) {
		t.Errorf("After/Times: %v", got)
	}
	f.srv.ClearFaults()
	f.srv.AddFault(Fault{Route: "/orgs/{org}/hooks/{hook_id}/deliveries", Kind: FaultStatus, Every: 3})
	if got := statuses(6); !equalInts(got, []int{200, 200, 502, 200, 200, 502}) {
		t.Errorf("Every: %v", got)
	}
	f.srv.ClearFaults()
	r := func() response {
		f.srv.AddFault(Fault{Kind: FaultStatus, Status: 500, Times: 1})
		return f.get(t, path)
	}()
	if r.Status != 500 || string(r.Body) != `{"message":"Server Error"}` {
		t.Errorf("500: %s", r.Body)
	}

	// Probability is deterministic for a seed.
	run := func() []int {
		f.srv.ClearFaults()
		f.srv.SetFaultSeed(42)
		f.srv.AddFault(Fault{Route: route, Kind: FaultStatus, Probability: 0.5})
		return statuses(12)
	}
	a, b := run(), run()
	if !equalInts(a, b) || !containsInt(a, 502) || !containsInt(a, 200) {
		t.Errorf("probability: %v vs %v", a, b)
	}
	f.srv.ClearFaults()

	// A reset closes the connection without an answer.
	f.srv.AddFault(Fault{Route: route, Kind: FaultReset, Times: 1})
	req, _ := http.NewRequest("GET", f.hooks+"/deliveries", nil)
	req.Header.Set("Authorization", "Bearer ghp_admin")
	if resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("reset: got %s", resp.Status)
	}
	if st := f.srv.Statuses()[route]; st[0] != 1 {
		t.Errorf("reset not counted as status 0: %v", st)
	}

	// Latency (wall time) then the normal answer.
	f.srv.AddFault(Fault{Route: route, Kind: FaultLatency, Latency: 30 * time.Millisecond, Times: 1})
	start := time.Now()
	if r := f.get(t, path); r.Status != 200 || time.Since(start) < 30*time.Millisecond {
		t.Errorf("latency: %d after %v", r.Status, time.Since(start))
	}

	// Secondary limit: retry-after and GitHub's message; go-github's URL suffix.
	f.srv.AddFault(Fault{Route: route, Kind: FaultSecondaryLimit, Status: 429, RetryAfter: 30, Times: 1})
	r = f.get(t, path)
	if r.Status != 429 || r.Header.Get("Retry-After") != "30" || !strings.Contains(string(r.Body), "You have exceeded a secondary rate limit. Please wait a few minutes before you try again") ||
		!strings.Contains(string(r.Body), `secondary-rate-limits"`) {
		t.Errorf("secondary: %d %v %s", r.Status, r.Header, r.Body)
	}
	// Coming back at once is a violation; after the wait (here on the emulator clock) it is not.
	if r := f.get(t, path); r.Status != 429 {
		t.Errorf("inside retry-after: %d", r.Status)
	}
	f.clock.Advance(30 * time.Second)
	if r := f.get(t, path); r.Status != 200 {
		t.Errorf("after retry-after: %d", r.Status)
	}
	if v := f.srv.Violations(); len(v) != 1 || v[0].Kind != "retry-after" {
		t.Errorf("violations: %+v", v)
	}

	// Primary limit fault.
	f.srv.AddFault(Fault{Route: route, Kind: FaultPrimaryLimit, RetryAfter: 120, Times: 1})
	r = f.get(t, path)
	if r.Status != 403 || r.Header.Get("X-RateLimit-Remaining") != "0" || r.Header.Get("X-RateLimit-Reset") != strconv.FormatInt(f.clock.Now().Unix()+120, 10) ||
		!strings.Contains(string(r.Body), "API rate limit exceeded for user ID") {
		t.Errorf("primary fault: %d %v %s", r.Status, r.Header, r.Body)
	}
	if p, s := f.srv.LimitResponsesByKind(); p != 1 || s != 2 {
		t.Errorf("limit responses: %d primary, %d secondary", p, s)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func containsInt(a []int, v int) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// fakeWall is an injectable wall clock for Budget.Now.
type fakeWall struct {
	mu sync.Mutex
	t  time.Time
}

func (w *fakeWall) Now() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.t }
func (w *fakeWall) Advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t = w.t.Add(d)
}

func TestBudgetCatchesClientIgnoringRetryAfter(t *testing.T) {
	wall := &fakeWall{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	// Scale 60: a minute of GitHub's limits lasts a second.
	f := newFixture(t, Options{Budget: &Budget{Scale: 60, PointsPerMinute: 10, ContentPerMinute: 3, Now: wall.Now}})
	f.srv.AddRepo("acme", "web")
	path := strings.TrimPrefix(f.hooks, f.base) + "/deliveries"
	for i := 0; i < 10; i++ {
		if r := f.get(t, path); r.Status != 200 {
			t.Fatalf("request %d inside the budget: %d", i, r.Status)
		}
		wall.Advance(10 * time.Millisecond)
	}
	r := f.get(t, path)
	if r.Status != 403 || r.Header.Get("Retry-After") != "1" || !strings.Contains(string(r.Body), "secondary rate limit") {
		t.Fatalf("over the points budget: %d %v %s", r.Status, r.Header, r.Body)
	}
	// Another endpoint has its own points.
	if r := f.get(t, "/orgs/acme/hooks"); r.Status != 403 {
		t.Errorf("any request inside retry-after is refused: %d", r.Status)
	}
	v := f.srv.Violations()
	if len(v) != 1 || v[0].Kind != "retry-after" || v[0].Route != "GET /orgs/{org}/hooks" {
		t.Fatalf("violations: %+v", v)
	}
	wall.Advance(time.Second)
	if r := f.get(t, "/orgs/acme/hooks"); r.Status != 200 {
		t.Errorf("after retry-after: %d", r.Status)
	}
	// Content-creating requests (POST, PATCH): 3 per (scaled) minute across
	// endpoints, while each endpoint still has points to spare.
	vars := f.base + "/repos/acme/web/actions/variables"
	for i, req := range []struct{ method, url string }{{"POST", vars}, {"POST", vars}, {"PATCH", vars + "/V0"}} {
		r := call(t, nil, req.method, req.url, "ghp_admin", map[string]string{"name": "V" + strconv.Itoa(i), "value": "x"})
		if r.Status >= 300 {
			t.Fatalf("%s %d: %d %s", req.method, i, r.Status, r.Body)
		}
	}
	r = call(t, nil, "PATCH", vars+"/V1", "ghp_admin", map[string]string{"value": "y"})
	if r.Status != 403 || r.Header.Get("Retry-After") == "" {
		t.Errorf("4th content-creating request in a scaled minute: %d", r.Status)
	}
	if n := len(f.srv.Violations()); n != 1 {
		t.Errorf("a client that waited has no new violations: %d", n)
	}
}

func TestBudgetPrimaryScaled(t *testing.T) {
	wall := &fakeWall{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	f := newFixture(t, Options{Budget: &Budget{Scale: 3600, PrimaryPerHour: 2, Status: 429, Now: wall.Now}})
	f.get(t, "/orgs/acme/hooks")
	f.get(t, "/orgs/acme/hooks")
	r := f.get(t, "/orgs/acme/hooks")
	// The scaled hour is one second: the reset is one second ahead on the emulator clock.
	if r.Status != 429 || r.Header.Get("X-RateLimit-Remaining") != "0" || r.Header.Get("X-RateLimit-Reset") != strconv.FormatInt(f.clock.Now().Unix()+1, 10) {
		t.Fatalf("scaled primary: %d %v", r.Status, r.Header)
	}
	wall.Advance(time.Second)
	if r := f.get(t, "/orgs/acme/hooks"); r.Status != 200 || len(f.srv.Violations()) != 0 {
		t.Errorf("after the scaled hour: %d %v", r.Status, f.srv.Violations())
	}
}

func TestTLSAndAPIVersions(t *testing.T) {
	f := newFixture(t, Options{TLS: true})
	if !strings.HasPrefix(f.base, "https://") {
		t.Fatalf("URL %s", f.base)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(f.srv.CertPEM()) {
		t.Fatal("CertPEM is not a certificate")
	}
	cli := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	r := call(t, cli, "GET", f.hooks+"/deliveries?per_page=1", "ghp_admin", nil)
	if r.Status != 200 {
		t.Fatalf("over TLS: %d", r.Status)
	}
	f.srv.SeedAttempts(f.hook, []Seed{{}, {}})
	r = call(t, cli, "GET", f.hooks+"/deliveries?per_page=1", "ghp_admin", nil)
	if !strings.HasPrefix(r.Header.Get("Link"), "<https://") {
		t.Errorf("Link over TLS: %s", r.Header.Get("Link"))
	}
	// 2026-03-10 exists on github.com and drops the deprecated "rate".
	req, _ := http.NewRequest("GET", f.base+"/rate_limit", nil)
	req.Header.Set("X-GitHub-Api-Version", "2026-03-10")
	resp, err := cli.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body["rate"] != nil || resp.Header.Get("X-GitHub-Api-Version-Selected") != "2026-03-10" {
		t.Errorf("2026-03-10: %d %v", resp.StatusCode, body)
	}
	req.Header.Set("X-GitHub-Api-Version", "2021-01-01")
	resp, err = cli.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unsupported version: %d", resp.StatusCode)
	}
	g := newFixture(t, Options{Platform: GHES})
	req, _ = http.NewRequest("GET", g.base+"/api/v3/orgs/acme/hooks", nil)
	req.Header.Set("X-GitHub-Api-Version", "2026-03-10")
	req.Header.Set("Authorization", "Bearer ghp_admin")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("GHES 3.19 has no 2026-03-10: %d", resp.StatusCode)
	}
}

// TestRedeliveriesAsContent checks both worlds: by default a redelivery is
// a content-creating request (80/min, 500/h); with RedeliveriesNotContent it
// only spends points.
func TestRedeliveriesAsContent(t *testing.T) {
	for _, notContent := range []bool{false, true} {
		wall := &fakeWall{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		f := newFixture(t, Options{Budget: &Budget{ContentPerMinute: 2, ContentPerHour: 100, Now: wall.Now, RedeliveriesNotContent: notContent}})
		f.srv.AddRepo("acme", "web")
		ids := f.srv.SeedAttempts(f.hook, []Seed{{StatusCode: 500}, {StatusCode: 500}, {StatusCode: 500}})
		var statuses []int
		for _, id := range ids {
			r := call(t, nil, "POST", f.hooks+"/deliveries/"+strconv.FormatInt(id, 10)+"/attempts", "ghp_admin", nil)
			statuses = append(statuses, r.Status)
			wall.Advance(time.Second)
		}
		want := "[202 202 403]"
		if notContent {
			want = "[202 202 202]"
		}
		if got := fmt.Sprint(statuses); got != want {
			t.Errorf("RedeliveriesNotContent=%v: %s, want %s", notContent, got, want)
		}
		// Other POSTs count either way.
		wall.Advance(2 * time.Minute)
		vars := f.base + "/repos/acme/web/actions/variables"
		for i := range 3 {
			r := call(t, nil, "POST", vars, "ghp_admin", map[string]string{"name": "V" + strconv.Itoa(i), "value": "x"})
			if wantS := 201; i == 2 {
				wantS = 403
				if r.Status != wantS {
					t.Errorf("RedeliveriesNotContent=%v: third variable: %d", notContent, r.Status)
				}
			} else if r.Status != wantS {
				t.Errorf("variable %d: %d", i, r.Status)
			}
		}
	}
}
