package sqlite

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/redeliver/redeliver"
)

// lockRetry is how often a waiting Lock tries again.
const lockRetry = 50 * time.Millisecond

// lockPath is the sidecar file Lock takes for the state file at path.
func lockPath(path string) string { return path + ".lock" }

// Lock takes the exclusive run lock: one run per state file at a time,
// across processes. It is an flock on the sidecar <path>.lock, which the OS
// releases when the holder dies, even by SIGKILL, so a crashed run never
// leaves a stale lock behind. The holder writes its pid into the sidecar.
//
// Lock retries until wait runs out (wait == 0 tries once) and then returns
// an EConflict error naming the holder's pid. The returned unlock releases
// the lock; calling it again does nothing.
func (s *Store) Lock(ctx context.Context, wait time.Duration) (func() error, error) {
	name := lockPath(s.path)
	fl := flock.New(name, flock.SetPermissions(0o600))
	var ok bool
	var err error
	if wait <= 0 {
		ok, err = fl.TryLock()
	} else {
		wctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = fl.TryLockContext(wctx, lockRetry)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = nil // our wait ran out, not the caller's context: a conflict
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, redeliver.Wrap(redeliver.EInvalid, err, "cannot take the lock %s of state %s", name, s.path)
	}
	if !ok {
		// No pid: a holder was leaving just as we looked (it clears the pid
		// before it lets go) or another has just taken it and not yet
		// written its pid. Look again, for a second at most.
		who := holder(name)
		for end := time.Now().Add(time.Second); who == "pid unknown" && time.Now().Before(end); who = holder(name) {
			if ok, err = fl.TryLock(); err != nil || ok {
				break
			}
		}
		if err != nil || !ok {
			return nil, redeliver.Errorf(redeliver.EConflict,
				"state %s is in use by another redeliver run (%s); wait for it to finish, or stop it (lock file %s)",
				s.path, who, name)
		}
	}
	// Best effort: the pid only makes the conflict message useful. (Windows
	// locks the bytes themselves, so there it stays unknown.)
	_ = os.WriteFile(name, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)

	var once sync.Once
	var unlockErr error
	return func() error {
		once.Do(func() {
			// Clear the pid first, so nobody is blamed after we are gone.
			_ = os.Truncate(name, 0)
			unlockErr = fl.Unlock()
		})
		return unlockErr
	}, nil
}

// holder describes who holds the lock, from the pid in the lock file.
func holder(name string) string {
	// The holder writes its pid just after taking the lock: a waiter that
	// looks in between finds the file empty, so look again a few times.
	for range 20 {
		b, err := os.ReadFile(name)
		if err != nil {
			return "pid unknown"
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
			return "pid " + strconv.Itoa(pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "pid unknown"
}
