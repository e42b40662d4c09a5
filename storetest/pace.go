package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

// NewPaceState is NewState for a store that keeps learned paces.
type NewPaceState func(t testing.TB) (open func(t testing.TB) redeliver.PaceStore)

// Pace is the contract of redeliver.PaceStore: a host with no record has
// none; windows come back exactly, shortest first, to another store on the
// same state too; a later record replaces the earlier one whole; hosts do
// not see each other's; a window that is not one is refused and changes
// nothing.
func Pace(t *testing.T, newState NewPaceState) {
	ctx := context.Background()
	open := newState(t)
	s := open(t)
	const host, other = "api.github.com", "ghe.example.com/api/v3"
	if ws, ok, err := s.Pace(ctx, host); err != nil || ok || len(ws) != 0 {
		t.Fatalf("a host with no record: %v, %v, %v", ws, ok, err)
	}
	minute := redeliver.Window{Limit: 80, Length: time.Minute}
	hour := redeliver.Window{Limit: 500, Length: time.Hour}
	if err := s.SetPace(ctx, host, []redeliver.Window{hour, minute}); err != nil {
		t.Fatal(err)
	}
	want := []redeliver.Window{minute, hour}
	if ws, ok, err := open(t).Pace(ctx, host); err != nil || !ok || !slices.Equal(ws, want) {
		t.Fatalf("read back %v, %v, %v; want %v", ws, ok, err, want)
	}
	if ws, ok, err := s.Pace(ctx, other); err != nil || ok || len(ws) != 0 {
		t.Fatalf("another host sees %v, %v, %v", ws, ok, err)
	}
	smaller := redeliver.Window{Limit: 400, Length: time.Hour}
	if err := s.SetPace(ctx, host, []redeliver.Window{smaller}); err != nil {
		t.Fatal(err)
	}
	if ws, _, err := s.Pace(ctx, host); err != nil || !slices.Equal(ws, []redeliver.Window{smaller}) {
		t.Fatalf("after a new record: %v, %v; want only %v", ws, err, smaller)
	}
	for _, bad := range [][]redeliver.Window{{{Limit: 0, Length: time.Minute}}, {minute, {Limit: 5, Length: 0}}} {
		if err := s.SetPace(ctx, host, bad); redeliver.ErrorCode(err) != redeliver.EInvalid {
			t.Errorf("SetPace(%v): %v, want EInvalid", bad, err)
		}
	}
	if err := s.SetPace(ctx, "", []redeliver.Window{minute}); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("SetPace with no host: %v, want EInvalid", err)
	}
	if ws, _, err := s.Pace(ctx, host); err != nil || !slices.Equal(ws, []redeliver.Window{smaller}) {
		t.Fatalf("refused records changed it: %v, %v", ws, err)
	}
}
