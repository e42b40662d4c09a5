//go:build unix

package reliability

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/githubapi"
)

// Promise 6 — bad input, fuzzed. The bytes GitHub answers to a deliveries
// listing — the JSON body, the Link header with its cursor, the Date header,
// the status — come from a tiny httptest server that serves whatever the
// fuzzer chose (an outside answer, fine to fake) to githubapi's
// ListAttempts. Whatever it is: no panic; an accepted page holds only
// attempts the engine can trust; every rejection is a clear error (a code,
// the call named, no secret); a cursor goes back to GitHub exactly as given.

// fuzzAnswer is what the fuzz server says next.
type fuzzAnswer struct {
	status int
	date   string
	link   string
	body   []byte
}

type fuzzServer struct {
	srv    *httptest.Server
	client *githubapi.Client

	mu      sync.Mutex
	next    fuzzAnswer
	cursors []string // the cursor query parameter of each request, as received
}

var fuzzSrv = sync.OnceValue(func() *fuzzServer {
	fs := &fuzzServer{}
	fs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.mu.Lock()
		a := fs.next
		fs.cursors = append(fs.cursors, r.URL.Query().Get("cursor"))
		fs.mu.Unlock()
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		if a.date != "" {
			h["Date"] = []string{a.date}
		}
		if a.link != "" {
			h["Link"] = []string{a.link}
		}
		w.WriteHeader(a.status)
		w.Write(a.body)
	}))
	c, err := githubapi.New(githubapi.Config{BaseURL: fs.srv.URL, Token: secretToken, MaxRetries: -1, HTTPTimeout: 5 * time.Second})
	if err != nil {
		panic(err)
	}
	fs.client = c
	return fs
})

// list serves a and lists one page at cursor.
func (fs *fuzzServer) list(a fuzzAnswer, cursor string) (redeliver.Page, string, error) {
	fs.mu.Lock()
	fs.next, fs.cursors = a, nil
	fs.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := fs.client.ListAttempts(ctx, fuzzTarget, cursor)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	got := ""
	if len(fs.cursors) > 0 {
		got = fs.cursors[0]
	}
	return p, got, err
}

var fuzzTarget = redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: 12}

const fuzzDate = "Fri, 20 Nov 2026 12:00:00 GMT"

// checkRejection is the oracle for an error: a clear one.
func checkRejection(t *testing.T, err error) {
	t.Helper()
	var re *redeliver.Error
	if !errors.As(err, &re) {
		t.Fatalf("error without a code (%T): %v", err, err)
	}
	switch re.Code {
	case redeliver.EInternal, redeliver.ENotFound, redeliver.EAuth, redeliver.ERateLimited, redeliver.EInvalid:
	default:
		t.Fatalf("error with an unknown code %q: %v", re.Code, err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "org acme hook 12") && !strings.Contains(msg, "/orgs/acme/hooks/12/deliveries") {
		t.Fatalf("the error does not name the call: %q", msg)
	}
	if strings.Contains(msg, secretToken) {
		t.Fatalf("the error carries the token: %q", msg)
	}
	// GitHub's own "message" stays in the error as GitHub wrote it, control
	// characters included: the command escapes it where it prints it, JSON
	// and slog quote it.
}

// checkPage is the oracle for an accepted page: the engine may trust it.
func checkPage(t *testing.T, p redeliver.Page, cursor string) {
	t.Helper()
	for i, a := range p.Attempts {
		switch {
		case a.ID <= 0:
			t.Fatalf("attempt %d: id %d accepted", i, a.ID)
		case a.GUID == "":
			t.Fatalf("attempt %d: empty guid accepted", i)
		case a.DeliveredAt.IsZero():
			t.Fatalf("attempt %d: no delivered_at accepted", i)
		case a.DeliveredAt.Location() != time.UTC:
			t.Fatalf("attempt %d: delivered_at not in UTC", i)
		}
	}
	if p.ServerTime.IsZero() {
		t.Fatalf("page accepted without GitHub's clock")
	}
	if p.Next != "" && p.Next == cursor {
		t.Fatalf("page accepted whose next cursor is the one given (%q): the crawl would loop", cursor)
	}
}

func FuzzListAttemptsBody(f *testing.F) {
	item := `{"id":3803994406669780530,"guid":"38896e47-737a-4057-ae45-08fe34cf31fd","delivered_at":"2026-11-20T10:50:49Z","redelivery":false,"duration":0.31,"status":"Invalid HTTP Response: 502","status_code":502,"event":"push","action":null,"installation_id":null,"repository_id":null,"throttled_at":null,"url":""}`
	for _, s := range []string{
		"[" + item + "]",
		"[" + item + "," + strings.Replace(item, `"id":3803994406669780530`, `"id":3803994406669780531`, 1) + "]",
		"[]", "null", "{}", "", "[null]", `[{}]`, `{"message":"Not Found"}`,
		strings.Replace("["+item+"]", `"id":3803994406669780530`, `"id":0`, 1),
		strings.Replace("["+item+"]", `"id":3803994406669780530`, `"id":9223372036854775808`, 1),
		strings.Replace("["+item+"]", `"id":3803994406669780530`, `"id":3.8e18`, 1),
		strings.Replace("["+item+"]", `"id":3803994406669780530`, `"id":"3803994406669780530"`, 1),
		strings.Replace("["+item+"]", `"2026-11-20T10:50:49Z"`, `"yesterday"`, 1),
		strings.Replace("["+item+"]", `"2026-11-20T10:50:49Z"`, `1763635849`, 1),
		strings.Replace("["+item+"]", `"status":"Invalid HTTP Response: 502",`, ``, 1),
		strings.Replace("["+item+"]", `"guid":"38896e47-737a-4057-ae45-08fe34cf31fd"`, `"guid":""`, 1),
		"[" + item, "\xff\xfe[]",
	} {
		f.Add(uint8(0), []byte(s))
	}
	f.Add(uint8(4), []byte(`{"message":"Not Found","documentation_url":"https://docs.github.com/rest"}`))
	f.Add(uint8(5), []byte(`{"message":"Bad credentials"}`))
	f.Add(uint8(7), []byte(`{"message":"Server Error"}`))
	f.Fuzz(func(t *testing.T, st uint8, body []byte) {
		// Rate-limit statuses (403, 429) are left out: they are waited
		// out, which a fuzzer cannot afford; limits have their own tests.
		status := []int{200, 200, 200, 200, 404, 401, 422, 500, 204, 410}[int(st)%10]
		p, _, err := fuzzSrv().list(fuzzAnswer{status: status, date: fuzzDate, body: body}, "")
		if err != nil {
			checkRejection(t, err)
			return
		}
		if status != 200 && status != 204 {
			t.Fatalf("a %d answer was accepted as a page of %d attempts", status, len(p.Attempts))
		}
		checkPage(t, p, "")
	})
}

func FuzzListAttemptsLink(f *testing.F) {
	body := []byte(`[{"id":7,"guid":"g-7","delivered_at":"2026-11-20T10:50:49Z","redelivery":false,"duration":0.1,"status":"OK","status_code":200,"event":"push","action":null}]`)
	next := func(c string) string {
		return `<http://127.0.0.1/orgs/acme/hooks/12/deliveries?per_page=100&cursor=` + c + `>; rel="next"`
	}
	for _, s := range []struct{ link, cursor, date string }{
		{next("v1_7"), "", fuzzDate},
		{next("v1_7"), "v1_7", fuzzDate},
		{next("v1_7") + `, <http://127.0.0.1/orgs/acme/hooks/12/deliveries?per_page=100>; rel="first"`, "v1_9", fuzzDate},
		{next("a%20b%2Cc%3Bd"), "", fuzzDate},
		{next("%E2%82%AC%00%0A"), "", fuzzDate},
		{`<>; rel="next"`, "", fuzzDate},
		{`<::::>; rel="next"`, "", fuzzDate},
		{`rel="next"`, "", fuzzDate},
		{`<http://127.0.0.1/x?cursor=a&cursor=b>; rel="next", <http://127.0.0.1/x?cursor=c>; rel="next"`, "", fuzzDate},
		{"", "", "yesterday"},
		{"", "", ""},
		{"", "v1_1", "Mon, 02 Jan 0001 00:00:00 GMT"},
	} {
		f.Add(s.link, s.cursor, s.date)
	}
	f.Fuzz(func(t *testing.T, link, cursor, date string) {
		fs := fuzzSrv()
		p, got, err := fs.list(fuzzAnswer{status: 200, date: date, link: link, body: body}, cursor)
		if err != nil {
			if strings.Contains(err.Error(), "does not parse") || strings.Contains(err.Error(), "invalid URL") {
				// The request could not even be made from this cursor.
				t.Fatalf("cursor %q could not be sent: %v", cursor, err)
			}
			checkRejection(t, err)
			return
		}
		if got != cursor {
			t.Fatalf("cursor %q reached GitHub as %q", cursor, got)
		}
		checkPage(t, p, cursor)
		if p.Next == "" {
			return
		}
		// The cursor GitHub gave must be sendable back exactly as given.
		_, got2, err := fs.list(fuzzAnswer{status: 200, date: fuzzDate, body: []byte("[]")}, p.Next)
		if err != nil {
			t.Fatalf("following next cursor %q: %v", p.Next, err)
		}
		if got2 != p.Next {
			t.Fatalf("next cursor %q reached GitHub as %q", p.Next, got2)
		}
	})
}
