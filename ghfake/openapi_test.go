package ghfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// invalidRequest marks a request the test sends on purpose outside the
// description (e.g. per_page=abc): the checker expects request validation to
// fail and still validates the response.
const invalidRequest = "X-Test-Invalid-Request"

// specChecker is an http.RoundTripper that validates every request and
// response against GitHub's OpenAPI description and the headers every
// GitHub response carries.
type specChecker struct {
	t           *testing.T
	doc         *openapi3.T
	router      routers.Router
	clock       *Clock
	rateHeaders bool // x-ratelimit-* expected

	mu   sync.Mutex
	seen map[string]map[int]bool // operationId → statuses answered
}

func loadSpec(t *testing.T, file, serverURL string) (*openapi3.T, routers.Router) {
	t.Helper()
	path := filepath.Join(sharedDir(t), "github-api", file)
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("%s does not validate: %v", path, err)
	}
	doc.Servers = openapi3.Servers{{URL: serverURL}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

var filterOptions = &openapi3filter.Options{
	// The description declares no security schemes; should a later one do so,
	// the emulator's own auth is what is under test, not kin-openapi's.
	AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
}

func (sc *specChecker) RoundTrip(req *http.Request) (*http.Response, error) {
	t := sc.t
	wantInvalid := req.Header.Get(invalidRequest) != ""
	req.Header.Del(invalidRequest)
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	rewind := func() { req.Body = io.NopCloser(bytes.NewReader(body)) }
	rewind()
	what := req.Method + " " + req.URL.String()

	var in *openapi3filter.RequestValidationInput
	route, params, err := sc.router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: not in the description: %v", what, err)
	} else {
		in = &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: filterOptions}
		err := openapi3filter.ValidateRequest(req.Context(), in)
		switch {
		case wantInvalid && err == nil:
			t.Errorf("%s: expected the request to be outside the description", what)
		case !wantInvalid && err != nil:
			t.Errorf("%s: request does not validate: %v", what, err)
		}
		rewind()
	}

	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	sc.checkHeaders(what, resp)
	if in == nil {
		return resp, nil
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: filterOptions}
	out.SetBodyBytes(rb)
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		t.Errorf("%s: %d response does not validate: %v\n%s", what, resp.StatusCode, err, rb)
	}
	// Statuses the description leaves out (401, 404, 409, 403 …) still carry
	// GitHub's error shapes.
	if resp.StatusCode >= 400 && route.Operation.Responses.Status(resp.StatusCode) == nil {
		schema := "basic-error"
		if resp.StatusCode == http.StatusUnprocessableEntity {
			schema = "validation-error"
		}
		var v any
		if err := json.Unmarshal(rb, &v); err != nil {
			t.Errorf("%s: %d body is not JSON: %s", what, resp.StatusCode, rb)
		} else if err := sc.doc.Components.Schemas[schema].Value.VisitJSON(v); err != nil {
			t.Errorf("%s: %d body is not a %s: %v", what, resp.StatusCode, schema, err)
		}
	}
	sc.mu.Lock()
	id := route.Operation.OperationID
	if sc.seen[id] == nil {
		sc.seen[id] = map[int]bool{}
	}
	sc.seen[id][resp.StatusCode] = true
	sc.mu.Unlock()
	return resp, nil
}

// checkHeaders checks what every GitHub response carries.
func (sc *specChecker) checkHeaders(what string, resp *http.Response) {
	t := sc.t
	h := resp.Header
	if d, err := http.ParseTime(h.Get("Date")); err != nil || !d.Equal(sc.clock.Now().Truncate(time.Second)) {
		t.Errorf("%s: Date %q is not the emulator clock %v", what, h.Get("Date"), sc.clock.Now())
	}
	if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if h.Get("X-GitHub-Request-Id") == "" {
		t.Errorf("%s: no X-GitHub-Request-Id", what)
	}
	if resp.StatusCode != http.StatusBadRequest && h.Get("X-GitHub-Api-Version-Selected") != APIVersion {
		t.Errorf("%s: X-GitHub-Api-Version-Selected %q", what, h.Get("X-GitHub-Api-Version-Selected"))
	}
	for _, k := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Used", "X-RateLimit-Reset", "X-RateLimit-Resource"} {
		if got := h.Get(k) != ""; got != sc.rateHeaders && resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: header %s present=%v, want %v", what, k, got, sc.rateHeaders)
		}
	}
}

// servedOperations are the operations the emulator implements.
var servedOperations = []string{
	"orgs/list-webhooks", "orgs/get-webhook", "orgs/list-webhook-deliveries", "orgs/get-webhook-delivery", "orgs/redeliver-webhook-delivery",
	"repos/list-webhooks", "repos/get-webhook", "repos/list-webhook-deliveries", "repos/get-webhook-delivery", "repos/redeliver-webhook-delivery",
	"apps/list-webhook-deliveries", "apps/get-webhook-delivery", "apps/redeliver-webhook-delivery",
	"apps/get-authenticated", "apps/list-installations", "apps/get-org-installation", "apps/get-repo-installation", "apps/create-installation-access-token",
	"actions/list-repo-variables", "actions/create-repo-variable", "actions/get-repo-variable", "actions/update-repo-variable", "actions/delete-repo-variable",
	"rate-limit/get",
}

func TestOpenAPIDotCom(t *testing.T) {
	runOpenAPISuite(t, "rest-subset.openapi.json", "", DotCom)
}

func TestOpenAPIGHES(t *testing.T) {
	runOpenAPISuite(t, "rest-subset.ghes-3.19.openapi.json", ghesPrefix, GHES)
}

// TestOpenAPIDotComUnderAPIv3 checks the github.com emulator mounted GHES-style.
func TestOpenAPIDotComUnderAPIv3(t *testing.T) {
	runOpenAPISuite(t, "rest-subset.openapi.json", ghesPrefix, DotCom)
}

// runOpenAPISuite drives every served operation through its success and
// error paths, validating each exchange against the description.
func runOpenAPISuite(t *testing.T, specFile, prefix string, platform Platform) {
	clock := NewClock(DefaultStart)
	srv := newServer(t, Options{Platform: platform, Clock: clock})
	base := srv.URL() + prefix
	doc, router := loadSpec(t, specFile, base)
	checker := &specChecker{t: t, doc: doc, router: router, clock: clock, rateHeaders: platform == DotCom, seen: map[string]map[int]bool{}}
	cli := &http.Client{Transport: checker}

	rcv := newReceiver(t, http.StatusOK)
	good, _ := keys(t)
	srv.AddRepo("acme", "tools")
	srv.AddOrg("other")
	orgHook := srv.AddOrgHook("acme", HookConfig{URL: rcv.URL, Secret: "s3cret", Events: []string{"push", "issues"}})
	repoHook := srv.AddRepoHook("acme", "tools", HookConfig{URL: rcv.URL, Secret: "s3cret"})
	for i := 0; i < 3; i++ { // enough org hooks for a second page at per_page=2
		srv.AddOrgHook("acme", HookConfig{URL: rcv.URL})
	}
	srv.AddApp(App{ID: 42, Slug: "redeliverer", Name: "Redeliverer", PublicKey: &good.PublicKey})
	appHook := srv.SetAppHook(42, HookConfig{URL: rcv.URL, Secret: "s3cret"})
	inst := srv.AddInstallation(42, "acme")
	srv.AddToken(Token{Value: "ghp_admin", Scopes: []string{"admin:org_hook", "repo"}, All: true})
	srv.AddToken(Token{Value: "ghp_other", Orgs: []string{"other"}})
	jwtTok := signJWT(t, good, 42, clock.Now().Add(-time.Minute), clock.Now().Add(9*time.Minute))

	old := clock.Now().Add(-platform.Horizon() - time.Hour)
	stats := srv.SeedHistory(orgHook, History{N: 250, FailureRatio: 0.2, NoResponseRatio: 0.3, RecoveredRatio: 0.2, Seed: 7})
	oldIDs := srv.SeedAttempts(orgHook, []Seed{{At: old, StatusCode: 500}})
	srv.SeedHistory(repoHook, History{N: 20, FailureRatio: 0.5, Seed: 8})
	repoOld := srv.SeedAttempts(repoHook, []Seed{{At: old, StatusCode: 0}})
	srv.SeedHistory(appHook, History{N: 20, FailureRatio: 0.5, Seed: 9})
	appOld := srv.SeedAttempts(appHook, []Seed{{At: old, StatusCode: 502}})

	do := func(method, path, token string, body any, invalid bool) response {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("X-GitHub-Api-Version", APIVersion)
		if invalid {
			req.Header.Set(invalidRequest, "1")
		}
		resp, err := cli.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	}
	expect := func(r response, status int, what string) response {
		t.Helper()
		if r.Status != status {
			t.Errorf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
		}
		return r
	}
	id := func(v int64) string { return strconv.FormatInt(v, 10) }

	// Hooks.
	r := expect(do("GET", "/orgs/acme/hooks?per_page=2", "ghp_admin", nil, false), 200, "list org hooks")
	if !strings.Contains(r.Header.Get("Link"), `rel="next"`) || r.Header.Get("X-OAuth-Scopes") != "admin:org_hook, repo" {
		t.Errorf("list org hooks: Link %q, X-OAuth-Scopes %q", r.Header.Get("Link"), r.Header.Get("X-OAuth-Scopes"))
	}
	expect(do("GET", "/orgs/acme/hooks", "", nil, false), 401, "list org hooks without a token")
	expect(do("GET", "/orgs/acme/hooks", "ghp_other", nil, false), 404, "list org hooks of another org")
	expect(do("GET", "/orgs/acme/hooks/"+id(orgHook), "ghp_admin", nil, false), 200, "get org hook")
	expect(do("GET", "/orgs/acme/hooks/1", "ghp_admin", nil, false), 404, "get unknown org hook")
	expect(do("GET", "/repos/acme/tools/hooks", "ghp_admin", nil, false), 200, "list repo hooks")
	expect(do("GET", "/repos/acme/nope/hooks", "ghp_admin", nil, false), 404, "list hooks of unknown repo")
	expect(do("GET", "/repos/acme/tools/hooks/"+id(repoHook), "ghp_admin", nil, false), 200, "get repo hook")
	expect(do("GET", "/repos/acme/tools/hooks/"+id(orgHook), "ghp_admin", nil, false), 404, "get org hook via repo")

	// Deliveries, for all three families.
	families := []struct {
		name, path, token string
		hook              int64
		old               int64
	}{
		{"org", "/orgs/acme/hooks/" + id(orgHook), "ghp_admin", orgHook, oldIDs[0]},
		{"repo", "/repos/acme/tools/hooks/" + id(repoHook), "ghp_admin", repoHook, repoOld[0]},
		{"app", "/app/hook", jwtTok, appHook, appOld[0]},
	}
	for _, f := range families {
		total := 0
		next := base + f.path + "/deliveries?per_page=100"
		for pages := 0; next != ""; pages++ {
			if pages > 10 {
				t.Fatalf("%s: too many pages", f.name)
			}
			req, _ := http.NewRequest("GET", next, nil)
			req.Header.Set("Authorization", "Bearer "+f.token)
			resp, err := cli.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var items []map[string]any
			json.NewDecoder(resp.Body).Decode(&items)
			resp.Body.Close()
			total += len(items)
			next = nextLink(resp.Header.Get("Link"))
		}
		if want := len(srv.Attempts(f.hook)); total != want {
			t.Errorf("%s: paged through %d deliveries, want %d", f.name, total, want)
		}
		expect(do("GET", f.path+"/deliveries?status=failure", f.token, nil, false), 200, f.name+" failures")
		expect(do("GET", f.path+"/deliveries?per_page=abc", f.token, nil, true), 422, f.name+" bad per_page")
		expect(do("GET", f.path+"/deliveries?status=bogus", f.token, nil, true), 422, f.name+" bad status")
		expect(do("GET", f.path+"/deliveries?cursor=nonsense", f.token, nil, false), 422, f.name+" bad cursor")
		newest := srv.Attempts(f.hook)[0].ID
		expect(do("GET", f.path+"/deliveries/"+id(newest), f.token, nil, false), 200, f.name+" get delivery")
		expect(do("GET", f.path+"/deliveries/12345", f.token, nil, false), 404, f.name+" get unknown delivery")
		expect(do("POST", f.path+"/deliveries/"+id(newest)+"/attempts", f.token, nil, false), 202, f.name+" redeliver")
		expect(do("POST", f.path+"/deliveries/"+id(f.old)+"/attempts", f.token, nil, false), HorizonRejectStatus, f.name+" redeliver too old")
		expect(do("POST", f.path+"/deliveries/12345/attempts", f.token, nil, false), 404, f.name+" redeliver unknown")
		// The redelivery made a real attempt, which "get one" shows with what was sent.
		newer := srv.Attempts(f.hook)[0]
		if !newer.Redelivery || newer.ID <= newest {
			t.Errorf("%s: newest attempt after redelivery is %+v", f.name, newer)
		}
		expect(do("GET", f.path+"/deliveries/"+id(newer.ID), f.token, nil, false), 200, f.name+" get redelivery")
	}
	expect(do("GET", "/app/hook/deliveries", "ghp_admin", nil, false), 401, "app deliveries with a PAT")
	expect(do("GET", "/orgs/acme/hooks/"+id(orgHook)+"/deliveries", jwtTok, nil, false), 401, "org deliveries with a JWT")
	_ = stats

	// GitHub App endpoints.
	expect(do("GET", "/app", jwtTok, nil, false), 200, "get app")
	expect(do("GET", "/app", "ghp_admin", nil, false), 401, "get app with a PAT")
	expect(do("GET", "/app/installations", jwtTok, nil, false), 200, "list installations")
	expect(do("GET", "/app/installations", "", nil, false), 401, "list installations unauthenticated")
	expect(do("GET", "/orgs/acme/installation", jwtTok, nil, false), 200, "org installation")
	expect(do("GET", "/orgs/other/installation", jwtTok, nil, false), 404, "org without installation")
	expect(do("GET", "/repos/acme/tools/installation", jwtTok, nil, false), 200, "repo installation")
	expect(do("GET", "/repos/acme/nope/installation", jwtTok, nil, false), 404, "unknown repo installation")
	r = expect(do("POST", "/app/installations/"+id(inst)+"/access_tokens", jwtTok, map[string]any{"repositories": []string{"tools"}}, false), 201, "access token")
	var tok struct{ Token string }
	r.json(t, &tok)
	expect(do("POST", "/app/installations/"+id(inst)+"/access_tokens", jwtTok, map[string]any{"repositories": []string{"nope"}}, false), 422, "access token for a repo outside")
	expect(do("POST", "/app/installations/999/access_tokens", jwtTok, nil, false), 404, "access token of unknown installation")
	expect(do("GET", "/orgs/acme/hooks/"+id(orgHook)+"/deliveries?per_page=1", tok.Token, nil, false), 200, "deliveries with an installation token")

	// Actions variables.
	vars := "/repos/acme/tools/actions/variables"
	expect(do("GET", vars+"/LAST_RUN", "ghp_admin", nil, false), 404, "get missing variable")
	expect(do("POST", vars, "ghp_admin", map[string]string{"name": "LAST_RUN", "value": "1"}, false), 201, "create variable")
	expect(do("POST", vars, "ghp_admin", map[string]string{"name": "last_run", "value": "1"}, false), 409, "create existing variable")
	expect(do("POST", vars, "ghp_admin", map[string]string{"name": "GITHUB_X", "value": "1"}, false), 422, "create reserved name")
	expect(do("POST", vars, "ghp_admin", map[string]string{"name": "BIG", "value": strings.Repeat("x", MaxVariableValue+1)}, false), 422, "create oversized variable")
	expect(do("POST", vars, "ghp_admin", map[string]string{"name": "NOVALUE"}, true), 422, "create without value")
	expect(do("POST", vars, "ghp_other", map[string]string{"name": "X", "value": "1"}, false), 404, "create without access")
	for i := 0; i < 11; i++ {
		expect(do("POST", vars, tok.Token, map[string]string{"name": fmt.Sprintf("V%02d", i), "value": "v"}, false), 201, "create with installation token")
	}
	r = expect(do("GET", vars, "ghp_admin", nil, false), 200, "list variables")
	if !strings.Contains(r.Header.Get("Link"), `rel="next"`) {
		t.Errorf("list variables: Link %q", r.Header.Get("Link"))
	}
	expect(do("GET", "/repos/acme/nope/actions/variables", "ghp_admin", nil, false), 404, "list variables of unknown repo")
	r = expect(do("GET", vars+"/last_run", "ghp_admin", nil, false), 200, "get variable")
	expect(do("PATCH", vars+"/LAST_RUN", "ghp_admin", map[string]string{"value": "2"}, false), 204, "update variable")
	expect(do("PATCH", vars+"/MISSING", "ghp_admin", map[string]string{"value": "2"}, false), 404, "update missing variable")
	expect(do("PATCH", vars+"/LAST_RUN", "ghp_admin", map[string]string{"value": strings.Repeat("x", MaxVariableValue+1)}, false), 422, "update oversized")
	if v, _ := srv.Variable("acme", "tools", "LAST_RUN"); v != "2" {
		t.Errorf("variable after PATCH = %q", v)
	}
	expect(do("DELETE", vars+"/V00", "ghp_admin", nil, false), 204, "delete variable")
	expect(do("DELETE", vars+"/V00", "ghp_admin", nil, false), 404, "delete missing variable")

	// Rate limit.
	if platform == DotCom {
		r = expect(do("GET", "/rate_limit", "ghp_admin", nil, false), 200, "rate limit")
		var rl struct {
			Resources struct {
				Core struct{ Limit, Used, Remaining int }
			}
			Rate struct{ Limit int }
		}
		r.json(t, &rl)
		if rl.Resources.Core.Limit != 5000 || rl.Resources.Core.Used == 0 || rl.Rate.Limit != 5000 {
			t.Errorf("rate limit body: %s", r.Body)
		}
	} else {
		r = expect(do("GET", "/rate_limit", "ghp_admin", nil, false), 404, "rate limit on GHES")
		if !strings.Contains(string(r.Body), "Rate limiting is not enabled.") {
			t.Errorf("GHES /rate_limit: %s", r.Body)
		}
		// An administrator can turn rate limiting on.
		limited := newServer(t, Options{Platform: GHES, RateLimiting: true, Clock: clock})
		_, router2 := loadSpec(t, specFile, limited.URL()+prefix)
		checker2 := &specChecker{t: t, doc: doc, router: router2, clock: clock, rateHeaders: true, seen: checker.seen}
		r = call(t, &http.Client{Transport: checker2}, "GET", limited.URL()+prefix+"/rate_limit", "", nil)
		expect(r, 200, "rate limit on GHES with rate limiting on")
	}
	req, _ := http.NewRequest("GET", base+"/rate_limit", nil)
	req.Header.Set("X-GitHub-Api-Version", "2021-01-01")
	resp, err := cli.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("unsupported API version: %d", resp.StatusCode)
	}

	// Every served operation answered at least one success and one error.
	checker.mu.Lock()
	defer checker.mu.Unlock()
	for _, op := range servedOperations {
		var ok, failed bool
		for st := range checker.seen[op] {
			ok = ok || st < 400
			failed = failed || st >= 400
		}
		if !ok || !failed {
			var got []int
			for st := range checker.seen[op] {
				got = append(got, st)
			}
			sort.Ints(got)
			t.Errorf("operation %s: statuses seen %v, want a success and an error", op, got)
		}
	}
}

var nextRe = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// nextLink returns the rel="next" URL of a Link header, or "".
func nextLink(link string) string {
	m := nextRe.FindStringSubmatch(link)
	if m == nil {
		return ""
	}
	if _, err := url.Parse(m[1]); err != nil {
		return ""
	}
	return m[1]
}
