package ghfake

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Limits on repository variables (https://docs.github.com/en/actions/learn-github-actions/variables).
const (
	MaxVariableValue = 48 * 1024 // bytes
	maxRepoVariables = 500
)

// variableName: letters, digits and _, not starting with a digit or GITHUB_.
var variableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

type variableJSON struct {
	Name      string `json:"name"`
	Value     string `json:"value"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (v *variable) json() variableJSON {
	return variableJSON{Name: v.name, Value: v.value, CreatedAt: isoTime(v.created), UpdatedAt: isoTime(v.updated)}
}

// Variable returns a repository variable's value (names are case-insensitive).
func (s *Server) Variable(owner, repo, name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.st.repos[repoKey(owner, repo)]
	if r == nil {
		return "", false
	}
	v := r.vars[strings.ToUpper(name)]
	if v == nil {
		return "", false
	}
	return v.value, true
}

// SetVariable creates or updates a repository variable, creating the repository if needed.
func (s *Server) SetVariable(owner, repo, name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.addRepoLocked(owner, repo)
	now := s.now().Truncate(time.Second)
	k := strings.ToUpper(name)
	if v := r.vars[k]; v != nil {
		v.value, v.updated = value, now
		return
	}
	r.vars[k] = &variable{name: k, value: value, created: now, updated: now}
}

// DeleteVariable removes a repository variable.
func (s *Server) DeleteVariable(owner, repo, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.st.repos[repoKey(owner, repo)]; r != nil {
		delete(r.vars, strings.ToUpper(name))
	}
}

// varRepo finds the route's repository if the caller may use it; s.mu held.
func (s *Server) varRepo(c *reqCtx) *repo {
	owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
	r := s.st.repos[repoKey(owner, name)]
	if r == nil || !c.p.canRepo(owner, name) || !c.hasRouteScope() {
		return nil
	}
	return r
}

// checkName validates a variable name as GitHub does; false means it answered 422.
func (c *reqCtx) checkName(name string) bool {
	if !variableName.MatchString(name) || strings.HasPrefix(strings.ToUpper(name), "GITHUB_") {
		c.invalid(fieldError{Resource: "ActionsVariable", Field: "name", Code: "invalid",
			Message: "Variable names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_), must not start with a number, and must not start with the GITHUB_ prefix."})
		return false
	}
	return true
}

func (c *reqCtx) checkValue(value string) bool {
	if len(value) > MaxVariableValue {
		c.invalid(fieldError{Resource: "ActionsVariable", Field: "value", Code: "invalid",
			Message: "Variable value exceeds the maximum size of 48 KB."})
		return false
	}
	return true
}

// listVariables serves GET /repos/{owner}/{repo}/actions/variables.
func (s *Server) listVariables(c *reqCtx) {
	s.mu.RLock()
	r := s.varRepo(c)
	if r == nil {
		s.mu.RUnlock()
		c.notFound()
		return
	}
	vars := make([]*variable, 0, len(r.vars))
	for _, v := range r.vars {
		vars = append(vars, v)
	}
	slices.SortFunc(vars, func(a, b *variable) int { return strings.Compare(a.name, b.name) })
	page, perPage := c.pageParams(10, 30) // https://docs.github.com/en/actions/learn-github-actions/variables: default 10, max 30
	out := []variableJSON{}
	for i := (page - 1) * perPage; i < len(vars) && i < page*perPage; i++ {
		out = append(out, vars[i].json())
	}
	s.mu.RUnlock()
	c.pageLinks(page, perPage, len(vars))
	c.json(http.StatusOK, map[string]any{"total_count": len(vars), "variables": out})
}

// getVariable serves GET /repos/{owner}/{repo}/actions/variables/{name}.
func (s *Server) getVariable(c *reqCtx) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.varRepo(c)
	if r == nil {
		c.notFound()
		return
	}
	v := r.vars[strings.ToUpper(c.r.PathValue("name"))]
	if v == nil {
		c.notFound()
		return
	}
	c.json(http.StatusOK, v.json())
}

type variableBody struct {
	Name  *string `json:"name"`
	Value *string `json:"value"`
}

func (c *reqCtx) readVariableBody() (variableBody, bool) {
	var b variableBody
	if err := json.NewDecoder(http.MaxBytesReader(c.w, c.r.Body, 1<<20)).Decode(&b); err != nil {
		c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return b, false
	}
	return b, true
}

// createVariable serves POST /repos/{owner}/{repo}/actions/variables.
func (s *Server) createVariable(c *reqCtx) {
	b, ok := c.readVariableBody()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.varRepo(c)
	if r == nil {
		c.notFound()
		return
	}
	if b.Name == nil || b.Value == nil {
		field := "name"
		if b.Name != nil {
			field = "value"
		}
		c.invalid(fieldError{Resource: "ActionsVariable", Field: field, Code: "missing_field"})
		return
	}
	if !c.checkName(*b.Name) || !c.checkValue(*b.Value) {
		return
	}
	k := strings.ToUpper(*b.Name)
	if r.vars[k] != nil {
		c.fail(http.StatusConflict, "Already exists - Variable already exists")
		return
	}
	if len(r.vars) >= maxRepoVariables {
		c.invalid(fieldError{Resource: "ActionsVariable", Code: "custom", Message: "Maximum number of variables reached."})
		return
	}
	now := s.now().Truncate(time.Second)
	r.vars[k] = &variable{name: k, value: *b.Value, created: now, updated: now}
	c.json(http.StatusCreated, struct{}{})
}

// updateVariable serves PATCH /repos/{owner}/{repo}/actions/variables/{name}.
func (s *Server) updateVariable(c *reqCtx) {
	b, ok := c.readVariableBody()
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.varRepo(c)
	if r == nil {
		c.notFound()
		return
	}
	if b.Name != nil && !c.checkName(*b.Name) || b.Value != nil && !c.checkValue(*b.Value) {
		return
	}
	k := strings.ToUpper(c.r.PathValue("name"))
	v := r.vars[k]
	if v == nil {
		c.notFound()
		return
	}
	if b.Name != nil && strings.ToUpper(*b.Name) != k {
		nk := strings.ToUpper(*b.Name)
		if r.vars[nk] != nil {
			c.fail(http.StatusConflict, "Already exists - Variable already exists")
			return
		}
		delete(r.vars, k)
		v.name = nk
		r.vars[nk] = v
	}
	if b.Value != nil {
		v.value = *b.Value
	}
	v.updated = s.now().Truncate(time.Second)
	c.noContent()
}

// deleteVariable serves DELETE /repos/{owner}/{repo}/actions/variables/{name}.
func (s *Server) deleteVariable(c *reqCtx) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.varRepo(c)
	if r == nil {
		c.notFound()
		return
	}
	k := strings.ToUpper(c.r.PathValue("name"))
	if r.vars[k] == nil {
		c.notFound()
		return
	}
	delete(r.vars, k)
	c.noContent()
}
