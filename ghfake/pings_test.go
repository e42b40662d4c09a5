package ghfake

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
)

// The ping operations are not in the OpenAPI subset the other tests check
// against, so their handler is tested here directly, over real HTTP.
func TestPingDeliversAListedPingEvent(t *testing.T) {
	for _, workers := range []int{0, 2} {
		t.Run("workers="+strconv.Itoa(workers), func(t *testing.T) {
			srv := newServer(t, Options{Clock: NewClock(DefaultStart), RedeliveryWorkers: workers})
			srv.AddToken(Token{Value: "ghp_admin", All: true})
			rc := newReceiver(t, 200)
			srv.AddRepo("acme", "tools")
			orgHook := srv.AddOrgHook("acme", HookConfig{URL: rc.URL, Secret: "s"})
			repoHook := srv.AddRepoHook("acme", "tools", HookConfig{URL: rc.URL, Secret: "s"})
			for _, tc := range []struct {
				hook  int64
				base  string
				route string
			}{
				{orgHook, "/orgs/acme/hooks/" + strconv.FormatInt(orgHook, 10), "POST /orgs/{org}/hooks/{hook_id}/pings"},
				{repoHook, "/repos/acme/tools/hooks/" + strconv.FormatInt(repoHook, 10), "POST /repos/{owner}/{repo}/hooks/{hook_id}/pings"},
			} {
				list := call(t, nil, "GET", srv.URL()+tc.base+"/deliveries", "ghp_admin", nil)
				billed := srv.BilledCount(tc.route)
				r := call(t, nil, "POST", srv.URL()+tc.base+"/pings", "ghp_admin", nil)
				if r.Status != http.StatusNoContent || len(r.Body) != 0 {
					t.Fatalf("%s: %d %q, want 204 and no body", tc.route, r.Status, r.Body)
				}
				if got := srv.BilledCount(tc.route); got != billed+1 {
					t.Errorf("%s billed %d times, want %d", tc.route, got, billed+1)
				}
				if err := srv.WaitIdle(context.Background()); err != nil {
					t.Fatal(err)
				}
				as := srv.Attempts(tc.hook)
				if len(as) != 1 || as[0].Event != "ping" || as[0].Redelivery || as[0].StatusCode != 200 || as[0].GUID == "" {
					t.Fatalf("attempts after a ping: %+v", as)
				}
				got := rc.deliveries()
				last := got[len(got)-1]
				if last.Header.Get("X-GitHub-Event") != "ping" || last.Header.Get("X-GitHub-Delivery") != as[0].GUID {
					t.Errorf("receiver got event %q guid %q", last.Header.Get("X-GitHub-Event"), last.Header.Get("X-GitHub-Delivery"))
				}
				var body struct {
					Zen    string `json:"zen"`
					HookID int64  `json:"hook_id"`
				}
				if err := json.Unmarshal(last.Body, &body); err != nil || body.Zen == "" || body.HookID != tc.hook {
					t.Errorf("ping payload %s: %v", last.Body, err)
				}
				// The listing shows it, under a new ETag.
				after := conditional(t, srv.URL()+tc.base+"/deliveries", "ghp_admin", list.Header.Get("ETag"))
				var items []struct{ GUID, Event string }
				after.json(t, &items)
				if after.Status != 200 || len(items) != 1 || items[0].Event != "ping" || items[0].GUID != as[0].GUID {
					t.Errorf("listing after the ping: %d %s", after.Status, after.Body)
				}
				// A second ping is a new delivery with a fresh guid.
				call(t, nil, "POST", srv.URL()+tc.base+"/pings", "ghp_admin", nil)
				if err := srv.WaitIdle(context.Background()); err != nil {
					t.Fatal(err)
				}
				if as := srv.Attempts(tc.hook); len(as) != 2 || as[1].GUID == as[0].GUID {
					t.Errorf("two pings: %+v", as)
				}
			}
		})
	}
}

func TestPingRefusesUnknownAndForeignHooks(t *testing.T) {
	srv := newServer(t, Options{Clock: NewClock(DefaultStart)})
	srv.AddToken(Token{Value: "ghp_admin", All: true})
	srv.AddToken(Token{Value: "ghp_readonly", Scopes: []string{"read:repo_hook"}, Repos: []string{"acme/tools"}})
	srv.AddToken(Token{Value: "github_pat_other", Orgs: []string{"other"}})
	rc := newReceiver(t, 200)
	srv.AddRepo("acme", "tools")
	orgHook := srv.AddOrgHook("acme", HookConfig{URL: rc.URL})
	repoHook := srv.AddRepoHook("acme", "tools", HookConfig{URL: rc.URL})
	org := srv.URL() + "/orgs/acme/hooks/"
	repo := srv.URL() + "/repos/acme/tools/hooks/"
	for _, tc := range []struct{ name, url, token string }{
		{"unknown hook", org + "999", "ghp_admin"},
		{"repo hook under the org's path", org + strconv.FormatInt(repoHook, 10) + "/pings", "ghp_admin"},
		{"org hook under a repo's path", repo + strconv.FormatInt(orgHook, 10) + "/pings", "ghp_admin"},
		{"another org's token", org + strconv.FormatInt(orgHook, 10) + "/pings", "github_pat_other"},
		{"a read-only classic scope", repo + strconv.FormatInt(repoHook, 10) + "/pings", "ghp_readonly"},
	} {
		url := tc.url
		if tc.name == "unknown hook" {
			url += "/pings"
		}
		if r := call(t, nil, "POST", url, tc.token, nil); r.Status != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404", tc.name, r.Status, r.Body)
		}
	}
	if r := call(t, nil, "POST", org+strconv.FormatInt(orgHook, 10)+"/pings", "", nil); r.Status != http.StatusUnauthorized && r.Status != http.StatusNotFound {
		t.Errorf("no token: %d, want 401 or 404", r.Status)
	}
	if n := len(rc.deliveries()); n != 0 {
		t.Errorf("refused pings delivered %d times", n)
	}
}
