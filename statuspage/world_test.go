package statuspage_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/sqlite"
	"github.com/redeliver/redeliver/statuspage"
)

// world is the status page on the real engine: the emulator with a repo
// hook and three days of failed deliveries, a receiver (down for the first
// passes, up after), a SQLite state after two passes, and the page whose
// actions run a pass when they make an event due.
type world struct {
	gh      *ghfake.Server
	clock   *ghfake.Clock
	store   *sqlite.Store
	tgt     redeliver.Target
	rcv     *receiver
	g1      string // a failed event waiting for its spacing
	before  int    // redeliveries the emulator had before the page was served
	handler *statuspage.Handler
	pass    func(context.Context) error
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	clock := ghfake.NewClock(t0)
	gh := ghfake.New(ghfake.Options{Clock: clock})
	t.Cleanup(gh.Close)
	rcv := &receiver{got: map[string]int{}}
	rsrv := httptest.NewServer(rcv)
	t.Cleanup(rsrv.Close)
	gh.AddRepo("acme", "api")
	gh.AddToken(ghfake.Token{Value: "ghp_browser_test_token", All: true})
	hook := gh.AddRepoHook("acme", "api", ghfake.HookConfig{URL: rsrv.URL, Secret: "s"})
	tgt := redeliver.Target{Kind: redeliver.KindRepo, Owner: "acme", Repo: "api", HookID: hook}

	// Three days of history: failures spread over time, some recovered by
	// a later attempt, some already redelivered three times.
	var seeds []ghfake.Seed
	events := []string{"push", "pull_request", "issues", "workflow_run"}
	for i := range 40 {
		at := t0.Add(-time.Duration(2+i*17%70) * time.Hour).Add(-time.Duration(i) * time.Minute)
		guid := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		ev := events[i%len(events)]
		seeds = append(seeds, ghfake.Seed{GUID: guid, Event: ev, At: at, StatusCode: 503})
		switch {
		case i%5 == 0:
			seeds = append(seeds, ghfake.Seed{GUID: guid, Event: ev, At: at.Add(time.Hour), StatusCode: 200, Redelivery: true})
		case i%7 == 0:
			for k := 1; k <= 3; k++ {
				seeds = append(seeds, ghfake.Seed{GUID: guid, Event: ev, At: at.Add(time.Duration(k) * time.Minute), StatusCode: 502, Redelivery: true})
			}
		}
	}
	g1 := "00000000-0000-4000-8000-000000000001"
	gh.SeedAttempts(hook, seeds)

	client, err := githubapi.New(githubapi.Config{BaseURL: gh.URL() + "/", Token: "ghp_browser_test_token"})
	if err != nil {
		t.Fatal(err)
	}
	store, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	policy := redeliver.DefaultPolicy()
	policy.MaxAttempts, policy.FirstWindow = 3, 72*time.Hour
	var passMu sync.Mutex // one pass at a time, as a long-running process does
	pass := func(ctx context.Context) error {
		passMu.Lock()
		defer passMu.Unlock()
		r := &redeliver.Runner{Source: client, Redeliverer: client, Store: store, Policy: policy,
			Pacer: redeliver.NewPacer(0), Concurrency: 1}
		rep, err := r.Run(ctx, tgt)
		if err == nil && rep.Error != "" {
			err = fmt.Errorf("pass: %s", rep.Error)
		}
		return err
	}
	// First pass while the receiver is down: every failed event is asked
	// once and fails again.
	if err := pass(ctx); err != nil {
		t.Fatal(err)
	}
	// A second pass sees those redeliveries fail: the events wait for
	// their spacing.
	clock.Advance(5 * time.Minute)
	if err := pass(ctx); err != nil {
		t.Fatal(err)
	}
	rcv.up.Store(true)
	before := len(gh.Redeliveries())

	src := &statuspage.StoreSource{Store: store, Now: clock.Now,
		Configured: []statuspage.Configured{{Target: tgt, Policy: policy}},
		Live: func(string) statuspage.Live {
			return statuspage.Live{LastPoll: clock.Now().Add(-20 * time.Second), Receiver: statuspage.HealthUp,
				ReceiverSince: clock.Now().Add(-4 * time.Minute), Budget: statuspage.Budget{Known: true, Remaining: 4712, Limit: 5000}}
		}}
	actor := &statuspage.StoreActor{Store: store, Now: clock.Now,
		Policy: func(string) redeliver.Policy { return policy },
		After: func(ctx context.Context, _ string, e redeliver.LedgerEntry) error {
			if e.Force {
				return pass(ctx)
			}
			return nil
		}}
	h, err := statuspage.New(statuspage.Options{Source: src, Actor: actor, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &world{gh: gh, clock: clock, store: store, tgt: tgt, rcv: rcv, g1: g1, before: before, handler: h, pass: pass}
}
