package githubapi

import (
	"fmt"
	"io"
	"net/http"
)

// maxResponseBody is the most of one answer's body a run reads. The largest
// answers it asks for are pages of 100 deliveries (about 45 KB) and of 100
// hooks (about 100 KB); 8 MiB is some 80 times that, so no real answer comes
// near it, while a broken or hostile server streaming an endless body costs
// at most 8 MiB per request in flight instead of all the memory there is.
const maxResponseBody = 8 << 20

// BodyTooLargeError is an answer whose body is longer than a run reads. It
// names the request by method and path only: no host, query or credentials.
type BodyTooLargeError struct {
	Route string // "GET /orgs/acme/hooks/12/deliveries"
	Limit int64  // bytes
	// Declared is the Content-Length the server announced, or -1.
	Declared int64
}

func (e *BodyTooLargeError) Error() string {
	if e.Declared > e.Limit {
		return fmt.Sprintf("%s: the answer announces %d bytes, more than the %d MiB redeliver reads from one answer",
			e.Route, e.Declared, e.Limit>>20)
	}
	return fmt.Sprintf("%s: the answer is longer than the %d MiB redeliver reads from one answer", e.Route, e.Limit>>20)
}

// limitBody caps what may be read of resp's body at limit bytes: reading
// past it fails with a *BodyTooLargeError instead of returning more. An
// announced Content-Length above the limit fails the first read, before
// anything is read.
func limitBody(resp *http.Response, limit int64) io.ReadCloser {
	return &limitedBody{rc: resp.Body, left: limit, err: &BodyTooLargeError{
		Route: route(resp.Request), Limit: limit, Declared: resp.ContentLength,
	}}
}

// limitedBody is a body with a cap; see limitBody.
type limitedBody struct {
	rc   io.ReadCloser
	left int64 // bytes that may still be read
	err  *BodyTooLargeError
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.err.Declared > b.err.Limit {
		return 0, b.err
	}
	if b.left <= 0 {
		// At the cap: one more byte tells an answer of exactly the
		// limit (EOF) from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, b.err
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
