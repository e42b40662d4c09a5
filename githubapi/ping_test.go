package githubapi

import (
	"context"
	"errors"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

func TestPingSendsAPingDelivery(t *testing.T) {
	w := newWorld(t, ghfake.Options{})
	c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
	ctx := context.Background()
	for _, tc := range w.targets()[:2] {
		at, err := c.Ping(ctx, tc.t)
		if err != nil {
			t.Fatalf("Ping %s: %v", tc.t, err)
		}
		if !at.Equal(t0) {
			t.Errorf("Ping %s: GitHub's clock %s, want %s", tc.t, at, t0)
		}
		as := w.srv.Attempts(tc.hook)
		if len(as) == 0 || as[len(as)-1].Event != "ping" {
			t.Errorf("%s: no ping delivery listed: %+v", tc.t, as)
		}
	}
	// An App's hook has no ping operation: a clear error, no request.
	before := w.srv.RequestCount("POST /app/hook/pings")
	_, err := c.Ping(ctx, w.targets()[2].t)
	wantCode(t, err, redeliver.EInvalid)
	if !errors.Is(err, ErrPingUnsupported) || before != w.srv.RequestCount("POST /app/hook/pings") {
		t.Errorf("App hook: %v", err)
	}
	// An unknown hook is ENotFound.
	_, err = c.Ping(ctx, redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 999})
	wantCode(t, err, redeliver.ENotFound)
}
