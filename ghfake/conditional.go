package ghfake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Conditional requests ("Best practices for using the REST API": use
// conditional requests). GitHub sends a weak ETag and a private
// Cache-Control on its list answers; a GET whose If-None-Match names the
// current ETag gets 304 with no body, and a 304 to a request made with an
// Authorization header is not charged to the primary rate limit. Secondary
// limits are still charged (points, concurrency): GitHub does not say they
// are waived.
const (
	cacheControl = "private, max-age=60, s-maxage=60"
	varyHeader   = "Accept, Authorization, Cookie, X-GitHub-OTP"
)

// etagFor is the weak entity tag of a page: its body and Link header, so it
// changes when any listed item changes, an item appears, or the paging does.
func etagFor(body []byte, link string) string {
	h := sha256.New()
	h.Write(body)
	h.Write([]byte{0})
	h.Write([]byte(link))
	return `W/"` + hex.EncodeToString(h.Sum(nil)) + `"`
}

// etagMatches applies If-None-Match's weak comparison: "*" or any listed
// tag equal to etag once the W/ prefixes are set aside.
func etagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// cacheableJSON answers 200 with v, an ETag and Cache-Control, or 304 with
// no body when the request's If-None-Match names the same ETag.
func (c *reqCtx) cacheableJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	h := c.w.Header()
	etag := etagFor(b, h.Get("Link"))
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheControl)
	h.Set("Vary", varyHeader)
	if c.r.Method == http.MethodGet && etagMatches(c.r.Header.Get("If-None-Match"), etag) {
		c.notModified()
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(b)
}

// notModified answers 304. A caller that authenticated gets its primary
// rate-limit charge back, and the x-ratelimit-* headers say so.
func (c *reqCtx) notModified() {
	h := c.w.Header()
	h.Del("Content-Type")
	h.Del("Content-Length")
	h.Del("Link")
	if c.billed && c.p.kind != anonymous {
		c.s.refund(c)
	}
	c.w.WriteHeader(http.StatusNotModified)
}
