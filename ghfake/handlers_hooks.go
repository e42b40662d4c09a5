package ghfake

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// hookJSON is GitHub's org-hook and (with the repo-only fields) hook schema.
type hookJSON struct {
	Type          string         `json:"type"`
	ID            int64          `json:"id"`
	Name          string         `json:"name"`
	Active        bool           `json:"active"`
	Events        []string       `json:"events"`
	Config        hookConfigJSON `json:"config"`
	UpdatedAt     string         `json:"updated_at"`
	CreatedAt     string         `json:"created_at"`
	URL           string         `json:"url"`
	TestURL       string         `json:"test_url,omitempty"`
	PingURL       string         `json:"ping_url"`
	DeliveriesURL string         `json:"deliveries_url"`
	LastResponse  *lastResponse  `json:"last_response,omitempty"`
}

type hookConfigJSON struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	InsecureSSL string `json:"insecure_ssl"`
	Secret      string `json:"secret,omitempty"`
}

type lastResponse struct {
	Code    *int    `json:"code"`
	Status  *string `json:"status"`
	Message *string `json:"message"`
}

// hookJSON renders a hook; s.mu held.
func (s *Server) hookJSON(base string, h *hook) hookJSON {
	self := base + "/orgs/" + h.owner + "/hooks/" + strconv.FormatInt(h.id, 10)
	if h.kind == repoHook {
		self = base + "/repos/" + h.owner + "/" + h.repo + "/hooks/" + strconv.FormatInt(h.id, 10)
	}
	j := hookJSON{
		Type: "Organization", ID: h.id, Name: "web", Active: *h.cfg.Active, Events: h.cfg.Events,
		Config:    hookConfigJSON{URL: h.cfg.URL, ContentType: h.cfg.ContentType, InsecureSSL: "0"},
		UpdatedAt: isoTime(h.updated), CreatedAt: isoTime(h.created),
		URL: self, PingURL: self + "/pings", DeliveriesURL: self + "/deliveries",
	}
	if h.cfg.InsecureSSL {
		j.Config.InsecureSSL = "1"
	}
	if h.cfg.Secret != "" {
		j.Config.Secret = "********" // GitHub never shows the secret
	}
	if h.kind == repoHook {
		j.Type, j.TestURL = "Repository", self+"/test"
		j.LastResponse = s.lastResponse(h)
	}
	return j
}

// lastResponse summarizes a repository hook's newest attempt (https://docs.github.com/en/rest/webhooks/repos).
func (s *Server) lastResponse(h *hook) *lastResponse {
	if len(h.attempts) == 0 {
		st := "unused"
		return &lastResponse{Status: &st}
	}
	a := &h.attempts[len(h.attempts)-1]
	code, msg, st := int(a.code), s.names.list[a.status], "active"
	if msg != "OK" {
		st = "misconfigured"
	}
	return &lastResponse{Code: &code, Status: &st, Message: &msg}
}

// listOrgHooks serves GET /orgs/{org}/hooks.
func (s *Server) listOrgHooks(c *reqCtx) {
	org := c.r.PathValue("org")
	s.mu.RLock()
	if s.st.orgs[lower(org)] == nil || !c.p.canOrg(org) || !c.hasRouteScope() {
		s.mu.RUnlock()
		c.notFound()
		return
	}
	s.listHooks(c, func(h *hook) bool { return h.kind == orgHook && strings.EqualFold(h.owner, org) })
}

// listRepoHooks serves GET /repos/{owner}/{repo}/hooks.
func (s *Server) listRepoHooks(c *reqCtx) {
	owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
	s.mu.RLock()
	if s.st.repos[repoKey(owner, name)] == nil || !c.p.canRepo(owner, name) || !c.hasRouteScope() {
		s.mu.RUnlock()
		c.notFound()
		return
	}
	s.listHooks(c, func(h *hook) bool {
		return h.kind == repoHook && strings.EqualFold(h.owner, owner) && strings.EqualFold(h.repo, name)
	})
}

// listHooks answers one page of the hooks that match; called with s.mu read-held, releases it.
func (s *Server) listHooks(c *reqCtx, match func(*hook) bool) {
	var hooks []*hook
	for _, h := range s.st.hooks {
		if match(h) {
			hooks = append(hooks, h)
		}
	}
	slices.SortFunc(hooks, func(a, b *hook) int { return int(a.id - b.id) })
	page, perPage := c.pageParams(30, 100)
	out := []hookJSON{}
	for i := (page - 1) * perPage; i < len(hooks) && i < page*perPage; i++ {
		out = append(out, s.hookJSON(c.base(), hooks[i]))
	}
	s.mu.RUnlock()
	c.pageLinks(page, perPage, len(hooks))
	c.cacheableJSON(out)
}

// getHook serves GET /orgs/{org}/hooks/{hook_id} and GET /repos/{owner}/{repo}/hooks/{hook_id}.
func (s *Server) getHook(c *reqCtx) {
	s.mu.RLock()
	h := s.hookFor(c)
	var j hookJSON
	if h != nil {
		j = s.hookJSON(c.base(), h)
	}
	s.mu.RUnlock()
	if h == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, j)
}
