package ghfake

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestTokenAuth(t *testing.T) {
	f := newFixture(t, Options{})
	f.srv.AddRepo("acme", "web")
	f.srv.AddOrg("other")
	f.srv.AddToken(Token{Value: "ghp_classic", Scopes: []string{"admin:org_hook", "repo"}, Orgs: []string{"acme"}})
	f.srv.AddToken(Token{Value: "ghp_noscope", Scopes: []string{"read:org"}, Orgs: []string{"acme"}})
	f.srv.AddToken(Token{Value: "github_pat_other", Orgs: []string{"other"}})
	f.srv.AddToken(Token{Value: "github_pat_repo", Repos: []string{"acme/web"}})
	list := f.hooks + "/deliveries"

	r := call(t, nil, "GET", list, "wrong", nil)
	if r.Status != 401 || string(r.Body) != `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}` {
		t.Errorf("wrong token: %d %s", r.Status, r.Body)
	}
	if r := call(t, nil, "GET", list, "", nil); r.Status != 401 || !strings.Contains(string(r.Body), "Requires authentication") {
		t.Errorf("no token: %d %s", r.Status, r.Body)
	}
	r = call(t, nil, "GET", list, "ghp_classic", nil)
	if r.Status != 200 || r.Header.Get("X-OAuth-Scopes") != "admin:org_hook, repo" || r.Header.Get("X-Accepted-OAuth-Scopes") != "admin:org_hook" {
		t.Errorf("classic token: %d scopes %q accepted %q", r.Status, r.Header.Get("X-OAuth-Scopes"), r.Header.Get("X-Accepted-OAuth-Scopes"))
	}
	if r := call(t, nil, "GET", list, "ghp_noscope", nil); r.Status != 404 {
		t.Errorf("classic token without admin:org_hook: %d", r.Status)
	}
	for _, tok := range []string{"github_pat_other", "github_pat_repo"} {
		if r := call(t, nil, "GET", list, tok, nil); r.Status != 404 || r.Header.Get("X-OAuth-Scopes") != "" {
			t.Errorf("%s on acme's hook: %d", tok, r.Status)
		}
	}
	if r := call(t, nil, "GET", f.base+"/repos/acme/web/actions/variables", "github_pat_repo", nil); r.Status != 200 {
		t.Errorf("repo-scoped token on its repo: %d", r.Status)
	}
	// "token X" works like "Bearer X".
	req, _ := http.NewRequest("GET", list, nil)
	req.Header.Set("Authorization", "token ghp_admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("token scheme: %v %v", err, resp.Status)
	}
	resp.Body.Close()
}

func TestAppJWT(t *testing.T) {
	f := newFixture(t, Options{})
	good, bad := keys(t)
	f.srv.AddApp(App{ID: 7, Slug: "fixer", PublicKey: &good.PublicKey, ClientID: "Iv23liFIXER"})
	inst := f.srv.AddInstallation(7, "acme")
	now := f.clock.Now()
	app := f.base + "/app"
	cases := []struct {
		name   string
		token  string
		status int
		msg    string
	}{
		{"numeric iss", signJWT(t, good, 7, now.Add(-time.Minute), now.Add(9*time.Minute)), 200, ""},
		{"string iss", signJWT(t, good, "7", now.Add(-time.Minute), now.Add(5*time.Minute)), 200, ""},
		{"client id iss", signJWT(t, good, "Iv23liFIXER", now, now.Add(5*time.Minute)), 200, ""},
		{"docs example: iat-60s, exp+10m", signJWT(t, good, 7, now.Add(-60*time.Second), now.Add(10*time.Minute)), 200, ""},
		{"wrong key", signJWT(t, bad, 7, now, now.Add(5*time.Minute)), 401, msgJWTUndecodable},
		{"unknown app", signJWT(t, good, 8, now, now.Add(5*time.Minute)), 401, msgJWTNoApp},
		{"exp too far", signJWT(t, good, 7, now, now.Add(15*time.Minute)), 401, msgJWTTooFar},
		{"exp 20m after iat", signJWT(t, good, 7, now.Add(-11*time.Minute), now.Add(9*time.Minute)), 401, msgJWTTooFar},
		{"expired", signJWT(t, good, 7, now.Add(-10*time.Minute), now.Add(-time.Second)), 401, msgJWTExpired},
		{"iat in the future", signJWT(t, good, 7, now.Add(2*time.Minute), now.Add(5*time.Minute)), 401, msgJWTIssuedAt},
		{"not a JWT", "ghp_admin", 401, msgJWTUndecodable},
		{"nothing", "", 401, msgRequiresAuth},
	}
	for _, c := range cases {
		r := call(t, nil, "GET", app, c.token, nil)
		if r.Status != c.status || !strings.Contains(string(r.Body), c.msg) {
			t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
		}
	}
	jwt := cases[0].token
	// A JWT is no token for hooks or variables.
	if r := call(t, nil, "GET", f.hooks+"/deliveries", jwt, nil); r.Status != 401 || !strings.Contains(string(r.Body), msgBadCredentials) {
		t.Errorf("JWT on org deliveries: %d %s", r.Status, r.Body)
	}
	// The JWT expires on the emulator clock.
	f.clock.Advance(10 * time.Minute)
	if r := call(t, nil, "GET", app, jwt, nil); r.Status != 401 {
		t.Errorf("JWT after 10 minutes: %d", r.Status)
	}
	_ = inst
}

func TestInstallationTokenExpires(t *testing.T) {
	f := newFixture(t, Options{TokenTTL: 30 * time.Minute})
	good, _ := keys(t)
	f.srv.AddApp(App{ID: 7, PublicKey: &good.PublicKey})
	f.srv.AddRepo("acme", "web")
	f.srv.AddRepo("acme", "api")
	inst := f.srv.AddInstallation(7, "acme", "web")
	now := f.clock.Now()
	jwt := signJWT(t, good, 7, now.Add(-time.Minute), now.Add(9*time.Minute))
	r := call(t, nil, "POST", fmt.Sprintf("%s/app/installations/%d/access_tokens", f.base, inst), jwt, nil)
	var tok struct {
		Token               string `json:"token"`
		ExpiresAt           string `json:"expires_at"`
		RepositorySelection string `json:"repository_selection"`
	}
	r.json(t, &tok)
	if r.Status != 201 || tok.RepositorySelection != "selected" || tok.ExpiresAt != now.Add(30*time.Minute).Format(time.RFC3339) {
		t.Fatalf("access token: %d %s", r.Status, r.Body)
	}
	vars := f.base + "/repos/acme/web/actions/variables"
	if r := call(t, nil, "GET", vars, tok.Token, nil); r.Status != 200 {
		t.Errorf("installation token on covered repo: %d", r.Status)
	}
	if r := call(t, nil, "GET", f.base+"/repos/acme/api/actions/variables", tok.Token, nil); r.Status != 404 {
		t.Errorf("installation token on uncovered repo: %d", r.Status)
	}
	if r := call(t, nil, "GET", f.hooks+"/deliveries", tok.Token, nil); r.Status != 200 {
		t.Errorf("installation token on its org's hook: %d", r.Status)
	}
	f.clock.Advance(30*time.Minute - time.Second)
	if r := call(t, nil, "GET", vars, tok.Token, nil); r.Status != 200 {
		t.Errorf("token just before expiry: %d", r.Status)
	}
	f.clock.Advance(time.Second)
	if r := call(t, nil, "GET", vars, tok.Token, nil); r.Status != 401 || !strings.Contains(string(r.Body), msgBadCredentials) {
		t.Errorf("expired token: %d %s", r.Status, r.Body)
	}
	// Tokens minted without HTTP behave the same.
	tok2, exp := f.srv.IssueInstallationToken(inst)
	if !exp.Equal(f.clock.Now().Add(30*time.Minute)) || call(t, nil, "GET", vars, tok2, nil).Status != 200 {
		t.Errorf("IssueInstallationToken: %s %v", tok2, exp)
	}
}
