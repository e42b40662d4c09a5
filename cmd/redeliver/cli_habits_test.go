package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/redeliver/redeliver"
)

// TestDidYouMean: cobra's suggestion prints on lines of its own, with no
// escapes shown literally.
func TestDidYouMean(t *testing.T) {
	r := runIn(t, map[string]string{}, "rnu")
	wantCode(t, r, 2)
	want := "redeliver: unknown command \"rnu\" for \"redeliver\"\n\nDid you mean this?\n    run\n"
	if r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
}

// TestVerboseFlag: -v is --verbose on every command, never the version.
func TestVerboseFlag(t *testing.T) {
	for _, args := range [][]string{{"status", "-v", "--state", t.TempDir() + "/s.db"}, {"status", "--verbose", "--state", t.TempDir() + "/s.db"}} {
		r := runIn(t, map[string]string{}, args...)
		wantCode(t, r, 0)
		if strings.Contains(r.stdout, "version") {
			t.Errorf("%v printed the version:\n%s", args, r)
		}
	}
	r := runIn(t, map[string]string{}, "--version")
	if wantCode(t, r, 0); !strings.HasPrefix(r.stdout, "redeliver ") || !strings.Contains(r.stdout, "commit:") {
		t.Errorf("--version:\n%s", r)
	}
}

// TestStoppedEarlyOnlyWhenTrue: "stopped early" only when something was
// left; a stop after the last request is a note.
func TestStoppedEarlyOnlyWhenTrue(t *testing.T) {
	why := "the receiver is still failing (20 of 20 redeliveries checked failed); the rest is left for the next run"
	for _, c := range []struct {
		deferred int
		want     string
	}{
		{0, "  ! note: the receiver is still failing (20 of 20 redeliveries checked failed)\n"},
		{3, "  ! stopped early: " + why + "\n"},
	} {
		var b bytes.Buffer
		res := &runResult{}
		res.add(&redeliver.Report{Target: "org/acme/hooks/1", Name: "org acme hook 1", Complete: true, Failed: 20 + c.deferred,
			Redelivered: 20, Deferred: c.deferred, Stopped: why})
		writeText(&b, res)
		if !strings.Contains(b.String(), c.want) || (c.deferred == 0 && strings.Contains(b.String(), "stopped early")) {
			t.Errorf("deferred %d:\n%s\nwant %q", c.deferred, b.String(), c.want)
		}
	}
}
