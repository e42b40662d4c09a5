package actionsvar

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
)

const bigID = int64(1)<<53 + 1 // not representable in a float64

func sampleEntries() []redeliver.LedgerEntry {
	t0 := time.Date(2025, 11, 27, 8, 0, 0, 0, time.UTC)
	return []redeliver.LedgerEntry{
		{
			GUID: "0b989ba4-242f-11e5-81e1-c7b6a6fd3e0a", Event: "push",
			FirstSeen: t0, AttemptID: bigID, AttemptAt: t0.Add(time.Minute),
			Requests: 2, LastRequest: t0.Add(time.Hour).Add(123456789 * time.Nanosecond),
			Seen: 3, SeenMark: bigID - 2, State: redeliver.StatePending,
			Updated: t0.Add(time.Hour + 500*time.Millisecond),
		},
		{
			GUID: "weird guid\t%\n", Event: "pull_request", Action: "opened",
			FirstSeen: t0.Add(-time.Hour), AttemptID: 1<<62 + 12345, AttemptAt: t0,
			IntentAt: t0.Add(2 * time.Hour).Add(time.Nanosecond), State: redeliver.StateFailed,
			Updated: t0.Add(2 * time.Hour),
		},
		{GUID: "g3", State: redeliver.StateRecovered}, // all zero
		{GUID: "g4", State: redeliver.StateExhausted, AttemptID: 7, SeenMark: 7,
			FirstSeen: time.Unix(0, 0).UTC(), AttemptAt: time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
			Updated: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{GUID: "g5", State: redeliver.StateExpired, Event: "ünïcode", AttemptID: 1<<63 - 1},
	}
}

func byGUID(es []redeliver.LedgerEntry) map[string]redeliver.LedgerEntry {
	m := map[string]redeliver.LedgerEntry{}
	for _, e := range es {
		m[e.GUID] = e
	}
	return m
}

func TestLedgerRoundTrip(t *testing.T) {
	in := sampleEntries()
	v, err := encodeLedger("org/acme/hooks/12", in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "rdl1:org/acme/hooks/12:") {
		t.Fatalf("value %.40q lacks the tag and key", v)
	}
	key, out, err := decodeLedger(v)
	if err != nil {
		t.Fatal(err)
	}
	if key != "org/acme/hooks/12" {
		t.Errorf("key = %q", key)
	}
	got := byGUID(out)
	if len(got) != len(in) {
		t.Fatalf("got %d entries, want %d", len(got), len(in))
	}
	for _, w := range in {
		g := got[w.GUID]
		if g != normalize(w) { // == : every field, times to the nanosecond, in UTC
			t.Errorf("round trip of %q:\n got %+v\nwant %+v", w.GUID, g, w)
		}
	}
	if got[in[0].GUID].AttemptID != bigID || got[in[0].GUID].SeenMark != bigID-2 {
		t.Errorf("ids above 2^53 changed: %d %d", got[in[0].GUID].AttemptID, got[in[0].GUID].SeenMark)
	}
	// Deterministic: the same entries in another order encode the same.
	rev := []redeliver.LedgerEntry{in[4], in[3], in[2], in[1], in[0]}
	if v2, _ := encodeLedger("org/acme/hooks/12", rev); v2 != v {
		t.Error("encoding depends on the order of the entries")
	}
}

func TestLedgerKeyWithColon(t *testing.T) {
	v, err := encodeLedger("a:b:c", nil)
	if err != nil {
		t.Fatal(err)
	}
	key, es, err := decodeLedger(v)
	if err != nil || key != "a:b:c" || len(es) != 0 {
		t.Fatalf("decode = %q, %v, %v", key, es, err)
	}
}

func TestLedgerDecodeRejects(t *testing.T) {
	good, _ := encodeLedger("k", sampleEntries())
	cases := map[string]string{
		"empty":         "",
		"wrong tag":     "rdl2:k:" + strings.SplitN(good, ":", 3)[2],
		"no key":        "rdl1:",
		"bad base64":    "rdl1:k:@@@@",
		"bad gzip":      "rdl1:k:aGVsbG8gd29ybGQ=",
		"truncated":     good[:len(good)-8],
		"other key":     "rdl1:other:" + strings.SplitN(good, ":", 3)[2],
		"plain json":    `{"entries":[]}`,
		"a checkpoint ": "1764230400000",
	}
	for name, v := range cases {
		if _, _, err := decodeLedger(v); err == nil {
			t.Errorf("%s: decoded %.60q", name, v)
		}
	}
}

func TestLedgerDecodeRejectsBadRecords(t *testing.T) {
	// guid state event action id at first requests lastRequest intent seen seenMark updated
	rec := func(f ...string) string {
		r := []string{"g", "f", "push", "", "5", "0", "0", "", "", "", "", "", "0"}
		for i := 0; i+1 < len(f); i += 2 {
			var n int
			fmt.Sscan(f[i], &n)
			r[n] = f[i+1]
		}
		return strings.Join(r, "\t") + "\n"
	}
	h := "k\t1\t100\n"
	cases := map[string]string{
		"ok":              h + rec(),
		"ok fraction":     h + rec("5", "-3.5", "8", "7.000000001"),
		"count mismatch":  "k\t2\t100\n" + rec(),
		"key mismatch":    "j\t1\t100\n" + rec(),
		"bad base":        "k\t1\t1e3\n" + rec(),
		"no newline":      h + strings.TrimSuffix(rec(), "\n"),
		"unknown state":   h + rec("1", "z"),
		"few fields":      h + "g\tf\n",
		"float id":        h + rec("4", "5e3"),
		"id overflow":     h + rec("4", "9223372036854775808"),
		"negative id":     h + rec("4", "-5"),
		"bad time":        h + rec("5", "now"),
		"year 10000":      h + rec("5", "253402300800"),
		"long fraction":   h + rec("5", "0.1234567890"),
		"signed fraction": h + rec("5", "0.-1"),
		"empty guid":      h + rec("0", ""),
		"raw space":       h + rec("0", "a b"),
		"bad escape":      h + rec("0", "g%2"),
		"duplicate guid":  "k\t2\t100\n" + rec() + rec(),
		"seen mark zero":  h + rec("11", "5"),
		"negative count":  h + rec("10", "-1"),
		"huge count":      h + rec("7", "99999999999999999999"),
	}
	for name, p := range cases {
		_, _, err := decodeLedger(rawValue("k", p))
		if (err == nil) != strings.HasPrefix(name, "ok") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestCheckpointFormat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1764230400000", 1764230400000, true},
		{"  1764230400000\n", 1764230400000, true},
		{"0", 0, true},
		{"253402300799999", 253402300799999, true},
		{"253402300800000", 0, false},
		{"99999999999999999999", 0, false},
		{"", 0, false},
		{"   ", 0, false},
		{"abc", 0, false},
		{"1.5e12", 0, false},
		{"-5", 0, false},
		{"+5", 0, false},
		{"1764230400000.0", 0, false},
		{"0x10", 0, false},
	} {
		got, err := ParseCheckpoint(c.in)
		if (err == nil) != c.ok || (c.ok && got.UnixMilli() != c.want) {
			t.Errorf("ParseCheckpoint(%q) = %v, %v", c.in, got, err)
		}
	}
	tm := time.UnixMilli(1764230400123)
	if v, err := FormatCheckpoint(tm); err != nil || v != "1764230400123" {
		t.Errorf("FormatCheckpoint = %q, %v", v, err)
	}
	for _, bad := range []time.Time{{}, time.Unix(-1, 0), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if v, err := FormatCheckpoint(bad); err == nil {
			t.Errorf("FormatCheckpoint(%v) = %q", bad, v)
		}
	}
}

func TestValidateName(t *testing.T) {
	for name, ok := range map[string]bool{
		"LAST_REDELIVERY": true, "_x": true, "a1": true, "redeliver_state": true,
		"": false, "1ABC": false, "GITHUB_X": false, "github_x": false, "GitHub_token": false,
		"A-B": false, "A B": false, "ÄB": false, "A.B": false, "A/B": false,
	} {
		err := ValidateName(name)
		if (err == nil) != ok {
			t.Errorf("ValidateName(%q) = %v", name, err)
		}
		if err != nil && (redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), fmt.Sprintf("%q", name))) {
			t.Errorf("ValidateName(%q): %v should be invalid and name it", name, err)
		}
	}
}

// randomEntries makes n ledger entries with no correlation at all, a worst
// case: random version-4 guids, attempt ids above 2^53 with random gaps, and
// each time drawn on its own over three days.
func randomEntries(n int, seed uint64) []redeliver.LedgerEntry {
	r := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC)
	id := int64(1)<<53 + 1000
	es := make([]redeliver.LedgerEntry, n)
	for i := range es {
		id += 1 + r.Int64N(5000)
		first := t0.Add(time.Duration(r.Int64N(3*24*3600)) * time.Second)
		at := first.Add(time.Duration(r.Int64N(6*3600)) * time.Second)
		e := redeliver.LedgerEntry{
			GUID: uuid4(r), Event: events[r.IntN(len(events))], Action: actions[r.IntN(len(actions))],
			FirstSeen: first, AttemptID: id, AttemptAt: at, State: states[i%len(states)],
			Updated: at.Add(time.Duration(r.Int64N(600)) * time.Second),
		}
		if k := r.IntN(4); k > 0 {
			e.Requests, e.Seen = k, k
			e.LastRequest = at.Add(-time.Duration(r.Int64N(3600)) * time.Second)
			e.SeenMark = id - r.Int64N(3000)
		}
		es[i] = e
	}
	return es
}

// realistic makes n ledger entries the way runs every six hours leave them:
// ids grow with GitHub's clock, redeliveries are requested one a second
// during a run and show up as attempts a second or two later, and an entry's
// Updated is the time of the run that last changed it.
func realistic(n int, seed uint64) []redeliver.LedgerEntry {
	r := rand.New(rand.NewPCG(seed, 2))
	t0 := time.Date(2025, 11, 24, 0, 0, 0, 0, time.UTC)
	const window = 3 * 24 * 3600
	idAt := func(t time.Time) int64 { return int64(1)<<53 + int64(t.Sub(t0).Seconds())*40 + r.Int64N(40) }
	runAfter := func(t time.Time) time.Time { // the next six-hourly run
		return t0.Add(t.Sub(t0).Truncate(6*time.Hour) + 6*time.Hour)
	}
	sent := map[time.Time]int{} // requests made so far in each run
	es := make([]redeliver.LedgerEntry, n)
	for i := range es {
		first := t0.Add(time.Duration(r.Int64N(window)) * time.Second)
		e := redeliver.LedgerEntry{
			GUID: uuid4(r), Event: events[r.IntN(len(events))], Action: actions[r.IntN(len(actions))],
			FirstSeen: first, AttemptID: idAt(first), AttemptAt: first, State: states[i%len(states)],
		}
		run := runAfter(first)
		for k := r.IntN(4); k > 0; k-- {
			req := run.Add(time.Duration(sent[run]) * time.Second)
			sent[run]++
			e.Requests++
			e.Seen++
			e.LastRequest = req
			e.AttemptAt = req.Add(time.Duration(1+r.IntN(2)) * time.Second)
			e.AttemptID = idAt(e.AttemptAt)
			e.SeenMark = e.AttemptID
			run = runAfter(run)
		}
		e.Updated = runAfter(e.AttemptAt)
		es[i] = e
	}
	return es
}

var (
	events  = []string{"push", "pull_request", "issues", "issue_comment", "check_run", "workflow_run"}
	actions = []string{"", "opened", "closed", "created", "completed", "synchronize"}
	states  = []redeliver.State{redeliver.StateFailed, redeliver.StatePending, redeliver.StateRecovered,
		redeliver.StateExhausted, redeliver.StateExpired}
)

func uuid4(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff,
		r.Uint32()&0xfff, 0x8000|r.Uint32()&0x3fff, r.Uint64()&0xffffffffffff)
}

// capacity is how many of es fit in one ledger value.
func capacity(t *testing.T, es []redeliver.LedgerEntry) (n, size int) {
	lo, hi := 0, len(es)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		v, err := encodeLedger("org/acme/hooks/123456789", es[:mid])
		if err != nil {
			t.Fatal(err)
		}
		if len(v) <= MaxLedgerBytes {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	v, _ := encodeLedger("org/acme/hooks/123456789", es[:lo])
	return lo, len(v)
}

// TestLedgerCapacity measures how many entries fit under MaxLedgerBytes; the
// package comment quotes the results.
func TestLedgerCapacity(t *testing.T) {
	n, size := capacity(t, realistic(3000, 7))
	t.Logf("realistic: %d entries in %d bytes (%.1f bytes each)", n, size, float64(size)/float64(n))
	if n < 900 {
		t.Errorf("only %d realistic entries fit; the package comment promises about 900 and more", n)
	}
	n, size = capacity(t, randomEntries(3000, 7))
	t.Logf("uncorrelated: %d entries in %d bytes (%.1f bytes each)", n, size, float64(size)/float64(n))
	if n < 750 {
		t.Errorf("only %d uncorrelated entries fit; the package comment promises about 750 and more", n)
	}
}

func TestFitDropsClosedFirst(t *testing.T) {
	// 1,500 entries: 900 closed, about 700 too many.
	es := randomEntries(1500, 11)
	total := map[redeliver.State]int{}
	for _, e := range es {
		total[e.State]++
	}
	v, drop, err := fit("k", es, MaxLedgerBytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) > MaxLedgerBytes {
		t.Fatalf("%d bytes over the limit", len(v))
	}
	_, kept, err := decodeLedger(v)
	if err != nil {
		t.Fatal(err)
	}
	if len(kept)+len(drop) != len(es) || len(drop) == 0 {
		t.Fatalf("kept %d, dropped %d", len(kept), len(drop))
	}
	// Nearly as many as fit: one more entry back would not.
	dropped := map[string]bool{}
	for _, g := range drop {
		dropped[g] = true
	}
	droppedBy := map[redeliver.State]int{}
	partial := redeliver.StateRecovered
	for _, e := range es {
		if dropped[e.GUID] {
			droppedBy[e.State]++
			if dropRank(e.State) > dropRank(partial) {
				partial = e.State
			}
		}
	}
	t.Logf("dropped %v of %v, kept %d in %d bytes", droppedBy, total, len(kept), len(v))
	if droppedBy[redeliver.StateFailed]+droppedBy[redeliver.StatePending] != 0 {
		t.Errorf("open entries dropped while closed ones remained: %v", droppedBy)
	}
	for st, n := range total {
		if dropRank(st) < dropRank(partial) && droppedBy[st] != n {
			t.Errorf("%s dropped while %d %s entries remained", partial, n-droppedBy[st], st)
		}
	}
	// Within the state partly dropped, the oldest went first.
	var newestDropped, oldestKept time.Time
	for _, e := range es {
		if e.State != partial {
			continue
		}
		if dropped[e.GUID] && e.AttemptAt.After(newestDropped) {
			newestDropped = e.AttemptAt
		}
		if !dropped[e.GUID] && (oldestKept.IsZero() || e.AttemptAt.Before(oldestKept)) {
			oldestKept = e.AttemptAt
		}
	}
	if !oldestKept.IsZero() && newestDropped.After(oldestKept) {
		t.Errorf("dropped %s entry of %v while keeping the older %v", partial, newestDropped, oldestKept)
	}
	// As few as possible: putting back the last one dropped does not fit.
	last := drop[len(drop)-1]
	var back []redeliver.LedgerEntry
	for _, e := range es {
		if !dropped[e.GUID] || e.GUID == last {
			back = append(back, e)
		}
	}
	if w, _ := encodeLedger("k", back); len(w) <= MaxLedgerBytes {
		t.Errorf("dropped %d entries, but %d fit", len(drop), len(back))
	}

	// All open: the oldest open entries go.
	open := randomEntries(2000, 3)
	for i := range open {
		open[i].State = redeliver.StateFailed
	}
	v, drop, err = fit("k", open, MaxLedgerBytes)
	if err != nil || len(v) > MaxLedgerBytes || len(drop) == 0 {
		t.Fatalf("fit open: %d bytes, %d dropped, %v", len(v), len(drop), err)
	}

	// Under the limit: nothing dropped.
	if _, drop, _ := fit("k", es[:100], MaxLedgerBytes); len(drop) != 0 {
		t.Errorf("dropped %d of 100", len(drop))
	}
}
