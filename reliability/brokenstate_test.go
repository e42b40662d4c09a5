//go:build unix

package reliability

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to damage files

	"github.com/redeliver/redeliver/ghfake"
)

// Promise 5 — broken state. A state the tool cannot trust — a truncated,
// corrupted, locked, read-only or future-schema SQLite file, a file that is
// not ours, a garbled Actions variable — gets a clear error with the exit
// code the README documents, no redelivery is sent, and the state is left
// as it was (same bytes).

func fileHash(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// sqlExec runs statements on a SQLite file with the modernc driver.
func sqlExec(t testing.TB, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// brokenCase is one way a state file can be broken.
type brokenCase struct {
	name string
	// prepare damages (or locks) the file at path, a copy of a good state;
	// the returned func undoes a lock.
	prepare  func(t *testing.T, path string) func()
	code     int         // the exit code the README documents
	says     string      // what the error must say
	asNobody bool        // run the child as an unprivileged user when the tests run as root
	dirMode  os.FileMode // the state directory's mode (0: 0700)
	lockWait string
	// statusReads: `redeliver status` only reads, so this state does not
	// stop it (a lock, a read-only file); it may also fail, clearly.
	statusReads bool
}

func TestBrokenState(t *testing.T) {
	fig := newFigures(t)
	w := newWorld(t, worldOpts{Platform: ghfake.GHES, Hooks: []hookSpec{{Kind: "org", Hist: ghfake.History{N: 200, FailureRatio: 0.3,
		Seed: 5, From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}}}})
	hook := strconv.FormatInt(w.hooks[0].ID, 10)
	runArgs := func(state string) []string {
		return []string{"run", "--api-url", w.apiURL, "--org", "acme", "--hook", hook, "--state", state, "--rate", "0", "--output", "json"}
	}
	// A good state: a first run that asked for 3 redeliveries. With the
	// clock past the grace, a run on it would now ask for the rest.
	good := filepath.Join(w.dir, "good.db")
	if r := run(t, w.env(), append(runArgs(good), "--max-redeliveries", "3")...); r.Code != 0 {
		t.Fatalf("first run: %s", r)
	}
	w.srv.Clock().Advance(16 * time.Minute)
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(good + "-wal"); err == nil {
		t.Logf("note: the good state left a -wal file behind")
	}
	const pageSize = 4096
	before := len(w.srv.Redeliveries())

	writeCopy := func(t *testing.T, path string, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []brokenCase{
		{name: "truncated-half", code: 2, says: "corrupted", prepare: func(t *testing.T, p string) func() {
			writeCopy(t, p, goodBytes[:len(goodBytes)/2])
			return nil
		}},
		{name: "truncated-header", code: 2, says: "truncated", prepare: func(t *testing.T, p string) func() {
			writeCopy(t, p, goodBytes[:60])
			return nil
		}},
		{name: "corrupted-page", code: 2, says: "corrupted", prepare: func(t *testing.T, p string) func() {
			b := bytes.Clone(goodBytes)
			for i := pageSize; i < min(len(b), 2*pageSize); i++ {
				b[i] = 0xA5
			}
			writeCopy(t, p, b)
			return nil
		}},
		{name: "corrupted-random", code: 2, says: "corrupted", prepare: func(t *testing.T, p string) func() {
			b := bytes.Clone(goodBytes)
			rng := rand.New(rand.NewPCG(9, 9))
			for i := pageSize; i < len(b); i++ {
				b[i] = byte(rng.Uint32())
			}
			writeCopy(t, p, b)
			return nil
		}},
		{name: "future-schema", code: 2, says: "newer", prepare: func(t *testing.T, p string) func() {
			writeCopy(t, p, goodBytes)
			sqlExec(t, p, "PRAGMA user_version = 99")
			return nil
		}},
		{name: "not-ours", code: 2, says: "not a redeliver state database", prepare: func(t *testing.T, p string) func() {
			sqlExec(t, p, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)", "INSERT INTO invoices VALUES (1, 9.5)")
			return nil
		}},
		{name: "not-sqlite", code: 2, says: "not a SQLite file", prepare: func(t *testing.T, p string) func() {
			writeCopy(t, p, []byte("last_redelivery=1764230400000\n"))
			return nil
		}},
		{name: "directory", code: 2, says: "directory", prepare: func(t *testing.T, p string) func() {
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{name: "read-only-file", code: 2, says: "read-only", asNobody: true, dirMode: 0o777, statusReads: true, prepare: func(t *testing.T, p string) func() {
			writeCopy(t, p, goodBytes)
			if err := os.Chmod(p, 0o444); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{name: "read-only-directory", code: 2, says: "must be writable", asNobody: true, dirMode: 0o555, statusReads: true, prepare: func(t *testing.T, p string) func() {
			writeCopy(t, p, goodBytes)
			if err := os.Chmod(p, 0o644); err != nil {
				t.Fatal(err)
			}
			return nil
		}},
		{name: "locked-by-a-run", code: 1, says: fmt.Sprintf("in use by another redeliver run (pid %d)", os.Getpid()), lockWait: "300ms", statusReads: true,
			prepare: func(t *testing.T, p string) func() {
				writeCopy(t, p, goodBytes)
				f, err := os.OpenFile(p+".lock", os.O_RDWR|os.O_CREATE, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(f, "%d\n", os.Getpid())
				return func() { f.Close() }
			}},
		{name: "locked-by-sqlite", code: 1, says: "locked", statusReads: true, prepare: func(t *testing.T, p string) func() {
			// Another program (a backup, the sqlite3 shell) holds a write
			// transaction on the file.
			writeCopy(t, p, goodBytes)
			db, err := sql.Open("sqlite", "file:"+p)
			if err != nil {
				t.Fatal(err)
			}
			db.SetMaxOpenConns(1)
			conn, err := db.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
				t.Fatal(err)
			}
			return func() {
				conn.ExecContext(t.Context(), "ROLLBACK")
				conn.Close()
				db.Close()
			}
		}},
	}
	var mu sync.Mutex
	outcomes := map[string]string{}
	t.Run("sqlite", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				dir, err := os.MkdirTemp("", "redeliver-broken-")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(dir) })
				var mod func(*exec.Cmd)
				if tc.asNobody && os.Geteuid() == 0 {
					// root ignores file modes: run the child as nobody.
					mod = func(c *exec.Cmd) {
						c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
					}
				}
				path := filepath.Join(dir, "state.db")
				if undo := tc.prepare(t, path); undo != nil {
					defer undo()
				}
				if tc.dirMode != 0 {
					if err := os.Chmod(dir, tc.dirMode); err != nil {
						t.Fatal(err)
					}
					defer os.Chmod(dir, 0o700)
				}
				hash := fileHash(t, path)
				args := runArgs(path)
				if tc.lockWait != "" {
					args = append(args, "--lock-wait", tc.lockWait)
				}
				r := startWith(t, mod, w.env(), args...).wait(t, time.Minute)
				checkRefused(t, "run", r, tc.code, tc.says)
				if h := fileHash(t, path); h != hash {
					t.Errorf("run changed the state file")
				}
				st := startWith(t, mod, w.env(), "status", "--state", path).wait(t, time.Minute)
				if tc.statusReads {
					if st.Code != 0 && !strings.Contains(st.Stderr, tc.says) {
						t.Errorf("status: %s", st)
					}
				} else {
					checkRefused(t, "status", st, -1, tc.says)
				}
				if h := fileHash(t, path); h != hash {
					t.Errorf("status changed the state file")
				}
				mu.Lock()
				outcomes[tc.name] = fmt.Sprintf("exit %d in %s: %s", r.Code, r.Wall.Round(10*time.Millisecond), firstLine(r.Stderr))
				mu.Unlock()
			})
		}
	})

	// The Actions-variable store: a good pair of variables from a first run,
	// then each garbled in turn.
	t.Run("actions-variables", func(t *testing.T) {
		envDocs := func() []string {
			return append(baseEnv(w.dir), "TOKEN="+secretToken, "GITHUB_API_URL="+w.apiURL, "ORGANIZATION_NAME=acme", "HOOK_ID="+hook,
				"LAST_REDELIVERY_VARIABLE_NAME=LAST_REDELIVERY", "WORKFLOW_REPO_OWNER=acme", "WORKFLOW_REPO_NAME=ops")
		}
		w.srv.AddRepo("acme", "ops")
		r := run(t, envDocs(), "run", "--rate", "0", "--max-redeliveries", "2", "--output", "json")
		if r.Code != 0 {
			t.Fatalf("first run on Actions variables: %s", r)
		}
		before = len(w.srv.Redeliveries())
		cp, _ := w.srv.Variable("acme", "ops", "LAST_REDELIVERY")
		ledger, ok := w.srv.Variable("acme", "ops", "LAST_REDELIVERY_LEDGER")
		if !ok || cp == "" {
			t.Fatalf("the first run left no variables (checkpoint %q, ledger %v)", cp, ok)
		}
		mid := len(ledger) - 12
		for _, vc := range []struct {
			name, cp, ledger string
			flag             bool // --state actions:… instead of the docs script's variables
		}{
			{"checkpoint-abc", "abc", ledger, false},
			{"checkpoint-negative", "-5", ledger, true},
			{"ledger-garbled", cp, ledger[:mid] + "@@" + ledger[mid+2:], false},
			{"ledger-bit-flipped", cp, ledger[:mid] + flip(ledger[mid]) + ledger[mid+1:], true},
			{"ledger-wrong-tag", cp, "rdl9" + strings.TrimPrefix(ledger, "rdl1"), false},
			{"ledger-truncated", cp, ledger[:len(ledger)/2], false},
		} {
			t.Run(vc.name, func(t *testing.T) {
				w.srv.SetVariable("acme", "ops", "LAST_REDELIVERY", vc.cp)
				w.srv.SetVariable("acme", "ops", "LAST_REDELIVERY_LEDGER", vc.ledger)
				w.tap.reset()
				var r result
				if vc.flag {
					r = run(t, w.env(), "run", "--api-url", w.apiURL, "--org", "acme", "--hook", hook,
						"--state", "actions:acme/ops/LAST_REDELIVERY", "--rate", "0")
				} else {
					r = run(t, envDocs(), "run", "--rate", "0")
				}
				name := "LAST_REDELIVERY"
				if strings.HasPrefix(vc.name, "ledger") {
					name = "LAST_REDELIVERY_LEDGER"
				}
				checkRefused(t, "run", r, 2, name)
				if v, _ := w.srv.Variable("acme", "ops", "LAST_REDELIVERY"); v != vc.cp {
					t.Errorf("the checkpoint variable changed: %q → %q", vc.cp, v)
				}
				if v, _ := w.srv.Variable("acme", "ops", "LAST_REDELIVERY_LEDGER"); v != vc.ledger {
					t.Errorf("the ledger variable changed")
				}
				for _, c := range w.tap.snapshot() {
					if c.Method != "GET" {
						t.Errorf("a run on a state it cannot read sent %s %s", c.Method, c.Path)
					}
				}
				mu.Lock()
				outcomes["actions "+vc.name] = fmt.Sprintf("exit %d: %s", r.Code, firstLine(r.Stderr))
				mu.Unlock()
			})
		}
	})
	if n := len(w.srv.Redeliveries()) - before; n != 0 {
		t.Errorf("%d redeliveries were sent on a state that could not be trusted", n)
	}
	fig.add("command: go test ./reliability -run TestBrokenState -v")
	for _, k := range sortedKeys(outcomes) {
		fig.add("%s: %s", k, outcomes[k])
	}
}

// checkRefused checks that a command refused a broken state clearly: the
// documented exit code (code < 0: any non-zero), a message on stderr that
// says what is wrong, no panic.
func checkRefused(t *testing.T, what string, r result, code int, says string) {
	t.Helper()
	switch {
	case r.Killed:
		t.Errorf("%s: killed: %s", what, r)
	case code >= 0 && r.Code != code:
		t.Errorf("%s: exit %d, want %d: %s", what, r.Code, code, r)
	case code < 0 && r.Code == 0:
		t.Errorf("%s: exit 0 on a broken state: %s", what, r)
	case !strings.Contains(r.Stderr, says):
		t.Errorf("%s: the error does not say %q: %s", what, says, r)
	case strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine "):
		t.Errorf("%s: panicked: %s", what, r)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
