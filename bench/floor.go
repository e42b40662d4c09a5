package main

import (
	"time"
)

// The floor of a case is the least the job can cost: every attempt in the
// window has to be listed (100 a page), every failed guid needs one POST, and
// the state has to be read and written. Under github.com's rate limits the
// POSTs also need time: the envelope below says how much at the least.

const perPage = 100

// floorCalls is ⌈attempts/100⌉ list pages + one POST per failed guid + the
// API calls the program's state needs (the docs script keeps its checkpoint
// in a repository variable: one read, one write; redeliver keeps it in a
// local SQLite file: none).
func floorCalls(attempts, failed, stateCalls int) int {
	return pages(attempts) + failed + stateCalls
}

func pages(attempts int) int { return (attempts + perPage - 1) / perPage }

// envelope is GitHub's documented REST rate limits (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api), the ones
// ghfake.Budget enforces with its zero values.
type envelope struct {
	PrimaryPerHour   int // requests per caller per hour (fixed window from the first request)
	PointsPerMinute  int // per route: GET 1 point, POST/PATCH/PUT/DELETE 5
	ContentPerMinute int // content-creating requests (POST, PATCH)
	ContentPerHour   int
}

// githubEnvelope is github.com's envelope for a personal access token.
var githubEnvelope = envelope{PrimaryPerHour: 5000, PointsPerMinute: 900, ContentPerMinute: 80, ContentPerHour: 500}

// request is one API call in a schedule.
type request struct {
	route string
	write bool // POST/PATCH: 5 points and content-creating
	gap   time.Duration
}

// schedule is the outcome of placing requests under an envelope.
type schedule struct {
	End   time.Duration // when the last request goes
	Waits int           // requests that had to wait for the envelope (a client that did not know would have been refused)
}

// simulate places the requests in order, each no sooner than gap after the
// previous one and no sooner than the envelope allows, and returns when the
// last one goes. With zero gaps it is the envelope's floor: sending each
// request at the earliest moment every window admits it is the fastest any
// client can be, since the windows only ever free capacity as time passes.
// Requests take no time: the floor ignores latency and processing.
func simulate(env envelope, reqs []request) schedule {
	var (
		t        time.Duration
		sch      schedule
		primary  = fixedWindow{length: time.Hour, limit: env.PrimaryPerHour}
		contentM = slidingWindow{length: time.Minute, limit: env.ContentPerMinute}
		contentH = slidingWindow{length: time.Hour, limit: env.ContentPerHour}
		points   = map[string]*slidingWindow{}
	)
	for i, r := range reqs {
		if i > 0 {
			t += r.gap
		}
		pw := points[r.route]
		if pw == nil {
			pw = &slidingWindow{length: time.Minute, limit: env.PointsPerMinute}
			points[r.route] = pw
		}
		weight := 1
		if r.write {
			weight = 5
		}
		want := t
		for {
			next := max(primary.earliest(t), pw.earliest(t, weight))
			if r.write {
				next = max(next, contentM.earliest(t, 1), contentH.earliest(t, 1))
			}
			if next == t {
				break
			}
			t = next
		}
		if t > want {
			sch.Waits++
		}
		primary.add(t)
		pw.add(t, weight)
		if r.write {
			contentM.add(t, 1)
			contentH.add(t, 1)
		}
	}
	sch.End = t
	return sch
}

// jobRequests is the request sequence of one run: the list pages, then one
// POST per failed guid, then the state calls (a read first, a write last).
func jobRequests(attempts, failed, stateCalls int, pageGap, postGap time.Duration) []request {
	reqs := make([]request, 0, pages(attempts)+failed+stateCalls)
	if stateCalls > 0 {
		reqs = append(reqs, request{route: "GET variable"})
	}
	for range pages(attempts) {
		reqs = append(reqs, request{route: "GET deliveries", gap: pageGap})
	}
	for range failed {
		reqs = append(reqs, request{route: "POST attempts", write: true, gap: postGap})
	}
	if stateCalls > 1 {
		reqs = append(reqs, request{route: "POST variable", write: true})
	}
	return reqs
}

// envelopeOf is github.com's envelope in one of its worlds: where
// redeliveries are not content creation, only the points limit their pace.
func envelopeOf(r regime) envelope {
	env := githubEnvelope
	if r == dotcomNoContent {
		env.ContentPerMinute, env.ContentPerHour = 0, 0
	}
	return env
}

// envelopeFloor is the least time github.com's envelope allows for a run.
func envelopeFloor(r regime, attempts, failed, stateCalls int) time.Duration {
	return simulate(envelopeOf(r), jobRequests(attempts, failed, stateCalls, 0, 0)).End
}

// slidingWindow is a limit over the last `length` of time, as ghfake keeps
// it: an event at time a stops counting once now-length ≥ a.
type slidingWindow struct {
	length time.Duration
	limit  int
	at     []time.Duration
	w      []int
	head   int
	sum    int
}

func (s *slidingWindow) trim(t time.Duration) {
	for s.head < len(s.at) && s.at[s.head] <= t-s.length {
		s.sum -= s.w[s.head]
		s.head++
	}
	if s.head > 4096 && s.head*2 > len(s.at) {
		s.at = append(s.at[:0], s.at[s.head:]...)
		s.w = append(s.w[:0], s.w[s.head:]...)
		s.head = 0
	}
}

// earliest is the first time ≥ t at which weight more fits.
func (s *slidingWindow) earliest(t time.Duration, weight int) time.Duration {
	if s.limit <= 0 {
		return t
	}
	s.trim(t)
	need := s.sum + weight - s.limit
	for i := s.head; need > 0 && i < len(s.at); i++ {
		need -= s.w[i]
		if need <= 0 {
			return s.at[i] + s.length
		}
	}
	return t
}

func (s *slidingWindow) add(t time.Duration, weight int) {
	if s.limit <= 0 {
		return
	}
	s.at = append(s.at, t)
	s.w = append(s.w, weight)
	s.sum += weight
}

// fixedWindow is GitHub's primary limit: a quota that resets an hour after
// the first request of the window.
type fixedWindow struct {
	length  time.Duration
	limit   int
	start   time.Duration
	used    int
	started bool
}

func (f *fixedWindow) earliest(t time.Duration) time.Duration {
	if f.limit <= 0 || !f.started || t >= f.start+f.length || f.used < f.limit {
		return t
	}
	return f.start + f.length
}

func (f *fixedWindow) add(t time.Duration) {
	if f.limit <= 0 {
		return
	}
	if !f.started || t >= f.start+f.length {
		f.start, f.used, f.started = t, 0, true
	}
	f.used++
}
