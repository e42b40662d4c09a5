// Package actionsvar is the redeliver.Store that lives in repository Actions
// variables, compatible with GitHub's docs script
// (redeliver-failed-deliveries.js). It is meant for GitHub Actions runners,
// which keep no disk between runs.
//
// # Variables
//
// A store named NAME in OWNER/REPO uses two repository variables:
//
//   - NAME holds the checkpoint in the docs script's own format: milliseconds
//     since the Unix epoch, in decimal ("1764230400000"). A user can switch
//     from the script to this tool and back with the same variable. Only the
//     checkpoint's Time is kept (to the millisecond); RunAt reads back zero.
//   - NAME_LEDGER holds the per-guid ledger: "rdl1:<target key>:" followed by
//     the base64 of a gzipped text record per entry (see ledger_codec.go).
//     Ids are kept as exact decimal int64s; times are exact to the nanosecond
//     (GitHub's whole seconds cost no fraction) and read back in UTC.
//
// A value this package cannot read — a checkpoint that is not a decimal count
// of milliseconds up to year 9999, a ledger with a wrong tag, bad base64, bad
// gzip or a bad record — is an EInvalid error naming the variable. The store
// never starts over from empty on its own: forgetting the ledger could
// redeliver an event twice.
//
// One store holds ONE target, as the docs script handles one hook. The ledger
// variable records the target's key; asking the store about another target is
// an EInvalid error (use one variable name per hook, or the sqlite store). A
// checkpoint written by the script carries no key: the first target this
// tool asks about adopts it.
//
// # Size
//
// GitHub caps a variable at 48 KB. The ledger is kept under MaxLedgerBytes
// (45,000 bytes). When it would not fit, the store drops closed entries first
// — recovered, then expired, then exhausted, oldest newest-attempt first —
// and then the oldest open entries; Dropped reports how many, and the logger
// hears about it. Measured by TestLedgerCapacity: about 1,090 entries fit
// (41 bytes each) when they look like what six-hourly runs leave behind (ids
// and times that grow together, requests a second apart); about 800 (56 bytes
// each) in the worst case of uncorrelated times and ids. Either way a random
// guid is about half of an entry's cost. Windows with more failed events than
// that are better served by the sqlite store.
//
// # Writes and crashes
//
// Every variable write is an API call, and GitHub counts it against its
// content-creation limits (80 a minute, 500 an hour). So Put only buffers in
// memory; the ledger variable is written by Flush, by Close, by SetCheckpoint
// (ledger first, then the checkpoint), and by Put itself when more than
// FlushInterval has passed since the last write or more than FlushEntries
// entries changed. Nothing is written when nothing changed.
//
// The trade-off, unlike the sqlite store's Put: a run killed between flushes
// loses the ledger entries it changed since the last flush, including the
// intent recorded just before a redelivery request. The next run still does
// not redeliver those events twice, because the checkpoint did not move
// either: it lists the same window again, GitHub lists the redelivery
// attempts the killed run made, and the Planner counts them (Seen) and spaces
// the next request from the newest of them. The gap that remains is a run
// that starts again within seconds of the kill, before GitHub lists a
// redelivery it accepted — Actions schedules make that unlikely.
//
// # Locking
//
// Repository variables cannot be locked: Lock returns at once with a no-op
// unlock. Two runs writing the same variables at once would overwrite each
// other's ledger, so workflows using this store must serialize with a
// `concurrency:` group (the examples do).
//
// # Learned pace
//
// The store does not keep the rate-limit windows a run learns
// (redeliver.PaceStore): a variable holds at most 48 KB, all of it better
// spent on the ledger, and a scheduled workflow's run is short. Each run so
// starts at GitHub's advised pace and learns a limit anew, at the cost of
// one limit answer.
//
// The store never reads, stores or logs the token; the client passed to New
// carries it.
package actionsvar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

// Limits and flush thresholds.
const (
	// GitHubValueLimit is GitHub's documented size limit of one variable.
	GitHubValueLimit = 48 * 1024
	// MaxLedgerBytes is the most the store writes into the ledger variable,
	// leaving a margin under GitHubValueLimit.
	MaxLedgerBytes = 45000
	// FlushInterval: Put writes the ledger when the last write is older.
	FlushInterval = 30 * time.Second
	// FlushEntries: Put writes the ledger when more entries than this have
	// changed since the last write.
	FlushEntries = 200
	// LedgerSuffix is appended to the store's name to name the ledger variable.
	LedgerSuffix = "_LEDGER"
)

// Store is the Actions-variable redeliver.Store. Its methods are safe for
// concurrent use.
type Store struct {
	client     *github.Client
	owner      string
	repo       string
	name       string // checkpoint variable
	ledgerName string // ledger variable
	now        func() time.Time
	log        *slog.Logger
	explain    func(err error, what, notFound string) error
	limit      int

	mu           sync.Mutex
	key          string // the target this store holds; "" until known
	cpExists     bool
	cpValue      string // the checkpoint variable's value as read or written
	cpTime       time.Time
	ledgerExists bool
	ledgerValue  string // the ledger variable's value as read or written
	entries      map[string]redeliver.LedgerEntry
	dirty        map[string]struct{} // guids changed since the last write
	lastFlush    time.Time
	dropped      int
	closed       bool
}

var _ redeliver.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock that times automatic flushes (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithErrors sets how a failed API call becomes a coded error: explain
// gets the call's error, what it was doing, and the message for a 404.
// The command passes the GitHub adapter's mapping (githubapi's
// Client.Explain), so a refusal, a missing scope or a rate limit reads the
// same here as on every other call.
func WithErrors(explain func(err error, what, notFound string) error) Option {
	return func(s *Store) { s.explain = explain }
}

// WithLogger sets where the store reports dropped entries (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// New validates the variable name (GitHub's rules: only letters, digits and
// '_', not starting with a digit or GITHUB_) and the repository, then reads
// both variables of the store named name in owner/repo: name (the checkpoint)
// and name+LedgerSuffix (the ledger). A missing variable means a first run.
// client must already carry authentication, retries and rate-limit handling.
// Errors: EInvalid for a bad name or an unreadable value, EAuth, ENotFound
// when the repository cannot be seen, ERateLimited, EInternal.
func New(ctx context.Context, client *github.Client, owner, repo, name string, opts ...Option) (*Store, error) {
	if err := ValidateName(name); err != nil {
		return nil, redeliver.Wrap(redeliver.EInvalid, err, "actionsvar")
	}
	for _, f := range []struct{ what, v string }{{"owner", owner}, {"repository", repo}} {
		if f.v == "" || strings.ContainsAny(f.v, "/?#% \t\r\n") {
			return nil, redeliver.Errorf(redeliver.EInvalid,
				"actionsvar: variable %s: %s %q is not a GitHub %s name", name, f.what, f.v, f.what)
		}
	}
	if client == nil {
		return nil, redeliver.Errorf(redeliver.EInvalid, "actionsvar: variable %s: no GitHub client", name)
	}
	s := &Store{
		client:     client,
		owner:      owner,
		repo:       repo,
		name:       name,
		ledgerName: name + LedgerSuffix,
		now:        time.Now,
		log:        slog.New(slog.DiscardHandler),
		limit:      MaxLedgerBytes,
		entries:    map[string]redeliver.LedgerEntry{},
		dirty:      map[string]struct{}{},
	}
	for _, o := range opts {
		o(s)
	}

	v, ok, err := s.get(ctx, s.name)
	if err != nil {
		return nil, err
	}
	if ok {
		t, err := s.readCheckpoint(v)
		if err != nil {
			return nil, err
		}
		s.cpExists, s.cpValue, s.cpTime = true, v, t
	}

	v, ok, err = s.get(ctx, s.ledgerName)
	if err != nil {
		return nil, err
	}
	if ok {
		key, es, err := s.readLedger(v)
		if err != nil {
			return nil, err
		}
		s.ledgerExists, s.ledgerValue, s.key = true, v, key
		for _, e := range es {
			s.entries[e.GUID] = e
		}
	}
	if !s.cpExists && !s.ledgerExists {
		// GitHub answers 404 for a missing variable and for a repository
		// the token cannot see; tell them apart now rather than after a run.
		_, resp, err := client.Actions.ListRepoVariables(ctx, owner, repo, &github.ListOptions{PerPage: 1})
		if err != nil {
			return nil, s.apiError(err, resp, "listing", "the Actions variables")
		}
	}
	s.lastFlush = s.now()
	return s, nil
}

// readCheckpoint parses the checkpoint variable's value; its error is
// EInvalid and names the variable and the repository and quotes the value.
func (s *Store) readCheckpoint(v string) (time.Time, error) {
	t, err := ParseCheckpoint(v)
	if err != nil {
		return time.Time{}, redeliver.Wrap(redeliver.EInvalid, err,
			"actionsvar: variable %s in %s/%s holds %s, not the docs script's checkpoint (milliseconds since 1970 in decimal); fix or delete it",
			s.name, s.owner, s.repo, quote(v))
	}
	return t, nil
}

// readLedger parses the ledger variable's value; its error is EInvalid and
// names the variable and the repository.
func (s *Store) readLedger(v string) (string, []redeliver.LedgerEntry, error) {
	key, es, err := decodeLedger(v)
	if err != nil {
		return "", nil, redeliver.Wrap(redeliver.EInvalid, err,
			"actionsvar: variable %s in %s/%s is not a ledger this version can read; fix it, or delete it to start an empty ledger (redeliveries GitHub still lists are counted again, older ones are forgotten)",
			s.ledgerName, s.owner, s.repo)
	}
	return key, es, nil
}

// ValidateName checks a variable name against GitHub's rules: only ASCII
// letters, digits and '_', not starting with a digit, not starting with
// GITHUB_ (in any case). The error is EInvalid and names the variable.
func ValidateName(name string) error {
	bad := func(why string) error {
		return redeliver.Errorf(redeliver.EInvalid, "variable name %s: %s", quote(name), why)
	}
	if name == "" {
		return bad("empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return bad("only letters, digits and '_' are allowed, and it starts with neither a digit nor GITHUB_")
		}
	}
	if '0' <= name[0] && name[0] <= '9' {
		return bad("must not start with a digit")
	}
	if strings.HasPrefix(strings.ToUpper(name), "GITHUB_") {
		return bad("must not start with GITHUB_ (GitHub reserves it)")
	}
	return nil
}

// ParseCheckpoint reads a checkpoint value in the docs script's format:
// spaces around it are ignored; the rest must be decimal digits counting
// milliseconds since the Unix epoch, up to the end of year 9999. The time is
// returned in UTC.
func ParseCheckpoint(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if !isDigits(v) {
		return time.Time{}, errors.New("not a decimal number of milliseconds")
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms > maxUnix*1000+999 {
		return time.Time{}, errors.New("beyond year 9999")
	}
	return time.UnixMilli(ms).UTC(), nil
}

// FormatCheckpoint writes t in the docs script's format (milliseconds since
// the Unix epoch, decimal). It fails for times before 1970 or after 9999.
func FormatCheckpoint(t time.Time) (string, error) {
	if t.Unix() < 0 || t.Unix() > maxUnix {
		return "", fmt.Errorf("time %s is outside 1970 to 9999", t.UTC().Format(time.RFC3339))
	}
	return strconv.FormatInt(t.UnixMilli(), 10), nil
}

// quote quotes v for a message, cut to 40 characters.
func quote(v string) string {
	if utf8.RuneCountInString(v) > 40 {
		r := []rune(v)
		return strconv.Quote(string(r[:40])) + "…"
	}
	return strconv.Quote(v)
}

// Key returns the target key the store holds, "" while it is not known yet.
func (s *Store) Key() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

// Dropped returns how many ledger entries this store dropped so far to keep
// the ledger variable under MaxLedgerBytes.
func (s *Store) Dropped() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// Lock returns at once with a no-op unlock: repository variables cannot be
// locked. Workflows must serialize runs with a `concurrency:` group.
func (s *Store) Lock(ctx context.Context, wait time.Duration) (func() error, error) {
	return func() error { return nil }, nil
}

// Checkpoint returns the time held by the checkpoint variable (RunAt is
// zero); ok is false when the variable does not exist. Errors: EInvalid when
// the store holds another target.
func (s *Store) Checkpoint(ctx context.Context, key string) (redeliver.Checkpoint, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.use(key); err != nil {
		return redeliver.Checkpoint{}, false, err
	}
	if !s.cpExists || s.cpTime.UnixMilli() == 0 {
		// "0" is how a variable made by hand for the docs script says
		// "never run": a first run, not a checkpoint in 1970.
		return redeliver.Checkpoint{}, false, nil
	}
	return redeliver.Checkpoint{Time: s.cpTime}, true, nil
}

// SetCheckpoint writes the ledger if anything changed (or if its variable
// does not exist yet, to record the target), then writes cp.Time into the
// checkpoint variable as milliseconds, unless it already holds that value.
// Errors: EInvalid for another target or a time outside 1970 to 9999, and
// those of the API.
func (s *Store) SetCheckpoint(ctx context.Context, key string, cp redeliver.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.use(key); err != nil {
		return err
	}
	v, err := FormatCheckpoint(cp.Time)
	if err != nil {
		return redeliver.Wrap(redeliver.EInvalid, err, "actionsvar: checkpoint for %s", s.name)
	}
	if err := s.flush(ctx, !s.ledgerExists); err != nil {
		return err
	}
	if s.cpExists && s.cpValue == v {
		return nil
	}
	if err := s.write(ctx, s.name, v, s.cpExists); err != nil {
		return err
	}
	s.cpExists, s.cpValue, s.cpTime = true, v, time.UnixMilli(cp.Time.UnixMilli()).UTC()
	return nil
}

// Entries returns every ledger entry, oldest first seen first. Errors:
// EInvalid when the store holds another target.
func (s *Store) Entries(ctx context.Context, key string) ([]redeliver.LedgerEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.use(key); err != nil {
		return nil, err
	}
	es := slices.Collect(maps.Values(s.entries))
	slices.SortFunc(es, func(a, b redeliver.LedgerEntry) int {
		if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(a.GUID, b.GUID)
	})
	return es, nil
}

// Lookup returns the entries among guids: the ledger is a variable of at
// most a few thousand entries, held in memory anyway.
func (s *Store) Lookup(ctx context.Context, key string, guids []string) ([]redeliver.LedgerEntry, error) {
	es, err := s.Entries(ctx, key)
	if err != nil {
		return nil, err
	}
	return redeliver.LookupIn(es, guids), nil
}

// OpenEntries returns up to limit open entries after the guid after, in
// guid order.
func (s *Store) OpenEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	es, err := s.Entries(ctx, key)
	if err != nil {
		return nil, err
	}
	return redeliver.OpenIn(es, after, limit), nil
}

// EntriesAfter returns up to limit entries after the guid after, in guid
// order.
func (s *Store) EntriesAfter(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	es, err := s.Entries(ctx, key)
	if err != nil {
		return nil, err
	}
	return redeliver.AfterIn(es, after, limit), nil
}

// Counts returns how many entries the target has in each state.
func (s *Store) Counts(ctx context.Context, key string) (map[redeliver.State]int, error) {
	es, err := s.Entries(ctx, key)
	if err != nil {
		return nil, err
	}
	return redeliver.CountIn(es), nil
}

// LostEntries returns up to limit exhausted or expired entries after the
// guid after, in guid order.
func (s *Store) LostEntries(ctx context.Context, key, after string, limit int) ([]redeliver.LedgerEntry, error) {
	es, err := s.Entries(ctx, key)
	if err != nil {
		return nil, err
	}
	return redeliver.LostIn(es, after, limit), nil
}

// Put inserts or replaces entries by guid in memory. Unlike the interface's
// general promise, they survive a crash only once written: Put writes the
// ledger variable itself when more than FlushInterval passed since the last
// write or more than FlushEntries entries changed; otherwise Flush, Close or
// SetCheckpoint do (see the package comment for why that is safe). Errors:
// EInvalid for another target or an entry the ledger cannot hold (empty guid,
// unknown state, negative id or count, time outside years 1 to 9999), and
// those of the API when it writes.
func (s *Store) Put(ctx context.Context, key string, entries ...redeliver.LedgerEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.use(key); err != nil {
		return err
	}
	for _, e := range entries {
		if err := validEntry(e); err != nil {
			return redeliver.Wrap(redeliver.EInvalid, err, "actionsvar: ledger %s", s.ledgerName)
		}
	}
	for _, e := range entries {
		e = normalize(e)
		if old, ok := s.entries[e.GUID]; ok && old == e {
			continue
		}
		s.entries[e.GUID] = e
		s.dirty[e.GUID] = struct{}{}
	}
	if len(s.dirty) > FlushEntries || (len(s.dirty) > 0 && s.now().Sub(s.lastFlush) > FlushInterval) {
		return s.flush(ctx, false)
	}
	return nil
}

// Prune forgets the closed entries whose newest attempt is older than
// before, in memory; the next write records it. It returns how many.
func (s *Store) Prune(ctx context.Context, key string, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.use(key); err != nil {
		return 0, err
	}
	n := 0
	for guid, e := range s.entries {
		if !e.State.Open() && e.AttemptAt.Before(before) {
			delete(s.entries, guid)
			s.dirty[guid] = struct{}{}
			n++
		}
	}
	return n, nil
}

// Targets returns the target key the store holds, if it holds one: none
// before this tool's first write (a checkpoint written by the docs script
// names no target).
func (s *Store) Targets(ctx context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key == "" || (!s.ledgerExists && !s.cpExists && len(s.entries) == 0) {
		return nil, nil
	}
	return []string{s.key}, nil
}

// Flush writes the ledger variable if any entry changed since the last
// write. Errors are those of the API.
func (s *Store) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flush(ctx, false)
}

// Close flushes the ledger (waiting at most a minute) and releases the
// store. Later calls return nil and do nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := s.flush(ctx, false)
	s.closed = true
	return err
}

// use checks that key is the store's target, adopting it when the store
// holds none yet.
func (s *Store) use(key string) error {
	if s.closed {
		return redeliver.Errorf(redeliver.EInternal, "actionsvar: variable %s: store is closed", s.name)
	}
	if key == "" {
		return redeliver.Errorf(redeliver.EInvalid, "actionsvar: variable %s: empty target key", s.name)
	}
	if s.key == "" {
		s.key = key
		return nil
	}
	if s.key != key {
		return redeliver.Errorf(redeliver.EInvalid,
			"actionsvar: variables %s and %s in %s/%s hold target %s, not %s: one variable name holds one hook (choose another name per hook, or use the sqlite store)",
			s.name, s.ledgerName, s.owner, s.repo, s.key, key)
	}
	return nil
}

// flush writes the ledger when entries changed (or force is set and a target
// is known), dropping entries to fit MaxLedgerBytes. The caller holds mu.
func (s *Store) flush(ctx context.Context, force bool) error {
	if len(s.dirty) == 0 && !(force && s.key != "") {
		return nil
	}
	if s.key == "" {
		// Only Put, Prune or SetCheckpoint mark entries dirty, and they bind
		// a key first.
		return redeliver.Errorf(redeliver.EInternal, "actionsvar: variable %s: no target key", s.ledgerName)
	}
	v, drop, err := fit(s.key, slices.Collect(maps.Values(s.entries)), s.limit)
	if err != nil {
		return redeliver.Wrap(redeliver.EInternal, err, "actionsvar: encoding ledger %s", s.ledgerName)
	}
	if s.ledgerExists && v == s.ledgerValue {
		s.dirty = map[string]struct{}{}
		s.lastFlush = s.now()
		return nil
	}
	if err := s.write(ctx, s.ledgerName, v, s.ledgerExists); err != nil {
		return err
	}
	for _, g := range drop {
		delete(s.entries, g)
	}
	if len(drop) > 0 {
		s.dropped += len(drop)
		s.log.Warn("actionsvar: ledger full; dropped the oldest entries, closed ones first",
			"variable", s.ledgerName, "dropped", len(drop), "kept", len(s.entries), "limit_bytes", s.limit)
	}
	s.ledgerExists, s.ledgerValue = true, v
	s.dirty = map[string]struct{}{}
	s.lastFlush = s.now()
	return nil
}

// dropRank orders states by how little is lost when their entries go:
// recovered, expired, exhausted, then the open ones.
func dropRank(st redeliver.State) int {
	switch st {
	case redeliver.StateRecovered:
		return 0
	case redeliver.StateExpired:
		return 1
	case redeliver.StateExhausted:
		return 2
	}
	return 3
}

// fit encodes entries for key within limit bytes, dropping as few entries
// as it can in dropRank order, oldest newest-attempt first. It returns the
// value and the guids dropped.
func fit(key string, entries []redeliver.LedgerEntry, limit int) (string, []string, error) {
	v, err := encodeLedger(key, entries)
	if err != nil || len(v) <= limit {
		return v, nil, err
	}
	slices.SortFunc(entries, func(a, b redeliver.LedgerEntry) int {
		if c := dropRank(a.State) - dropRank(b.State); c != 0 {
			return c
		}
		if c := a.AttemptAt.Compare(b.AttemptAt); c != 0 {
			return c
		}
		if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
			return c
		}
		return strings.Compare(a.GUID, b.GUID)
	})
	// Binary search the fewest drops that fit (the size grows with the
	// count, all but monotonically), then step up if gzip disagrees.
	lo, hi := 1, len(entries) // lo: may not fit; hi: fits (empty always does, see below)
	for lo < hi {
		mid := (lo + hi) / 2
		w, err := encodeLedger(key, entries[mid:])
		if err != nil {
			return "", nil, err
		}
		if len(w) <= limit {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	for k := hi; k <= len(entries); k++ {
		w, err := encodeLedger(key, entries[k:])
		if err != nil {
			return "", nil, err
		}
		if len(w) <= limit {
			drop := make([]string, k)
			for i, e := range entries[:k] {
				drop[i] = e.GUID
			}
			return w, drop, nil
		}
	}
	return "", nil, fmt.Errorf("even an empty ledger for %q exceeds %d bytes", key, limit)
}

// get reads a variable; ok is false on 404.
func (s *Store) get(ctx context.Context, name string) (string, bool, error) {
	v, resp, err := s.client.Actions.GetRepoVariable(ctx, s.owner, s.repo, name)
	if err != nil {
		if status(resp, err) == http.StatusNotFound {
			return "", false, nil
		}
		return "", false, s.apiError(err, resp, "reading", "variable "+name)
	}
	if v == nil {
		return "", false, redeliver.Errorf(redeliver.EInternal,
			"actionsvar: reading variable %s in %s/%s: empty answer", name, s.owner, s.repo)
	}
	return v.Value, true, nil
}

// write updates (exists) or creates a variable, falling back to the other
// call when GitHub says it guessed wrong (404 on update, 409 on create).
func (s *Store) write(ctx context.Context, name, value string, exists bool) error {
	update := func() (*github.Response, error) {
		return s.client.Actions.UpdateRepoVariable(ctx, s.owner, s.repo, name,
			github.ActionsUpdateVariableRequest{Value: &value})
	}
	create := func() (*github.Response, error) {
		return s.client.Actions.CreateRepoVariable(ctx, s.owner, s.repo,
			github.ActionsCreateVariableRequest{Name: name, Value: value})
	}
	first, second, fallback := create, update, http.StatusConflict
	if exists {
		first, second, fallback = update, create, http.StatusNotFound
	}
	resp, err := first()
	if err != nil && status(resp, err) == fallback {
		resp, err = second()
	}
	if err != nil {
		return s.apiError(err, resp, "writing", "variable "+name)
	}
	return nil
}

// status returns the HTTP status of a failed call, 0 if there was none.
func status(resp *github.Response, err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	if resp != nil && resp.Response != nil {
		return resp.StatusCode
	}
	return 0
}

// apiError gives an API failure its code and names what it was about:
// by the GitHub adapter's mapping when WithErrors gave it, else by the
// small fallback below (for a Store used without that adapter).
func (s *Store) apiError(err error, resp *github.Response, doing, what string) error {
	if s.explain != nil {
		where := fmt.Sprintf("actionsvar: %s %s in %s/%s", doing, what, s.owner, s.repo)
		return s.explain(err, where, where+": no such repository, or the token cannot see it")
	}
	var (
		rl *github.RateLimitError
		ab *github.AbuseRateLimitError
	)
	code, hint := redeliver.EInternal, ""
	switch st := status(resp, err); {
	case errors.As(err, &rl), errors.As(err, &ab):
		code = redeliver.ERateLimited
	case st == http.StatusUnauthorized:
		code, hint = redeliver.EAuth, " (the token was refused)"
	case st == http.StatusForbidden:
		code, hint = redeliver.EAuth, " (the token needs repository Variables: write, or the repo scope)"
	case st == http.StatusNotFound:
		code, hint = redeliver.ENotFound, " (no such repository, or the token cannot see it)"
	case st == http.StatusConflict:
		code = redeliver.EConflict
	case st == http.StatusUnprocessableEntity:
		code = redeliver.EInvalid
	}
	return redeliver.Wrap(code, err, "actionsvar: %s %s in %s/%s%s", doing, what, s.owner, s.repo, hint)
}
