package ghfake

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// route is one operation the emulator serves.
type route struct {
	method string
	path   string   // pattern as GitHub documents it, e.g. /orgs/{org}/hooks
	name   string   // "METHOD /path", the key Requests() counts by
	auth   authKind // which credential the operation takes
	scopes string   // X-Accepted-OAuth-Scopes for classic tokens
	doc    string   // docs.github.com path for documentation_url
	free   bool     // does not count against the primary limit (/rate_limit)
	h      func(*reqCtx)
}

func (s *Server) routes() {
	const (
		orgDocs  = "/rest/orgs/webhooks#"
		repoDocs = "/rest/repos/webhooks#"
		appDocs  = "/rest/apps/webhooks#"
		appsDocs = "/rest/apps/apps#"
		varDocs  = "/rest/actions/variables#"
		issDocs  = "/rest/issues/issues#"
		comDocs  = "/rest/issues/comments#"
	)
	table := []route{
		{method: "GET", path: "/orgs/{org}/hooks", scopes: "admin:org_hook", doc: orgDocs + "list-organization-webhooks", h: s.listOrgHooks},
		{method: "GET", path: "/orgs/{org}/hooks/{hook_id}", scopes: "admin:org_hook", doc: orgDocs + "get-an-organization-webhook", h: s.getHook},
		{method: "GET", path: "/orgs/{org}/hooks/{hook_id}/deliveries", scopes: "admin:org_hook", doc: orgDocs + "list-deliveries-for-an-organization-webhook", h: s.listDeliveries},
		{method: "GET", path: "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}", scopes: "admin:org_hook", doc: orgDocs + "get-a-webhook-delivery-for-an-organization-webhook", h: s.getDelivery},
		{method: "POST", path: "/orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts", scopes: "admin:org_hook", doc: orgDocs + "redeliver-a-delivery-for-an-organization-webhook", h: s.redeliver},
		{method: "POST", path: "/orgs/{org}/hooks/{hook_id}/pings", scopes: "admin:org_hook", doc: orgDocs + "ping-an-organization-webhook", h: s.pingHook},
		{method: "GET", path: "/repos/{owner}/{repo}/hooks", scopes: "admin:repo_hook, read:repo_hook, repo", doc: repoDocs + "list-repository-webhooks", h: s.listRepoHooks},
		{method: "GET", path: "/repos/{owner}/{repo}/hooks/{hook_id}", scopes: "admin:repo_hook, read:repo_hook, repo", doc: repoDocs + "get-a-repository-webhook", h: s.getHook},
		{method: "GET", path: "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries", scopes: "admin:repo_hook, read:repo_hook, repo", doc: repoDocs + "list-deliveries-for-a-repository-webhook", h: s.listDeliveries},
		{method: "GET", path: "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}", scopes: "admin:repo_hook, read:repo_hook, repo", doc: repoDocs + "get-a-delivery-for-a-repository-webhook", h: s.getDelivery},
		{method: "POST", path: "/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts", scopes: "admin:repo_hook, write:repo_hook, repo", doc: repoDocs + "redeliver-a-delivery-for-a-repository-webhook", h: s.redeliver},
		{method: "POST", path: "/repos/{owner}/{repo}/hooks/{hook_id}/pings", scopes: "admin:repo_hook, write:repo_hook, repo", doc: repoDocs + "ping-a-repository-webhook", h: s.pingHook},
		{method: "GET", path: "/app/hook/deliveries", auth: authJWT, doc: appDocs + "list-deliveries-for-an-app-webhook", h: s.listDeliveries},
		{method: "GET", path: "/app/hook/deliveries/{delivery_id}", auth: authJWT, doc: appDocs + "get-a-delivery-for-an-app-webhook", h: s.getDelivery},
		{method: "POST", path: "/app/hook/deliveries/{delivery_id}/attempts", auth: authJWT, doc: appDocs + "redeliver-a-delivery-for-an-app-webhook", h: s.redeliver},
		{method: "GET", path: "/app", auth: authJWT, doc: appsDocs + "get-the-authenticated-app", h: s.getApp},
		{method: "GET", path: "/app/installations", auth: authJWT, doc: appsDocs + "list-installations-for-the-authenticated-app", h: s.listInstallations},
		{method: "GET", path: "/orgs/{org}/installation", auth: authJWT, doc: appsDocs + "get-an-organization-installation-for-the-authenticated-app", h: s.getOrgInstallation},
		{method: "GET", path: "/repos/{owner}/{repo}/installation", auth: authJWT, doc: appsDocs + "get-a-repository-installation-for-the-authenticated-app", h: s.getRepoInstallation},
		{method: "POST", path: "/app/installations/{installation_id}/access_tokens", auth: authJWT, doc: appsDocs + "create-an-installation-access-token-for-an-app", h: s.createAccessToken},
		{method: "GET", path: "/repos/{owner}/{repo}/actions/variables", scopes: "repo", doc: varDocs + "list-repository-variables", h: s.listVariables},
		{method: "POST", path: "/repos/{owner}/{repo}/actions/variables", scopes: "repo", doc: varDocs + "create-a-repository-variable", h: s.createVariable},
		{method: "GET", path: "/repos/{owner}/{repo}/actions/variables/{name}", scopes: "repo", doc: varDocs + "get-a-repository-variable", h: s.getVariable},
		{method: "PATCH", path: "/repos/{owner}/{repo}/actions/variables/{name}", scopes: "repo", doc: varDocs + "update-a-repository-variable", h: s.updateVariable},
		{method: "DELETE", path: "/repos/{owner}/{repo}/actions/variables/{name}", scopes: "repo", doc: varDocs + "delete-a-repository-variable", h: s.deleteVariable},
		{method: "GET", path: "/repos/{owner}/{repo}/issues", scopes: "repo", doc: issDocs + "list-repository-issues", h: s.listIssues},
		{method: "POST", path: "/repos/{owner}/{repo}/issues", scopes: "repo", doc: issDocs + "create-an-issue", h: s.createIssue},
		{method: "GET", path: "/repos/{owner}/{repo}/issues/{issue_number}", scopes: "repo", doc: issDocs + "get-an-issue", h: s.getIssue},
		{method: "PATCH", path: "/repos/{owner}/{repo}/issues/{issue_number}", scopes: "repo", doc: issDocs + "update-an-issue", h: s.updateIssue},
		{method: "GET", path: "/repos/{owner}/{repo}/issues/{issue_number}/comments", scopes: "repo", doc: comDocs + "list-issue-comments", h: s.listComments},
		{method: "POST", path: "/repos/{owner}/{repo}/issues/{issue_number}/comments", scopes: "repo", doc: comDocs + "create-an-issue-comment", h: s.createComment},
		{method: "GET", path: "/rate_limit", auth: authOptional, free: true, doc: "/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user", h: s.getRateLimit},
	}
	s.mux = http.NewServeMux()
	for i := range table {
		rt := &table[i]
		rt.name = rt.method + " " + rt.path
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serve(rt, w, r) })
		s.mux.Handle(rt.name, h)
		s.mux.Handle(rt.method+" "+ghesPrefix+rt.path, h)
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, ghesPrefix)
		rt := &route{method: r.Method, path: path, name: r.Method + " " + path, doc: "/rest",
			h: func(c *reqCtx) { c.fail(http.StatusNotFound, "Not Found") }}
		s.serve(rt, w, r)
	})
	s.handler = s.mux
}

// reqCtx carries one request through the middleware and its handler.
type reqCtx struct {
	s       *Server
	w       *respWriter
	r       *http.Request
	rt      *route
	p       *principal
	rid     string
	billed  bool           // counted against the primary limit (or would be, with rate limiting off)
	charged *primaryWindow // the window the primary charge went to, for a 304's refund
}

// respWriter counts the status before any byte leaves (so a client that
// has its answer can rely on the counters) and lets FaultReset hijack.
type respWriter struct {
	http.ResponseWriter
	status   int
	onStatus func(int)
}

func (w *respWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		w.onStatus(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if hj, ok := w.ResponseWriter.(http.Hijacker); ok {
		return hj.Hijack()
	}
	return nil, nil, fmt.Errorf("ghfake: connection cannot be hijacked")
}

// serve runs GitHub's request pipeline for one route: common headers, API
// version, authentication, limits and injected faults, then the handler.
func (s *Server) serve(rt *route, w http.ResponseWriter, r *http.Request) {
	s.stats.count(rt.name)
	rw := &respWriter{ResponseWriter: w}
	c := &reqCtx{s: s, w: rw, r: r, rt: rt, rid: s.requestID(), p: &principal{}}
	rw.onStatus = func(code int) { s.record(c, code) }
	h := w.Header()
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-GitHub-Request-Id", c.rid)
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", APIVersion)
	s.mu.RLock()
	c.p = s.resolve(r, rt.auth)
	s.mu.RUnlock()
	v := r.Header.Get("X-GitHub-Api-Version")
	if v == "" {
		v = APIVersion
	}
	if !s.supportsVersion(v) {
		c.failDoc(http.StatusBadRequest, fmt.Sprintf("API version '%s' is not supported.", v), "/rest/about-the-rest-api/api-versions")
		return
	}
	h.Set("X-GitHub-Api-Version-Selected", v)
	if c.p.kind == patUser && c.p.tok.Scopes != nil {
		h.Set("X-OAuth-Scopes", strings.Join(c.p.tok.Scopes, ", "))
		h.Set("X-Accepted-OAuth-Scopes", rt.scopes)
	}
	// Every answer carries the caller's rate-limit headers, even a fault's;
	// a caller that failed authentication is limited by its address.
	limited := c.p
	if c.p.authErr != "" {
		limited = &principal{key: c.p.key}
	}
	s.rateHeaders(c, limited, false)
	if !rt.free && s.blocked(c) {
		return
	}
	if s.applyFaults(c) {
		return
	}
	if c.p.authErr != "" {
		c.failDoc(http.StatusUnauthorized, c.p.authErr, "/rest")
		return
	}
	if !rt.free && !s.rateHeaders(c, c.p, true) {
		return
	}
	c.billed = !rt.free
	if s.opts.Budget != nil && !rt.free {
		release, ok := s.spend(c)
		if !ok {
			return
		}
		defer release()
	}
	rt.h(c)
}

// supportsVersion reports whether the platform serves an API version
// (https://docs.github.com/en/rest/about-the-rest-api/api-versions: github.com also has 2026-03-10; GHES 3.19 only 2022-11-28).
func (s *Server) supportsVersion(v string) bool {
	return v == APIVersion || (v == "2026-03-10" && s.opts.Platform == DotCom)
}

func (s *Server) requestID() string {
	n := s.reqSeq.Add(1)
	return fmt.Sprintf("%04X:%06X:%07X:%07X:%08X", n%0xFFFF, n*7919%0xFFFFFF, n*104729%0xFFFFFFF, n, uint32(s.clock.Now().Unix()))
}

// ---- responses ----

func (c *reqCtx) json(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	c.w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(status)
	c.w.Write(b)
}

func (c *reqCtx) noContent() { c.w.WriteHeader(http.StatusNoContent) }

// apiError is GitHub's basic-error / validation-error body.
type apiError struct {
	Message string       `json:"message"`
	Errors  []fieldError `json:"errors,omitempty"`
	DocURL  string       `json:"documentation_url"`
	Status  string       `json:"status"`
}

type fieldError struct {
	Resource string `json:"resource,omitempty"`
	Field    string `json:"field,omitempty"`
	Code     string `json:"code"`
	Message  string `json:"message,omitempty"`
	Value    any    `json:"value,omitempty"`
}

// fail answers an error with the route's documentation URL.
func (c *reqCtx) fail(status int, msg string) { c.failDoc(status, msg, c.rt.doc) }

func (c *reqCtx) failDoc(status int, msg, doc string) {
	c.json(status, apiError{Message: msg, DocURL: c.s.docsURL(doc), Status: strconv.Itoa(status)})
}

func (c *reqCtx) notFound() { c.fail(http.StatusNotFound, "Not Found") }

// invalid answers 422 Validation Failed.
func (c *reqCtx) invalid(errs ...fieldError) {
	c.json(http.StatusUnprocessableEntity, apiError{Message: "Validation Failed", Errors: errs,
		DocURL: c.s.docsURL(c.rt.doc), Status: "422"})
}

// base is the API root the request used (scheme, host, /api/v3 or not).
func (c *reqCtx) base() string { return apiBase(c.r) }

// int64Param parses a numeric path parameter; ok false means 404.
func (c *reqCtx) int64Param(name string) (int64, bool) {
	v, err := strconv.ParseInt(c.r.PathValue(name), 10, 64)
	return v, err == nil
}

// pageParams reads page/per_page as GitHub does for page-numbered lists:
// junk and out-of-range values fall back to the defaults, per_page is capped.
func (c *reqCtx) pageParams(def, max int) (page, perPage int) {
	q := c.r.URL.Query()
	page, perPage = 1, def
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	if v, err := strconv.Atoi(q.Get("per_page")); err == nil && v > 0 {
		perPage = min(v, max)
	}
	return page, perPage
}

// pageLinks sets a page-numbered Link header (next, last, first, prev) as
// GitHub does for hook and variable lists.
func (c *reqCtx) pageLinks(page, perPage, total int) {
	last := (total + perPage - 1) / perPage
	if last <= 1 {
		return
	}
	u := c.base() + strings.TrimPrefix(c.r.URL.Path, ghesPrefix)
	link := func(p int, rel string) string {
		return fmt.Sprintf(`<%s?page=%d&per_page=%d>; rel="%s"`, u, p, perPage, rel)
	}
	var parts []string
	if page > 1 {
		parts = append(parts, link(page-1, "prev"))
	}
	if page < last {
		parts = append(parts, link(page+1, "next"), link(last, "last"))
	}
	if page > 1 {
		parts = append(parts, link(1, "first"))
	}
	c.w.Header().Set("Link", strings.Join(parts, ", "))
}

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }
