package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
	"github.com/redeliver/redeliver/storetest"
)

// Alerts read the entries lost for good and one open entry, in batches,
// never the whole ledger: a backlog of failed events does not come into
// memory after every pass.
func TestAlertEntriesReadOnlyWhatAlertsTell(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const key = "org/acme/hooks/1"
	var es []redeliver.LedgerEntry
	var lost []string
	for i := range 2500 {
		e := redeliver.LedgerEntry{GUID: fmt.Sprintf("g%05d", i), Event: "push", State: redeliver.StateFailed}
		switch i % 5 {
		case 1:
			e.State = redeliver.StateExhausted
		case 2:
			e.State = redeliver.StateExpired
		case 3:
			e.State = redeliver.StateRecovered
		}
		if e.State.Lost() {
			lost = append(lost, e.GUID)
		}
		es = append(es, e)
	}
	if err := st.Put(ctx, key, es...); err != nil {
		t.Fatal(err)
	}
	got, err := alertEntries(ctx, storetest.NoWholeReads{Store: st}, key)
	if err != nil {
		t.Fatal(err)
	}
	var gotLost []string
	open := 0
	for _, e := range got {
		switch {
		case e.State.Lost():
			gotLost = append(gotLost, e.GUID)
		case e.State.Open():
			open++
		default:
			t.Errorf("%s (%s) read for alerts", e.GUID, e.State)
		}
	}
	if !slices.Equal(gotLost, lost) || open != 1 {
		t.Fatalf("read %d lost entries (want %d, in guid order) and %d open (want 1)", len(gotLost), len(lost), open)
	}
}
