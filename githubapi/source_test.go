package githubapi

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// seed stores n attempts a minute apart, newest at t0−1m, every third one
// failed, and returns their delivered_at by id.
func seed(w *world, hook int64, n int) map[int64]time.Time {
	seeds := make([]ghfake.Seed, n)
	for i := range seeds {
		code := 200
		if i%3 == 0 {
			code = 502
		}
		seeds[i] = ghfake.Seed{
			GUID:       fmt.Sprintf("guid-%d-%d", hook, i%(n-n/5)),
			At:         t0.Add(-time.Duration(i+1) * time.Minute),
			StatusCode: code,
			Redelivery: i%(n-n/5) != i,
		}
	}
	ids := w.srv.SeedAttempts(hook, seeds)
	at := make(map[int64]time.Time, n)
	for i, id := range ids {
		at[id] = seeds[i].At
	}
	return at
}

func TestListAttemptsAcrossPages(t *testing.T) {
	for _, env := range []struct {
		name     string
		platform ghfake.Platform
		suffix   string
	}{
		{"github.com", ghfake.DotCom, ""},
		{"GHES", ghfake.GHES, "/api/v3"},
	} {
		t.Run(env.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghfake.Options{Platform: env.platform})
			c := newTestClient(t, Config{BaseURL: w.srv.URL() + env.suffix, Token: testToken, AppID: appID, PrivateKeyPEM: pkcs1(testKey())})
			for _, tc := range w.targets() {
				t.Run(string(tc.t.Kind), func(t *testing.T) {
					seeded := seed(w, tc.hook, 250)
					var got []redeliver.Attempt
					cursor, pages := "", 0
					for {
						page, err := c.ListAttempts(context.Background(), tc.t, cursor)
						if err != nil {
							t.Fatalf("page %d: %v", pages+1, err)
						}
						pages++
						if len(page.Attempts) > perPage {
							t.Errorf("page %d has %d attempts", pages, len(page.Attempts))
						}
						if !page.ServerTime.Equal(t0) {
							t.Errorf("ServerTime = %v, want the emulator's %v", page.ServerTime, t0)
						}
						got = append(got, page.Attempts...)
						if page.Next == "" {
							break
						}
						cursor = page.Next
					}
					if pages != 3 || len(got) != 250 {
						t.Fatalf("%d attempts in %d pages, want 250 in 3", len(got), pages)
					}
					if n := w.srv.Statuses()[tc.list][200]; n != 3 {
						t.Errorf("%s answered 200 %d times, want 3", tc.list, n)
					}
					for i, a := range got {
						at, ok := seeded[a.ID]
						if !ok {
							t.Fatalf("attempt id %d was never seeded (ids must round-trip exactly)", a.ID)
						}
						if !a.DeliveredAt.Equal(at) {
							t.Errorf("attempt %d delivered_at %v, want %v", a.ID, a.DeliveredAt, at)
						}
						if i > 0 && a.ID >= got[i-1].ID {
							t.Errorf("attempts not newest first at %d", i)
						}
						if a.GUID == "" || a.Status == "" || a.Event == "" {
							t.Errorf("attempt %+v lacks fields", a)
						}
					}
					if got[0].ID <= 1<<53 {
						t.Errorf("emulator ids (%d) should exceed 2^53 for this test to mean something", got[0].ID)
					}
				})
			}
		})
	}
}

func TestRedeliverAccepted(t *testing.T) {
	w := newWorld(t, ghfake.Options{})
	c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, AppID: appID, PrivateKeyPEM: pkcs8(testKey())})
	for _, tc := range w.targets() {
		ids := w.srv.SeedAttempts(tc.hook, []ghfake.Seed{{At: t0.Add(-time.Hour), StatusCode: 500}})
		at, err := c.Redeliver(context.Background(), tc.t, ids[0])
		if err != nil {
			t.Fatalf("%s: %v", tc.t, err)
		}
		if !at.Equal(t0) {
			t.Errorf("%s: accepted at %v, want the emulator's %v", tc.t, at, t0)
		}
	}
	reds := w.srv.Redeliveries()
	if len(reds) != 3 {
		t.Fatalf("emulator saw %d redeliveries, want 3", len(reds))
	}
	for i, tc := range w.targets() {
		if reds[i].HookID != tc.hook {
			t.Errorf("redelivery %d went to hook %d, want %d", i, reds[i].HookID, tc.hook)
		}
	}
}

func TestRedeliverRefused(t *testing.T) {
	w := newWorld(t, ghfake.Options{Platform: ghfake.DotCom})
	c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
	old := w.srv.SeedAttempts(w.orgHook, []ghfake.Seed{{At: t0.Add(-4 * 24 * time.Hour), StatusCode: 500}})
	_, err := c.Redeliver(context.Background(), orgTarget(w), old[0])
	wantCode(t, err, redeliver.EInvalid)
	var refused *RedeliveryRefused
	if !errors.As(err, &refused) || refused.Status != ghfake.HorizonRejectStatus {
		t.Fatalf("err = %v, want *RedeliveryRefused with status %d", err, ghfake.HorizonRejectStatus)
	}

	_, err = c.Redeliver(context.Background(), orgTarget(w), old[0]+12345)
	wantCode(t, err, redeliver.ENotFound)
	if n := len(w.srv.Redeliveries()); n != 0 {
		t.Errorf("emulator performed %d redeliveries", n)
	}
}

func TestAuthAndNotFound(t *testing.T) {
	w := newWorld(t, ghfake.Options{})
	ctx := context.Background()

	bad := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: "ghp_not_a_token_the_emulator_knows"})
	_, err := bad.ListAttempts(ctx, orgTarget(w), "")
	wantCode(t, err, redeliver.EAuth)
	wantContains(t, err, "GitHub refused the credentials (401 Bad credentials)")
	wantCode(t, bad.CheckAuth(ctx), redeliver.EAuth)
	_, err = bad.Redeliver(ctx, orgTarget(w), 1)
	wantCode(t, err, redeliver.EAuth)

	c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
	if err := c.CheckAuth(ctx); err != nil {
		t.Fatalf("CheckAuth: %v", err)
	}
	missing := redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 12}
	_, err = c.ListAttempts(ctx, missing, "")
	wantCode(t, err, redeliver.ENotFound)
	wantContains(t, err, "hook 12 of org acme not found, or the token cannot see it")
	_, err = c.ListAttempts(ctx, redeliver.Target{Kind: redeliver.KindRepo, Owner: "acme", Repo: "nope", HookID: w.repoHook}, "")
	wantCode(t, err, redeliver.ENotFound)

	// A 403 without rate-limit signs is a permission problem.
	w.srv.AddFault(ghfake.Fault{Route: "GET /orgs/{org}/hooks/{hook_id}/deliveries", Kind: ghfake.FaultStatus, Status: 403, Times: 1})
	_, err = c.ListAttempts(ctx, orgTarget(w), "")
	wantCode(t, err, redeliver.EAuth)
	wantContains(t, err, "403")

	// An App target needs the App's credentials.
	_, err = c.ListAttempts(ctx, redeliver.Target{Kind: redeliver.KindApp, AppID: appID}, "")
	wantCode(t, err, redeliver.EInvalid)
	// Invalid targets are refused before any request.
	_, err = c.ListAttempts(ctx, redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme"}, "")
	wantCode(t, err, redeliver.EInvalid)
}

func TestListHooks(t *testing.T) {
	w := newWorld(t, ghfake.Options{Platform: ghfake.GHES})
	for i := range 104 {
		w.srv.AddOrgHook("acme", ghfake.HookConfig{URL: fmt.Sprintf("https://r%d.invalid/", i)})
	}
	c := newTestClient(t, Config{BaseURL: w.srv.URL() + "/api/v3/", Token: testToken})
	hooks, err := c.ListHooks(context.Background(), "acme", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 105 {
		t.Fatalf("%d org hooks, want 105", len(hooks))
	}
	if n := w.srv.RequestCount("GET /orgs/{org}/hooks"); n != 2 {
		t.Errorf("%d requests for org hooks, want 2 pages", n)
	}
	if hooks[0].ID != w.orgHook || hooks[0].URL != hookCfg.URL || !hooks[0].Active || len(hooks[0].Events) == 0 {
		t.Errorf("first hook = %+v", hooks[0])
	}
	repoHooks, err := c.ListHooks(context.Background(), "acme", "api")
	if err != nil {
		t.Fatal(err)
	}
	if len(repoHooks) != 1 || repoHooks[0].ID != w.repoHook {
		t.Errorf("repo hooks = %+v", repoHooks)
	}
	_, err = c.ListHooks(context.Background(), "nobody", "")
	wantCode(t, err, redeliver.ENotFound)
	wantContains(t, err, "org nobody not found")
}

func TestRateLimitingOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts ghfake.Options
		want bool
	}{
		{"github.com", ghfake.Options{Platform: ghfake.DotCom}, false},
		{"GHES default", ghfake.Options{Platform: ghfake.GHES}, true},
		{"GHES with limits", ghfake.Options{Platform: ghfake.GHES, RateLimiting: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.opts)
			c := newTestClient(t, Config{BaseURL: w.srv.URL() + "/api/v3", Token: testToken})
			off, err := c.RateLimitingOff(context.Background())
			if err != nil || off != tc.want {
				t.Fatalf("RateLimitingOff = %v, %v; want %v", off, err, tc.want)
			}
			// With limits off there are no x-ratelimit headers: "unknown",
			// not "exhausted"; calls go on.
			if _, err := c.ListAttempts(context.Background(), orgTarget(w), ""); err != nil {
				t.Fatal(err)
			}
			if err := c.CheckAuth(context.Background()); err != nil {
				t.Fatalf("CheckAuth: %v", err)
			}
		})
	}
}

// After any answer, whether GitHub limits rates is told by its headers
// (x-ratelimit-* come with every answer where limits are on): no
// GET /rate_limit.
func TestRateLimitingOffFromHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts ghfake.Options
		want bool
	}{
		{"github.com", ghfake.Options{Platform: ghfake.DotCom}, false},
		{"GHES default", ghfake.Options{Platform: ghfake.GHES}, true},
		{"GHES with limits", ghfake.Options{Platform: ghfake.GHES, RateLimiting: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.opts)
			c := newTestClient(t, Config{BaseURL: w.srv.URL() + "/api/v3", Token: testToken})
			if _, err := c.ListAttempts(context.Background(), orgTarget(w), ""); err != nil {
				t.Fatal(err)
			}
			off, err := c.RateLimitingOff(context.Background())
			if err != nil || off != tc.want {
				t.Fatalf("RateLimitingOff = %v, %v; want %v", off, err, tc.want)
			}
			if n := w.srv.RequestCount("GET /rate_limit"); n != 0 {
				t.Errorf("%d × GET /rate_limit after an answer had told", n)
			}
		})
	}
}
