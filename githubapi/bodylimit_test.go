package githubapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/redeliver/redeliver"
)

// endless streams a deliveries page that never ends: items, one after the
// other, until the client hangs up. It counts the bytes it got out.
func endless(sent *int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if _, err := w.Write([]byte("[")); err != nil {
			return
		}
		item := []byte(fmt.Sprintf(goodItem, "1") + ",")
		for {
			n, err := w.Write(item)
			*sent += int64(n)
			if err != nil {
				return
			}
		}
	}
}

func TestResponseBodyCap(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
		want string
	}{
		{"endless body", nil, "longer than the 8 MiB"},
		{"Content-Length above the cap", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(maxResponseBody+1))
			w.Write([]byte("[")) // the client must not wait for the rest
		}, "announces 8388609 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent int64
			h := tt.h
			if h == nil {
				h = endless(&sent)
			}
			o := newOutside(t, h)
			c := newTestClient(t, Config{BaseURL: o.URL, Token: testToken})
			_, err := c.ListAttempts(context.Background(), acme12, "v1_secretcursor")
			wantCode(t, err, redeliver.EInternal)
			wantContains(t, err, "GET /orgs/acme/hooks/12/deliveries", tt.want)
			var big *BodyTooLargeError
			if !errors.As(err, &big) {
				t.Errorf("error %v is not a *BodyTooLargeError", err)
			}
			for _, secret := range []string{testToken, "secretcursor", o.URL} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q shows %q", err, secret)
				}
			}
			if n := len(o.requests()); n != 1 {
				t.Errorf("%d requests: an answer too large is not worth retrying", n)
			}
			t.Logf("%v (server wrote %d bytes before the client hung up)", err, sent)
		})
	}
}

func TestResponseBodyAtTheCap(t *testing.T) {
	// An answer of exactly the cap is read whole: the check costs one
	// byte beyond it, not a byte of the answer.
	body := "[" + strings.Repeat(" ", maxResponseBody-2) + "]"
	o := newOutside(t, answer(body))
	c := newTestClient(t, Config{BaseURL: o.URL, Token: testToken})
	page, err := c.ListAttempts(context.Background(), acme12, "")
	if err != nil {
		t.Fatalf("an answer of exactly %d bytes: %v", maxResponseBody, err)
	}
	if len(page.Attempts) != 0 {
		t.Errorf("attempts %+v", page.Attempts)
	}
}
