package ghfake

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Seed describes one attempt to store without any HTTP.
type Seed struct {
	GUID       string    // "": a new random guid
	Event      string    // "": "push"
	Action     string    // "": null
	At         time.Time // zero: the emulator clock's now; stored in whole seconds
	StatusCode int       // 0 means no HTTP response
	Status     string    // "": derived from StatusCode (0 → "failed to connect to host")
	Redelivery bool
	// Optional extras.
	Duration       float64         // seconds; 0: a plausible value for the status
	Payload        json.RawMessage // nil: synthesized when asked for
	InstallationID int64           // 0: the hook's default
	RepositoryID   int64           // 0: the hook's default
}

// SeedAttempts stores attempts on a hook directly, in any order of At, and
// returns their ids in the order of seeds. Ids grow with At (ties in seed
// order), so the list stays newest first. It panics on an unknown hook.
func (s *Server) SeedAttempts(hookID int64, seeds []Seed) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.mustHook(hookID)
	now := s.now()
	order := make([]int, len(seeds))
	for i := range order {
		order[i] = i
	}
	at := func(i int) time.Time {
		if seeds[i].At.IsZero() {
			return now
		}
		return seeds[i].At
	}
	sort.SliceStable(order, func(a, b int) bool { return at(order[a]).Unix() < at(order[b]).Unix() })
	inst, repoID := s.defaultContext(h)
	ids := make([]int64, len(seeds))
	out := make([]attempt, 0, len(seeds))
	rng := rand.New(rand.NewPCG(uint64(hookID), uint64(len(h.attempts))))
	for _, i := range order {
		sd := seeds[i]
		a := attempt{at: at(i).Unix(), inst: inst, repoID: repoID, redeliv: sd.Redelivery, code: int16(sd.StatusCode)}
		a.id = s.st.idFor(a.at)
		if sd.GUID == "" {
			a.uuid = randomUUID(rng)
		} else {
			h.setGUID(&a, sd.GUID)
		}
		ev := sd.Event
		if ev == "" {
			ev = "push"
		}
		a.event, a.action = s.names.id(ev), s.names.id(sd.Action)
		st := sd.Status
		if st == "" {
			st = statusFor(sd.StatusCode)
		}
		a.status = s.names.id(st)
		a.duration = float32(sd.Duration)
		if sd.Duration == 0 {
			a.duration = float32(plausibleDuration(rng, st, s.timeout))
		}
		if sd.Payload != nil {
			h.payloads = append(h.payloads, append([]byte(nil), sd.Payload...))
			a.payload = int32(len(h.payloads))
		}
		if sd.InstallationID != 0 {
			a.inst = sd.InstallationID
		}
		if sd.RepositoryID != 0 {
			a.repoID = sd.RepositoryID
		}
		out = append(out, a)
		ids[i] = a.id
	}
	h.addSorted(out) // sorted by time, then sequence: by id
	return ids
}

func (s *Server) mustHook(id int64) *hook {
	h := s.st.hooks[id]
	if h == nil {
		panic("ghfake: unknown hook id")
	}
	return h
}

func randomUUID(rng *rand.Rand) [16]byte {
	var u [16]byte
	a, b := rng.Uint64(), rng.Uint64()
	for i := 0; i < 8; i++ {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

func plausibleDuration(rng *rand.Rand, status string, timeout time.Duration) float64 {
	var d float64
	switch status {
	case StatusTimedOut:
		return timeout.Seconds()
	case StatusConnectHost, StatusConnectNetwork:
		d = rng.Float64() * 0.05
	default:
		d = 0.05 + rng.Float64()*0.75
	}
	return math.Round(d*100) / 100
}

// History describes bulk history for SeedHistory.
type History struct {
	N               int       // attempts to create, recoveries included
	From, To        time.Time // window; zero To: clock now; zero From: To-24h
	FailureRatio    float64   // fraction of events whose delivery failed
	NoResponseRatio float64   // fraction of failed attempts with status_code 0
	RecoveredRatio  float64   // fraction of failed events later redelivered OK
	Events          []string  // event names drawn from; nil: push, issues, pull_request
	Seed            int64     // RNG seed: same History, same attempts
}

// HistoryStats summarizes what SeedHistory created.
type HistoryStats struct {
	Attempts     int      // attempts stored
	Events       int      // distinct guids
	Failed       int      // attempts whose status is not "OK"
	NoResponse   int      // failed attempts with status_code 0
	Recovered    int      // failed events with a later OK redelivery
	FailedGUIDs  []string // guids with no OK attempt, oldest first
	OldestID     int64
	NewestID     int64
	Oldest       time.Time
	Newest       time.Time
	FirstFailure time.Time // delivered_at of the oldest failed attempt
}

var defaultEvents = []string{"push", "issues", "pull_request"}

var failureCodes = []int16{500, 502, 503, 504, 404, 400, 401, 422}

// SeedHistory stores h.N generated attempts on a hook, spread evenly over
// [From, To], without HTTP. The same History gives the same attempts (guids,
// statuses, times) on any server. It panics on an unknown hook.
func (s *Server) SeedHistory(hookID int64, h History) HistoryStats {
	if h.To.IsZero() {
		h.To = s.now()
	}
	if h.From.IsZero() {
		h.From = h.To.Add(-24 * time.Hour)
	}
	if h.Events == nil {
		h.Events = defaultEvents
	}
	rng := rand.New(rand.NewPCG(uint64(h.Seed), 0x9e3779b97f4a7c15))

	// First decide what happens to each event, then spread the events over the
	// window: the number of events depends on how many recoveries were drawn.
	type plan struct {
		code      int16
		status    uint8 // index into noResponse, or 255 for an HTTP response
		recovered bool
	}
	noResponse := [...]string{StatusConnectHost, StatusConnectNetwork, StatusTimedOut}
	plans := make([]plan, 0, h.N)
	for total := 0; total < h.N; {
		p := plan{code: 200, status: 255}
		if rng.Float64() < h.FailureRatio {
			if rng.Float64() < h.NoResponseRatio {
				p.code, p.status = 0, uint8(rng.IntN(len(noResponse)))
			} else {
				p.code = failureCodes[rng.IntN(len(failureCodes))]
			}
			p.recovered = total+2 <= h.N && rng.Float64() < h.RecoveredRatio
		}
		plans = append(plans, p)
		total++
		if p.recovered {
			total++
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	hk := s.mustHook(hookID)
	inst, repoID := s.defaultContext(hk)
	okID := s.names.id("OK")
	evIDs := make([]uint16, len(h.Events))
	for i, e := range h.Events {
		evIDs[i] = s.names.id(e)
	}
	noRespIDs := [len(noResponse)]uint16{}
	for i, n := range noResponse {
		noRespIDs[i] = s.names.id(n)
	}
	codeIDs := map[int16]uint16{}
	for _, c := range failureCodes {
		codeIDs[c] = s.names.id(statusFor(int(c)))
	}
	actionIDs := []uint16{s.names.id(""), s.names.id("opened"), s.names.id("closed"), s.names.id("created")}

	from, to := h.From.Unix(), h.To.Unix()
	span := to - from
	out := make([]attempt, 0, h.N)
	stats := HistoryStats{Events: len(plans)}
	var failed []int // indexes into out of unrecovered failed originals
	for i, p := range plans {
		at := from
		if len(plans) > 1 {
			at = from + span*int64(i)/int64(len(plans)-1)
		}
		a := attempt{at: at, uuid: randomUUID(rng), inst: inst, repoID: repoID, code: p.code}
		ev := rng.IntN(len(evIDs))
		a.event = evIDs[ev]
		if h.Events[ev] != "push" {
			a.action = actionIDs[1+rng.IntN(len(actionIDs)-1)]
		}
		switch {
		case p.code >= 200 && p.code < 300:
			a.status = okID
			a.duration = float32(0.05 + math.Round(rng.Float64()*75)/100)
		case p.status != 255:
			a.status = noRespIDs[p.status]
			a.duration = float32(plausibleDuration(rng, noResponse[p.status], s.timeout))
			stats.NoResponse++
		default:
			a.status = codeIDs[p.code]
			a.duration = float32(0.05 + math.Round(rng.Float64()*150)/100)
		}
		a.id = s.st.idFor(a.at)
		out = append(out, a)
		if p.code < 200 || p.code >= 300 {
			stats.Failed++
			if stats.FirstFailure.IsZero() {
				stats.FirstFailure = time.Unix(a.at, 0).UTC()
			}
			if !p.recovered {
				failed = append(failed, len(out)-1)
			}
		}
		if p.recovered {
			r := a
			r.at = min(a.at+60+rng.Int64N(1800), max(to, a.at))
			r.id = s.st.idFor(r.at)
			r.redeliv, r.code, r.status = true, 200, okID
			r.duration = float32(0.05 + math.Round(rng.Float64()*75)/100)
			out = append(out, r)
			stats.Recovered++
		}
	}
	for _, i := range failed {
		stats.FailedGUIDs = append(stats.FailedGUIDs, formatUUID(out[i].uuid))
	}
	slices.SortFunc(out, func(a, b attempt) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	hk.addSorted(out)
	stats.Attempts = len(out)
	if len(out) > 0 {
		stats.OldestID, stats.NewestID = out[0].id, out[len(out)-1].id
		stats.Oldest, stats.Newest = time.Unix(out[0].at, 0).UTC(), time.Unix(out[len(out)-1].at, 0).UTC()
	}
	return stats
}

// addSorted adds id-sorted attempts to the hook: appending is the common
// case, older history is merged in.
func (h *hook) addSorted(as []attempt) {
	if n := len(h.attempts); n == 0 || len(as) == 0 || h.attempts[n-1].id < as[0].id {
		h.attempts = append(h.attempts, as...)
		return
	}
	h.attempts = mergeAttempts(h.attempts, as)
}

// mergeAttempts merges two id-sorted slices.
func mergeAttempts(a, b []attempt) []attempt {
	out := make([]attempt, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].id <= b[0].id {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}
