package ghfake

import (
	"net/http"
	"strings"
	"time"
)

// Budget turns on enforced secondary rate limits modelled on GitHub's
// documented ones (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api). Zero fields take GitHub's values. Windows run
// on wall time (Now) divided by Scale, so Budget{Scale: 60} makes a
// per-minute limit behave as per-second and an hourly one as per-minute: a
// benchmark can meet the limits sixty times sooner. Limits are per caller
// (token, installation, app).
type Budget struct {
	Scale            float64          // time compression; 0 or 1: real time
	PrimaryPerHour   int              // primary limit per caller per (scaled) hour; 0: Options.PrimaryLimit
	PointsPerMinute  int              // per REST endpoint; GET=1, POST/PATCH/PUT/DELETE=5; 0: 900
	ContentPerMinute int              // content-creating requests (POST, PATCH); 0: 80
	ContentPerHour   int              // 0: 500
	Concurrent       int              // requests in flight; 0: 100
	Status           int              // 403 or 429 for limit answers; 0: 403
	Now              func() time.Time // the budget's clock; nil: time.Now
	// RedeliveriesNotContent exempts redeliveries (POST …/attempts) from the
	// content-creating limits (ContentPerMinute, ContentPerHour); they still
	// cost 5 points. GitHub does not document whether it counts them,
	// so the default counts them; this models the other world.
	RedeliveriesNotContent bool
}

// scaled divides a GitHub window by Scale.
func (b *Budget) scaled(d time.Duration) time.Duration {
	if b.Scale > 0 {
		return time.Duration(float64(d) / b.Scale)
	}
	return d
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// budgetState is one caller's sliding windows.
type budgetState struct {
	points   map[string]*window // per route
	contentM window
	contentH window
	inflight int
}

// window is a sliding window of weighted events, oldest first.
type window struct {
	at  []time.Time
	w   []int
	sum int
}

// trim drops events at or before cutoff.
func (w *window) trim(cutoff time.Time) {
	i := 0
	for i < len(w.at) && !w.at[i].After(cutoff) {
		w.sum -= w.w[i]
		i++
	}
	if i > 0 {
		w.at, w.w = w.at[i:], w.w[i:]
	}
}

// wait returns how long until adding weight fits under limit, given the window length.
func (w *window) wait(weight, limit int, length time.Duration, now time.Time) time.Duration {
	need := w.sum + weight - limit
	for i := 0; need > 0 && i < len(w.at); i++ {
		need -= w.w[i]
		if need <= 0 {
			return w.at[i].Add(length).Sub(now)
		}
	}
	return 0
}

func (w *window) add(t time.Time, weight int) {
	w.at = append(w.at, t)
	w.w = append(w.w, weight)
	w.sum += weight
}

// spend charges the request to the caller's budget, or answers the secondary
// limit (with retry-after) when it does not fit. release ends the request's
// share of the concurrency limit.
func (s *Server) spend(c *reqCtx) (release func(), ok bool) {
	b := s.opts.Budget
	now := s.wallNow()
	minute, hour := b.scaled(time.Minute), b.scaled(time.Hour)
	points := 1
	content := false
	switch c.r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		points = 5
		// whether redeliveries count as content-creating is
		// unverified; POST and PATCH count, so clients pace them as if they do.
		content = c.r.Method == http.MethodPost || c.r.Method == http.MethodPatch
		if b.RedeliveriesNotContent && isRedelivery(c.rt) {
			content = false
		}
	}
	s.limits.mu.Lock()
	st := s.limits.budget[c.p.key]
	if st == nil {
		st = &budgetState{points: map[string]*window{}}
		s.limits.budget[c.p.key] = st
	}
	pw := st.points[c.rt.name]
	if pw == nil {
		pw = &window{}
		st.points[c.rt.name] = pw
	}
	pw.trim(now.Add(-minute))
	st.contentM.trim(now.Add(-minute))
	st.contentH.trim(now.Add(-hour))
	var wait time.Duration
	over := false
	if st.inflight >= orDefault(b.Concurrent, 100) {
		over, wait = true, time.Second
	}
	if pw.sum+points > orDefault(b.PointsPerMinute, 900) {
		over, wait = true, max(wait, pw.wait(points, orDefault(b.PointsPerMinute, 900), minute, now))
	}
	if content {
		if st.contentM.sum+1 > orDefault(b.ContentPerMinute, 80) {
			over, wait = true, max(wait, st.contentM.wait(1, orDefault(b.ContentPerMinute, 80), minute, now))
		}
		if st.contentH.sum+1 > orDefault(b.ContentPerHour, 500) {
			over, wait = true, max(wait, st.contentH.wait(1, orDefault(b.ContentPerHour, 500), hour, now))
		}
	}
	if !over {
		pw.add(now, points)
		if content {
			st.contentM.add(now, 1)
			st.contentH.add(now, 1)
		}
		st.inflight++
	}
	s.limits.mu.Unlock()
	if over {
		s.limitResponse(c, secondaryLimit, s.primaryStatus(), wait, false, false)
		return nil, false
	}
	return func() {
		s.limits.mu.Lock()
		st.inflight--
		s.limits.mu.Unlock()
	}, true
}

// isRedelivery reports whether a route is one of the three "redeliver a
// delivery" operations.
func isRedelivery(rt *route) bool {
	return rt.method == http.MethodPost && strings.HasSuffix(rt.path, "/deliveries/{delivery_id}/attempts")
}
