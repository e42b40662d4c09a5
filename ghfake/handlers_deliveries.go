package ghfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HorizonRejectStatus is the status a redelivery of an attempt older than the
// redelivery horizon (3 days github.com, 7 days GHES) is refused with.
// GitHub documents both 400 and 422 for this operation
// without saying which one an old delivery gets; 422 "Validation failed" is
// the closer fit. Change it here, and only here, once verified.
const HorizonRejectStatus = http.StatusUnprocessableEntity

// Delivery list paging (https://docs.github.com/en/rest/webhooks/repo-deliveries).
const (
	deliveriesPerPage    = 30
	deliveriesMaxPerPage = 100 // above: clamped (GitHub's behaviour is unverified)
	cursorPrefix         = "v1_"
)

// deliveryItem is GitHub's hook-delivery-item.
type deliveryItem struct {
	ID             int64   `json:"id"`
	GUID           string  `json:"guid"`
	DeliveredAt    string  `json:"delivered_at"`
	Redelivery     bool    `json:"redelivery"`
	Duration       float64 `json:"duration"`
	Status         string  `json:"status"`
	StatusCode     int     `json:"status_code"`
	Event          string  `json:"event"`
	Action         *string `json:"action"`
	InstallationID *int64  `json:"installation_id"`
	RepositoryID   *int64  `json:"repository_id"`
	ThrottledAt    *string `json:"throttled_at"`
	URL            string  `json:"url"` // real list items carry "url": "" (https://docs.github.com/en/rest/webhooks/repo-deliveries)
}

// deliveryDetail is GitHub's hook-delivery.
type deliveryDetail struct {
	deliveryItem
	Request  deliveryRequest  `json:"request"`
	Response deliveryResponse `json:"response"`
}

type deliveryRequest struct {
	Headers map[string]string `json:"headers"`
	Payload json.RawMessage   `json:"payload"`
}

type deliveryResponse struct {
	Headers map[string]string `json:"headers"`
	Payload *string           `json:"payload"`
}

func (s *Server) item(h *hook, a *attempt) deliveryItem {
	it := deliveryItem{
		ID:          a.id,
		GUID:        h.guid(a),
		DeliveredAt: time.Unix(a.at, 0).UTC().Format(time.RFC3339),
		Redelivery:  a.redeliv,
		Duration:    a.seconds(),
		Status:      s.names.list[a.status],
		StatusCode:  int(a.code),
		Event:       s.names.list[a.event],
	}
	if a.action != 0 {
		act := s.names.list[a.action]
		it.Action = &act
	}
	if a.inst != 0 {
		v := a.inst
		it.InstallationID = &v
	}
	if a.repoID != 0 {
		v := a.repoID
		it.RepositoryID = &v
	}
	return it
}

// hookFor finds the hook a hook or delivery route names, checking the
// caller's access; GitHub answers 404 for both "missing" and "not yours".
// s.mu must be held.
func (s *Server) hookFor(c *reqCtx) *hook {
	if c.p.kind == appJWT && strings.HasPrefix(c.rt.path, "/app/") {
		return s.st.hooks[c.p.app.hookID]
	}
	id, ok := c.int64Param("hook_id")
	if !ok {
		return nil
	}
	h := s.st.hooks[id]
	if h == nil {
		return nil
	}
	if org := c.r.PathValue("org"); org != "" {
		if h.kind != orgHook || !strings.EqualFold(h.owner, org) || !c.p.canOrg(org) || !c.hasRouteScope() {
			return nil
		}
		return h
	}
	owner, repo := c.r.PathValue("owner"), c.r.PathValue("repo")
	if h.kind != repoHook || !strings.EqualFold(h.owner, owner) || !strings.EqualFold(h.repo, repo) ||
		!c.p.canRepo(owner, repo) || !c.hasRouteScope() {
		return nil
	}
	return h
}

// scopeImplies lists what a classic scope grants beyond itself.
var scopeImplies = map[string][]string{
	"admin:repo_hook": {"write:repo_hook", "read:repo_hook"},
	"write:repo_hook": {"read:repo_hook"},
	"admin:org":       {"write:org", "read:org"},
}

// hasRouteScope reports whether a classic token has one of the route's scopes.
func (c *reqCtx) hasRouteScope() bool {
	if c.p.kind != patUser || c.p.tok.Scopes == nil {
		return true
	}
	want := strings.Split(c.rt.scopes, ", ")
	if c.r.Method != http.MethodGet {
		want = filter(want, func(s string) bool { return !strings.HasPrefix(s, "read:") })
	}
	for _, have := range c.p.tok.Scopes {
		if containsFold(want, have) {
			return true
		}
		for _, implied := range scopeImplies[strings.ToLower(have)] {
			if containsFold(want, implied) {
				return true
			}
		}
	}
	return false
}

func filter(in []string, keep func(string) bool) []string {
	var out []string
	for _, s := range in {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// listDeliveries serves the three "list deliveries" operations.
func (s *Server) listDeliveries(c *reqCtx) {
	q := c.r.URL.Query()
	perPage := deliveriesPerPage
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			c.invalid(fieldError{Resource: "HookDelivery", Field: "per_page", Code: "invalid", Value: v})
			return
		}
		if n > 0 {
			perPage = min(n, deliveriesMaxPerPage)
		}
	}
	before := int64(-1)
	if v := q.Get("cursor"); v != "" {
		id, err := strconv.ParseInt(strings.TrimPrefix(v, cursorPrefix), 10, 64)
		if !strings.HasPrefix(v, cursorPrefix) || err != nil {
			c.invalid(fieldError{Resource: "HookDelivery", Field: "cursor", Code: "invalid", Value: v})
			return
		}
		before = id
	}
	status := q.Get("status")
	if status != "" && status != "success" && status != "failure" {
		c.invalid(fieldError{Resource: "HookDelivery", Field: "status", Code: "invalid", Value: status})
		return
	}
	var cutoff int64 = -1 << 62
	if s.opts.Retention > 0 {
		cutoff = s.now().Add(-s.opts.Retention).Unix()
	}

	s.mu.RLock()
	h := s.hookFor(c)
	if h == nil {
		s.mu.RUnlock()
		c.notFound()
		return
	}
	// Newest first: walk down from the newest attempt, or from just below the cursor.
	i := len(h.attempts) - 1
	if before >= 0 {
		i = sort.Search(len(h.attempts), func(i int) bool { return h.attempts[i].id >= before }) - 1
	}
	items := make([]deliveryItem, 0, perPage)
	more := false
	for ; i >= 0; i-- {
		a := &h.attempts[i]
		if a.at < cutoff {
			break
		}
		// https://docs.github.com/en/rest/webhooks/repo-deliveries: success is status_code 200–399, failure 400–599, so a
		// delivery that got no response (status_code 0) is in neither.
		if status == "success" && (a.code < 200 || a.code > 399) ||
			status == "failure" && (a.code < 400 || a.code > 599) {
			continue
		}
		if len(items) == perPage {
			more = true
			break
		}
		items = append(items, s.item(h, a))
	}
	s.mu.RUnlock()

	link := func(cursor string) string {
		u := c.base() + strings.TrimPrefix(c.r.URL.Path, ghesPrefix) + "?per_page=" + strconv.Itoa(perPage)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		if status != "" {
			u += "&status=" + status
		}
		return u
	}
	var links []string
	if more {
		links = append(links, fmt.Sprintf(`<%s>; rel="next"`, link(cursorPrefix+strconv.FormatInt(items[len(items)-1].ID, 10))))
	}
	if before >= 0 {
		links = append(links, fmt.Sprintf(`<%s>; rel="first"`, link("")))
	}
	if len(links) > 0 {
		c.w.Header().Set("Link", strings.Join(links, ", "))
	}
	c.cacheableJSON(items)
}

// findAttempt finds the request's delivery_id in its hook. It returns with
// s.mu read-locked when found; when not, it has unlocked and answered 404.
func (s *Server) findAttempt(c *reqCtx) (*hook, int, bool) {
	id, ok := c.int64Param("delivery_id")
	s.mu.RLock()
	h := s.hookFor(c)
	i := -1
	if h != nil && ok {
		i = h.find(id)
	}
	if i < 0 {
		s.mu.RUnlock()
		c.notFound()
		return nil, 0, false
	}
	return h, i, true
}

// getDelivery serves the three "get a delivery" operations.
func (s *Server) getDelivery(c *reqCtx) {
	h, i, found := s.findAttempt(c)
	if !found {
		return
	}
	a := &h.attempts[i]
	d := deliveryDetail{deliveryItem: s.item(h, a)}
	if det := h.details[a.id]; det != nil {
		d.URL = det.url
		out := s.outgoingLocked(h, a, nil)
		out.secret, out.form = det.secret, det.form
		d.Request.Headers = deliveryHeaders(h.id, &out, postedBody(s.payloadLocked(h, a), det.form))
		d.Response.Headers = det.respHeader
		d.Response.Payload = det.respBody
	} else {
		// Seeded attempt: rebuild what GitHub would show.
		d.URL = h.cfg.URL
		out := s.outgoingLocked(h, a, nil)
		d.Request.Headers = deliveryHeaders(h.id, &out, s.payloadLocked(h, a))
		d.Response.Headers, d.Response.Payload = seededResponse(int(a.code))
	}
	if d.Response.Headers == nil {
		d.Response.Headers = map[string]string{}
	}
	d.Request.Payload = s.payloadLocked(h, a)
	s.mu.RUnlock()
	c.json(http.StatusOK, d)
}

func seededResponse(code int) (map[string]string, *string) {
	if code == 0 {
		return map[string]string{}, nil
	}
	body := "ok"
	if code >= 300 {
		body = http.StatusText(code)
	}
	return map[string]string{"Content-Type": "text/plain; charset=utf-8"}, &body
}

// redeliver serves the three "redeliver a delivery" operations.
func (s *Server) redeliver(c *reqCtx) {
	h, i, found := s.findAttempt(c)
	if !found {
		return
	}
	a := h.attempts[i]
	guid, hookID := h.guid(&a), h.id
	s.mu.RUnlock()
	if age := s.now().Sub(time.Unix(a.at, 0)); age > s.horizon {
		c.json(HorizonRejectStatus, apiError{
			Message: "Validation Failed",
			Errors: []fieldError{{Resource: "HookDelivery", Field: "delivered_at", Code: "custom",
				Message: fmt.Sprintf("Deliveries older than %d days cannot be redelivered.", int(s.horizon.Hours()/24))}},
			DocURL: s.docsURL(c.rt.doc), Status: strconv.Itoa(HorizonRejectStatus),
		})
		return
	}
	s.startRedelivery(hookID, a.id, guid)
	c.json(http.StatusAccepted, struct{}{})
}
