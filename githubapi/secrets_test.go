package githubapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// TestSecretsNeverLeak drives every failure it can and looks for the token,
// the private key and any JWT or installation token in the error text, in
// everything reachable from the error value, and in the log.
func TestSecretsNeverLeak(t *testing.T) {
	const unknownToken = "ghp_UNKNOWNsecret0123456789abcdefABCDEF"
	keyPEM := string(pkcs1(testKey()))
	keyLines := strings.Split(strings.TrimSpace(keyPEM), "\n")
	secrets := []string{testToken, unknownToken, keyLines[1], keyLines[len(keyLines)/2], "eyJ", "ghs_"}

	var logs logBuffer
	ctx := context.Background()
	w := newWorld(t, ghfake.Options{})
	bad := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: unknownToken, Logger: logs.logger()})
	good := newTestClient(t, Config{BaseURL: w.srv.URL(), Token: testToken, MaxRetries: 1, Logger: logs.logger()})
	app := newTestClient(t, Config{BaseURL: w.srv.URL(), AppID: appID, PrivateKeyPEM: []byte(keyPEM), MaxRetries: 1, Logger: logs.logger()})
	wrongKey := newTestClient(t, Config{BaseURL: w.srv.URL(), AppID: appID, PrivateKeyPEM: pkcs1(otherKey()), Logger: logs.logger()})
	ids := w.srv.SeedAttempts(w.orgHook, []ghfake.Seed{{At: t0.Add(-time.Hour), StatusCode: 500}})

	_, err := bad.ListAttempts(ctx, orgTarget(w), "")
	noLeak(t, "401 with a token", err, secrets...)
	noLeak(t, "CheckAuth with a bad token", bad.CheckAuth(ctx), secrets...)
	_, err = bad.Redeliver(ctx, orgTarget(w), ids[0])
	noLeak(t, "401 on redeliver", err, secrets...)

	_, err = good.ListAttempts(ctx, redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 1}, "")
	noLeak(t, "404 with a token", err, secrets...)

	w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultStatus, Status: 500, Times: 2})
	_, err = good.ListAttempts(ctx, orgTarget(w), "")
	noLeak(t, "5xx exhausted", err, secrets...)

	w.srv.AddFault(ghfake.Fault{Route: redeliverOrgRoute, Kind: ghfake.FaultReset, Times: 1})
	_, err = good.Redeliver(ctx, orgTarget(w), ids[0])
	var unknown *OutcomeUnknown
	if !errors.As(err, &unknown) {
		t.Fatalf("want *OutcomeUnknown, got %v", err)
	}
	noLeak(t, "reset on POST", err, secrets...)

	w.srv.AddFault(ghfake.Fault{Route: listOrgRoute, Kind: ghfake.FaultSecondaryLimit, RetryAfter: 60, Times: 1})
	short, cancel := context.WithTimeout(ctx, time.Second)
	_, err = good.ListAttempts(short, orgTarget(w), "")
	cancel()
	noLeak(t, "secondary limit past the deadline", err, secrets...)

	noLeak(t, "wrong App key", wrongKey.CheckAuth(ctx), secrets...)
	_, err = wrongKey.ListAttempts(ctx, orgTarget(w), "")
	noLeak(t, "JWT refused at the installation lookup", err, secrets...)

	// Installation-token paths: a missing hook, a 5xx while minting.
	_, err = app.ListAttempts(ctx, redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 1}, "")
	noLeak(t, "404 with an installation token", err, secrets...)
	w.srv.Clock().Advance(2 * time.Hour) // the installation token expires
	w.srv.AddFault(ghfake.Fault{Route: tokenRoute, Kind: ghfake.FaultStatus, Status: 500})
	_, err = app.ListAttempts(ctx, orgTarget(w), "")
	noLeak(t, "5xx while minting a token", err, secrets...)
	w.srv.ClearFaults()
	_, err = app.ListAttempts(ctx, redeliver.Target{Kind: redeliver.KindApp, AppID: appID + 1}, "")
	noLeak(t, "another App", err, secrets...)

	// go-github's own error from REST() keeps the response, whose request
	// must be the one without credentials.
	_, _, err = bad.token.gh.Organizations.ListHookDeliveries(ctx, "acme", w.orgHook, nil)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || er.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("want a go-github 401, got %v", err)
	}
	noLeak(t, "go-github error from REST()", err, secrets...)

	// TLS failure.
	tw := newWorld(t, ghfake.Options{TLS: true})
	tlsClient := newTestClient(t, Config{BaseURL: tw.srv.URL(), Token: testToken})
	_, err = tlsClient.ListAttempts(ctx, orgTarget(tw), "")
	noLeak(t, "untrusted certificate", err, secrets...)

	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log carries a secret (%.6s…):\n%s", s, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("expected retries in the log:\n%s", logs.String())
	}
}

// TestLeakFindsHeaders checks the checker: a go-github error whose request
// still carries the Authorization header must be caught.
func TestLeakFindsHeaders(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, "https://api.github.com/x", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	err := &github.ErrorResponse{Response: &http.Response{StatusCode: 401, Request: req}, Message: "Bad credentials"}
	if p := leak(err, testToken); p == "" {
		t.Fatal("leak missed a token in a request header")
	}
}
