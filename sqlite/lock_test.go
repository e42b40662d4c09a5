package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/sqlite"
)

func TestLock(t *testing.T) {
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
	start := time.Now()
	if _, err := s2.Lock(ctx, 120*time.Millisecond); redeliver.ErrorCode(err) != redeliver.EConflict {
		t.Fatalf("Lock with wait: %v", err)
	}
	if d := time.Since(start); d < 120*time.Millisecond {
		t.Errorf("Lock gave up after %s, before its wait", d)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s2.Lock(cctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a canceled context: %v", err)
	}

	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Errorf("second unlock: %v", err)
	}
	unlock2, err := s2.Lock(ctx, 0)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	// A waiting Lock gets the lock once it is released.
	got := make(chan error, 1)
	go func() {
		u, err := s1.Lock(ctx, time.Minute)
		if err == nil {
			err = u()
		}
		got <- err
	}()
	if err := unlock2(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Errorf("waiting Lock: %v", err)
	}
}
