package redeliver

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// benchAttempts returns attempts of guids guids, perGUID each (the original
// and perGUID-1 failed redeliveries an hour apart), newest first as GitHub
// lists them, with ids above 2^53.
func benchAttempts(guids, perGUID int) []Attempt {
	n := guids * perGUID
	as := make([]Attempt, n)
	start := specNow.Add(-48 * time.Hour)
	names := make([]string, guids)
	for g := range names {
		names[g] = fmt.Sprintf("%08x-242f-11e5-81e1-c7b6966d2516", g)
	}
	// Attempt k (oldest first) belongs to guid k % guids; its round is k / guids.
	for k := range n {
		g, round := k%guids, k/guids
		code := 500
		if k%7 == 0 {
			code = 0
		}
		as[n-1-k] = Attempt{
			ID:          specID + int64(k),
			GUID:        names[g],
			DeliveredAt: start.Add(time.Duration(round)*time.Hour + time.Duration(g)*time.Millisecond),
			Redelivery:  round > 0,
			Status:      statusFor(code),
			StatusCode:  code,
			Event:       "issues",
			Action:      "opened",
		}
	}
	return as
}

// BenchmarkObservationAdd folds one attempt per op into per-guid
// observations of 5 attempts (an original and 4 redeliveries).
func BenchmarkObservationAdd(b *testing.B) {
	const perGUID = 5
	as := benchAttempts(1000, perGUID)
	// Regroup so that each guid's attempts are consecutive.
	byGUID := make([]Attempt, 0, len(as))
	seen := map[string][]Attempt{}
	var order []string
	for _, a := range as {
		if _, ok := seen[a.GUID]; !ok {
			order = append(order, a.GUID)
		}
		seen[a.GUID] = append(seen[a.GUID], a)
	}
	for _, g := range order {
		byGUID = append(byGUID, seen[g]...)
	}
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var o *Observation
	i := 0
	for b.Loop() {
		if i%perGUID == 0 {
			o = &Observation{} // the Runner makes one per guid
		}
		o.Add(byGUID[i%len(byGUID)])
		i++
	}
	runtime.ReadMemStats(&after)
	// allocs/op is rounded down to a whole number; this is the exact mean.
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N), "allocs/attempt")
}

// BenchmarkDecide decides one guid per op in the common situations.
func BenchmarkDecide(b *testing.B) {
	p := DefaultPolicy()
	firstFailure := observed(orig(specID, origAt, 500))
	reSeen := observed(redel(specID+2, tMinus(30*minute), 500), redel(specID+1, tMinus(3*hour), 500))
	waiting := g1Entry(requested(2, tMinus(30*minute)), listed(2, specID+2), newestAttempt(specID+2, tMinus(30*minute)))
	pending := g1Entry(inState(StatePending), requested(1, tMinus(5*minute)))
	for _, c := range []struct {
		name string
		obs  *Observation
		prev *LedgerEntry
	}{
		{"new-failure", firstFailure, nil},
		{"re-seen-waiting", reSeen, waiting},
		{"carried-forward", nil, waiting},
		{"pending", nil, pending},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Decide(c.obs, c.prev, p, specNow)
			}
		})
	}
}

// BenchmarkPlan100k folds 100,000 attempts of 20,000 guids into
// observations, as the Runner does page by page, then decides every guid
// (half of them known to the ledger) and orders the redeliveries.
func BenchmarkPlan100k(b *testing.B) {
	const guids, perGUID = 20000, 5
	as := benchAttempts(guids, perGUID)
	ledger := make(map[string]*LedgerEntry, guids/2)
	for i, a := range as[:guids] { // the newest attempt of every guid
		if i%2 == 0 {
			ledger[a.GUID] = &LedgerEntry{GUID: a.GUID, Event: a.Event, Action: a.Action,
				FirstSeen: a.DeliveredAt.Add(-4 * time.Hour), AttemptID: a.ID - 4*guids,
				AttemptAt: a.DeliveredAt.Add(-4 * time.Hour), Requests: 2,
				LastRequest: a.DeliveredAt.Add(-2 * time.Hour), State: StateFailed}
		}
	}
	p := DefaultPolicy()
	var redeliver int
	b.ReportAllocs()
	for b.Loop() {
		obs := make(map[string]*Observation)
		for _, a := range as {
			o := obs[a.GUID]
			if o == nil {
				o = &Observation{}
				obs[a.GUID] = o
			}
			o.Add(a)
		}
		ds := make([]*Decision, 0, len(obs))
		for guid, o := range obs {
			d := Decide(o, ledger[guid], p, specNow)
			ds = append(ds, &d)
		}
		redeliver = len(Order(ds, 0))
	}
	if redeliver == 0 {
		b.Fatal("nothing to redeliver: the benchmark plans nothing")
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(as)), "ns/attempt")
	b.ReportMetric(float64(redeliver), "redeliveries")
}
