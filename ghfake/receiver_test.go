package ghfake

import (
	"strconv"
	"testing"
	"time"
)

func TestReceiverRecoversAtAChosenMoment(t *testing.T) {
	f := newFixture(t, Options{})
	rcv := f.srv.NewReceiver()
	f.srv.SetHookURL(f.hook, rcv.URL())
	f.srv.AddRepo("acme", "x")
	end := f.clock.Now().Add(10 * time.Minute)
	rcv.FailUntil(end, 503)

	a, err := f.srv.Send(f.hook, "push", "", map[string]string{"ref": "main"})
	if err != nil || !a.Failed() || a.StatusCode != 503 || a.Status != "Invalid HTTP Response: 503" {
		t.Fatalf("during the outage: %+v %v", a, err)
	}
	f.clock.Advance(9 * time.Minute)
	redeliver := func(id int64) Attempt {
		t.Helper()
		if r := call(t, nil, "POST", f.hooks+"/deliveries/"+strconv.FormatInt(id, 10)+"/attempts", "ghp_admin", nil); r.Status != 202 {
			t.Fatal(r.Status)
		}
		return f.srv.Attempts(f.hook)[0]
	}
	if b := redeliver(a.ID); !b.Failed() {
		t.Fatalf("a minute before the end: %+v", b)
	}
	f.clock.Advance(time.Minute) // the outage ends exactly now
	if c := redeliver(a.ID); c.Failed() || c.GUID != a.GUID || !c.Redelivery {
		t.Fatalf("at the end of the outage: %+v", c)
	}
	got := rcv.Deliveries()
	if len(got) != 3 || rcv.Count() != 3 || got[0].Answer != 503 || got[1].Answer != 503 || got[2].Answer != 200 ||
		got[2].GUID != a.GUID || got[2].Event != "push" || got[2].HookID != f.hook || !got[2].At.Equal(end) {
		t.Fatalf("received: %+v", got)
	}

	// Down: the connection is dropped, and GitHub records no status code.
	rcv.SetFailing(0)
	d, _ := f.srv.Send(f.hook, "push", "", nil)
	if !d.Failed() || d.StatusCode != 0 || rcv.Deliveries()[3].Answer != 0 {
		t.Errorf("down: %+v", d)
	}
	rcv.SetHealthy()
	if e, _ := f.srv.Send(f.hook, "push", "", nil); e.Failed() {
		t.Errorf("healthy: %+v", e)
	}
}

func TestReceiverChecksSignatures(t *testing.T) {
	srv := newServer(t, Options{})
	rcv := srv.NewReceiver()
	hook := srv.AddOrgHook("acme", HookConfig{URL: rcv.URL(), Secret: "s3cret"})
	if _, err := srv.Send(hook, "ping", "", nil); err != nil {
		t.Fatal(err)
	}
	d := rcv.Deliveries()[0]
	if !d.ValidSignature("s3cret") || d.ValidSignature("wrong") {
		t.Errorf("signature check: %s", d.Header.Get("X-Hub-Signature-256"))
	}
}

// TestShownRequestHeadersAreTheSentOnes checks that "get a delivery" shows
// the headers the receiver got, for sends and redeliveries, JSON and form
// hooks, even after the hook's secret changed.
func TestShownRequestHeadersAreTheSentOnes(t *testing.T) {
	for _, ct := range []string{"json", "form"} {
		f := newFixture(t, Options{RedeliveryWorkers: 1})
		rcv := f.srv.NewReceiver()
		hook := f.srv.AddOrgHook("acme", HookConfig{URL: rcv.URL(), Secret: "first", ContentType: ct})
		a, err := f.srv.Send(hook, "issues", "opened", map[string]any{"n": 1})
		if err != nil {
			t.Fatal(err)
		}
		url := f.base + "/orgs/acme/hooks/" + strconv.FormatInt(hook, 10) + "/deliveries/"
		if r := call(t, nil, "POST", url+strconv.FormatInt(a.ID, 10)+"/attempts", "ghp_admin", nil); r.Status != 202 {
			t.Fatal(r.Status)
		}
		f.srv.Quiesce()
		f.srv.mu.Lock()
		f.srv.st.hooks[hook].cfg.Secret = "second"
		f.srv.mu.Unlock()
		got := rcv.Deliveries()
		atts := f.srv.Attempts(hook) // newest first: the redelivery, then the send
		for i, at := range []Attempt{atts[1], atts[0]} {
			var d struct {
				Request struct{ Headers map[string]string }
			}
			call(t, nil, "GET", url+strconv.FormatInt(at.ID, 10), "ghp_admin", nil).json(t, &d)
			if len(d.Request.Headers) < 8 {
				t.Fatalf("%s: headers %v", ct, d.Request.Headers)
			}
			for k, v := range d.Request.Headers {
				if got[i].Header.Get(k) != v {
					t.Errorf("%s attempt %d: shown %s %q, sent %q", ct, i, k, v, got[i].Header.Get(k))
				}
			}
		}
	}
}
