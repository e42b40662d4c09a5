package ghfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// appPermissions is what every emulated app and installation is granted;
// the emulator does not restrict installations by permission.
var appPermissions = map[string]string{"metadata": "read", "organization_hooks": "write", "repository_hooks": "write"}

func nodeID(kind string, id int64) string {
	return base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("0%d:%s%d", len(kind), kind, id)))
}

// htmlBase is the web UI root: github.com, or the GHES host itself.
func (c *reqCtx) htmlBase() string {
	if c.s.opts.Platform == GHES {
		return strings.TrimSuffix(c.base(), ghesPrefix)
	}
	return "https://github.com"
}

// account renders a user or organization as a simple-user. With
// enterpriseFields it also carries the enterprise schema's fields, because
// GitHub's description of GET /app/installations combines the two with allOf
// (while the app's owner is oneOf them, so must match only one).
func (c *reqCtx) account(login string, id int64, typ string, enterpriseFields bool) map[string]any {
	api := c.base()
	kind := "orgs"
	if typ == "User" {
		kind = "users"
	}
	m := map[string]any{
		"login": login, "id": id, "node_id": nodeID(typ, id),
		"avatar_url": "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(id, 10) + "?v=4", "gravatar_id": "",
		"url": api + "/" + kind + "/" + login, "html_url": c.htmlBase() + "/" + login,
		"followers_url": api + "/users/" + login + "/followers", "following_url": api + "/users/" + login + "/following{/other_user}",
		"gists_url": api + "/users/" + login + "/gists{/gist_id}", "starred_url": api + "/users/" + login + "/starred{/owner}{/repo}",
		"subscriptions_url": api + "/users/" + login + "/subscriptions", "organizations_url": api + "/users/" + login + "/orgs",
		"repos_url": api + "/" + kind + "/" + login + "/repos", "events_url": api + "/" + kind + "/" + login + "/events",
		"received_events_url": api + "/users/" + login + "/received_events", "type": typ, "site_admin": false,
	}
	if enterpriseFields {
		m["name"], m["slug"] = login, strings.ToLower(login)
		m["created_at"], m["updated_at"] = "2020-01-01T00:00:00Z", "2020-01-01T00:00:00Z"
	}
	return m
}

// getApp serves GET /app.
func (s *Server) getApp(c *reqCtx) {
	s.mu.RLock()
	a := c.p.app
	body := map[string]any{
		"id": a.ID, "slug": a.Slug, "node_id": nodeID("Integration", a.ID), "client_id": a.ClientID,
		"owner": c.account(a.Owner, 1, "User", false), "name": a.Name, "description": "",
		"external_url": "https://example.com", "html_url": c.htmlBase() + "/apps/" + a.Slug,
		"created_at": isoTime(a.created), "updated_at": isoTime(a.created),
		"permissions": appPermissions, "events": []string{}, "installations_count": len(a.insts),
	}
	s.mu.RUnlock()
	c.json(http.StatusOK, body)
}

// installationJSON renders an installation; s.mu held.
func (s *Server) installationJSON(c *reqCtx, in *installation) map[string]any {
	a := s.st.apps[in.appID]
	o := s.st.orgs[lower(in.account)]
	sel := "all"
	if in.repos != nil {
		sel = "selected"
	}
	return map[string]any{
		"id": in.id, "account": c.account(o.login, o.id, "Organization", true), "repository_selection": sel,
		"access_tokens_url": c.base() + "/app/installations/" + strconv.FormatInt(in.id, 10) + "/access_tokens",
		"repositories_url":  c.base() + "/installation/repositories",
		"html_url":          c.htmlBase() + "/organizations/" + o.login + "/settings/installations/" + strconv.FormatInt(in.id, 10),
		"app_id":            in.appID, "client_id": a.ClientID, "app_slug": a.Slug,
		"target_id": o.id, "target_type": "Organization",
		"permissions": appPermissions, "events": []string{},
		"created_at": isoTime(in.created), "updated_at": isoTime(in.created),
		"single_file_name": nil, "has_multiple_single_files": false, "single_file_paths": []string{},
		"suspended_by": nil, "suspended_at": nil,
	}
}

// listInstallations serves GET /app/installations.
func (s *Server) listInstallations(c *reqCtx) {
	s.mu.RLock()
	ids := slices.Clone(c.p.app.insts)
	page, perPage := c.pageParams(30, 100)
	out := []map[string]any{}
	for i := (page - 1) * perPage; i < len(ids) && i < page*perPage; i++ {
		out = append(out, s.installationJSON(c, s.st.insts[ids[i]]))
	}
	s.mu.RUnlock()
	c.pageLinks(page, perPage, len(ids))
	c.json(http.StatusOK, out)
}

// findInstallation returns the caller app's installation matching f; s.mu held.
func (s *Server) findInstallation(c *reqCtx, f func(*installation) bool) *installation {
	for _, id := range c.p.app.insts {
		if in := s.st.insts[id]; f(in) {
			return in
		}
	}
	return nil
}

// getOrgInstallation serves GET /orgs/{org}/installation.
func (s *Server) getOrgInstallation(c *reqCtx) {
	org := c.r.PathValue("org")
	s.mu.RLock()
	defer s.mu.RUnlock()
	in := s.findInstallation(c, func(in *installation) bool { return strings.EqualFold(in.account, org) })
	if in == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, s.installationJSON(c, in))
}

// getRepoInstallation serves GET /repos/{owner}/{repo}/installation.
func (s *Server) getRepoInstallation(c *reqCtx) {
	owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.st.repos[repoKey(owner, name)] == nil {
		c.notFound()
		return
	}
	in := s.findInstallation(c, func(in *installation) bool {
		return strings.EqualFold(in.account, owner) && (in.repos == nil || containsFold(in.repos, name))
	})
	if in == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, s.installationJSON(c, in))
}

// createAccessToken serves POST /app/installations/{installation_id}/access_tokens.
func (s *Server) createAccessToken(c *reqCtx) {
	var body struct {
		Repositories  []string          `json:"repositories"`
		RepositoryIDs []int64           `json:"repository_ids"`
		Permissions   map[string]string `json:"permissions"`
	}
	raw, _ := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, 1<<20))
	if len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			c.fail(http.StatusBadRequest, "Problems parsing JSON")
			return
		}
	}
	id, ok := c.int64Param("installation_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.st.insts[id]
	if !ok || in == nil || in.appID != c.p.app.ID {
		c.notFound()
		return
	}
	covers := func(name string) bool {
		return s.st.repos[repoKey(in.account, name)] != nil && (in.repos == nil || containsFold(in.repos, name))
	}
	var repos []string
	for _, name := range body.Repositories {
		if !covers(name) {
			c.invalid(fieldError{Resource: "Installation", Field: "repositories", Code: "invalid",
				Message: "There is at least one repository that does not exist or is not accessible to the parent installation."})
			return
		}
		repos = append(repos, name)
	}
	for _, rid := range body.RepositoryIDs {
		found := ""
		for _, r := range s.st.repos {
			if r.id == rid && strings.EqualFold(r.owner, in.account) && covers(r.name) {
				found = r.name
			}
		}
		if found == "" {
			c.invalid(fieldError{Resource: "Installation", Field: "repository_ids", Code: "invalid",
				Message: "There is at least one repository that does not exist or is not accessible to the parent installation."})
			return
		}
		repos = append(repos, found)
	}
	perms := appPermissions
	if len(body.Permissions) > 0 {
		perms = body.Permissions
	}
	t := s.mintLocked(in.id, repos)
	sel := "all"
	if repos != nil || in.repos != nil {
		sel = "selected"
	}
	c.json(http.StatusCreated, map[string]any{
		"token": t.value, "expires_at": isoTime(t.expires), "permissions": perms, "repository_selection": sel,
	})
}
