//go:build unix

package reliability

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// heavy turns on the full-size variants (REDELIVER_HEAVY=1). `go test` is
// not -short by default, so the switch is an environment variable.
var heavy = os.Getenv("REDELIVER_HEAVY") == "1"

var (
	binDir  string
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "redeliver-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// The broken-state test runs the binary as an unprivileged user when
	// the tests run as root.
	_ = os.Chmod(dir, 0o755)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds the real redeliver command once per test process (go build
// into a temporary directory) and returns its path.
func binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		// The go command that runs the tests is on PATH (go test puts
		// GOROOT/bin there for its children); fall back to plain "go".
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "go"
		}
		binPath = filepath.Join(binDir, "redeliver")
		cmd := exec.Command(goTool, "build", "-o", binPath, "github.com/redeliver/redeliver/cmd/redeliver")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/redeliver: %v\n%s", err, out.String())
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// baseEnv is the child's whole environment: nothing leaks in from the
// machine running the tests (a CI runner sets GITHUB_ACTIONS, GITHUB_API_URL,
// GITHUB_TOKEN, HOSTNAME…), so every variable the run sees is one the test
// chose.
func baseEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"XDG_STATE_HOME=" + filepath.Join(home, "state"),
		"TMPDIR=" + os.TempDir(),
		"LANG=C",
	}
}

// result is how one child process ended.
type result struct {
	Code   int // exit code; -1 when killed by a signal
	Killed bool
	Stdout string
	Stderr string
	Wall   time.Duration
	// MaxRSS is ru_maxrss from wait4, KiB. On Linux it is NOT the child's
	// peak: os/exec starts children with vfork (CLONE_VM), and the kernel
	// carries the parent's high-water mark into the child at exec, so it
	// reports the test process's RSS whenever that is larger. PeakRSS is
	// the child's own.
	MaxRSS int64
	// PeakRSS is the child's VmHWM (KiB), polled from /proc every 2 ms
	// while it runs; 0 unless the child was started with watchPeak.
	PeakRSS int64
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (killed %v) after %s\nstdout:\n%s\nstderr:\n%s", r.Code, r.Killed, r.Wall.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// child is a running redeliver process.
type child struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	stderr bytes.Buffer
	start  time.Time
	done   chan struct{}
	res    result

	killOnce sync.Once
	killed   chan struct{} // closed once the process is known dead after kill
	peak     atomic.Int64  // VmHWM in KiB, when watched
	watched  chan struct{} // closed when the watcher stopped
}

// watchPeak polls the child's peak resident set (VmHWM in
// /proc/PID/status: its own memory since exec) until it ends.
func (c *child) watchPeak() {
	c.watched = make(chan struct{})
	path := fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid)
	go func() {
		defer close(c.watched)
		for {
			if b, err := os.ReadFile(path); err == nil {
				for _, line := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
						n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
						if n > c.peak.Load() {
							c.peak.Store(n)
						}
					}
				}
			}
			select {
			case <-c.done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
}

// start launches the binary with args and env (appended to nothing: see
// baseEnv). The process is waited for in the background.
func start(t testing.TB, env []string, args ...string) *child {
	t.Helper()
	return startWith(t, nil, env, args...)
}

// startWith is start with a hook that may change the command first (to run
// it as another user, say).
func startWith(t testing.TB, mod func(*exec.Cmd), env []string, args ...string) *child {
	t.Helper()
	c := &child{done: make(chan struct{}), killed: make(chan struct{})}
	c.cmd = exec.Command(binary(t), args...)
	c.cmd.Env = env
	if mod != nil {
		mod(c.cmd)
	}
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	c.start = time.Now()
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start redeliver: %v", err)
	}
	go func() {
		err := c.cmd.Wait()
		c.res.Wall = time.Since(c.start)
		c.res.Stdout, c.res.Stderr = c.stdout.String(), c.stderr.String()
		c.res.Code = c.cmd.ProcessState.ExitCode()
		if ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			c.res.Killed = ws.Signal() == syscall.SIGKILL
		}
		if ru, ok := c.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			c.res.MaxRSS = ru.Maxrss
		}
		_ = err
		close(c.done)
	}()
	return c
}

// kill sends SIGKILL and returns once the process is gone, so whatever the
// caller does next (answer a request, look at the state) happens after the
// death.
func (c *child) kill() {
	c.killOnce.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.done
		close(c.killed)
	})
	<-c.killed
}

// wait returns the result, killing the process if it outlives timeout.
func (c *child) wait(t testing.TB, timeout time.Duration) result {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.kill()
		t.Errorf("redeliver %s did not finish within %s; killed\n%s", strings.Join(c.cmd.Args[1:], " "), timeout, c.res)
	}
	if c.watched != nil {
		<-c.watched
		c.res.PeakRSS = c.peak.Load()
	}
	return c.res
}

// run runs the binary to its end.
func run(t testing.TB, env []string, args ...string) result {
	t.Helper()
	return start(t, env, args...).wait(t, 3*time.Minute)
}
