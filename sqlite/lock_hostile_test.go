//go:build unix

package sqlite_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

// TestLockThroughSymlink: a state reached through a symbolic link (to the
// file, or to its directory) takes the same lock as its target.
func TestLockThroughSymlink(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	real := filepath.Join(dir, "real", "state.db")
	s1, err := sqlite.Open(real)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	fileLink := filepath.Join(dir, "link.db")
	dirLink := filepath.Join(dir, "dirlink")
	if err := os.Symlink(real, fileLink); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(real), dirLink); err != nil {
		t.Fatal(err)
	}
	unlock, err := s1.Lock(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fileLink, filepath.Join(dirLink, "state.db")} {
		s2, err := sqlite.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s2.Lock(ctx, 0)
		want := fmt.Sprintf("state %s is in use by another redeliver run (pid %d)", p, os.Getpid())
		if redeliver.ErrorCode(err) != redeliver.EConflict || !strings.Contains(err.Error(), want) {
			t.Errorf("Lock through %s while the target is locked: %v; want EConflict containing %q", p, err, want)
		}
		s2.Close()
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(fileLink + ".lock"); err == nil {
		t.Errorf("a lock file %s.lock was made beside the link", fileLink)
	}
}

// TestHardLinkedStateRefused: a state file with a second name is refused
// (SQLite's journal follows the name), untouched; a temporary name left by
// a killed first run is cleaned up instead.
func TestHardLinkedStateRefused(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	s, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	other := filepath.Join(dir, "other.db")
	if err := os.Link(path, other); err != nil {
		t.Fatal(err)
	}
	before := sum(t, path)
	for _, open := range []func(string) (*sqlite.Store, error){sqlite.Open, sqlite.OpenReadOnly} {
		for _, p := range []string{path, other} {
			s, err := open(p)
			if err == nil {
				s.Close()
				t.Fatalf("opened %s with a second hard link", p)
			}
			if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "state "+p+" has 2 hard links") {
				t.Errorf("open %s: %v", p, err)
			}
		}
	}
	if sum(t, path) != before {
		t.Error("the refused state changed")
	}
	for _, sfx := range []string{"-wal", "-shm", "-journal"} {
		for _, p := range []string{path, other} {
			if _, err := os.Lstat(p + sfx); err == nil {
				t.Errorf("%s%s was left beside a refused state", p, sfx)
			}
		}
	}

	// create's temporary name, left by a run killed between link and remove.
	if err := os.Rename(other, path+".new-123456"); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(path)
	if err != nil {
		t.Fatalf("a leftover temporary name was not cleaned: %v", err)
	}
	s.Close()
	if _, err := os.Lstat(path + ".new-123456"); err == nil {
		t.Error("the leftover temporary name is still there")
	}
}

// TestLockFileNotOurs: a lock path that is a symbolic link, a directory, a
// FIFO, a hard link or a file with other content is refused with its name,
// and nothing it points at is truncated or written.
func TestLockFileNotOurs(t *testing.T) {
	ctx := context.Background()
	const precious = "root:x:0:0:root:/root:/bin/bash\n"
	tests := []struct {
		name string
		make func(t *testing.T, lock, victim string)
		want string
	}{
		{"symlink to a file", func(t *testing.T, lock, victim string) { must(t, os.Symlink(victim, lock)) }, "is a symbolic link"},
		{"dangling symlink", func(t *testing.T, lock, victim string) { must(t, os.Symlink(victim+".nope", lock)) }, "is a symbolic link"},
		{"directory", func(t *testing.T, lock, _ string) { must(t, os.Mkdir(lock, 0o700)) }, "is not a regular file"},
		{"FIFO", func(t *testing.T, lock, _ string) { must(t, syscall.Mkfifo(lock, 0o600)) }, "is not a regular file"},
		{"hard link to a file", func(t *testing.T, lock, victim string) { must(t, os.Link(victim, lock)) }, "has 2 hard links"},
		{"file with other content", func(t *testing.T, lock, _ string) { must(t, os.WriteFile(lock, []byte(precious), 0o600)) }, "holds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.db")
			s, err := sqlite.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			victim := filepath.Join(dir, "passwd")
			must(t, os.WriteFile(victim, []byte(precious), 0o644))
			lock := path + ".lock"
			tt.make(t, lock, victim)
			unlock, err := s.Lock(ctx, 0)
			if err == nil {
				unlock()
				t.Fatal("took a lock that is not a lock file")
			}
			if redeliver.ErrorCode(err) != redeliver.EInvalid || !strings.Contains(err.Error(), "lock file "+lock) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Lock: %v; want EInvalid naming %s and %q", err, lock, tt.want)
			}
			if b, _ := os.ReadFile(victim); string(b) != precious {
				t.Errorf("the file the lock path names now holds %q", b)
			}
			if fi, err := os.Lstat(lock); err == nil && fi.Mode().IsRegular() {
				if b, _ := os.ReadFile(lock); string(b) != precious && tt.name == "file with other content" {
					t.Errorf("the lock path's content changed to %q", b)
				}
			}
			t.Log(err)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sum is the file's SHA-256, hex.
func sum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}
