package redeliver

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSelectReplay(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(ago time.Duration) time.Time { return now.Add(-ago) }
	// Newest first, as GitHub lists them.
	attempts := []Attempt{
		{ID: 9, GUID: "a", DeliveredAt: at(10 * time.Minute), Redelivery: true, StatusCode: 500, Event: "push"},
		{ID: 8, GUID: "b", DeliveredAt: at(20 * time.Minute), StatusCode: 200, Event: "issues", Action: "opened"},
		{ID: 7, GUID: "a", DeliveredAt: at(30 * time.Minute), StatusCode: 200, Event: "push"},
		{ID: 6, GUID: "c", DeliveredAt: at(2 * time.Hour), StatusCode: 200, Event: "push"},
		{ID: 5, GUID: "d", DeliveredAt: at(3 * time.Hour), StatusCode: 0, Event: "push"},
		{ID: 4, GUID: "old", DeliveredAt: at(73 * time.Hour), StatusCode: 200, Event: "push"},
	}
	for _, c := range []struct {
		name string
		sel  Selection
		want []int64 // attempt ids, in order
		err  string
	}{
		{"guid takes its newest attempt", Selection{GUIDs: []string{"a"}}, []int64{9}, ""},
		{"guids newest first, each once", Selection{GUIDs: []string{"c", "a", "a"}}, []int64{9, 6}, ""},
		{"delivery id takes that attempt", Selection{IDs: []int64{7}}, []int64{7}, ""},
		{"id and guid of one delivery: once", Selection{GUIDs: []string{"a"}, IDs: []int64{7}}, []int64{9}, ""},
		{"window: each guid's newest attempt in it", Selection{SinceAgo: time.Hour}, []int64{9, 8}, ""},
		{"window until: older attempt of a guid", Selection{SinceAgo: time.Hour, UntilAgo: 25 * time.Minute}, []int64{7}, ""},
		{"window: status code filters the newest attempt", Selection{SinceAgo: 4 * time.Hour, StatusCodes: []int{200}}, []int64{8, 6}, ""},
		{"window: no response is code 0", Selection{SinceAgo: 4 * time.Hour, StatusCodes: []int{0}}, []int64{5}, ""},
		{"window: events", Selection{SinceAgo: 4 * time.Hour, Events: []string{"issues.opened"}}, []int64{8}, ""},
		{"window: absolute since", Selection{Since: at(150 * time.Minute)}, []int64{9, 8, 6}, ""},
		{"window: at the horizon", Selection{SinceAgo: 72 * time.Hour}, []int64{9, 8, 6, 5}, ""},
		{"window past the horizon", Selection{SinceAgo: 73 * time.Hour}, nil, "reaches past GitHub's redelivery horizon (3 days"},
		{"absolute since past the horizon", Selection{Since: at(80 * time.Hour)}, nil, "reaches past GitHub's redelivery horizon"},
		{"until before since", Selection{SinceAgo: time.Hour, UntilAgo: 2 * time.Hour}, nil, "is before --since"},
		{"guid past the horizon", Selection{GUIDs: []string{"a", "old"}}, nil, "--guid old was delivered at"},
		{"id past the horizon", Selection{IDs: []int64{4}}, nil, "--delivery-id 4 was delivered at"},
		{"guid not listed", Selection{GUIDs: []string{"x"}}, nil, "--guid x: no delivery of it in the last 3 days"},
		{"id not listed", Selection{IDs: []int64{99}}, nil, "--delivery-id 99: no such delivery"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := SelectReplay(attempts, c.sel, now, HorizonDotCom)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || ErrorCode(err) != EInvalid {
					t.Fatalf("err %v, want %q (invalid)", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, a := range got {
				ids = append(ids, a.ID)
			}
			if !slices.Equal(ids, c.want) {
				t.Errorf("got %v, want %v", ids, c.want)
			}
		})
	}
}

func TestSelectionValidate(t *testing.T) {
	for _, c := range []struct {
		sel Selection
		err string
	}{
		{Selection{}, "say what to replay"},
		{Selection{GUIDs: []string{"a"}, SinceAgo: time.Hour}, "not both"},
		{Selection{GUIDs: []string{"a"}, StatusCodes: []int{200}}, "filter a --since window"},
		{Selection{IDs: []int64{1}, UntilAgo: time.Hour}, "--until bounds a --since window"},
		{Selection{SinceAgo: time.Hour, StatusCodes: []int{600}}, "--status-code 600"},
		{Selection{IDs: []int64{0}}, "--delivery-id 0"},
		{Selection{GUIDs: []string{" "}}, "--guid: empty"},
		{Selection{SinceAgo: time.Hour, Events: []string{"pushh"}}, "pushh"},
		{Selection{SinceAgo: time.Hour, Events: []string{"push"}, StatusCodes: []int{200, 0}}, ""},
	} {
		err := c.sel.Validate()
		if c.err == "" {
			if err != nil {
				t.Errorf("%+v: %v", c.sel, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%+v: err %v, want %q", c.sel, err, c.err)
		}
	}
}

func TestReplayedSince(t *testing.T) {
	from := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		e    LedgerEntry
		want bool
	}{
		{LedgerEntry{}, false},
		{LedgerEntry{Manual: ManualReplay, ManualAt: from}, true},
		{LedgerEntry{Manual: ManualReplay, ManualAt: from.Add(-time.Second)}, false},
		{LedgerEntry{Manual: ManualReplay, ManualAt: from.Add(-time.Second), IntentAt: from.Add(time.Minute)}, true},
		{LedgerEntry{Manual: ManualRedeliverNow, ManualAt: from.Add(time.Hour)}, false},
	} {
		if got := replayedSince(c.e, from); got != c.want {
			t.Errorf("%+v: %v, want %v", c.e, got, c.want)
		}
	}
}
