package ghfake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Issues, for the alerts a tool opens in an operations repository: list
// (state, labels, creator, since, sort, paging), create, get, update
// (title, body, state, labels) and comments (list, create). They are not
// in the OpenAPI subset; their shapes follow docs.github.com/en/rest/issues
// and go-github's Issue and IssueComment. Pull requests, assignees and
// milestones are not modelled (assignees is always [], milestone null).

// Issue is a repository issue as a test sees it.
type Issue struct {
	Number      int
	Title       string
	Body        string
	State       string // "open" or "closed"
	StateReason string // "", "completed", "not_planned", "duplicate" or "reopened"
	Labels      []string
	Creator     string // the login that opened it
	Comments    []IssueComment
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ClosedAt    time.Time // zero while open
}

// IssueComment is a comment on an issue.
type IssueComment struct {
	ID        int64
	Body      string
	User      string // login
	CreatedAt time.Time
}

type issue struct {
	id          int64
	number      int
	title, body string
	state       string
	stateReason string
	labels      []string
	user        actor
	closedBy    *actor
	comments    []*comment
	created     time.Time
	updated     time.Time
	closed      time.Time
}

type comment struct {
	id       int64
	body     string
	user     actor
	created  time.Time
	updated  time.Time
	issueNum int
}

type label struct {
	id    int64
	name  string
	color string
}

// actor is the user or bot that opened, closed or commented.
type actor struct {
	login string
	id    int64
	bot   bool
}

// issueState is a repository's issues and labels; guarded by Server.mu.
type issueState struct {
	issues []*issue          // by number - 1
	labels map[string]*label // key: lower-cased name
}

// issueIDs numbers issues, comments and labels across repositories.
type issueIDs struct {
	issue, comment, label int64
}

// accountOf is the actor a caller acts as; s.mu held.
func (s *Server) accountOf(p *principal) actor {
	switch p.kind {
	case patUser:
		login := p.tok.Login
		if login == "" {
			login = "user-" + strconv.FormatInt(p.userID, 10)
		}
		return actor{login: login, id: p.userID}
	case installationBot:
		slug := "app"
		if a := s.st.apps[p.inst.appID]; a != nil {
			slug = a.Slug
		}
		return actor{login: slug + "[bot]", id: 40000000 + p.inst.appID, bot: true}
	}
	return actor{login: "ghost", id: 10137}
}

// ---- JSON ----

type userJSON struct {
	Login     string `json:"login"`
	ID        int64  `json:"id"`
	NodeID    string `json:"node_id"`
	AvatarURL string `json:"avatar_url"`
	URL       string `json:"url"`
	HTMLURL   string `json:"html_url"`
	Type      string `json:"type"`
	SiteAdmin bool   `json:"site_admin"`
}

type labelJSON struct {
	ID          int64   `json:"id"`
	NodeID      string  `json:"node_id"`
	URL         string  `json:"url"`
	Name        string  `json:"name"`
	Color       string  `json:"color"`
	Default     bool    `json:"default"`
	Description *string `json:"description"`
}

type issueJSON struct {
	ID                int64       `json:"id"`
	NodeID            string      `json:"node_id"`
	URL               string      `json:"url"`
	RepositoryURL     string      `json:"repository_url"`
	LabelsURL         string      `json:"labels_url"`
	CommentsURL       string      `json:"comments_url"`
	EventsURL         string      `json:"events_url"`
	HTMLURL           string      `json:"html_url"`
	Number            int         `json:"number"`
	State             string      `json:"state"`
	StateReason       *string     `json:"state_reason"`
	Title             string      `json:"title"`
	Body              *string     `json:"body"`
	User              userJSON    `json:"user"`
	Labels            []labelJSON `json:"labels"`
	Assignee          *userJSON   `json:"assignee"`
	Assignees         []userJSON  `json:"assignees"`
	Milestone         *struct{}   `json:"milestone"`
	Locked            bool        `json:"locked"`
	ActiveLockReason  *string     `json:"active_lock_reason"`
	Comments          int         `json:"comments"`
	ClosedAt          *string     `json:"closed_at"`
	CreatedAt         string      `json:"created_at"`
	UpdatedAt         string      `json:"updated_at"`
	ClosedBy          *userJSON   `json:"closed_by"`
	AuthorAssociation string      `json:"author_association"`
}

type commentJSON struct {
	ID                int64    `json:"id"`
	NodeID            string   `json:"node_id"`
	URL               string   `json:"url"`
	HTMLURL           string   `json:"html_url"`
	Body              string   `json:"body"`
	User              userJSON `json:"user"`
	CreatedAt         string   `json:"created_at"`
	UpdatedAt         string   `json:"updated_at"`
	IssueURL          string   `json:"issue_url"`
	AuthorAssociation string   `json:"author_association"`
}

func (c *reqCtx) userJSON(a actor) userJSON {
	typ := "User"
	if a.bot {
		typ = "Bot"
	}
	login := url.PathEscape(a.login)
	return userJSON{Login: a.login, ID: a.id, NodeID: nodeID(typ, a.id), Type: typ,
		AvatarURL: "https://avatars.githubusercontent.com/u/" + strconv.FormatInt(a.id, 10) + "?v=4",
		URL:       c.base() + "/users/" + login, HTMLURL: c.htmlBase() + "/" + login}
}

func (c *reqCtx) issueJSON(r *repo, is *issue) issueJSON {
	rp := "/repos/" + r.owner + "/" + r.name
	self := c.base() + rp + "/issues/" + strconv.Itoa(is.number)
	j := issueJSON{
		ID: is.id, NodeID: nodeID("Issue", is.id), URL: self, RepositoryURL: c.base() + rp,
		LabelsURL: self + "/labels{/name}", CommentsURL: self + "/comments", EventsURL: self + "/events",
		HTMLURL: c.htmlBase() + "/" + r.owner + "/" + r.name + "/issues/" + strconv.Itoa(is.number),
		Number:  is.number, State: is.state, Title: is.title, User: c.userJSON(is.user),
		Labels: []labelJSON{}, Assignees: []userJSON{}, Comments: len(is.comments),
		CreatedAt: isoTime(is.created), UpdatedAt: isoTime(is.updated), AuthorAssociation: "NONE",
	}
	if is.stateReason != "" {
		j.StateReason = &is.stateReason
	}
	if is.body != "" {
		j.Body = &is.body
	}
	for _, name := range is.labels {
		if l := r.issues.labels[strings.ToLower(name)]; l != nil {
			j.Labels = append(j.Labels, labelJSON{ID: l.id, NodeID: nodeID("Label", l.id), Name: l.name, Color: l.color,
				URL: c.base() + rp + "/labels/" + url.PathEscape(l.name)})
		}
	}
	if !is.closed.IsZero() {
		t := isoTime(is.closed)
		j.ClosedAt = &t
	}
	if is.closedBy != nil {
		u := c.userJSON(*is.closedBy)
		j.ClosedBy = &u
	}
	return j
}

func (c *reqCtx) commentJSON(r *repo, cm *comment) commentJSON {
	rp := "/repos/" + r.owner + "/" + r.name
	return commentJSON{
		ID: cm.id, NodeID: nodeID("IssueComment", cm.id), URL: c.base() + rp + "/issues/comments/" + strconv.FormatInt(cm.id, 10),
		HTMLURL: c.htmlBase() + "/" + r.owner + "/" + r.name + "/issues/" + strconv.Itoa(cm.issueNum) + "#issuecomment-" + strconv.FormatInt(cm.id, 10),
		Body:    cm.body, User: c.userJSON(cm.user), CreatedAt: isoTime(cm.created), UpdatedAt: isoTime(cm.updated),
		IssueURL: c.base() + rp + "/issues/" + strconv.Itoa(cm.issueNum), AuthorAssociation: "NONE",
	}
}

// ---- handlers ----

// issueRepo finds the route's repository if the caller may use it; s.mu held.
func (s *Server) issueRepo(c *reqCtx) *repo {
	owner, name := c.r.PathValue("owner"), c.r.PathValue("repo")
	r := s.st.repos[repoKey(owner, name)]
	if r == nil || !c.p.canRepo(owner, name) || !c.hasRouteScope() {
		return nil
	}
	if r.issues.labels == nil {
		r.issues.labels = map[string]*label{}
	}
	return r
}

// findIssue finds the route's repository and issue; s.mu held.
func (s *Server) findIssue(c *reqCtx) (*repo, *issue) {
	r := s.issueRepo(c)
	if r == nil {
		return nil, nil
	}
	n, err := strconv.Atoi(c.r.PathValue("issue_number"))
	if err != nil || n < 1 || n > len(r.issues.issues) {
		return r, nil
	}
	return r, r.issues.issues[n-1]
}

// listIssues serves GET /repos/{owner}/{repo}/issues.
func (s *Server) listIssues(c *reqCtx) {
	q := c.r.URL.Query()
	state := cmp.Or(q.Get("state"), "open")
	sortBy := cmp.Or(q.Get("sort"), "created")
	dir := cmp.Or(q.Get("direction"), "desc")
	var since time.Time
	switch {
	case state != "open" && state != "closed" && state != "all":
		c.invalid(fieldError{Resource: "Issue", Field: "state", Code: "invalid", Value: state})
		return
	case sortBy != "created" && sortBy != "updated" && sortBy != "comments":
		c.invalid(fieldError{Resource: "Issue", Field: "sort", Code: "invalid", Value: sortBy})
		return
	case dir != "asc" && dir != "desc":
		c.invalid(fieldError{Resource: "Issue", Field: "direction", Code: "invalid", Value: dir})
		return
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			c.invalid(fieldError{Resource: "Issue", Field: "since", Code: "invalid", Value: v})
			return
		}
		since = t
	}
	var labels []string
	for _, l := range strings.Split(q.Get("labels"), ",") {
		if l = strings.TrimSpace(l); l != "" {
			labels = append(labels, l)
		}
	}
	creator := q.Get("creator")

	s.mu.RLock()
	r := s.issueRepo(c)
	if r == nil {
		s.mu.RUnlock()
		c.notFound()
		return
	}
	var match []*issue
	for _, is := range r.issues.issues {
		if state != "all" && is.state != state || is.updated.Before(since) ||
			creator != "" && !strings.EqualFold(creator, is.user.login) {
			continue
		}
		if !slices.ContainsFunc(labels, func(l string) bool { return !containsFold(is.labels, l) }) {
			match = append(match, is)
		}
	}
	key := func(is *issue) int64 {
		switch sortBy {
		case "updated":
			return is.updated.UnixNano()
		case "comments":
			return int64(len(is.comments))
		}
		return is.created.UnixNano()
	}
	slices.SortStableFunc(match, func(a, b *issue) int {
		o := cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.number, b.number))
		if dir == "desc" {
			return -o
		}
		return o
	})
	page, perPage := c.pageParams(30, 100)
	out := []issueJSON{}
	for i := (page - 1) * perPage; i < len(match) && i < page*perPage; i++ {
		out = append(out, c.issueJSON(r, match[i]))
	}
	s.mu.RUnlock()
	c.queryPageLinks(page, perPage, len(match))
	c.cacheableJSON(out)
}

// queryPageLinks is pageLinks keeping the request's other query parameters
// (the filters), as GitHub's issue list links do.
func (c *reqCtx) queryPageLinks(page, perPage, total int) {
	last := (total + perPage - 1) / perPage
	if last <= 1 {
		return
	}
	u := c.base() + strings.TrimPrefix(c.r.URL.Path, ghesPrefix)
	link := func(p int, rel string) string {
		q := c.r.URL.Query()
		q.Set("page", strconv.Itoa(p))
		q.Set("per_page", strconv.Itoa(perPage))
		return fmt.Sprintf(`<%s?%s>; rel="%s"`, u, q.Encode(), rel)
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

// issueBody is what create and update accept. Pointers tell "absent" from empty.
type issueBody struct {
	Title       *json.RawMessage `json:"title"` // string or number, as GitHub accepts
	Body        *string          `json:"body"`
	State       *string          `json:"state"`
	StateReason *string          `json:"state_reason"`
	Labels      *[]labelArg      `json:"labels"`
}

// labelArg is a label given by name or as {"name": …}.
type labelArg string

func (l *labelArg) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = labelArg(s)
		return nil
	}
	var o struct{ Name string }
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*l = labelArg(o.Name)
	return nil
}

// readJSON decodes a request body; false means it answered 400.
func (c *reqCtx) readJSON(v any) bool {
	b := bytes.Buffer{}
	if _, err := b.ReadFrom(http.MaxBytesReader(c.w, c.r.Body, 1<<20)); err != nil || json.Unmarshal(b.Bytes(), v) != nil {
		c.fail(http.StatusBadRequest, "Problems parsing JSON")
		return false
	}
	return true
}

// title reads the title field: a string, or a number GitHub turns into one.
func (ib *issueBody) title() (string, bool) {
	if ib.Title == nil {
		return "", false
	}
	var s string
	if json.Unmarshal(*ib.Title, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(*ib.Title, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// setLabels replaces an issue's labels, creating unknown ones as GitHub
// does (grey, no description); s.mu held for writing.
func (s *Server) setLabels(r *repo, is *issue, names []labelArg) {
	is.labels = is.labels[:0]
	for _, n := range names {
		name := strings.TrimSpace(string(n))
		if name == "" || containsFold(is.labels, name) {
			continue
		}
		l := r.issues.labels[strings.ToLower(name)]
		if l == nil {
			s.st.ids.label++
			l = &label{id: 5000000000 + s.st.ids.label, name: name, color: "ededed"}
			r.issues.labels[strings.ToLower(name)] = l
		}
		is.labels = append(is.labels, l.name)
	}
}

// createIssue serves POST /repos/{owner}/{repo}/issues.
func (s *Server) createIssue(c *reqCtx) {
	var in issueBody
	if !c.readJSON(&in) {
		return
	}
	title, ok := in.title()
	if !ok || strings.TrimSpace(title) == "" {
		c.invalid(fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
		return
	}
	s.mu.Lock()
	r := s.issueRepo(c)
	if r == nil {
		s.mu.Unlock()
		c.notFound()
		return
	}
	now := s.now().Truncate(time.Second)
	s.st.ids.issue++
	is := &issue{id: 3000000000 + s.st.ids.issue, number: len(r.issues.issues) + 1, title: title, state: "open",
		user: s.accountOf(c.p), created: now, updated: now}
	if in.Body != nil {
		is.body = *in.Body
	}
	if in.Labels != nil {
		s.setLabels(r, is, *in.Labels)
	}
	r.issues.issues = append(r.issues.issues, is)
	j := c.issueJSON(r, is)
	s.mu.Unlock()
	c.w.Header().Set("Location", j.URL)
	c.json(http.StatusCreated, j)
}

// getIssue serves GET /repos/{owner}/{repo}/issues/{issue_number}.
func (s *Server) getIssue(c *reqCtx) {
	s.mu.RLock()
	r, is := s.findIssue(c)
	if is == nil {
		s.mu.RUnlock()
		c.notFound()
		return
	}
	j := c.issueJSON(r, is)
	s.mu.RUnlock()
	c.cacheableJSON(j)
}

// updateIssue serves PATCH /repos/{owner}/{repo}/issues/{issue_number}.
func (s *Server) updateIssue(c *reqCtx) {
	var in issueBody
	if !c.readJSON(&in) {
		return
	}
	if in.State != nil && *in.State != "open" && *in.State != "closed" {
		c.invalid(fieldError{Resource: "Issue", Field: "state", Code: "invalid", Value: *in.State})
		return
	}
	if in.StateReason != nil && !slices.Contains([]string{"completed", "not_planned", "duplicate", "reopened"}, *in.StateReason) {
		c.invalid(fieldError{Resource: "Issue", Field: "state_reason", Code: "invalid", Value: *in.StateReason})
		return
	}
	title, hasTitle := in.title()
	if in.Title != nil && (!hasTitle || strings.TrimSpace(title) == "") {
		c.invalid(fieldError{Resource: "Issue", Field: "title", Code: "missing_field"})
		return
	}
	s.mu.Lock()
	r, is := s.findIssue(c)
	if is == nil {
		s.mu.Unlock()
		c.notFound()
		return
	}
	now := s.now().Truncate(time.Second)
	if hasTitle {
		is.title = title
	}
	if in.Body != nil {
		is.body = *in.Body
	}
	if in.Labels != nil {
		s.setLabels(r, is, *in.Labels)
	}
	reason := ""
	if in.StateReason != nil {
		reason = *in.StateReason
	}
	switch {
	case in.State != nil && *in.State == "closed" && is.state == "open":
		is.state, is.closed, is.stateReason = "closed", now, cmp.Or(reason, "completed")
		by := s.accountOf(c.p)
		is.closedBy = &by
	case in.State != nil && *in.State == "open" && is.state == "closed":
		is.state, is.closed, is.closedBy, is.stateReason = "open", time.Time{}, nil, "reopened"
	case reason != "" && is.state == "closed":
		is.stateReason = reason
	}
	is.updated = now
	j := c.issueJSON(r, is)
	s.mu.Unlock()
	c.json(http.StatusOK, j)
}

// listComments serves GET /repos/{owner}/{repo}/issues/{issue_number}/comments.
func (s *Server) listComments(c *reqCtx) {
	s.mu.RLock()
	r, is := s.findIssue(c)
	if is == nil {
		s.mu.RUnlock()
		c.notFound()
		return
	}
	page, perPage := c.pageParams(30, 100)
	out := []commentJSON{}
	for i := (page - 1) * perPage; i < len(is.comments) && i < page*perPage; i++ {
		out = append(out, c.commentJSON(r, is.comments[i]))
	}
	total := len(is.comments)
	s.mu.RUnlock()
	c.queryPageLinks(page, perPage, total)
	c.cacheableJSON(out)
}

// createComment serves POST /repos/{owner}/{repo}/issues/{issue_number}/comments.
func (s *Server) createComment(c *reqCtx) {
	var in struct {
		Body *string `json:"body"`
	}
	if !c.readJSON(&in) {
		return
	}
	if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
		c.invalid(fieldError{Resource: "IssueComment", Field: "body", Code: "missing_field"})
		return
	}
	s.mu.Lock()
	r, is := s.findIssue(c)
	if is == nil {
		s.mu.Unlock()
		c.notFound()
		return
	}
	now := s.now().Truncate(time.Second)
	s.st.ids.comment++
	cm := &comment{id: 1000000000 + s.st.ids.comment, body: *in.Body, user: s.accountOf(c.p), created: now, updated: now, issueNum: is.number}
	is.comments = append(is.comments, cm)
	is.updated = now
	j := c.commentJSON(r, cm)
	s.mu.Unlock()
	c.w.Header().Set("Location", j.URL)
	c.json(http.StatusCreated, j)
}

// ---- from Go ----

// Issues returns a repository's issues by number (nil for an unknown repository).
func (s *Server) Issues(owner, repo string) []Issue {
	s.mu.RLock()
	defer s.mu.RUnlock()
	r := s.st.repos[repoKey(owner, repo)]
	if r == nil {
		return nil
	}
	out := make([]Issue, 0, len(r.issues.issues))
	for _, is := range r.issues.issues {
		e := Issue{Number: is.number, Title: is.title, Body: is.body, State: is.state, StateReason: is.stateReason,
			Labels: slices.Clone(is.labels), Creator: is.user.login, CreatedAt: is.created, UpdatedAt: is.updated, ClosedAt: is.closed}
		for _, cm := range is.comments {
			e.Comments = append(e.Comments, IssueComment{ID: cm.id, Body: cm.body, User: cm.user.login, CreatedAt: cm.created})
		}
		out = append(out, e)
	}
	return out
}

// AddIssue opens an issue directly (creating the repository if needed) and
// returns its number: Title, Body, Labels, Creator (a login; "" for
// "ghfake") and State ("closed" closes it at once) are used.
func (s *Server) AddIssue(owner, repo string, in Issue) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.addRepoLocked(owner, repo)
	if r.issues.labels == nil {
		r.issues.labels = map[string]*label{}
	}
	now := s.now().Truncate(time.Second)
	s.st.ids.issue++
	is := &issue{id: 3000000000 + s.st.ids.issue, number: len(r.issues.issues) + 1, title: in.Title, body: in.Body,
		state: "open", user: actor{login: cmp.Or(in.Creator, "ghfake"), id: 1}, created: now, updated: now}
	var names []labelArg
	for _, l := range in.Labels {
		names = append(names, labelArg(l))
	}
	s.setLabels(r, is, names)
	if in.State == "closed" {
		is.state, is.closed, is.stateReason, is.closedBy = "closed", now, "completed", &is.user
	}
	r.issues.issues = append(r.issues.issues, is)
	return is.number
}
