package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

// A refused lock names the file and the process holding it (the rest of
// Lock's contract is storetest's).
func TestLockNamesHolder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s1, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()

	unlock, err := s1.Lock(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Lock(ctx, 0)
	want := fmt.Sprintf("state %s is in use by another redeliver run (pid %d)", path, os.Getpid())
	if redeliver.ErrorCode(err) != redeliver.EConflict || !strings.Contains(err.Error(), want) {
		t.Fatalf("second Lock: %v; want EConflict containing %q", err, want)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}
