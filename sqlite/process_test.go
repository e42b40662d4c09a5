//go:build unix

package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

// The tests below run this test binary again as a helper process, which
// does one thing to the state file named in helperPath, says so on stdout,
// and then waits, on its stdin, to be killed.
const (
	helperMode = "REDELIVER_SQLITE_HELPER"
	helperPath = "REDELIVER_SQLITE_HELPER_PATH"
)

// crashEntries is how many entries the "put" helper writes, one Put each.
const crashEntries = 300

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperMode)
	if mode == "" {
		t.Skip("helper process for other tests")
	}
	ctx := context.Background()
	path := os.Getenv(helperPath)
	fail := func(err error) {
		fmt.Println("error:", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(1)
	}
	s, err := sqlite.Open(path)
	switch mode {
	case "open", "openro": // report how opening went, and exit
		if mode == "openro" {
			s, err = sqlite.OpenReadOnly(path)
		}
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		es, err := s.Entries(ctx, "k")
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(0)
		}
		fmt.Println("opened, entries:", len(es))
		os.Exit(0)
	case "lock":
		if err != nil {
			fail(err)
		}
		if _, err := s.Lock(ctx, 0); err != nil {
			fail(err)
		}
		fmt.Println("locked")
	case "put":
		if err != nil {
			fail(err)
		}
		for i := range crashEntries {
			e := entry(fmt.Sprintf("guid-%04d", i))
			e.Requests = i
			if err := s.Put(ctx, "k", e); err != nil {
				fail(err)
			}
		}
		if err := s.SetCheckpoint(ctx, "k", redeliver.Checkpoint{Time: entry("").AttemptAt}); err != nil {
			fail(err)
		}
		fmt.Println("done")
	default:
		fail(fmt.Errorf("unknown helper mode %q", mode))
	}
	io.Copy(io.Discard, os.Stdin) // until killed, or the parent goes away
	os.Exit(0)
}

// helper starts the test binary bin (os.Args[0] when "") as a helper in
// mode on path, and returns it once it printed a line, with that line.
func helper(t *testing.T, bin, mode, path string, attr *syscall.SysProcAttr) (*exec.Cmd, string) {
	t.Helper()
	if bin == "" {
		bin = os.Args[0]
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperMode+"="+mode, helperPath+"="+path)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = attr
	stdin, err := cmd.StdinPipe() // held open: the helper waits on it
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper %s: %v (read %q)", mode, err, line)
	}
	return cmd, strings.TrimSpace(line)
}

// kill SIGKILLs the helper and waits until it is gone.
func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) {
		t.Fatalf("helper: %v, want killed", err)
	}
}

// The OS releases the lock of a process killed with SIGKILL.
func TestLockReleasedWhenHolderKilled(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	cmd, line := helper(t, "", "lock", path, nil)
	if line != "locked" {
		t.Fatalf("helper: %s", line)
	}
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Lock(ctx, 0)
	if redeliver.ErrorCode(err) != redeliver.EConflict || !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Fatalf("Lock while the helper holds it: %v; want EConflict naming pid %d", err, cmd.Process.Pid)
	}
	kill(t, cmd)
	unlock, err := s.Lock(ctx, 0)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	unlock()
}

// When Put returns nil the entry survives the process being SIGKILLed.
// (This proves commits are not buffered in the process; surviving power
// loss is synchronous=FULL's job, which no test here can pull the plug on.)
func TestPutSurvivesSIGKILL(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	cmd, line := helper(t, "", "put", path, nil)
	if line != "done" {
		t.Fatalf("helper: %s", line)
	}
	kill(t, cmd)

	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	es := mustEntries(t, s, "k")
	if len(es) != crashEntries {
		t.Fatalf("%d entries after the crash, want %d", len(es), crashEntries)
	}
	for i, e := range es {
		want := entry(fmt.Sprintf("guid-%04d", i))
		want.Requests = i
		if e != want {
			t.Fatalf("entry %d = %+v, want %+v", i, e, want)
		}
	}
	if cp, ok, err := s.Checkpoint(ctx, "k"); !ok || err != nil || cp.Time != entry("").AttemptAt {
		t.Errorf("checkpoint after the crash: %+v %v %v", cp, ok, err)
	}
}

// A state file that cannot be written is refused by name when opened for a
// run, and left alone; reading it still works. Root writes through any mode
// bits, so as root the checks run in helper processes of the nobody user.
func TestReadOnly(t *testing.T) {
	base, err := os.MkdirTemp("", "redeliver-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o777) // so RemoveAll can empty it
			}
			return nil
		})
		os.RemoveAll(base)
	})
	mk := func(name string) string {
		path := filepath.Join(base, name, "state.db")
		s, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(context.Background(), "k", entry("g")); err != nil {
			t.Fatal(err)
		}
		s.Close()
		return path
	}
	chmod := func(p string, m os.FileMode) {
		if err := os.Chmod(p, m); err != nil {
			t.Fatal(err)
		}
	}
	// A read-only file in a directory anyone may write, and a file anyone
	// may write in a read-only directory (where SQLite cannot make its
	// -wal and -shm files).
	roFile, roDir := mk("file"), mk("dir")
	chmod(base, 0o755)
	chmod(filepath.Dir(roFile), 0o777)
	chmod(roFile, 0o444)
	chmod(filepath.Dir(roDir), 0o555)
	chmod(roDir, 0o666)

	run := func(mode, path string) string { // "opened, …" or "error: …"
		s, err := sqlite.Open(path)
		if mode == "openro" {
			s, err = sqlite.OpenReadOnly(path)
		}
		if err != nil {
			return "error: " + err.Error()
		}
		defer s.Close()
		es, err := s.Entries(context.Background(), "k")
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprint("opened, entries: ", len(es))
	}
	if os.Geteuid() == 0 {
		// The test binary sits in a private directory: copy it where the
		// nobody user can run it.
		bin := filepath.Join(base, "sqlite.test")
		if err := copyFile(os.Args[0], bin, 0o755); err != nil {
			t.Fatal(err)
		}
		nobody := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		probe := exec.Command(bin, "-test.run=^$")
		probe.SysProcAttr = nobody
		if out, err := probe.CombinedOutput(); err != nil {
			t.Skipf("running as root, and cannot run a process as the nobody user (%v: %s): cannot test", err, out)
		}
		t.Log("running as root: opening as the nobody user in helper processes")
		run = func(mode, path string) string {
			_, line := helper(t, bin, mode, path, nobody)
			return line
		}
	}
	for _, path := range []string{roFile, roDir} {
		before := fingerprint(t, path)
		got := run("open", path)
		t.Logf("Open(%s): %s", path, got)
		if !strings.HasPrefix(got, "error:") || !strings.Contains(got, path) {
			t.Errorf("Open(%s) = %s; want an error naming it", path, got)
		}
		if path == roFile && !strings.Contains(got, "read-only") {
			t.Errorf("Open(%s) = %s; want it to say read-only", path, got)
		}
		got = run("openro", path)
		t.Logf("OpenReadOnly(%s): %s", path, got)
		if path == roFile && got != "opened, entries: 1" {
			t.Errorf("OpenReadOnly(%s) = %s; want it to read", path, got)
		}
		if fingerprint(t, path) != before {
			t.Errorf("%s was modified", path)
		}
	}
}

func copyFile(from, to string, mode os.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, mode)
}
