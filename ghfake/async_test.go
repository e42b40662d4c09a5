package ghfake

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// gate is a receiver that holds every delivery until released.
type gate struct {
	*httptest.Server
	release chan struct{}
	arrived chan string // guid of each delivery as it arrives
	open    func()      // release every delivery, now and later
}

func newGate(t *testing.T) *gate {
	g := &gate{release: make(chan struct{}), arrived: make(chan string, 100)}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		g.arrived <- r.Header.Get("X-GitHub-Delivery")
		<-g.release
		w.WriteHeader(http.StatusOK)
	}))
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() { close(g.release) })
		g.Close()
	})
	g.open = func() { once.Do(func() { close(g.release) }) }
	return g
}

func TestAsyncRedeliveryAnswersBeforeDelivering(t *testing.T) {
	g := newGate(t)
	f := newFixture(t, Options{RedeliveryWorkers: 2})
	f.srv.SetHookURL(f.hook, g.URL)
	ids := f.srv.SeedAttempts(f.hook, []Seed{{StatusCode: 500}})
	url := f.hooks + "/deliveries/" + strconv.FormatInt(ids[0], 10) + "/attempts"
	if r := call(t, nil, "POST", url, "ghp_admin", nil); r.Status != 202 {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	<-g.arrived // the worker is now inside the delivery, which the gate holds
	if n := len(f.srv.Attempts(f.hook)); n != 1 {
		t.Fatalf("%d attempts listed while the delivery is in flight, want 1", n)
	}
	if n := f.srv.PendingRedeliveries(); n != 1 {
		t.Errorf("pending %d, want 1", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.srv.WaitIdle(ctx); err == nil {
		t.Error("WaitIdle returned nil with a delivery in flight and its context over")
	}
	g.open()
	f.srv.Quiesce()
	atts := f.srv.Attempts(f.hook)
	if len(atts) != 2 || !atts[0].Redelivery || atts[0].Status != "OK" || f.srv.PendingRedeliveries() != 0 {
		t.Fatalf("after Quiesce: %+v", atts)
	}
	if rd := f.srv.Redeliveries(); len(rd) != 1 || rd[0].NewAttemptID != atts[0].ID {
		t.Errorf("redelivery log: %+v", rd)
	}
}

func TestAsyncRedeliveriesAllLand(t *testing.T) {
	rcv := newReceiver(t, http.StatusOK)
	f := newFixture(t, Options{RedeliveryWorkers: 4})
	f.srv.SetHookURL(f.hook, rcv.URL)
	st := f.srv.SeedHistory(f.hook, History{N: 200, FailureRatio: 0.5, Seed: 4})
	posted := 0
	for _, a := range f.srv.Attempts(f.hook) {
		if a.Failed() {
			if r := call(t, nil, "POST", f.hooks+"/deliveries/"+strconv.FormatInt(a.ID, 10)+"/attempts", "ghp_admin", nil); r.Status != 202 {
				t.Fatal(r.Status)
			}
			posted++
		}
	}
	if err := f.srv.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(rcv.deliveries()); got != posted {
		t.Errorf("receiver got %d, posted %d", got, posted)
	}
	if got := len(f.srv.Attempts(f.hook)); got != st.Attempts+posted {
		t.Errorf("%d attempts, want %d", got, st.Attempts+posted)
	}
	for _, rd := range f.srv.Redeliveries() {
		if rd.NewAttemptID == 0 {
			t.Fatalf("redelivery without its attempt: %+v", rd)
		}
	}
}

func TestAsyncAndDeferExcludeEachOther(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "exclude") {
			t.Errorf("recovered %v", r)
		}
	}()
	New(Options{DeferRedeliveries: true, RedeliveryWorkers: 1}).Close()
}

func TestCloseAbandonsDeliveriesInFlight(t *testing.T) {
	g := newGate(t)
	srv := New(Options{RedeliveryWorkers: 1})
	hook := srv.AddOrgHook("acme", HookConfig{URL: g.URL})
	srv.AddToken(Token{Value: "ghp_admin", All: true})
	ids := srv.SeedAttempts(hook, []Seed{{StatusCode: 500}, {StatusCode: 500}})
	for _, id := range ids {
		call(t, nil, "POST", fmt.Sprintf("%s/orgs/acme/hooks/%d/deliveries/%d/attempts", srv.URL(), hook, id), "ghp_admin", nil)
	}
	<-g.arrived
	srv.Close() // must return with one delivery held by the receiver and one queued
	if n := len(srv.Attempts(hook)); n != 2 {
		t.Errorf("%d attempts after Close, want the 2 seeded", n)
	}
}
