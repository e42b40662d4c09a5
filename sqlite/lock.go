package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gofrs/flock"
	"github.com/redeliver/redeliver"
)

// lockRetry is how often a waiting Lock tries again.
const lockRetry = 50 * time.Millisecond

// maxLockContent is the most a lock file may hold: a pid and a newline.
// Anything longer is not a lock file redeliver made, and is left alone.
const maxLockContent = 24

// lockPath is the sidecar file Lock takes for the state file at path.
func lockPath(path string) string { return path + ".lock" }

// Lock takes the exclusive run lock: one run per state database at a time,
// across processes. It is an flock on the sidecar <file>.lock beside the
// database's real file (symbolic links resolved), which the OS releases
// when the holder dies, even by SIGKILL, so a crashed run never leaves a
// stale lock behind. The holder writes its pid into the sidecar.
//
// The lock belongs to the database, not to the name it was reached by: a
// state reached through a symbolic link takes the same lock as its target,
// and a state file with a second hard link is refused (see checkLinks). The
// lock file is opened without following a symbolic link, and one that is a
// link, not a regular file, or holds anything but a pid is refused, never
// written to.
//
// Lock retries until wait runs out (wait == 0 tries once) and then returns
// an EConflict error naming the holder's pid. The returned unlock releases
// the lock; calling it again does nothing.
func (s *Store) Lock(ctx context.Context, wait time.Duration) (func() error, error) {
	real, err := realPath(s.path)
	if err != nil {
		return nil, err
	}
	name := lockPath(real)
	if err := checkLockPath(name, s.path); err != nil {
		return nil, err
	}
	fl := flock.New(name, flock.SetPermissions(0o600), flock.SetFlag(os.O_CREATE|os.O_RDWR|noFollow))
	var ok bool
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
		if errors.Is(err, syscall.ELOOP) {
			return nil, notOurLock(name, s.path, "is a symbolic link")
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
	f, err := openOwnLock(fl, name, s.path)
	if err == nil {
		// A second name made while we waited would let a run through it
		// take another lock: look once more, now that we hold ours.
		err = checkLinks(s.path)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		_ = fl.Unlock()
		return nil, err
	}
	// Best effort: the pid only makes the conflict message useful. (Windows
	// locks the bytes themselves, so there it stays unknown.) Written
	// through the file we checked, never by name.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}

	var once sync.Once
	var unlockErr error
	return func() error {
		once.Do(func() {
			// Clear the pid first, so nobody is blamed after we are gone.
			_ = f.Truncate(0)
			f.Close()
			unlockErr = fl.Unlock()
		})
		return unlockErr
	}, nil
}

// realPath is the state file's path with every symbolic link resolved, so
// that every name of one database leads to one lock file.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", redeliver.Wrap(redeliver.EInvalid, err, "cannot resolve state %s", path)
	}
	return abs, nil
}

// checkLockPath refuses a lock path that exists and is not a regular file:
// a symbolic link there would make the lock (and the pid written into it)
// land on whatever file it names.
func checkLockPath(name, state string) error {
	fi, err := os.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return redeliver.Wrap(redeliver.EInvalid, err, "cannot take the lock %s of state %s", name, state)
	case fi.Mode()&fs.ModeSymlink != 0:
		return notOurLock(name, state, "is a symbolic link")
	case !fi.Mode().IsRegular():
		return notOurLock(name, state, "is not a regular file but "+kind(fi.Mode()))
	}
	return nil
}

// openOwnLock opens the lock file a second time, without following links,
// to write the pid, and checks that it is the very file fl locked, a
// regular file with one name, holding nothing but a pid.
func openOwnLock(fl *flock.Flock, name, state string) (*os.File, error) {
	locked, err := fl.Stat()
	if err != nil {
		return nil, redeliver.Wrap(redeliver.EInvalid, err, "cannot take the lock %s of state %s", name, state)
	}
	f, err := os.OpenFile(name, os.O_RDWR|noFollow, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, notOurLock(name, state, "is a symbolic link")
		}
		return nil, redeliver.Wrap(redeliver.EInvalid, err, "cannot take the lock %s of state %s", name, state)
	}
	fi, err := f.Stat()
	var why string
	switch {
	case err != nil:
		f.Close()
		return nil, redeliver.Wrap(redeliver.EInvalid, err, "cannot take the lock %s of state %s", name, state)
	case !fi.Mode().IsRegular():
		why = "is not a regular file but " + kind(fi.Mode())
	case !os.SameFile(fi, locked):
		why = "was replaced while it was being taken"
	case links(fi) > 1:
		why = fmt.Sprintf("has %d hard links", links(fi))
	case fi.Size() > maxLockContent:
		why = fmt.Sprintf("holds %d bytes, not a pid", fi.Size())
	default:
		b, _ := io.ReadAll(io.LimitReader(f, maxLockContent+1))
		if s := strings.TrimSpace(string(b)); s != "" {
			if _, err := strconv.Atoi(s); err != nil {
				why = "holds something other than a pid"
			}
		}
	}
	if why != "" {
		f.Close()
		return nil, notOurLock(name, state, why)
	}
	return f, nil
}

// kind names a file type that is not a regular file.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "of type " + m.Type().String()
}

// notOurLock is the error for a lock path redeliver did not make.
func notOurLock(name, state, why string) error {
	return redeliver.Errorf(redeliver.EInvalid,
		"lock file %s of state %s %s: redeliver makes this file itself and never writes through anything else there; remove it, then run again",
		name, state, why)
}

// holder describes who holds the lock, from the pid in the lock file.
func holder(name string) string {
	// The holder writes its pid just after taking the lock: a waiter that
	// looks in between finds the file empty, so look again a few times.
	for range 20 {
		b, err := readLock(name)
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

// readLock reads the little a lock file holds, without following a link.
func readLock(name string) ([]byte, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|noFollow|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	return io.ReadAll(io.LimitReader(f, maxLockContent))
}
