package ghfake

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
)

// Ping a hook: POST /repos/{owner}/{repo}/hooks/{hook_id}/pings and
// POST /orgs/{org}/hooks/{hook_id}/pings
// (https://docs.github.com/en/rest/repos/webhooks#ping-a-repository-webhook,
// https://docs.github.com/en/rest/orgs/webhooks#ping-an-organization-webhook).
// These two operations are not in ../shared/github-api's OpenAPI subset, so
// the OpenAPI tests do not cover them: their shape follows the docs above
// (204 No Content, 404 for a hook that is missing or not the caller's) and
// go-github's PingHook. App hooks have no ping operation on GitHub.
//
// A ping is a new delivery with event "ping" and a fresh guid, sent to the
// hook's URL like any other: it is listed among the hook's deliveries (so
// the list's ETag changes) and is billed like any other POST. Where the
// emulator redelivers in the background (Options.RedeliveryWorkers) the
// ping is sent there too, after the 204, as GitHub does; otherwise before
// the answer. DeferRedeliveries does not hold pings back. An inactive hook
// is answered 204 and sent nothing (GitHub's behaviour there is unverified).
func (s *Server) pingHook(c *reqCtx) {
	s.mu.Lock()
	h := s.hookFor(c)
	if h == nil {
		s.mu.Unlock()
		c.notFound()
		return
	}
	if !*h.cfg.Active {
		s.mu.Unlock()
		c.w.WriteHeader(http.StatusNoContent)
		return
	}
	body, _ := json.Marshal(map[string]any{
		"zen":     "Keep it logically awesome.",
		"hook_id": h.id,
		"hook":    s.hookJSON(c.base(), h),
		"sender":  map[string]any{"login": "ghfake[bot]", "id": 1, "type": "Bot"},
	})
	a := attempt{uuid: randomUUID(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))}
	a.inst, a.repoID = s.defaultContext(h)
	a.event = s.names.id("ping")
	h.payloads = append(h.payloads, body)
	a.payload = int32(len(h.payloads))
	out := s.outgoingLocked(h, &a, body)
	hookID := h.id
	s.mu.Unlock()

	deliver := func() {
		res := s.post(out)
		if s.sendCtx.Err() != nil {
			return // closed while delivering
		}
		_, _ = s.recordAttempt(hookID, a, res, false)
	}
	if s.pool != nil {
		s.pool.push(queued{do: deliver})
	} else {
		deliver()
	}
	c.w.WriteHeader(http.StatusNoContent)
}
