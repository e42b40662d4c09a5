package actionsvar

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

const (
	owner   = "acme"
	repo    = "ops"
	varName = "LAST_REDELIVERY"
	ledName = varName + LedgerSuffix
	key     = "org/acme/hooks/12"

	routeGet   = "GET /repos/{owner}/{repo}/actions/variables/{name}"
	routePost  = "POST /repos/{owner}/{repo}/actions/variables"
	routePatch = "PATCH /repos/{owner}/{repo}/actions/variables/{name}"
)

// counter counts every request a client sends.
type counter struct {
	n    atomic.Int64
	next http.RoundTripper
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

type fixture struct {
	srv    *ghfake.Server
	client *github.Client
}

func setup(t *testing.T) *fixture {
	t.Helper()
	srv := ghfake.New(ghfake.Options{})
	t.Cleanup(srv.Close)
	srv.AddRepo(owner, repo)
	srv.AddToken(ghfake.Token{Value: "t", All: true})
	return &fixture{srv: srv, client: clientFor(t, srv, "t", nil)}
}

func clientFor(t *testing.T, srv *ghfake.Server, token string, c *counter) *github.Client {
	t.Helper()
	base := srv.URL() + "/"
	opts := []github.ClientOptionsFunc{github.WithAuthToken(token), github.WithURLs(&base, &base)}
	if c != nil {
		c.next = http.DefaultTransport
		opts = append(opts, github.WithTransport(c))
	}
	gc, err := github.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return gc
}

// counted returns a client of f's server that counts its requests.
func (f *fixture) counted(t *testing.T) (*github.Client, *counter) {
	c := &counter{}
	return clientFor(t, f.srv, "t", c), c
}

func (f *fixture) writes() int {
	return f.srv.RequestCount(routePost) + f.srv.RequestCount(routePatch)
}

func (f *fixture) open(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s, err := New(context.Background(), f.client, owner, repo, varName, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFirstRun(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	s := f.open(t)
	if _, ok, err := s.Checkpoint(ctx, key); ok || err != nil {
		t.Fatalf("Checkpoint on a first run: ok=%v err=%v", ok, err)
	}
	if es, err := s.Entries(ctx, key); len(es) != 0 || err != nil {
		t.Fatalf("Entries on a first run: %v %v", es, err)
	}
	if ts, _ := s.Targets(ctx); len(ts) != 0 {
		t.Errorf("Targets on a first run: %v", ts)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.writes(); n != 0 {
		t.Errorf("a run that set nothing wrote %d times", n)
	}

	s = f.open(t)
	at := time.Date(2025, 11, 27, 8, 0, 0, 123_456_789, time.UTC)
	if err := s.SetCheckpoint(ctx, key, redeliver.Checkpoint{Time: at, RunAt: at}); err != nil {
		t.Fatal(err)
	}
	if v, ok := f.srv.Variable(owner, repo, varName); !ok || v != "1764230400123" {
		t.Errorf("checkpoint variable = %q, %v; want the docs script's milliseconds", v, ok)
	}
	if v, ok := f.srv.Variable(owner, repo, ledName); !ok || !strings.HasPrefix(v, "rdl1:"+key+":") {
		t.Errorf("ledger variable = %.60q, %v; want it created naming the target", v, ok)
	}
	if n := f.srv.RequestCount(routePost); n != 2 {
		t.Errorf("%d POSTs, want 2 (checkpoint and ledger)", n)
	}

	s = f.open(t)
	cp, ok, err := s.Checkpoint(ctx, key)
	if err != nil || !ok || !cp.Time.Equal(at.Truncate(time.Millisecond)) || !cp.RunAt.IsZero() {
		t.Fatalf("Checkpoint after a run = %+v, %v, %v", cp, ok, err)
	}
	if ts, _ := s.Targets(ctx); len(ts) != 1 || ts[0] != key {
		t.Errorf("Targets = %v", ts)
	}
	// Setting the same checkpoint again writes nothing.
	before := f.writes()
	if err := s.SetCheckpoint(ctx, key, cp); err != nil {
		t.Fatal(err)
	}
	if n := f.writes() - before; n != 0 {
		t.Errorf("an unchanged checkpoint wrote %d times", n)
	}
}

func TestDocsScriptCheckpoint(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.srv.SetVariable(owner, repo, varName, "1764230400000")
	s := f.open(t)
	cp, ok, err := s.Checkpoint(ctx, key)
	if err != nil || !ok || cp.Time.UnixMilli() != 1764230400000 {
		t.Fatalf("Checkpoint = %+v, %v, %v", cp, ok, err)
	}
	if ts, _ := s.Targets(ctx); len(ts) != 1 || ts[0] != key {
		t.Errorf("Targets after adopting the script's checkpoint = %v", ts)
	}
	next := cp.Time.Add(6 * time.Hour)
	if err := s.SetCheckpoint(ctx, key, redeliver.Checkpoint{Time: next}); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.srv.Variable(owner, repo, varName); v != "1764252000000" {
		t.Errorf("checkpoint = %q, want 1764252000000", v)
	}
	if n := f.srv.RequestCount(routePatch); n != 1 {
		t.Errorf("%d PATCHes, want 1: the checkpoint existed", n)
	}
	// The script reads it back: a plain decimal count of milliseconds.
	if v, _ := f.srv.Variable(owner, repo, varName); !isDigits(v) {
		t.Errorf("the script could not read %q", v)
	}
}

// TestZeroCheckpointIsAFirstRun: "0", set by hand for the docs script,
// means "never run"; it reads as no checkpoint (a first run looks back its
// usual window), not as 1970, and the first checkpoint replaces it.
func TestZeroCheckpointIsAFirstRun(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.srv.SetVariable(owner, repo, varName, "0")
	s := f.open(t)
	if cp, ok, err := s.Checkpoint(ctx, key); err != nil || ok {
		t.Fatalf("Checkpoint = %+v, %v, %v; want none", cp, ok, err)
	}
	if err := s.SetCheckpoint(ctx, key, redeliver.Checkpoint{Time: time.UnixMilli(1764252000000)}); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.srv.Variable(owner, repo, varName); v != "1764252000000" {
		t.Errorf("checkpoint = %q, want 1764252000000", v)
	}
}

func TestGarbageCheckpointRejected(t *testing.T) {
	for _, v := range []string{"abc", "", "1.5e12", "-5", "  ", "1764230400000ms",
		"253402300800000", strings.Repeat("x", 100)} {
		t.Run(v, func(t *testing.T) {
			f := setup(t)
			f.srv.SetVariable(owner, repo, varName, v)
			_, err := New(context.Background(), f.client, owner, repo, varName)
			if err == nil {
				t.Fatal("accepted")
			}
			msg := err.Error()
			if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(msg, varName) ||
				!strings.Contains(msg, owner+"/"+repo) {
				t.Errorf("error %q must be invalid and name the variable and repository", msg)
			}
			quoted := `"` + v + `"`
			if len(v) > 40 {
				quoted = `"` + v[:40] + `"…`
			}
			if !strings.Contains(msg, quoted) {
				t.Errorf("error %q must quote the value cut to 40 characters", msg)
			}
			if n := f.writes(); n != 0 {
				t.Errorf("%d writes after a rejected value", n)
			}
		})
	}
}

func TestLedgerRoundTripOverHTTP(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	s := f.open(t)
	in := sampleEntries()
	if err := s.Put(ctx, key, in...); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.open(t)
	out, err := s.Entries(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got := byGUID(out)
	if len(got) != len(in) {
		t.Fatalf("read %d entries, wrote %d", len(got), len(in))
	}
	for _, w := range in {
		if g := got[w.GUID]; g != normalize(w) || !g.LastRequest.Equal(w.LastRequest) {
			t.Errorf("entry %q:\n got %+v\nwant %+v", w.GUID, g, w)
		}
	}
	if e := got[in[0].GUID]; e.AttemptID != bigID || e.SeenMark != bigID-2 {
		t.Errorf("ids above 2^53 changed: %d, %d", e.AttemptID, e.SeenMark)
	}
	if ts, _ := s.Targets(ctx); len(ts) != 1 || ts[0] != key {
		t.Errorf("Targets = %v", ts)
	}
}

func TestPutBuffersUntilFlush(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	s := f.open(t)
	es := sampleEntries()
	if err := s.Put(ctx, key, es...); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, key, es[0]); err != nil {
		t.Fatal(err)
	}
	if n := f.writes(); n != 0 {
		t.Fatalf("Put wrote %d times before Flush", n)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.RequestCount(routePost); n != 1 {
		t.Fatalf("Flush POSTed %d times, want 1", n)
	}
	// Nothing changed since: no writes.
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, key, es...); err != nil { // the same entries again
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.writes(); n != 1 {
		t.Errorf("unchanged flushes wrote: %d writes in all, want 1", n)
	}
	// A change is written with PATCH.
	e := es[1]
	e.State = redeliver.StateRecovered
	if err := s.Put(ctx, key, e); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.RequestCount(routePatch); n != 1 {
		t.Errorf("Close PATCHed %d times, want 1", n)
	}
	// A store opened and closed without changes writes nothing.
	s = f.open(t)
	if _, err := s.Entries(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.writes(); n != 2 {
		t.Errorf("an unchanged store wrote on Close: %d writes in all, want 2", n)
	}
}

func TestPutFlushesOnTimeAndCount(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	var mu sync.Mutex
	now := time.Date(2025, 11, 27, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := f.open(t, WithClock(clock))

	es := randomEntries(400, 5)
	if err := s.Put(ctx, key, es[0]); err != nil {
		t.Fatal(err)
	}
	advance(FlushInterval)
	if err := s.Put(ctx, key, es[1]); err != nil {
		t.Fatal(err)
	}
	if n := f.writes(); n != 0 {
		t.Fatalf("wrote %d times at exactly FlushInterval", n)
	}
	advance(time.Second)
	if err := s.Put(ctx, key, es[2]); err != nil {
		t.Fatal(err)
	}
	if n := f.writes(); n != 1 {
		t.Fatalf("%d writes after FlushInterval, want 1", n)
	}
	// FlushEntries changes are kept; one more is written.
	for _, e := range es[3 : 3+FlushEntries] {
		if err := s.Put(ctx, key, e); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.writes(); n != 1 {
		t.Fatalf("%d writes after %d changes, want still 1", n, FlushEntries)
	}
	if err := s.Put(ctx, key, es[3+FlushEntries]); err != nil {
		t.Fatal(err)
	}
	if n := f.writes(); n != 2 {
		t.Fatalf("%d writes after %d changes, want 2", n, FlushEntries+1)
	}
	s2 := f.open(t)
	got, _ := s2.Entries(ctx, key)
	if len(got) != 4+FlushEntries {
		t.Errorf("the variable holds %d entries, want %d", len(got), 4+FlushEntries)
	}
}

func TestLedgerOverflow(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	s := f.open(t)
	es := randomEntries(1500, 9) // 900 closed, 600 open: about 700 too many
	if err := s.Put(ctx, key, es...); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	v, _ := f.srv.Variable(owner, repo, ledName)
	if len(v) > MaxLedgerBytes {
		t.Fatalf("ledger is %d bytes, over %d", len(v), MaxLedgerBytes)
	}
	if s.Dropped() == 0 {
		t.Fatal("Dropped() = 0 after an overflow")
	}
	kept, _ := s.Entries(ctx, key)
	if len(kept)+s.Dropped() != len(es) {
		t.Errorf("kept %d + dropped %d != %d", len(kept), s.Dropped(), len(es))
	}
	open := 0
	for _, e := range kept {
		if e.State.Open() {
			open++
		}
	}
	if open != 600 {
		t.Errorf("kept %d open entries of 600: closed ones must go first", open)
	}
	s2 := f.open(t)
	reread, _ := s2.Entries(ctx, key)
	if len(reread) != len(kept) {
		t.Errorf("the variable holds %d entries, the store %d", len(reread), len(kept))
	}
	t.Logf("kept %d entries in %d bytes, dropped %d", len(kept), len(v), s.Dropped())
}

func TestGarbledLedgerRejected(t *testing.T) {
	good, _ := encodeLedger(key, sampleEntries())
	data := good[strings.LastIndexByte(good, ':')+1:]
	for name, v := range map[string]string{
		"bad base64": "rdl1:" + key + ":!!!not base64!!!",
		"bad gzip":   "rdl1:" + key + ":" + "aGVsbG8=",
		"wrong tag":  "rdl9:" + key + ":" + data,
		"no tag":     data,
		"truncated":  good[:len(good)-20],
		"bad record": rawValue(key, "org/acme/hooks/12\t1\t0\ng\tq\t\t\t\t\t\t\t\t\t\t\t\n"),
		"empty":      "",
	} {
		t.Run(name, func(t *testing.T) {
			f := setup(t)
			f.srv.SetVariable(owner, repo, ledName, v)
			_, err := New(context.Background(), f.client, owner, repo, varName)
			if err == nil {
				t.Fatal("accepted")
			}
			if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), ledName) {
				t.Errorf("error %q must be invalid and name %s", err, ledName)
			}
			if n := f.writes(); n != 0 {
				t.Errorf("%d writes after a rejected ledger", n)
			}
		})
	}
}

func TestBadNamesRejectedBeforeAnyRequest(t *testing.T) {
	f := setup(t)
	client, sent := f.counted(t)
	for _, c := range []struct{ owner, repo, name string }{
		{owner, repo, "1ST"}, {owner, repo, "GITHUB_CHECKPOINT"}, {owner, repo, "github_x"},
		{owner, repo, "LAST-REDELIVERY"}, {owner, repo, ""}, {owner, repo, "A B"},
		{"", repo, varName}, {owner, "", varName}, {"ac/me", repo, varName}, {owner, "o?ps", varName},
	} {
		_, err := New(context.Background(), client, c.owner, c.repo, c.name)
		if redeliver.ErrorCode(err) != redeliver.EInvalid {
			t.Errorf("New(%q, %q, %q) = %v, want an invalid error", c.owner, c.repo, c.name, err)
			continue
		}
		if c.name != varName && !strings.Contains(err.Error(), `"`+c.name+`"`) {
			t.Errorf("error %q does not name the variable %q", err, c.name)
		}
	}
	if n := sent.n.Load(); n != 0 {
		t.Errorf("%d requests sent for bad names", n)
	}
}

func TestOneTargetPerStore(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	s := f.open(t)
	if err := s.Put(ctx, key, sampleEntries()[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "org/acme/hooks/13", sampleEntries()[1]); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("Put for a second target: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = f.open(t)
	if s.Key() != key {
		t.Errorf("Key() = %q after reading the ledger", s.Key())
	}
	_, _, err := s.Checkpoint(ctx, "org/acme/hooks/13")
	if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), ledName) ||
		!strings.Contains(err.Error(), key) {
		t.Errorf("Checkpoint for another target: %v", err)
	}
	if err := s.SetCheckpoint(ctx, "org/acme/hooks/13", redeliver.Checkpoint{Time: time.Now()}); err == nil {
		t.Error("SetCheckpoint for another target succeeded")
	}
	if _, ok := f.srv.Variable(owner, repo, varName); ok {
		t.Error("the checkpoint variable was written for another target")
	}
}

func TestCreateConflictFallsBackToUpdate(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	s := f.open(t)
	// Someone (the docs script) creates the variable after the store read it.
	f.srv.SetVariable(owner, repo, varName, "1")
	f.srv.SetVariable(owner, repo, ledName, "rdl1:"+key+":x")
	at := time.UnixMilli(1764230400000)
	if err := s.SetCheckpoint(ctx, key, redeliver.Checkpoint{Time: at}); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.srv.Variable(owner, repo, varName); v != "1764230400000" {
		t.Errorf("checkpoint = %q", v)
	}
	if p, u := f.srv.RequestCount(routePost), f.srv.RequestCount(routePatch); p != 2 || u != 2 {
		t.Errorf("POST %d, PATCH %d; want 2 and 2 (409, then update)", p, u)
	}
}

func TestUpdateMissingFallsBackToCreate(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	f.srv.SetVariable(owner, repo, varName, "1764230400000")
	s := f.open(t)
	if _, err := f.client.Actions.DeleteRepoVariable(ctx, owner, repo, varName); err != nil {
		t.Fatal(err)
	}
	if err := s.SetCheckpoint(ctx, key, redeliver.Checkpoint{Time: time.UnixMilli(1764230400001)}); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.srv.Variable(owner, repo, varName); v != "1764230400001" {
		t.Errorf("checkpoint = %q", v)
	}
}

func TestErrorsCarryCodes(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	// A repository that does not exist: ENotFound at New, not after a run.
	if _, err := New(ctx, f.client, owner, "nope", varName); redeliver.ErrorCode(err) != redeliver.ENotFound {
		t.Errorf("missing repository: %v", err)
	}
	// A token GitHub refuses.
	bad := clientFor(t, f.srv, "wrong", nil)
	if _, err := New(ctx, bad, owner, repo, varName); redeliver.ErrorCode(err) != redeliver.EAuth {
		t.Errorf("refused token: %v", err)
	} else if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the token: %v", err)
	}
}

func TestPruneLockAndValidation(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	s := f.open(t)
	unlock, err := s.Lock(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	t0 := time.Date(2025, 11, 27, 0, 0, 0, 0, time.UTC)
	es := []redeliver.LedgerEntry{
		{GUID: "old-closed", State: redeliver.StateRecovered, AttemptAt: t0.Add(-48 * time.Hour)},
		{GUID: "old-open", State: redeliver.StateFailed, AttemptAt: t0.Add(-48 * time.Hour)},
		{GUID: "new-closed", State: redeliver.StateExhausted, AttemptAt: t0},
	}
	if err := s.Put(ctx, key, es...); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, key, t0.Add(-time.Hour)); n != 1 || err != nil {
		t.Errorf("Prune = %d, %v; want 1", n, err)
	}
	got, _ := s.Entries(ctx, key)
	if len(got) != 2 || got[0].GUID == "old-closed" || got[1].GUID == "old-closed" {
		t.Errorf("after Prune: %+v", got)
	}
	for _, e := range []redeliver.LedgerEntry{
		{GUID: "", State: redeliver.StateFailed},
		{GUID: "x", State: "lost"},
		{GUID: "x", State: redeliver.StateFailed, AttemptID: -1},
		{GUID: "x", State: redeliver.StateFailed, Requests: -1},
		{GUID: "x", State: redeliver.StateFailed, Updated: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if err := s.Put(ctx, key, e); redeliver.ErrorCode(err) != redeliver.EInvalid {
			t.Errorf("Put(%+v) = %v", e, err)
		}
	}
	if err := s.SetCheckpoint(ctx, key, redeliver.Checkpoint{}); redeliver.ErrorCode(err) != redeliver.EInvalid {
		t.Errorf("SetCheckpoint(zero) = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Entries(ctx, key); err == nil {
		t.Error("Entries after Close succeeded")
	}
}

func TestConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	s := f.open(t)
	es := randomEntries(500, 13)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(es); i += 4 {
				if err := s.Put(ctx, key, es[i]); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					s.Entries(ctx, key)
				}
			}
		})
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := f.open(t).Entries(ctx, key)
	if len(got) != len(es) {
		t.Errorf("%d entries stored, want %d", len(got), len(es))
	}
	if n := f.writes(); n != 3 {
		t.Errorf("%d writes for 500 entries, want 3 (two at 201 changes, one on Close)", n)
	}
}
