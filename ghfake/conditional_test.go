package ghfake

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v93/github"
)

// conditional sends a GET with If-None-Match.
func conditional(t *testing.T, url, token, etag string) response {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("If-None-Match", etag)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: []byte(b.String())}
}

func TestConditionalListsAnswer304Unbilled(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.AddRepo("acme", "tools")
	repoHook := f.srv.AddRepoHook("acme", "tools", HookConfig{URL: "http://127.0.0.1:1/unused"})
	f.srv.SeedHistory(f.hook, History{N: 40, Seed: 1})
	f.srv.SeedHistory(repoHook, History{N: 5, Seed: 2})
	routes := []struct{ route, path string }{
		{"GET /orgs/{org}/hooks/{hook_id}/deliveries", strings.TrimPrefix(f.hooks, f.base) + "/deliveries"},
		{"GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries", "/repos/acme/tools/hooks/" + strconv.FormatInt(repoHook, 10) + "/deliveries"},
		{"GET /orgs/{org}/hooks", "/orgs/acme/hooks"},
		{"GET /repos/{owner}/{repo}/hooks", "/repos/acme/tools/hooks"},
	}
	for _, rt := range routes {
		first := f.get(t, rt.path)
		etag := first.Header.Get("ETag")
		if first.Status != 200 || !strings.HasPrefix(etag, `W/"`) || !strings.HasSuffix(etag, `"`) ||
			first.Header.Get("Cache-Control") != "private, max-age=60, s-maxage=60" {
			t.Fatalf("%s: %d ETag %q Cache-Control %q", rt.route, first.Status, etag, first.Header.Get("Cache-Control"))
		}
		remaining := first.Header.Get("X-RateLimit-Remaining")
		// The weak tag, its strong form, a list holding it and "*" all match.
		for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `"nope", ` + etag, "*"} {
			r := conditional(t, f.base+rt.path, "ghp_admin", inm)
			if r.Status != http.StatusNotModified || len(r.Body) != 0 {
				t.Fatalf("%s If-None-Match %s: %d %q", rt.route, inm, r.Status, r.Body)
			}
			if r.Header.Get("ETag") != etag || r.Header.Get("Cache-Control") == "" || r.Header.Get("X-RateLimit-Remaining") != remaining {
				t.Errorf("%s 304 headers: ETag %q remaining %q (was %s)", rt.route, r.Header.Get("ETag"), r.Header.Get("X-RateLimit-Remaining"), remaining)
			}
		}
		if r := conditional(t, f.base+rt.path, "ghp_admin", `W/"other"`); r.Status != 200 || r.Header.Get("ETag") != etag {
			t.Errorf("%s: a stale tag got %d", rt.route, r.Status)
		}
		if got := f.srv.NotModifiedCount(rt.route); got != 4 {
			t.Errorf("%s: %d not-modified answers counted, want 4", rt.route, got)
		}
		if got, all := f.srv.BilledCount(rt.route), f.srv.RequestCount(rt.route); got != 2 || all != 6 {
			t.Errorf("%s: billed %d of %d requests, want 2 of 6", rt.route, got, all)
		}
	}
	limit, remaining, _ := f.srv.RateLimit("ghp_admin")
	if used := limit - remaining; used != 8 || f.srv.TotalBilled() != 8 {
		t.Errorf("primary limit charged %d, TotalBilled %d; want 8 (the 304s are free)", used, f.srv.TotalBilled())
	}
	if nm := f.srv.NotModified(); len(nm) != 4 {
		t.Errorf("NotModified: %v", nm)
	}
}

func TestETagFollowsTheContent(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.SeedHistory(f.hook, History{N: 5, Seed: 1})
	path := strings.TrimPrefix(f.hooks, f.base) + "/deliveries"
	etag := f.get(t, path).Header.Get("ETag")
	if again := f.get(t, path).Header.Get("ETag"); again != etag {
		t.Fatalf("the same page got two tags: %s %s", etag, again)
	}
	if other := f.get(t, path+"?per_page=2").Header.Get("ETag"); other == etag {
		t.Error("a different page has the same tag")
	}
	if other := f.get(t, path+"?status=failure").Header.Get("ETag"); other == etag {
		t.Error("a filtered page has the same tag")
	}
	// A new attempt changes the first page: the old tag no longer matches.
	f.srv.SeedAttempts(f.hook, []Seed{{StatusCode: 500}})
	r := conditional(t, f.base+path, "ghp_admin", etag)
	if r.Status != 200 || r.Header.Get("ETag") == etag {
		t.Fatalf("after a new attempt: %d, tag %s", r.Status, r.Header.Get("ETag"))
	}
	// A redelivery does too, once it is recorded.
	etag = r.Header.Get("ETag")
	var items []struct{ ID int64 }
	r.json(t, &items)
	if p := call(t, nil, "POST", f.hooks+"/deliveries/"+strconv.FormatInt(items[0].ID, 10)+"/attempts", "ghp_admin", nil); p.Status != 202 {
		t.Fatal(p.Status)
	}
	if r := conditional(t, f.base+path, "ghp_admin", etag); r.Status != 200 {
		t.Errorf("after a redelivery: %d", r.Status)
	}
}

func TestConditionalOnGHESWithoutRateLimits(t *testing.T) {
	f := newFixture(t, Options{Platform: GHES})
	path := ghesPrefix + strings.TrimPrefix(f.hooks, f.base) + "/deliveries"
	etag := f.get(t, path).Header.Get("ETag")
	r := conditional(t, f.base+path, "ghp_admin", etag)
	if r.Status != 304 || r.Header.Get("X-RateLimit-Remaining") != "" {
		t.Fatalf("%d %v", r.Status, r.Header)
	}
	log := f.srv.RequestLog()
	if len(log) != 2 || !log[0].Billed || log[1].Billed || !log[1].NotModified() {
		t.Errorf("log: %+v", log)
	}
}

// TestGoGitHubSeesNotModified checks what go-github makes of a 304: an
// error carrying the response, with the rate unchanged.
func TestGoGitHubSeesNotModified(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.SeedHistory(f.hook, History{N: 3, Seed: 1})
	cli, err := github.NewClient(github.WithAuthToken("ghp_admin"), github.WithEnterpriseURLs(f.base+"/api/v3/", f.base+"/api/uploads/"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, resp, err := cli.Organizations.ListHookDeliveries(ctx, "acme", f.hook, nil)
	if err != nil {
		t.Fatal(err)
	}
	etag := resp.Header.Get("ETag")
	req, err := cli.NewRequest(ctx, "GET", "orgs/acme/hooks/"+strconv.FormatInt(f.hook, 10)+"/deliveries", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("If-None-Match", etag)
	resp2, err := cli.Do(req, nil)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || resp2.StatusCode != 304 || resp2.Rate.Remaining != resp.Rate.Remaining {
		t.Fatalf("err %v status %d remaining %d (was %d)", err, resp2.StatusCode, resp2.Rate.Remaining, resp.Rate.Remaining)
	}
}
