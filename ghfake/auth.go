package ghfake

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Token is an access token the emulator accepts (a PAT, classic or fine-grained).
type Token struct {
	Value  string   `yaml:"value" json:"value"`
	Scopes []string `yaml:"scopes" json:"scopes"` // non-nil: a classic token with these scopes, enforced and reported in X-OAuth-Scopes
	Orgs   []string `yaml:"orgs" json:"orgs"`     // organizations (and all their repositories) it may act on
	Repos  []string `yaml:"repos" json:"repos"`   // "owner/name" repositories it may act on
	All    bool     `yaml:"all" json:"all"`       // access to everything
	Login  string   `yaml:"login" json:"login"`   // the user's login (issues, comments); "": "user-ID"
}

// App is a GitHub App.
type App struct {
	ID        int64
	Slug      string
	Name      string
	PublicKey *rsa.PublicKey
	ClientID  string // optional; accepted as JWT iss like the numeric id
	Owner     string // optional owner login; "": "ghfake"
}

type instToken struct {
	value   string
	instID  int64
	expires time.Time
	repos   []string // narrowed repositories (names); nil: the installation's
}

// authState holds credentials; guarded by Server.mu.
type authState struct {
	tokens   map[string]*Token
	userIDs  map[string]int64
	instToks map[string]*instToken
}

func (a *authState) init() {
	a.tokens = map[string]*Token{}
	a.userIDs = map[string]int64{}
	a.instToks = map[string]*instToken{}
}

// AddToken registers a token (replacing one with the same value).
func (s *Server) AddToken(t Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Scopes = slices.Clone(t.Scopes)
	t.Orgs = slices.Clone(t.Orgs)
	t.Repos = slices.Clone(t.Repos)
	s.auth.tokens[t.Value] = &t
	if _, ok := s.auth.userIDs[t.Value]; !ok {
		s.auth.userIDs[t.Value] = 1000001 + int64(len(s.auth.userIDs))
	}
}

// AddApp registers a GitHub App and creates its hook (with no URL until SetAppHook).
func (s *Server) AddApp(a App) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.Slug == "" {
		a.Slug = "app-" + strconv.FormatInt(a.ID, 10)
	}
	if a.Name == "" {
		a.Name = a.Slug
	}
	if a.Owner == "" {
		a.Owner = "ghfake"
	}
	if a.ClientID == "" {
		a.ClientID = "Iv1." + strconv.FormatInt(a.ID, 16)
	}
	if old := s.st.apps[a.ID]; old != nil {
		old.App = a
		return
	}
	h := s.newHookLocked(appHook, 0, HookConfig{})
	h.appID = a.ID
	s.st.apps[a.ID] = &app{App: a, created: s.now().Truncate(time.Second), hookID: h.id}
}

// SetAppHook sets the configuration of an app's hook and returns the hook's id.
// It panics on an unknown app.
func (s *Server) SetAppHook(appID int64, cfg HookConfig) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.apps[appID]
	if a == nil {
		panic(fmt.Sprintf("ghfake: unknown app %d", appID))
	}
	h := s.st.hooks[a.hookID]
	h.cfg = normConfig(cfg)
	h.updated = s.now().Truncate(time.Second)
	return h.id
}

// AppHookID returns the id of an app's hook (0 for an unknown app).
func (s *Server) AppHookID(appID int64) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if a := s.st.apps[appID]; a != nil {
		return a.hookID
	}
	return 0
}

// AddInstallation installs an app on an organization (created if needed) and
// returns the installation id. With repos (names within account) the
// installation covers only those; otherwise all of the account's repositories.
// It panics on an unknown app.
func (s *Server) AddInstallation(appID int64, account string, repos ...string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.st.apps[appID]
	if a == nil {
		panic(fmt.Sprintf("ghfake: unknown app %d", appID))
	}
	o := s.addOrgLocked(account)
	var names []string
	for _, r := range repos {
		r = strings.TrimPrefix(r, o.login+"/")
		names = append(names, s.addRepoLocked(o.login, r).name)
	}
	in := &installation{id: s.st.nextInst, appID: appID, account: o.login, repos: names, created: s.now().Truncate(time.Second)}
	s.st.nextInst++
	s.st.insts[in.id] = in
	a.insts = append(a.insts, in.id)
	return in.id
}

// IssueInstallationToken mints an installation token as
// POST /app/installations/{id}/access_tokens would, for tests that do not
// want to sign a JWT. It panics on an unknown installation.
func (s *Server) IssueInstallationToken(installationID int64) (token string, expires time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.insts[installationID] == nil {
		panic(fmt.Sprintf("ghfake: unknown installation %d", installationID))
	}
	t := s.mintLocked(installationID, nil)
	return t.value, t.expires
}

func (s *Server) mintLocked(instID int64, repos []string) *instToken {
	t := &instToken{value: "ghs_" + randomAlnum(36), instID: instID, repos: repos,
		expires: s.now().Add(s.tokenTTL).Truncate(time.Second)}
	s.auth.instToks[t.value] = t
	return t
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// ---- who is calling ----

type authKind uint8

const (
	authToken    authKind = iota // PAT or installation token
	authJWT                      // the App's JWT
	authOptional                 // anything, including nothing (/rate_limit)
)

type principalKind uint8

const (
	anonymous principalKind = iota
	patUser
	installationBot
	appJWT
)

// principal is the caller as authentication sees it.
type principal struct {
	kind    principalKind
	key     string // rate-limit, violation and log key; never the credential itself
	userID  int64
	tok     *Token
	inst    *installation
	instTok *instToken
	app     *app
	authErr string // non-empty: answer 401 with this message
}

// Messages GitHub sends with 401s.
const (
	msgBadCredentials = "Bad credentials"
	msgRequiresAuth   = "Requires authentication"
	msgJWTUndecodable = "A JSON web token could not be decoded"
	msgJWTExpired     = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	msgJWTTooFar      = "'Expiration time' claim ('exp') is too far in the future"
	msgJWTIssuedAt    = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	msgJWTNoApp       = "Integration not found"
)

// JWT limits (https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app), checked on the emulator clock.
const (
	jwtMaxLifetime = 10 * time.Minute
	jwtSkew        = 60 * time.Second // tolerance for clocks; also lets the docs' iat=now-60, exp=now+600 pass
)

// resolve identifies the caller; s.mu must be held (read).
func (s *Server) resolve(r *http.Request, kind authKind) *principal {
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	p := &principal{key: "ip:" + ip}
	cred := credential(r.Header.Get("Authorization"))
	if cred == "" {
		if kind != authOptional {
			p.authErr = msgRequiresAuth
		}
		return p
	}
	if isJWT(cred) {
		if kind != authJWT {
			// A JWT is no token: GitHub looks it up as one and fails.
			p.authErr = msgBadCredentials
			return p
		}
		a, msg := s.verifyJWT(cred)
		if a == nil {
			p.authErr = msg
			return p
		}
		p.kind, p.app, p.key = appJWT, a, "app:"+strconv.FormatInt(a.ID, 10)
		return p
	}
	if kind == authJWT {
		p.authErr = msgJWTUndecodable
		return p
	}
	if t := s.auth.tokens[cred]; t != nil {
		p.kind, p.tok, p.userID = patUser, t, s.auth.userIDs[cred]
		p.key = userKey(p.userID)
		return p
	}
	if it := s.auth.instToks[cred]; it != nil && s.now().Before(it.expires) {
		if in := s.st.insts[it.instID]; in != nil {
			p.kind, p.instTok, p.inst, p.key = installationBot, it, in, "installation:"+strconv.FormatInt(in.id, 10)
			return p
		}
	}
	p.authErr = msgBadCredentials
	return p
}

// credential extracts the secret from "token X", "Bearer X" (any case).
func credential(h string) string {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "token", "bearer":
		return strings.TrimSpace(rest)
	}
	return ""
}

func isJWT(s string) bool {
	return strings.HasPrefix(s, "eyJ") && strings.Count(s, ".") == 2
}

// verifyJWT checks an App JWT on the emulator clock; s.mu must be held.
func (s *Server) verifyJWT(raw string) (*app, string) {
	claims := jwt.MapClaims{}
	var found *app
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	_, err := parser.ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) {
		found = s.appByIssuer(claims["iss"])
		if found == nil || found.PublicKey == nil {
			return nil, errNoApp
		}
		return found.PublicKey, nil
	})
	if err != nil {
		if errors.Is(err, errNoApp) {
			return nil, msgJWTNoApp
		}
		return nil, msgJWTUndecodable
	}
	now := s.now()
	exp, errExp := claims.GetExpirationTime()
	iat, errIat := claims.GetIssuedAt()
	switch {
	case errExp != nil || exp == nil || !now.Before(exp.Time):
		return nil, msgJWTExpired
	case exp.Time.After(now.Add(jwtMaxLifetime + jwtSkew)):
		return nil, msgJWTTooFar
	case errIat != nil || iat == nil || iat.Time.After(now.Add(jwtSkew)):
		return nil, msgJWTIssuedAt
	case exp.Time.Sub(iat.Time) > jwtMaxLifetime+jwtSkew:
		return nil, msgJWTTooFar
	}
	return found, ""
}

var errNoApp = errors.New("ghfake: no such app")

// appByIssuer finds the app named by iss: its id (number or string) or client id.
func (s *Server) appByIssuer(iss any) *app {
	switch v := iss.(type) {
	case float64:
		return s.st.apps[int64(v)]
	case string:
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			return s.st.apps[id]
		}
		for _, a := range s.st.apps {
			if a.ClientID == v {
				return a
			}
		}
	}
	return nil
}

// canOrg reports whether the caller may act on an organization's hooks.
func (p *principal) canOrg(login string) bool {
	switch p.kind {
	case patUser:
		return p.tok.All || containsFold(p.tok.Orgs, login)
	case installationBot:
		return strings.EqualFold(p.inst.account, login)
	}
	return false
}

// canRepo reports whether the caller may act on a repository.
func (p *principal) canRepo(owner, name string) bool {
	switch p.kind {
	case patUser:
		return p.tok.All || containsFold(p.tok.Orgs, owner) || containsFold(p.tok.Repos, owner+"/"+name)
	case installationBot:
		if !strings.EqualFold(p.inst.account, owner) {
			return false
		}
		if p.instTok.repos != nil && !containsFold(p.instTok.repos, name) {
			return false
		}
		return p.inst.repos == nil || containsFold(p.inst.repos, name)
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// userKey is the caller key of a token's user: GitHub limits a token's user,
// and the key must not carry the token.
func userKey(id int64) string { return "user:" + strconv.FormatInt(id, 10) }

// TokenCaller returns the caller a token is logged and limited as
// ("user:ID" for a personal access token, "installation:ID" for an
// installation token), or "" for a token the emulator does not know. Logs
// and violations name callers this way so that no token appears in them.
func (s *Server) TokenCaller(token string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.auth.tokens[token]; ok {
		return userKey(s.auth.userIDs[token])
	}
	if t := s.auth.instToks[token]; t != nil {
		return "installation:" + strconv.FormatInt(t.instID, 10)
	}
	return ""
}
