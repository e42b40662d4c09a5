//go:build unix

package reliability

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// Hostile input and operator mistakes: a state reached by two names, a
// lock path that is a link, a config file built to exhaust the machine, a
// disk that fills while the first state is made. Each runs the real binary.

// hostileWorld is a GHES with an org hook and a repo hook, a quarter of
// their 200 attempts each failed.
func hostileWorld(t *testing.T) *world {
	t.Helper()
	var hooks []hookSpec
	for i, k := range []string{"org", "repo"} {
		hooks = append(hooks, hookSpec{Kind: k, Hist: ghfake.History{N: 200, FailureRatio: 0.25,
			Seed: int64(900 + i), From: t0.Add(-20 * time.Hour), To: t0.Add(-time.Minute)}})
	}
	return newWorld(t, worldOpts{Platform: ghfake.GHES, Hooks: hooks})
}

// configAt writes a config file named name listing the world's hooks, with
// its state at state.
func configAt(t *testing.T, w *world, name, state string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "api_url: %s\nstate: %s\ntargets:\n", w.apiURL, state)
	for _, h := range w.hooks {
		switch h.Kind {
		case "org":
			fmt.Fprintf(&b, "  - org: acme\n    hook: %d\n", h.ID)
		case "repo":
			fmt.Fprintf(&b, "  - repo: acme/api\n    hook: %d\n", h.ID)
		}
	}
	path := filepath.Join(w.dir, name)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// holdFirstRedelivery makes GitHub hold the first redelivery request until
// release is called: the run that sent it holds its state's lock meanwhile.
// arrived is closed when that request is in.
func holdFirstRedelivery(w *world) (arrived <-chan struct{}, release func()) {
	in, out := make(chan struct{}), make(chan struct{})
	var once, rel sync.Once
	w.tap.setHook(func(st stage, c *call) bool {
		if st == stageArrive && c.Kind == "redeliver" {
			first := false
			once.Do(func() { first = true; close(in) })
			if first {
				<-out
			}
		}
		return true
	})
	return in, func() { rel.Do(func() { close(out) }) }
}

// TestSameStateThroughLinks: two runs on one SQLite file reached by two
// names exclude each other. Through a symbolic link the second run finds
// the lock taken; a second hard link is refused outright, because SQLite's
// journal follows the name. Every failed event is redelivered exactly once.
func TestSameStateThroughLinks(t *testing.T) {
	fig := newFigures(t)
	t.Run("symlink", func(t *testing.T) {
		w := hostileWorld(t)
		link := filepath.Join(w.dir, "link.db")
		if err := os.Symlink(w.state, link); err != nil {
			t.Fatal(err)
		}
		direct := configAt(t, w, "direct.yaml", w.state)
		linked := configAt(t, w, "linked.yaml", link)
		arrived, release := holdFirstRedelivery(w)
		defer release()
		a := start(t, w.env(), "run", "--config", direct, "--rate", "0")
		select {
		case <-arrived:
		case <-a.done:
			t.Fatalf("the first run ended before its first redelivery: %s", a.res)
		}
		b := run(t, w.env(), "run", "--config", linked, "--rate", "0", "--lock-wait", "0")
		want := fmt.Sprintf("in use by another redeliver run (pid %d)", a.cmd.Process.Pid)
		if b.Code != 1 || !strings.Contains(b.Stderr, want) {
			t.Errorf("the run through the link: want exit 1 saying %q, got %s", want, b)
		}
		release()
		if r := a.wait(t, 2*time.Minute); r.Code != 0 {
			t.Fatalf("the first run: %s", r)
		}
		if r := run(t, w.env(), "run", "--config", linked, "--rate", "0"); r.Code != 0 {
			t.Fatalf("a later run through the link: %s", r)
		}
		if p := w.exactlyOnce(); len(p) > 0 {
			t.Errorf("%v", p)
		}
		fig.add("symlink: %d failed guids, %d redeliveries; the run through the link while the first held the state: exit %d, %q",
			w.totalFailed(), len(w.srv.Redeliveries()), b.Code, firstLine(b.Stderr))
	})
	t.Run("hard link", func(t *testing.T) {
		w := hostileWorld(t)
		direct := configAt(t, w, "direct.yaml", w.state)
		arrived, release := holdFirstRedelivery(w)
		defer release()
		a := start(t, w.env(), "run", "--config", direct, "--rate", "0")
		select {
		case <-arrived:
		case <-a.done:
			t.Fatalf("the first run ended before its first redelivery: %s", a.res)
		}
		other := filepath.Join(w.dir, "other.db")
		if err := os.Link(w.state, other); err != nil {
			t.Fatal(err)
		}
		linked := configAt(t, w, "linked.yaml", other)
		b := run(t, w.env(), "run", "--config", linked, "--rate", "0", "--lock-wait", "0")
		if b.Code != 2 || !strings.Contains(b.Stderr, "state "+other+" has 2 hard links") {
			t.Errorf("the run through the hard link: want exit 2 naming the links, got %s", b)
		}
		c := run(t, w.env(), "run", "--config", direct, "--rate", "0", "--lock-wait", "0")
		if c.Code != 2 || !strings.Contains(c.Stderr, "has 2 hard links") {
			t.Errorf("a run through the first name while the second exists: want exit 2, got %s", c)
		}
		release()
		if r := a.wait(t, 2*time.Minute); r.Code != 0 {
			t.Fatalf("the first run (which opened the state before the link was made): %s", r)
		}
		if err := os.Remove(other); err != nil {
			t.Fatal(err)
		}
		if r := run(t, w.env(), "run", "--config", direct, "--rate", "0"); r.Code != 0 {
			t.Fatalf("a run once the second name is gone: %s", r)
		}
		if p := w.exactlyOnce(); len(p) > 0 {
			t.Errorf("%v", p)
		}
		fig.add("hard link: %d failed guids, %d redeliveries; a run through either name while both exist: exit %d / %d, %q",
			w.totalFailed(), len(w.srv.Redeliveries()), b.Code, c.Code, firstLine(b.Stderr))
	})
	fig.add("command: go test ./reliability -run TestSameStateThroughLinks -v")
}

// TestLockPathIsASymlink: a state.db.lock that is a symbolic link to a file
// with content is refused with its name; the file keeps its content, and
// nothing is sent.
func TestLockPathIsASymlink(t *testing.T) {
	fig := newFigures(t)
	w := hostileWorld(t)
	cfg := configAt(t, w, "config.yaml", w.state)
	if r := run(t, w.env(), "run", "--config", cfg, "--dry-run"); r.Code != 0 && r.Code != 4 {
		t.Logf("dry run: %s", r)
	}
	victim := filepath.Join(w.dir, "passwd-copy")
	const content = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
	if err := os.WriteFile(victim, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, w.state+".lock"); err != nil {
		t.Fatal(err)
	}
	r := run(t, w.env(), "run", "--config", cfg, "--rate", "0")
	if r.Code != 2 || !strings.Contains(r.Stderr, "lock file "+w.state+".lock") || !strings.Contains(r.Stderr, "is a symbolic link") {
		t.Errorf("want exit 2 naming the lock file as a symbolic link, got %s", r)
	}
	if b, _ := os.ReadFile(victim); string(b) != content {
		t.Errorf("the file the lock path links to now holds %q", b)
	}
	if n := len(w.srv.Redeliveries()); n != 0 {
		t.Errorf("%d redeliveries", n)
	}
	fig.add("lock path a symbolic link to a %d-byte file: exit %d, %q; the file unchanged, 0 redeliveries", len(content), r.Code, firstLine(r.Stderr))
}

// billionLaughs is about 600 bytes of YAML whose aliases expand to 9^9
// values.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("targets:\n  - org: acme\n    events: &a0 [" + strings.TrimSuffix(strings.Repeat("lol,", 9), ",") + "]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "  - org: a%d\n    events: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9), ","))
	}
	return b.String()
}

// TestHostileConfig: config files built to exhaust the machine are refused
// at once, naming the file and the limit; and a SIGTERM sent while the
// binary reads its config ends it.
func TestHostileConfig(t *testing.T) {
	fig := newFigures(t)
	dir := t.TempDir()
	files := []struct{ name, data, want string }{
		{"laughs.yaml", billionLaughs(), "more than 100000 values"},
		{"nested.yaml", "targets: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n", "nested deeper than 64 levels"},
		{"huge.yaml", "targets:\n" + strings.Repeat("  - org: acme\n", 100_000), "(1 MiB)"},
	}
	env := append(baseEnv(dir), "GH_TOKEN="+secretToken)
	for _, f := range files {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(f.data), 0o600); err != nil {
			t.Fatal(err)
		}
		r := start(t, env, "run", "--config", path, "--dry-run").wait(t, time.Minute)
		if r.Code != 2 || !strings.Contains(r.Stderr, "config "+path) || !strings.Contains(r.Stderr, f.want) {
			t.Errorf("%s: want exit 2 naming the file and %q, got %s", f.name, f.want, r)
		}
		fig.add("%s (%d bytes): exit %d after %s: %q", f.name, len(f.data), r.Code, r.Wall.Round(time.Millisecond), firstLine(r.Stderr))
	}

	// SIGTERM while the config is being read: the config is a FIFO, so the
	// test knows the binary is past its start and reading it when the
	// FIFO opens; it then gets the billion laughs and, at once, SIGTERM.
	fifo := filepath.Join(dir, "config.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	c := start(t, env, "run", "--config", fifo, "--dry-run")
	wf, err := os.OpenFile(fifo, os.O_WRONLY, 0) // returns once the binary opened it
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wf.WriteString(billionLaughs()); err != nil {
		t.Fatal(err)
	}
	wf.Close()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	r := c.wait(t, time.Minute)
	if r.Code == 0 {
		t.Errorf("SIGTERM while reading the config: exit 0; want an error or the signal: %s", r)
	}
	how := fmt.Sprintf("exit %d", r.Code)
	if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		how = "killed by " + ws.Signal().String()
	}
	fig.add("SIGTERM while reading a billion-laughs config from a FIFO: %s after %s", how, r.Wall.Round(time.Millisecond))
	fig.add("command: go test ./reliability -run TestHostileConfig -v")
}

// TestDiskFullNewState: a first run on a disk too full to hold its state
// leaves nothing that later runs refuse. It needs a small tmpfs (mounted
// here, as root); elsewhere it skips, saying so.
func TestDiskFullNewState(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; skipped")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a 2 MB tmpfs here (%v: %s); skipped", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	fig := newFigures(t)
	fill := filepath.Join(mnt, "fill")
	refused, worked := 0, 0
	for free := 0; free <= 96; free += 8 {
		w := hostileWorld(t)
		dir := filepath.Join(mnt, fmt.Sprintf("free-%d", free))
		state := filepath.Join(dir, "state.db")
		cfg := configAt(t, w, "config.yaml", state)
		_ = os.Remove(fill)
		if err := os.WriteFile(fill, make([]byte, (2048-free)<<10), 0o600); err != nil && !strings.Contains(err.Error(), "no space") {
			t.Fatal(err)
		}
		r := run(t, w.env(), "run", "--config", cfg, "--rate", "0")
		_ = os.Remove(fill)
		left := listDir(dir)
		switch {
		case r.Code == 0:
			worked++
		case strings.Contains(r.Stderr, "the disk is full"):
			refused++
			if len(left) > 0 {
				t.Errorf("%d KB free: the run failed (%s) but left %v", free, firstLine(r.Stderr), left)
			}
		default:
			t.Logf("%d KB free: %s", free, r)
		}
		for _, name := range left {
			if strings.Contains(name, ".new-") {
				t.Errorf("%d KB free: a temporary file %s was left", free, name)
			}
		}
		// With space again, runs go on from whatever the first left.
		for i := 0; ; i++ {
			w.srv.Clock().Advance(16 * time.Minute)
			r2 := run(t, w.env(), "run", "--config", cfg, "--rate", "0")
			if r2.Code == 0 {
				break
			}
			if i == 3 || strings.Contains(r2.Stderr, "corrupted") || strings.Contains(r2.Stderr, "not a redeliver state") {
				t.Fatalf("%d KB free: after the disk had space again, a run on what the first left: %s", free, r2)
			}
		}
		if p := w.exactlyOnce(); len(p) > 0 {
			t.Errorf("%d KB free: %v", free, p)
		}
		fig.add("%3d KB free: first run exit %d %q; left %v; later runs fine", free, r.Code, firstLine(r.Stderr), left)
		_ = os.RemoveAll(dir)
	}
	fig.add("%d first runs refused with a full disk, %d completed; every failed guid redelivered exactly once in every case", refused, worked)
	fig.add("command: go test ./reliability -run TestDiskFullNewState -v (as root)")
}

// listDir lists a directory's entries as name:size.
func listDir(dir string) []string {
	es, _ := os.ReadDir(dir)
	var out []string
	for _, e := range es {
		if fi, err := e.Info(); err == nil {
			out = append(out, fmt.Sprintf("%s:%d", e.Name(), fi.Size()))
		}
	}
	return out
}
