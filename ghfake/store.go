package ghfake

import (
	"encoding/hex"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// hookKind is the family a hook belongs to; it decides its URLs and JSON.
type hookKind uint8

const (
	orgHook hookKind = iota
	repoHook
	appHook
)

// HookConfig is a hook's delivery configuration.
type HookConfig struct {
	URL         string   // payload URL the emulator POSTs to
	Secret      string   // HMAC key for X-Hub-Signature-256; "" sends no signature
	Events      []string // nil: ["push"], GitHub's default (not enforced by Send)
	Active      *bool    // nil: true
	ContentType string   // "json" (default) or "form"
	InsecureSSL bool     // skip verifying the receiver's TLS certificate
}

type org struct {
	login string
	id    int64
}

type repo struct {
	owner, name string
	id          int64
	vars        map[string]*variable // key: upper-cased name (names are case-insensitive)
	issues      issueState
}

type variable struct {
	name, value      string
	created, updated time.Time
}

type hook struct {
	id      int64
	kind    hookKind
	owner   string // org login (org hooks) or repo owner (repo hooks)
	repo    string // repo hooks only
	appID   int64  // app hooks only
	cfg     HookConfig
	created time.Time
	updated time.Time

	// attempts is ascending by id, which is also ascending by time: ids are
	// derived from delivered_at (see idFor), so history seeded out of order
	// still lists newest first.
	attempts []attempt
	payloads [][]byte             // referenced by attempt.payload-1
	guids    []string             // non-UUID guids, referenced by attempt.guidRef-1
	details  map[int64]*delivered // what real HTTP deliveries sent and got back
}

// attempt is one delivery attempt, kept small because a hook may hold
// millions: strings are interned, the guid is 16 bytes, and the request and
// response a "get one" shows are rebuilt on demand.
type attempt struct {
	id       int64
	at       int64 // unix seconds
	uuid     [16]byte
	guidRef  int32 // >0: hook.guids[guidRef-1]
	payload  int32 // >0: hook.payloads[payload-1]; 0: synthesized
	event    uint16
	action   uint16 // 0: null
	status   uint16
	code     int16
	redeliv  bool
	duration float32
	inst     int64 // 0: null
	repoID   int64 // 0: null
}

// delivered keeps what a real HTTP delivery sent and received. The request
// headers are rebuilt from the secret and form flag it was sent with rather
// than stored: they are most of a delivery's size, and a benchmark records
// hundreds of thousands of redeliveries.
type delivered struct {
	url        string
	secret     string
	form       bool
	respHeader map[string]string
	respBody   *string
}

// Attempt is a delivery attempt as a test sees it.
type Attempt struct {
	ID             int64
	GUID           string
	DeliveredAt    time.Time
	Redelivery     bool
	Duration       float64 // seconds
	Status         string
	StatusCode     int
	Event          string
	Action         string // "" for null
	InstallationID int64  // 0 for null
	RepositoryID   int64  // 0 for null
	HookID         int64
	// Payload is the body sent, for attempts made by Send or a redelivery of
	// one; nil for seeded attempts (their payload is synthesized on demand).
	Payload json.RawMessage
}

// Failed reports whether the attempt counts as failed (status not "OK", https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/troubleshooting-webhooks).
func (a Attempt) Failed() bool { return a.Status != "OK" }

type app struct {
	App
	created time.Time
	hookID  int64
	insts   []int64
}

type installation struct {
	id      int64
	appID   int64
	account string
	repos   []string // nil: all repositories of the account
	created time.Time
}

// store is everything the emulator knows; guarded by Server.mu.
type store struct {
	orgs     map[string]*org // key: lower-cased login
	repos    map[string]*repo
	hooks    map[int64]*hook
	apps     map[int64]*app
	insts    map[int64]*installation
	nextOrg  int64
	nextHook int64
	nextInst int64
	seq      int64 // global attempt sequence, low bits of ids
	ids      issueIDs
}

func (st *store) init() {
	st.orgs = map[string]*org{}
	st.repos = map[string]*repo{}
	st.hooks = map[int64]*hook{}
	st.apps = map[int64]*app{}
	st.insts = map[int64]*installation{}
	st.nextOrg = 9000001
	st.nextHook = 500000001
	st.nextInst = 60000001
}

func repoKey(owner, name string) string { return strings.ToLower(owner + "/" + name) }

// names interns the few distinct strings attempts use (events, actions,
// statuses) so an attempt carries 2-byte references. Guarded by Server.mu.
type names struct {
	list []string
	idx  map[string]uint16
}

func (n *names) init() {
	n.list = []string{""}
	n.idx = map[string]uint16{"": 0}
}

func (n *names) id(s string) uint16 {
	if i, ok := n.idx[s]; ok {
		return i
	}
	if len(n.list) >= 1<<16 {
		panic("ghfake: too many distinct event/action/status strings")
	}
	i := uint16(len(n.list))
	n.list = append(n.list, s)
	n.idx[s] = i
	return i
}

// Delivery ids are as large as GitHub's are today (above 2^53, so clients that
// parse JSON numbers as float64 lose precision) and derived from delivered_at:
// idBase + (seconds since DefaultStart)<<24 + a sequence number. Ordering by id
// is then ordering by time, across hooks and seeding calls alike.
const (
	idBase  = int64(3804004623172239366)
	seqBits = 24
)

func (st *store) idFor(at int64) int64 {
	st.seq++
	return idBase + (at-DefaultStart.Unix())<<seqBits + st.seq&(1<<seqBits-1)
}

// insert adds a to h keeping attempts sorted by id.
func (h *hook) insert(a attempt) {
	n := len(h.attempts)
	if n == 0 || h.attempts[n-1].id < a.id {
		h.attempts = append(h.attempts, a)
		return
	}
	i := sort.Search(n, func(i int) bool { return h.attempts[i].id >= a.id })
	h.attempts = append(h.attempts, attempt{})
	copy(h.attempts[i+1:], h.attempts[i:])
	h.attempts[i] = a
}

// find returns the index of the attempt with the given id, or -1.
func (h *hook) find(id int64) int {
	i := sort.Search(len(h.attempts), func(i int) bool { return h.attempts[i].id >= id })
	if i < len(h.attempts) && h.attempts[i].id == id {
		return i
	}
	return -1
}

// guid returns an attempt's guid as text.
func (h *hook) guid(a *attempt) string {
	if a.guidRef > 0 {
		return h.guids[a.guidRef-1]
	}
	return formatUUID(a.uuid)
}

// setGUID stores g compactly when it is a UUID and by reference otherwise.
func (h *hook) setGUID(a *attempt, g string) {
	if u, ok := parseUUID(g); ok {
		a.uuid = u
		return
	}
	h.guids = append(h.guids, g)
	a.guidRef = int32(len(h.guids))
}

func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// parseUUID accepts only the lower-case canonical form, so formatUUID gives
// back exactly the string that was stored.
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	if strings.ToLower(s) != s {
		return u, false
	}
	h := s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return u, false
	}
	return u, true
}

// export turns a stored attempt into the public form.
func (s *Server) export(h *hook, a *attempt) Attempt {
	out := Attempt{
		ID:             a.id,
		GUID:           h.guid(a),
		DeliveredAt:    time.Unix(a.at, 0).UTC(),
		Redelivery:     a.redeliv,
		Duration:       a.seconds(),
		Status:         s.names.list[a.status],
		StatusCode:     int(a.code),
		Event:          s.names.list[a.event],
		Action:         s.names.list[a.action],
		InstallationID: a.inst,
		RepositoryID:   a.repoID,
		HookID:         h.id,
	}
	if a.payload > 0 {
		out.Payload = append(json.RawMessage(nil), h.payloads[a.payload-1]...)
	}
	return out
}

// statusFor derives GitHub's status string from a status code (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/troubleshooting-webhooks).
func statusFor(code int) string {
	switch {
	case code == 0:
		return StatusConnectHost
	case code >= 200 && code < 300:
		return "OK"
	default:
		return "Invalid HTTP Response: " + strconv.Itoa(code)
	}
}

// Status strings GitHub records for attempts that got no HTTP response (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/troubleshooting-webhooks).
const (
	StatusConnectHost    = "failed to connect to host"
	StatusConnectNetwork = "failed to connect to network"
	StatusTimedOut       = "timed out"
	StatusTLS            = "Peer certificate cannot be authenticated with given CA certificates"
)

// ---- topology ----

// AddOrg registers an organization (idempotent).
func (s *Server) AddOrg(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addOrgLocked(login)
}

func (s *Server) addOrgLocked(login string) *org {
	k := strings.ToLower(login)
	if o := s.st.orgs[k]; o != nil {
		return o
	}
	o := &org{login: login, id: s.st.nextOrg}
	s.st.nextOrg++
	s.st.orgs[k] = o
	return o
}

// AddRepo registers a repository, creating its owner organization if needed (idempotent).
func (s *Server) AddRepo(owner, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRepoLocked(owner, name)
}

func (s *Server) addRepoLocked(owner, name string) *repo {
	o := s.addOrgLocked(owner)
	k := repoKey(owner, name)
	if r := s.st.repos[k]; r != nil {
		return r
	}
	r := &repo{owner: o.login, name: name, id: 700000000 + int64(len(s.st.repos)) + 1, vars: map[string]*variable{}}
	s.st.repos[k] = r
	return r
}

func (s *Server) newHookLocked(kind hookKind, id int64, cfg HookConfig) *hook {
	if id == 0 {
		for s.st.hooks[s.st.nextHook] != nil {
			s.st.nextHook++
		}
		id = s.st.nextHook
		s.st.nextHook++
	}
	now := s.now().Truncate(time.Second)
	h := &hook{id: id, kind: kind, cfg: normConfig(cfg), created: now, updated: now, details: map[int64]*delivered{}}
	s.st.hooks[id] = h
	return h
}

func normConfig(cfg HookConfig) HookConfig {
	if cfg.Events == nil {
		cfg.Events = []string{"push"}
	}
	cfg.Events = append([]string(nil), cfg.Events...)
	if cfg.Active == nil {
		t := true
		cfg.Active = &t
	} else {
		a := *cfg.Active
		cfg.Active = &a
	}
	if cfg.ContentType == "" {
		cfg.ContentType = "json"
	}
	return cfg
}

// AddOrgHook creates an organization hook (creating the org if needed) and returns its id.
func (s *Server) AddOrgHook(org string, cfg HookConfig) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.addOrgLocked(org)
	h := s.newHookLocked(orgHook, 0, cfg)
	h.owner = o.login
	return h.id
}

// AddRepoHook creates a repository hook (creating the repo if needed) and returns its id.
func (s *Server) AddRepoHook(owner, repo string, cfg HookConfig) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.addRepoLocked(owner, repo)
	h := s.newHookLocked(repoHook, 0, cfg)
	h.owner, h.repo = r.owner, r.name
	return h.id
}

// SetHookURL points a hook elsewhere (receiver up/down). Unknown ids are ignored.
func (s *Server) SetHookURL(hookID int64, url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.st.hooks[hookID]; h != nil {
		h.cfg.URL = url
		h.updated = s.now().Truncate(time.Second)
	}
}

// SetHookActive turns a hook on or off. Unknown ids are ignored.
func (s *Server) SetHookActive(hookID int64, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := s.st.hooks[hookID]; h != nil {
		h.cfg.Active = &active
	}
}

// Attempts returns a hook's attempts, newest first (nil for an unknown hook).
func (s *Server) Attempts(hookID int64) []Attempt {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.st.hooks[hookID]
	if h == nil {
		return nil
	}
	out := make([]Attempt, 0, len(h.attempts))
	for i := len(h.attempts) - 1; i >= 0; i-- {
		out = append(out, s.export(h, &h.attempts[i]))
	}
	return out
}

// Attempt returns one attempt of a hook by id.
func (s *Server) Attempt(hookID, id int64) (Attempt, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h := s.st.hooks[hookID]
	if h == nil {
		return Attempt{}, false
	}
	i := h.find(id)
	if i < 0 {
		return Attempt{}, false
	}
	return s.export(h, &h.attempts[i]), true
}

// defaultContext returns the installation and repository ids GitHub would put
// on a delivery of h when the caller does not say.
func (s *Server) defaultContext(h *hook) (inst, repoID int64) {
	switch h.kind {
	case repoHook:
		if r := s.st.repos[repoKey(h.owner, h.repo)]; r != nil {
			repoID = r.id
		}
	case appHook:
		if a := s.st.apps[h.appID]; a != nil && len(a.insts) > 0 {
			inst = a.insts[0]
		}
	}
	return inst, repoID
}

func lower(s string) string { return strings.ToLower(s) }

// seconds returns the duration as the decimal it was recorded as (it is
// stored as float32 to keep attempts small).
func (a *attempt) seconds() float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(a.duration), 'f', -1, 32), 64)
	return f
}
