package ghfake

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestOutsideClockDrivesTheEmulator shares one fake clock between a test
// (standing in for the service under test) and the emulator.
func TestOutsideClockDrivesTheEmulator(t *testing.T) {
	shared := &fakeWall{t: time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)}
	rcv := newReceiver(t, http.StatusInternalServerError)
	srv := newServer(t, Options{Now: shared.Now})
	hook := srv.AddOrgHook("acme", HookConfig{URL: rcv.URL})
	srv.AddToken(Token{Value: "ghp_admin", All: true})

	a, err := srv.Send(hook, "push", "", nil)
	if err != nil || !a.DeliveredAt.Equal(shared.Now()) {
		t.Fatalf("delivered_at %v, shared clock %v (%v)", a.DeliveredAt, shared.Now(), err)
	}
	shared.Advance(90 * time.Minute)
	r := call(t, nil, "GET", srv.URL()+"/orgs/acme/hooks/"+strconv.FormatInt(hook, 10)+"/deliveries", "ghp_admin", nil)
	if d, _ := http.ParseTime(r.Header.Get("Date")); !d.Equal(shared.Now()) {
		t.Errorf("Date %s, shared clock %v", r.Header.Get("Date"), shared.Now())
	}
	// The redelivery horizon reads the same clock.
	shared.Advance(3 * 24 * time.Hour)
	url := srv.URL() + "/orgs/acme/hooks/" + strconv.FormatInt(hook, 10) + "/deliveries/" + strconv.FormatInt(a.ID, 10) + "/attempts"
	if r := call(t, nil, "POST", url, "ghp_admin", nil); r.Status != HorizonRejectStatus {
		t.Errorf("redelivery past the horizon on the shared clock: %d", r.Status)
	}
	// Advance and Set shift the emulator from the shared clock, which keeps moving.
	srv.Clock().Advance(time.Hour)
	shared.Advance(time.Minute)
	if got, want := srv.Clock().Now(), shared.Now().Add(time.Hour); !got.Equal(want) {
		t.Errorf("after Advance: %v, want %v", got, want)
	}
	target := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	srv.Clock().Set(target)
	shared.Advance(time.Second)
	if got := srv.Clock().Now(); !got.Equal(target.Add(time.Second)) {
		t.Errorf("after Set: %v", got)
	}
}

func TestClockAndNowExcludeEachOther(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "exclude") {
			t.Errorf("recovered %v", r)
		}
	}()
	New(Options{Clock: NewClock(DefaultStart), Now: time.Now}).Close()
}
