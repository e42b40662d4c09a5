package githubapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gregjones/httpcache"
)

// Conditional requests and answer observation, for a caller that polls.
//
// GitHub answers a GET carrying If-None-Match with the last ETag with 304
// Not Modified when nothing changed, and a 304 made with credentials does
// not count against the primary rate limit. A poller that asks for the
// first page of each hook's deliveries every few seconds therefore pays
// for a poll only when something new arrived. The ETag bookkeeping is
// gregjones/httpcache's; go-github knows its X-From-Cache mark and leaves
// its rate-limit figures alone for cached answers.

// Answer is one answer GitHub gave, as a poller counts it: which
// credential, which route, which status (304 for a conditional request
// answered "not modified"), and the x-ratelimit-* figures it carried.
type Answer struct {
	// Credential names the credential, never its value: "the token", "the
	// App JWT (App 12)", "the installation token of App 12 (installation 34)".
	Credential string
	// Route is the method and the path with its parameters named, such as
	// "GET /orgs/{org}/hooks/{hook_id}/deliveries": a bounded set of values.
	Route  string
	Status int
	// Limit, Remaining and Used are the x-ratelimit-* headers; -1 where
	// absent (a GHES with rate limiting off sends none).
	Limit, Remaining, Used int64
	// Resource is x-ratelimit-resource ("core" for the REST calls used here).
	Resource string
	// ResetIn is how long until the primary window resets; 0 when unknown.
	ResetIn time.Duration
}

// Billed reports whether the answer counts against the primary rate limit:
// every answer but a 304 to a conditional request.
func (a Answer) Billed() bool { return a.Status != http.StatusNotModified }

// observeRT tells Config.OnAnswer about every answer. It sits below the
// conditional layer, so it sees GitHub's own 304s, and above the retries,
// so the reset it reads is already on the local clock.
type observeRT struct {
	next http.RoundTripper
	who  string
	base string // the API root's path, stripped from routes
	on   func(context.Context, Answer)
}

func (t *observeRT) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	a := Answer{Credential: t.who, Route: RouteTemplate(req.Method, strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(t.base, "/"))),
		Status: resp.StatusCode, Limit: -1, Remaining: -1, Used: -1, Resource: resp.Header.Get("X-RateLimit-Resource")}
	if v, ok := headerInt(resp.Header, "X-RateLimit-Limit"); ok {
		a.Limit = v
	}
	if v, ok := headerInt(resp.Header, hdrRemaining); ok {
		a.Remaining = v
	}
	if v, ok := headerInt(resp.Header, "X-RateLimit-Used"); ok {
		a.Used = v
	}
	if v, ok := headerInt(resp.Header, hdrReset); ok && v > 0 {
		a.ResetIn = max(0, time.Until(time.Unix(v, 0)))
	}
	t.on(req.Context(), a)
	return resp, nil
}

// conditionalRT sends the first page of a hook's deliveries through an
// HTTP cache that revalidates every time: the request carries the last
// ETag, and a 304 is answered from the cache. Other requests pass by, so
// the cache holds one page per hook and no more.
type conditionalRT struct {
	next  http.RoundTripper
	cache *httpcache.Transport
}

// newConditional wraps next; each credential's stack gets its own cache,
// so no answer is ever served to another credential.
func newConditional(next http.RoundTripper) *conditionalRT {
	return &conditionalRT{next: next, cache: &httpcache.Transport{
		Transport: revalidate{next}, Cache: httpcache.NewMemoryCache(), MarkCachedResponses: true}}
}

// revalidate marks GitHub's answers no-cache before the cache keeps them:
// GitHub calls the page fresh for 60 s, and the cache measures that from
// GitHub's Date by this machine's clock, so a GitHub clock ahead of this
// one made a stale page look fresh (even asked with max-age=0) and the
// cache answered polls itself, missing new deliveries for as long as the
// clocks are apart. no-cache makes it ask GitHub every time, with the
// ETag. A 304's headers are merged into the kept page, so they are marked
// too.
type revalidate struct{ next http.RoundTripper }

func (r revalidate) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil && (resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotModified) {
		resp.Header.Set("Cache-Control", "no-cache")
	}
	return resp, err
}

func (t *conditionalRT) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodGet || !firstDeliveriesPage(req) {
		return t.next.RoundTrip(req)
	}
	return t.cache.RoundTrip(req)
}

// firstDeliveriesPage reports whether req lists a hook's deliveries from
// the newest (no cursor).
func firstDeliveriesPage(req *http.Request) bool {
	return strings.HasSuffix(req.URL.Path, "/deliveries") && req.URL.Query().Get("cursor") == ""
}

// FromCache reports whether resp was answered from the conditional cache
// (GitHub said 304 Not Modified).
func FromCache(resp *http.Response) bool {
	return resp != nil && resp.Header.Get(httpcache.XFromCache) != ""
}

// IsRedelivery says whether route (as RouteTemplate names it) asks GitHub
// to redeliver an attempt: the request a Pacer spaces.
func IsRedelivery(route string) bool {
	return strings.HasPrefix(route, "POST ") && strings.HasSuffix(route, "/deliveries/{delivery_id}/attempts")
}

// RouteTemplate names a request's route with its parameters replaced by
// their names, as GitHub's OpenAPI description writes them: method, space,
// path (without the API root).
func RouteTemplate(method, path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range segs {
		if i == 0 {
			continue
		}
		prev := segs[i-1]
		switch {
		case prev == "orgs":
			segs[i] = "{org}"
		case prev == "repos":
			segs[i] = "{owner}"
			if i+1 < len(segs) {
				segs[i+1] = "{repo}"
			}
		case prev == "hooks" && isNumber(segs[i]):
			segs[i] = "{hook_id}"
		case prev == "deliveries" && isNumber(segs[i]):
			segs[i] = "{delivery_id}"
		case prev == "installations" && isNumber(segs[i]):
			segs[i] = "{installation_id}"
		case prev == "variables":
			segs[i] = "{name}"
		case prev == "users":
			segs[i] = "{username}"
		case isNumber(segs[i]):
			segs[i] = "{id}"
		}
	}
	return method + " /" + strings.Join(segs, "/")
}

// isNumber reports whether s is all decimal digits. strconv would allocate
// an error for every segment that is not, and every request is labelled.
func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
