package githubapi

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// With Conditional, the first page of each hook's deliveries is asked with
// the last ETag: unchanged, GitHub answers 304 (not billed) and the cached
// page comes back with GitHub's fresh clock; changed, the new page. Later
// pages are never cached. OnAnswer hears every answer, 304s included, with
// templated routes and the rate-limit figures.
func TestConditionalFirstPages(t *testing.T) {
	w := newWorld(t, ghfake.Options{})
	var seeds []ghfake.Seed
	for i := range 150 {
		seeds = append(seeds, ghfake.Seed{At: t0.Add(-time.Duration(i) * time.Second), StatusCode: 200})
	}
	w.srv.SeedAttempts(w.orgHook, seeds)
	var (
		mu      sync.Mutex
		answers []Answer
	)
	c, err := New(Config{BaseURL: w.srv.URL(), Token: testToken, AppID: appID, PrivateKeyPEM: pkcs1(testKey()), Conditional: true,
		OnAnswer: func(_ context.Context, a Answer) {
			mu.Lock()
			answers = append(answers, a)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tg := range w.targets() {
		t.Run(string(tg.t.Kind), func(t *testing.T) {
			first, err := c.ListAttempts(ctx, tg.t, "")
			if err != nil {
				t.Fatal(err)
			}
			w.srv.Clock().Advance(time.Minute)
			again, err := c.ListAttempts(ctx, tg.t, "")
			if err != nil {
				t.Fatal(err)
			}
			if n := w.srv.NotModifiedCount(tg.list); n != 1 {
				t.Fatalf("%d answers 304, want 1", n)
			}
			if len(again.Attempts) != len(first.Attempts) || again.Next != first.Next {
				t.Fatalf("the cached page differs: %d attempts, next %q; first had %d, %q", len(again.Attempts), again.Next, len(first.Attempts), first.Next)
			}
			if !again.ServerTime.Equal(first.ServerTime.Add(time.Minute)) {
				t.Errorf("server time of the cached page %s, want GitHub's fresh clock %s", again.ServerTime, first.ServerTime.Add(time.Minute))
			}
			if _, err := w.srv.Send(tg.hook, "push", "", nil); err != nil {
				t.Fatal(err)
			}
			fresh, err := c.ListAttempts(ctx, tg.t, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(fresh.Attempts) == 0 || len(first.Attempts) > 0 && fresh.Attempts[0].ID == first.Attempts[0].ID {
				t.Fatalf("a new delivery did not show")
			}
			if first.Next != "" {
				for range 2 {
					if _, err := c.ListAttempts(ctx, tg.t, first.Next); err != nil {
						t.Fatal(err)
					}
				}
				if n := w.srv.NotModifiedCount(tg.list); n != 1 {
					t.Errorf("later pages: %d answers 304 in all, want still 1 (never cached)", n)
				}
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	saw304 := false
	for _, a := range answers {
		if a.Status == 304 {
			saw304 = true
			if a.Billed() || a.Route != "GET /orgs/{org}/hooks/{hook_id}/deliveries" && a.Route != "GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries" && a.Route != "GET /app/hook/deliveries" {
				t.Errorf("a 304 answer: %+v", a)
			}
		}
		if a.Credential == "the token" && (a.Limit != 5000 || a.Remaining < 0 || a.ResetIn <= 0) {
			t.Errorf("rate-limit figures missing: %+v", a)
		}
	}
	if !saw304 {
		t.Errorf("OnAnswer heard no 304")
	}
}

func TestRouteTemplate(t *testing.T) {
	for in, want := range map[string]string{
		"/orgs/acme/hooks/12/deliveries":             "GET /orgs/{org}/hooks/{hook_id}/deliveries",
		"/orgs/acme/hooks/12/deliveries/34/attempts": "GET /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts",
		"/repos/acme/api/hooks/12/deliveries":        "GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries",
		"/app/hook/deliveries":                       "GET /app/hook/deliveries",
		"/app/installations/7/access_tokens":         "GET /app/installations/{installation_id}/access_tokens",
		"/repos/acme/ops/actions/variables/LAST_RUN": "GET /repos/{owner}/{repo}/actions/variables/{name}",
		"/rate_limit": "GET /rate_limit",
	} {
		if got := RouteTemplate("GET", in); got != want {
			t.Errorf("RouteTemplate(%s) = %s, want %s", in, got, want)
		}
	}
}

// Every request is labelled: the label may allocate its segments and the
// result, never an error per segment (49 MB of them over a run of a million
// attempts).
func TestRouteTemplateAllocations(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		RouteTemplate("POST", "/repos/acme/api/hooks/12/deliveries/34/attempts")
	})
	if n > 3 {
		t.Errorf("RouteTemplate allocates %v times a call, want ≤ 3 (the segments, the join, the label)", n)
	}
	if isNumber("") || isNumber("12a") || !isNumber("0123") {
		t.Error("isNumber: want digits only, not empty")
	}
}

// A GitHub clock ahead of this machine's does not make the cached first
// page look fresh: every poll asks GitHub (with the ETag), so a delivery
// made meanwhile shows at once, however far the clocks are apart.
func TestConditionalClockAhead(t *testing.T) {
	w := newWorld(t, ghfake.Options{Clock: ghfake.NewClock(time.Now().Add(time.Hour).Truncate(time.Second))})
	c, err := New(Config{BaseURL: w.srv.URL(), Token: testToken, Conditional: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tg := w.targets()[0]
	if _, err := w.srv.Send(tg.hook, "push", "", nil); err != nil {
		t.Fatal(err)
	}
	first, err := c.ListAttempts(ctx, tg.t, "")
	if err != nil || len(first.Attempts) != 1 {
		t.Fatalf("first page: %d attempts, %v; want 1", len(first.Attempts), err)
	}
	w.srv.Clock().Advance(time.Second)
	if _, err := w.srv.Send(tg.hook, "push", "", nil); err != nil {
		t.Fatal(err)
	}
	again, err := c.ListAttempts(ctx, tg.t, "")
	if err != nil || len(again.Attempts) != 2 {
		t.Fatalf("after a new delivery: %d attempts, %v; want 2 (the page was answered from the cache)", len(again.Attempts), err)
	}
	// Unchanged: a 304, whose headers must not make the page fresh either.
	if _, err := c.ListAttempts(ctx, tg.t, ""); err != nil || w.srv.NotModifiedCount(tg.list) != 1 {
		t.Fatalf("unchanged page: %v, %d answers 304; want 1", err, w.srv.NotModifiedCount(tg.list))
	}
	if _, err := w.srv.Send(tg.hook, "push", "", nil); err != nil {
		t.Fatal(err)
	}
	third, err := c.ListAttempts(ctx, tg.t, "")
	if err != nil || len(third.Attempts) != 3 {
		t.Fatalf("after a 304 and a new delivery: %d attempts, %v; want 3", len(third.Attempts), err)
	}
}
