package githubapi

// Answers the emulator will not give — nonsense, missing headers, exact
// big ids, redirects to another host — come from small httptest servers.
// They stand in for a misbehaving GitHub, not for any of our packages.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/redeliver/redeliver"
)

// outside serves fn for every request and records what it saw.
type outside struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newOutside(t *testing.T, fn http.HandlerFunc) *outside {
	o := &outside{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.seen = append(o.seen, r.Clone(context.Background()))
		o.mu.Unlock()
		fn(w, r)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *outside) requests() []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.seen...)
}

func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}
}

var acme12 = redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 12}

const goodItem = `{"id":%s,"guid":"g-1","delivered_at":"2026-11-20T11:00:00Z","redelivery":false,"duration":0.1,"status":"OK","status_code":200,"event":"push","action":null,"installation_id":null,"repository_id":null,"url":""}`

func TestNonsenseAnswers(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
		want string
	}{
		{"no guid", answer(`[{"id":123,"delivered_at":"2026-11-20T11:00:00Z","status":"OK","status_code":200,"event":"push"}]`),
			"GitHub answered a delivery without guid (id 123)"},
		{"no delivered_at", answer(`[{"id":124,"guid":"g","status":"OK","status_code":200,"event":"push"}]`),
			"without delivered_at (id 124)"},
		{"no status", answer(`[{"id":125,"guid":"g","delivered_at":"2026-11-20T11:00:00Z","status_code":200,"event":"push"}]`),
			"without status (id 125)"},
		{"zero id", answer(`[{"id":0,"guid":"g","delivered_at":"2026-11-20T11:00:00Z","status":"OK"}]`),
			"without a valid id"},
		{"negative id", answer(`[{"id":-5,"guid":"g","delivered_at":"2026-11-20T11:00:00Z","status":"OK"}]`),
			"without a valid id (id -5)"},
		{"null item", answer(`[null]`), "null delivery"},
		{"float id", answer(`[{"id":1.5e19,"guid":"g","delivered_at":"2026-11-20T11:00:00Z","status":"OK"}]`), "nonsense"},
		{"id as string", answer(`[{"id":"123","guid":"g","delivered_at":"2026-11-20T11:00:00Z","status":"OK"}]`), "nonsense"},
		{"object instead of list", answer(`{"message":"hello"}`), "nonsense"},
		{"truncated JSON", answer(`[{"id":1,`), "nonsense"},
		{"bad delivered_at", answer(`[{"id":1,"guid":"g","delivered_at":"yesterday","status":"OK"}]`), "nonsense"},
		{"no Date header", func(w http.ResponseWriter, r *http.Request) {
			w.Header()["Date"] = nil // net/http adds one unless told not to
			answer(`[]`)(w, r)
		}, "without a Date header"},
		{"unreadable Date header", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Date", "Thursday")
			answer(`[]`)(w, r)
		}, `unreadable Date header "Thursday"`},
		{"same cursor again", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", `<http://`+r.Host+r.URL.Path+`?per_page=100&cursor=v1_7>; rel="next"`)
			answer(`[]`)(w, r)
		}, "same next cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOutside(t, tt.h)
			c := newTestClient(t, Config{BaseURL: o.URL, Token: testToken})
			cursor := ""
			if tt.name == "same cursor again" {
				cursor = "v1_7"
			}
			page, err := c.ListAttempts(context.Background(), acme12, cursor)
			if err == nil {
				t.Fatalf("accepted %+v", page)
			}
			wantCode(t, err, redeliver.EInternal)
			wantContains(t, err, tt.want)
			if n := len(o.requests()); n != 1 {
				t.Errorf("%d requests: a nonsense answer is not worth retrying", n)
			}
		})
	}
}

func TestExactIDsCursorsAndHeaders(t *testing.T) {
	const big = "9007199254740993" // 2^53 + 1: a float64 would make it ...992
	o := newOutside(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cursor") == "" {
			// A cursor that needs escaping, in a Link GitHub may send.
			w.Header().Set("Link", `<http://`+r.Host+`/repositories/99/hooks/12/deliveries?per_page=100&cursor=v1_x%3D%2B1>; rel="next", <http://`+r.Host+r.URL.Path+`?per_page=100>; rel="first"`)
		}
		answer("["+strings.Replace(goodItem, "%s", big, 1)+"]")(w, r)
	})
	c := newTestClient(t, Config{BaseURL: o.URL + "/api/v3", Token: testToken, UserAgent: "redeliver/1.2.3"})
	page, err := c.ListAttempts(context.Background(), acme12, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Attempts) != 1 || page.Attempts[0].ID != 9007199254740993 {
		t.Fatalf("attempts %+v, want id %s exactly", page.Attempts, big)
	}
	if page.Next != "v1_x=+1" {
		t.Fatalf("next cursor %q, want v1_x=+1", page.Next)
	}
	page, err = c.ListAttempts(context.Background(), acme12, page.Next)
	if err != nil || page.Next != "" {
		t.Fatalf("second page: %+v, %v", page, err)
	}
	reqs := o.requests()
	if got := reqs[1].URL.Query().Get("cursor"); got != "v1_x=+1" {
		t.Errorf("cursor sent back as %q", got)
	}
	for _, r := range reqs {
		if r.URL.Path != "/api/v3/orgs/acme/hooks/12/deliveries" {
			t.Errorf("path %s", r.URL.Path)
		}
		if r.URL.Query().Get("per_page") != "100" {
			t.Errorf("per_page = %q", r.URL.Query().Get("per_page"))
		}
		if r.Header.Get("X-GitHub-Api-Version") != "2022-11-28" {
			t.Errorf("X-GitHub-Api-Version = %q", r.Header.Get("X-GitHub-Api-Version"))
		}
		if r.Header.Get("User-Agent") != "redeliver/1.2.3" {
			t.Errorf("User-Agent = %q", r.Header.Get("User-Agent"))
		}
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			t.Errorf("Authorization is not the Bearer token")
		}
	}
}

func TestRedeliverWithoutDateStillSucceeds(t *testing.T) {
	o := newOutside(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		w.WriteHeader(http.StatusAccepted)
	})
	c := newTestClient(t, Config{BaseURL: o.URL, Token: testToken})
	at, err := c.Redeliver(context.Background(), acme12, 5)
	if err != nil {
		t.Fatalf("a 202 is success even without a Date header: %v", err)
	}
	if at.IsZero() {
		t.Error("zero time")
	}
}

func TestCredentialsStayOnTheirOrigin(t *testing.T) {
	other := newOutside(t, answer(`[]`))
	api := newOutside(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusMovedPermanently)
	})
	c := newTestClient(t, Config{BaseURL: api.URL, Token: testToken})
	if _, err := c.ListHooks(context.Background(), "acme", ""); err != nil {
		t.Fatal(err)
	}
	if got := api.requests()[0].Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("the API origin got Authorization %q", got)
	}
	reqs := other.requests()
	if len(reqs) != 1 {
		t.Fatalf("the redirect target saw %d requests", len(reqs))
	}
	if got := reqs[0].Header.Get("Authorization"); got != "" {
		t.Errorf("credentials followed a redirect to another host: %q", got)
	}
}
