package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

// Peak RSS has to come from a small parent. On Linux, os/exec starts a child
// with clone(CLONE_VM|CLONE_VFORK), and when the child execs, the kernel
// records the parent's RSS high-water mark as the child's maxrss. The
// benchmark's own peak (the emulator holding a million seeded attempts) would
// then be every later child's "peak RSS". So each program is started by the
// benchmark's binary re-executed as a launcher (a few MiB): it runs the
// program, waits for it, and reports the program's own rusage. maxrss is a
// maximum, not a sum, so the launcher's few MiB do not add to the figure.

// launchFlag makes the binary a launcher: bench -launch RESULT -- PROGRAM ARGS….
const launchFlag = "-launch"

// launched is what the launcher reports.
type launched struct {
	MaxRSSKiB int64  `json:"maxrss_kib"`
	WallNS    int64  `json:"wall_ns"`
	ExitCode  int    `json:"exit_code"`
	Signal    string `json:"signal,omitempty"`
	Error     string `json:"error,omitempty"`
}

// launchMain runs the program named after "--" with the launcher's
// environment, directory and standard streams, and writes its rusage to
// the result file. SIGTERM or SIGINT kills the program (the benchmark's
// time limit); the result is still written.
func launchMain(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "usage: bench -launch RESULT -- PROGRAM [ARGS…]")
		return 2
	}
	resultPath, argv := args[0], args[2:]
	res := launched{ExitCode: -1}
	write := func() int {
		b, _ := json.Marshal(res)
		if err := os.WriteFile(resultPath, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "launcher:", err)
			return 1
		}
		return 0
	}
	// Pdeathsig is tied to the thread that started the child.
	runtime.LockOSThread()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, os.Interrupt)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		res.Error = err.Error()
		write()
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-sigs:
		cmd.Process.Kill()
		err = <-done
	}
	res.WallNS = int64(time.Since(start))
	if ps := cmd.ProcessState; ps != nil {
		res.ExitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal().String()
		}
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.MaxRSSKiB = int64(ru.Maxrss) // KiB on Linux
		}
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		res.Error = err.Error()
	}
	return write()
}

// readLaunched reads a launcher's report.
func readLaunched(path string) (launched, error) {
	var l launched
	b, err := os.ReadFile(path)
	if err != nil {
		return l, err
	}
	return l, json.Unmarshal(b, &l)
}
