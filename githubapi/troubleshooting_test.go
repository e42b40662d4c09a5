package githubapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// The messages of README's troubleshooting table, as the adapter words
// them: a test per row the adapter owns.

func TestTroubleshootingUntrustedCertificate(t *testing.T) {
	w := newWorld(t, ghfake.Options{TLS: true})
	c := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken})
	_, err := c.ListAttempts(context.Background(), orgTarget(w), "")
	wantContains(t, err, "the TLS certificate of", "is not trusted", "give its CA certificate with --ca-file")
}

func TestTroubleshootingMissingPermission(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Accepted-GitHub-Permissions", "organization_hooks=write")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"Resource not accessible by personal access token"}`))
	}))
	defer srv.Close()
	c := newTestClient(t, Config{BaseURL: srv.URL, Token: testToken})
	_, err := c.ListAttempts(context.Background(), redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 1}, "")
	wantCode(t, err, redeliver.EAuth)
	wantContains(t, err, "lacks the permission organization_hooks=write")
}
