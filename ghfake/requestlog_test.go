package ghfake

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRequestLogNamesCallersNotSecrets(t *testing.T) {
	f := newFixture(t, Options{})
	good, _ := keys(t)
	f.srv.AddApp(App{ID: 7, PublicKey: &good.PublicKey})
	inst := f.srv.AddInstallation(7, "acme")
	ghs, _ := f.srv.IssueInstallationToken(inst)
	jwtTok := signJWT(t, good, 7, f.clock.Now().Add(-time.Minute), f.clock.Now().Add(5*time.Minute))

	send := func(method, path, token, ua string) {
		t.Helper()
		req, _ := http.NewRequest(method, f.base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	deliveries := strings.TrimPrefix(f.hooks, f.base) + "/deliveries"
	send("GET", deliveries+"?per_page=5&access_token=ghp_admin", "ghp_admin", "redeliver/1.0")
	send("GET", "/orgs/acme/hooks", ghs, "octokit")
	send("GET", "/app", jwtTok, "ghinstallation")
	send("GET", "/rate_limit", "", "curl")
	send("GET", "/orgs/acme/hooks", "ghp_wrong", "curl")
	send("GET", "/no/such/path", "ghp_admin", "curl")

	log := f.srv.RequestLog()
	want := []LoggedRequest{
		{Seq: 1, Method: "GET", Route: "GET /orgs/{org}/hooks/{hook_id}/deliveries", Status: 200, Billed: true, Caller: f.srv.TokenCaller("ghp_admin"), UserAgent: "redeliver/1.0"},
		{Seq: 2, Method: "GET", Route: "GET /orgs/{org}/hooks", Status: 200, Billed: true, Caller: "installation:" + strconv.FormatInt(inst, 10), UserAgent: "octokit"},
		{Seq: 3, Method: "GET", Route: "GET /app", Status: 200, Billed: true, Caller: "app:7", UserAgent: "ghinstallation"},
		{Seq: 4, Method: "GET", Route: "GET /rate_limit", Status: 200, Billed: false, Caller: "ip:127.0.0.1", UserAgent: "curl"},
		{Seq: 5, Method: "GET", Route: "GET /orgs/{org}/hooks", Status: 401, Billed: false, Caller: "ip:127.0.0.1", UserAgent: "curl"},
		{Seq: 6, Method: "GET", Route: "GET /no/such/path", Status: 404, Billed: true, Caller: f.srv.TokenCaller("ghp_admin"), UserAgent: "curl"},
	}
	if len(log) != len(want) {
		t.Fatalf("%d entries: %+v", len(log), log)
	}
	for i, w := range want {
		g := log[i]
		if !g.At.Equal(f.clock.Now()) || g.Path == "" {
			t.Errorf("entry %d: At %v Path %q", i, g.At, g.Path)
		}
		g.At, g.Path, g.Query = time.Time{}, "", ""
		if g != w {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	if q := log[0].Query; !strings.Contains(q, "per_page=5") || strings.Contains(q, "ghp_admin") {
		t.Errorf("query %q", q)
	}
	all := fmt.Sprintf("%+v %+v", log, f.srv.Violations())
	for _, secret := range []string{"ghp_admin", "ghp_wrong", ghs, jwtTok} {
		if strings.Contains(all, secret) {
			t.Errorf("the log holds a credential: %s", all)
		}
	}
	if TokenCaller := f.srv.TokenCaller("ghp_unknown"); TokenCaller != "" {
		t.Errorf("unknown token: %q", TokenCaller)
	}
}

func TestRequestLogSize(t *testing.T) {
	f := newFixture(t, Options{RequestLogSize: 2})
	for range 5 {
		f.get(t, "/orgs/acme/hooks")
	}
	log := f.srv.RequestLog()
	if len(log) != 2 || log[0].Seq != 4 || log[1].Seq != 5 {
		t.Fatalf("%+v", log)
	}
	f.srv.ResetCounters()
	f.get(t, "/orgs/acme/hooks")
	if log := f.srv.RequestLog(); len(log) != 1 || log[0].Seq != 1 {
		t.Errorf("after ResetCounters: %+v", log)
	}
	g := newFixture(t, Options{RequestLogSize: -1})
	g.get(t, "/orgs/acme/hooks")
	if log := g.srv.RequestLog(); len(log) != 0 {
		t.Errorf("log off: %+v", log)
	}
}
