package githubapi

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

const (
	listOrgRoute      = "GET /orgs/{org}/hooks/{hook_id}/deliveries"
	redeliverOrgRoute = "POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts"
)

func TestRetries(t *testing.T) {
	t.Run("5xx then success", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultStatus, Status: 502, Times: 2})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
		if _, err := c.ListAttempts(context.Background(), orgTarget(w), ""); err != nil {
			t.Fatal(err)
		}
		if n := w.srv.RequestCount(listOrgRoute); n != 3 {
			t.Errorf("%d requests, want 3 (two 502s, then success)", n)
		}
	})
	t.Run("5xx until the retries run out", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultStatus, Status: 503})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, MaxRetries: 2})
		_, err := c.ListAttempts(context.Background(), orgTarget(w), "")
		wantCode(t, err, redeliver.EInternal)
		wantContains(t, err, "503")
		if n := w.srv.RequestCount(listOrgRoute); n != 3 {
			t.Errorf("%d requests, want 3 (1 + MaxRetries)", n)
		}
	})
	t.Run("connection reset on GET", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultReset, Times: 1})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
		if _, err := c.ListAttempts(context.Background(), orgTarget(w), ""); err != nil {
			t.Fatal(err)
		}
		if n := w.srv.RequestCount(listOrgRoute); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("connection reset on the redelivery POST", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		ids := w.srv.SeedAttempts(w.orgHook, []ghfake.Seed{{At: t0.Add(-time.Hour), StatusCode: 500}})
		w.srv.AddFault(ghfake.Fault{Route: redeliverOrgRoute, Kind: ghfake.FaultReset, Times: 1})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
		_, err := c.Redeliver(context.Background(), orgTarget(w), ids[0])
		var unknown *OutcomeUnknown
		if !errors.As(err, &unknown) || unknown.Status != 0 {
			t.Fatalf("err = %v, want *OutcomeUnknown for a network failure", err)
		}
		if n := w.srv.RequestCount(redeliverOrgRoute); n != 1 {
			t.Errorf("POST sent %d times; it must not be resent after it may have arrived", n)
		}
	})
	t.Run("5xx on the redelivery POST", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		ids := w.srv.SeedAttempts(w.orgHook, []ghfake.Seed{{At: t0.Add(-time.Hour), StatusCode: 500}})
		w.srv.AddFault(ghfake.Fault{Route: redeliverOrgRoute, Kind: ghfake.FaultStatus, Status: 502, Times: 1})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
		_, err := c.Redeliver(context.Background(), orgTarget(w), ids[0])
		var unknown *OutcomeUnknown
		if !errors.As(err, &unknown) || unknown.Status != 502 {
			t.Fatalf("err = %v, want *OutcomeUnknown with status 502", err)
		}
		wantCode(t, err, redeliver.EInternal)
		if n := w.srv.RequestCount(redeliverOrgRoute); n != 1 {
			t.Errorf("POST sent %d times, want 1", n)
		}
	})
	t.Run("POST retried once when the connection is refused", func(t *testing.T) {
		t.Parallel()
		// A port nobody listens on: the request provably never left.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		var logs logBuffer
		c := newTestClient(t, Config{BaseURL: "http://" + addr, Token: testToken, MaxRetries: 2, Logger: logs.logger()})
		_, err = c.Redeliver(context.Background(), redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 1}, 2)
		wantCode(t, err, redeliver.EInternal)
		var unknown *OutcomeUnknown
		if errors.As(err, &unknown) {
			t.Errorf("a refused connection is no unknown outcome: %v", err)
		}
		// A refused connection is tried maxUnreachableTries times, not
		// MaxRetries+1: a wrong API URL must fail fast.
		if n := strings.Count(logs.String(), "retrying"); n != maxUnreachableTries-1 {
			t.Errorf("%d retries logged, want %d:\n%s", n, maxUnreachableTries-1, logs.String())
		}
		wantContains(t, err, "cannot reach GitHub at "+addr)
		if strings.Contains(logs.String(), testToken) {
			t.Error("the log carries the token")
		}
	})
}

func TestRateLimits(t *testing.T) {
	t.Run("secondary limit with retry-after is waited out", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultSecondaryLimit, RetryAfter: 1, Times: 1})
		var slowed atomic.Int32
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, OnSecondaryLimit: func() { slowed.Add(1) }})
		start := time.Now()
		if _, err := c.ListAttempts(context.Background(), orgTarget(w), ""); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("answered after %v, before retry-after passed", d)
		}
		if v := w.srv.Violations(); len(v) != 0 {
			t.Errorf("requests sent early: %+v", v)
		}
		if n := slowed.Load(); n != 1 {
			t.Errorf("OnSecondaryLimit called %d times, want 1", n)
		}
		if n := w.srv.RequestCount(listOrgRoute); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("secondary limit on the redelivery POST", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		ids := w.srv.SeedAttempts(w.orgHook, []ghfake.Seed{{At: t0.Add(-time.Hour), StatusCode: 500}})
		w.srv.AddFault(ghfake.Fault{Route: redeliverOrgRoute, Kind: ghfake.FaultSecondaryLimit, Status: 429, RetryAfter: 1, Times: 1})
		var (
			mu     sync.Mutex
			routes []string
		)
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, OnSecondaryWait: func(route string, wait time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			routes = append(routes, route)
			if wait <= 0 || wait > time.Second {
				t.Errorf("OnSecondaryWait heard a wait of %s, want the retry-after (1 s)", wait)
			}
		}})
		if _, err := c.Redeliver(context.Background(), orgTarget(w), ids[0]); err != nil {
			t.Fatal(err)
		}
		if v := w.srv.Violations(); len(v) != 0 {
			t.Errorf("requests sent early: %+v", v)
		}
		mu.Lock()
		defer mu.Unlock()
		if n := len(w.srv.Redeliveries()); n != 1 || len(routes) != 1 || routes[0] != redeliverOrgRoute || !IsRedelivery(routes[0]) {
			t.Errorf("%d redeliveries; OnSecondaryWait heard routes %q; want 1 and the redelivery's route", n, routes)
		}
	})
	t.Run("secondary limit on a PATCH through REST() resends the body", func(t *testing.T) {
		t.Parallel()
		const route = "PATCH /repos/{owner}/{repo}/actions/variables/{name}"
		w := newWorld(t, ghfake.Options{})
		w.srv.SetVariable("acme", "api", "REDELIVER_STATE", "v1")
		w.srv.AddFault(ghfake.Fault{Route: route, Kind: ghfake.FaultSecondaryLimit, RetryAfter: 1, Times: 1})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
		_, err := c.REST().Actions.UpdateRepoVariable(context.Background(), "acme", "api", "REDELIVER_STATE", github.ActionsUpdateVariableRequest{Value: new("v2")})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := w.srv.Variable("acme", "api", "REDELIVER_STATE"); v != "v2" {
			t.Errorf("variable = %q, want v2", v)
		}
		if n := w.srv.RequestCount(route); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
		if v := w.srv.Violations(); len(v) != 0 {
			t.Errorf("requests sent early: %+v", v)
		}
	})
	t.Run("primary limit is waited out until the reset", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultPrimaryLimit, RetryAfter: 1, Times: 1})
		var slowed atomic.Int32
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, OnSecondaryLimit: func() { slowed.Add(1) }})
		start := time.Now()
		if _, err := c.ListAttempts(context.Background(), orgTarget(w), ""); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("answered after %v, before the reset", d)
		}
		if v := w.srv.Violations(); len(v) != 0 {
			t.Errorf("requests sent before the reset: %+v", v)
		}
		if n := w.srv.RequestCount(listOrgRoute); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
		if slowed.Load() != 0 {
			t.Error("OnSecondaryLimit called for a primary limit")
		}
	})
	t.Run("repeated secondary limits give up", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultSecondaryLimit, RetryAfter: 1})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, MaxRetries: 1})
		_, err := c.ListAttempts(context.Background(), orgTarget(w), "")
		wantCode(t, err, redeliver.ERateLimited)
		if n := w.srv.RequestCount(listOrgRoute); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
		if v := w.srv.Violations(); len(v) != 0 {
			t.Errorf("requests sent early: %+v", v)
		}
	})
	for _, tc := range []struct {
		name  string
		fault ghfake.Fault
	}{
		{"secondary retry-after past the deadline", ghfake.Fault{Kind: ghfake.FaultSecondaryLimit, RetryAfter: 30}},
		{"secondary without retry-after (waits a minute)", ghfake.Fault{Kind: ghfake.FaultSecondaryLimit, RetryAfter: -1}},
		{"primary reset past the deadline", ghfake.Fault{Kind: ghfake.FaultPrimaryLimit, RetryAfter: 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, ghfake.Options{})
			tc.fault.Route = listOrgRoute
			w.srv.AddFault(tc.fault)
			c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.ListAttempts(ctx, orgTarget(w), "")
			wantCode(t, err, redeliver.ERateLimited)
			if d := time.Since(start); d > time.Second {
				t.Errorf("gave up after %v; a wait past the deadline should not start", d)
			}
			if n := w.srv.RequestCount(listOrgRoute); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
	t.Run("cancel interrupts the wait", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultSecondaryLimit, RetryAfter: 30})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Cancel as soon as the limit is seen, i.e. while the wait starts.
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, OnSecondaryLimit: cancel})
		start := time.Now()
		_, err := c.ListAttempts(ctx, orgTarget(w), "")
		wantCode(t, err, redeliver.ERateLimited)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled in the chain", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("returned after %v", d)
		}
		if v := w.srv.Violations(); len(v) != 0 {
			t.Errorf("requests sent early: %+v", v)
		}
	})
}

func TestTimeouts(t *testing.T) {
	t.Run("slow GET is retried after the attempt timeout", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultLatency, Latency: 2 * time.Second, Times: 1})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, HTTPTimeout: 200 * time.Millisecond})
		if _, err := c.ListAttempts(context.Background(), orgTarget(w), ""); err != nil {
			t.Fatal(err)
		}
		if n := w.srv.RequestCount(listOrgRoute); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
	t.Run("slow POST is an unknown outcome", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		ids := w.srv.SeedAttempts(w.orgHook, []ghfake.Seed{{At: t0.Add(-time.Hour), StatusCode: 500}})
		w.srv.AddFault(ghfake.Fault{Route: redeliverOrgRoute, Kind: ghfake.FaultLatency, Latency: 2 * time.Second, Times: 1})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, HTTPTimeout: 200 * time.Millisecond})
		_, err := c.Redeliver(context.Background(), orgTarget(w), ids[0])
		var unknown *OutcomeUnknown
		if !errors.As(err, &unknown) {
			t.Fatalf("err = %v, want *OutcomeUnknown", err)
		}
		if n := w.srv.RequestCount(redeliverOrgRoute); n > 1 {
			t.Errorf("POST sent %d times", n)
		}
	})
	t.Run("context ending during the POST is an unknown outcome", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, ghfake.Options{})
		ids := w.srv.SeedAttempts(w.orgHook, []ghfake.Seed{{At: t0.Add(-time.Hour), StatusCode: 500}})
		w.srv.AddFault(ghfake.Fault{Route: redeliverOrgRoute, Kind: ghfake.FaultLatency, Latency: 2 * time.Second, Times: 1})
		c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Redeliver(ctx, orgTarget(w), ids[0])
		var unknown *OutcomeUnknown
		if !errors.As(err, &unknown) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want *OutcomeUnknown wrapping the deadline", err)
		}
		// Already over before the call: provably not sent.
		_, err = c.Redeliver(ctx, orgTarget(w), ids[0])
		if errors.As(err, &unknown) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the plain deadline", err)
		}
	})
}

func TestRESTCarriesTheStack(t *testing.T) {
	w := newWorld(t, ghfake.Options{})
	w.srv.AddFault(ghfake.Fault{Route: "GET /repos/{owner}/{repo}/actions/variables/{name}", Kind: ghfake.FaultStatus, Status: 502, Times: 1})
	w.srv.SetVariable("acme", "api", "REDELIVER_STATE", "v1")
	c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
	v, _, err := c.REST().Actions.GetRepoVariable(context.Background(), "acme", "api", "REDELIVER_STATE")
	if err != nil {
		t.Fatal(err)
	}
	if v.Value != "v1" {
		t.Errorf("value %q", v.Value)
	}
	if n := w.srv.RequestCount("GET /repos/{owner}/{repo}/actions/variables/{name}"); n != 2 {
		t.Errorf("%d requests, want 2 (a 502, then success)", n)
	}
}
