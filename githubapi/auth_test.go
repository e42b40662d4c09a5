package githubapi

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

const (
	tokenRoute   = "POST /app/installations/{installation_id}/access_tokens"
	orgInstRoute = "GET /orgs/{org}/installation"
)

func TestAppJWTAndInstallationTokens(t *testing.T) {
	w := newWorld(t, ghfake.Options{Platform: ghfake.GHES, TokenTTL: 10 * time.Minute})
	ctx := context.Background()
	var logs logBuffer
	c := newTestClient(t, Config{BaseURL: w.srv.URL() + "/api/v3", AppID: appID, PrivateKeyPEM: pkcs8(testKey()), Logger: logs.logger()})

	// The wall clock is days away from the emulator's: the first JWT is
	// refused, teaches us GitHub's clock, and the second one passes.
	if err := c.CheckAuth(ctx); err != nil {
		t.Fatalf("CheckAuth: %v", err)
	}
	for _, tc := range w.targets() {
		w.srv.SeedAttempts(tc.hook, []ghfake.Seed{{At: t0.Add(-time.Hour), StatusCode: 500}})
		page, err := c.ListAttempts(ctx, tc.t, "")
		if err != nil {
			t.Fatalf("%s: %v", tc.t, err)
		}
		if len(page.Attempts) != 1 {
			t.Fatalf("%s: %d attempts", tc.t, len(page.Attempts))
		}
		if _, err := c.Redeliver(ctx, tc.t, page.Attempts[0].ID); err != nil {
			t.Fatalf("%s: redeliver: %v", tc.t, err)
		}
	}
	if n := w.srv.RequestCount(orgInstRoute); n != 1 {
		t.Errorf("org installation looked up %d times, want 1 (cached)", n)
	}
	if n := w.srv.Statuses()[tokenRoute][201]; n != 1 {
		t.Errorf("%d installation tokens minted, want 1 (org and repo share the installation)", n)
	}
	if c.REST() != nil {
		t.Error("REST() without a token should be nil")
	}
	gh, err := c.RESTFor(ctx, "acme", "api")
	if err != nil || gh == nil {
		t.Fatalf("RESTFor: %v", err)
	}

	// The token expires on the emulator's clock; ours has not moved.
	w.srv.Clock().Advance(11 * time.Minute)
	for _, tc := range w.targets() {
		if _, err := c.ListAttempts(ctx, tc.t, ""); err != nil {
			t.Fatalf("%s after the token expired: %v", tc.t, err)
		}
	}
	if n := w.srv.Statuses()[tokenRoute][201]; n != 2 {
		t.Errorf("%d installation tokens minted, want 2 (renewed once after expiry)", n)
	}
	if !strings.Contains(logs.String(), "renewing") {
		t.Errorf("no renewal logged:\n%s", logs.String())
	}

	// An org the App is not installed on.
	w.srv.AddOrg("other")
	other := w.srv.AddOrgHook("other", hookCfg)
	_, err = c.ListAttempts(ctx, redeliver.Target{Kind: redeliver.KindOrg, Owner: "other", HookID: other}, "")
	wantCode(t, err, redeliver.ENotFound)
	wantContains(t, err, "not installed on org other")

	// Another App's hook cannot be read with this App's JWT.
	_, err = c.ListAttempts(ctx, redeliver.Target{Kind: redeliver.KindApp, AppID: appID + 1}, "")
	wantCode(t, err, redeliver.EInvalid)
}

func TestTokenAndAppTogether(t *testing.T) {
	w := newWorld(t, ghfake.Options{})
	c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, AppID: appID, PrivateKeyPEM: pkcs1(testKey())})
	for _, tc := range w.targets() {
		if _, err := c.ListAttempts(context.Background(), tc.t, ""); err != nil {
			t.Fatalf("%s: %v", tc.t, err)
		}
	}
	// The token serves org and repo: no installation token is needed.
	if n := w.srv.RequestCount(tokenRoute) + w.srv.RequestCount(orgInstRoute); n != 0 {
		t.Errorf("%d installation requests with a token at hand", n)
	}
	if c.REST() == nil {
		t.Error("REST() = nil with a token")
	}
}

func TestWrongAppKey(t *testing.T) {
	w := newWorld(t, ghfake.Options{})
	c := newTestClient(t, Config{BaseURL: w.srv.URL(), AppID: appID, PrivateKeyPEM: pkcs1(otherKey())})
	err := c.CheckAuth(context.Background())
	wantCode(t, err, redeliver.EAuth)
	_, err = c.ListAttempts(context.Background(), orgTarget(w), "")
	wantCode(t, err, redeliver.EAuth)
}

func TestTLS(t *testing.T) {
	w := newWorld(t, ghfake.Options{TLS: true})
	if !strings.HasPrefix(w.srv.URL(), "https://") {
		t.Fatalf("emulator URL %s is not https", w.srv.URL())
	}
	ctx := context.Background()

	untrusting := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
	_, err := untrusting.ListAttempts(ctx, orgTarget(w), "")
	wantCode(t, err, redeliver.EInternal) // a network problem, exit 1
	wantContains(t, err, "certificate")
	wantContains(t, err, "--ca-file")
	if n := w.srv.TotalRequests(); n != 0 {
		t.Errorf("%d requests reached the emulator over an untrusted connection", n)
	}

	ca := filepath.Join(t.TempDir(), "ghes-ca.pem")
	if err := os.WriteFile(ca, w.srv.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	trusting := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, CAFile: ca})
	if _, err := trusting.ListAttempts(ctx, orgTarget(w), ""); err != nil {
		t.Fatal(err)
	}
}
