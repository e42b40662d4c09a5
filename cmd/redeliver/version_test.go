package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// TestResolveBuild: stamped values win; without them the toolchain's
// record of the module version and the checkout is used.
func TestResolveBuild(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-11-30T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name                  string
		version, commit, date string
		info                  *debug.BuildInfo
		want                  buildInfo
	}{
		{
			name:    "release build: stamped values as they are",
			version: "1.2.3", commit: "abc1234", date: "2026-12-01T00:00:00Z",
			info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			want: buildInfo{Version: "1.2.3", Commit: "abc1234", Date: "2026-12-01T00:00:00Z", Go: "go1.26.8"},
		},
		{
			name:    "go install @version: the module version, no VCS",
			version: "dev",
			info:    &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}},
			want:    buildInfo{Version: "1.4.0", Go: "go1.26.8"},
		},
		{
			name:    "go build in a checkout: the revision, its time, modified",
			version: "dev",
			info:    &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			want:    buildInfo{Version: "dev", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-11-30T10:00:00Z", Modified: true, Go: "go1.26.8"},
		},
		{
			name:    "stamped version only: the checkout still gives the commit",
			version: "2.0.0",
			info:    &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			want:    buildInfo{Version: "2.0.0", Commit: "0123456789abcdef0123456789abcdef01234567", Date: "2026-11-30T10:00:00Z", Modified: true, Go: "go1.26.8"},
		},
		{
			name:    "no build info at all",
			version: "",
			want:    buildInfo{Version: "dev"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveBuild(tt.version, tt.commit, tt.date, tt.info)
			if tt.info == nil {
				got.Go = "" // the running toolchain's
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestVersionCommand: `version` and `--version` print the same three
// facts, with "unknown" for what is not known.
func TestVersionCommand(t *testing.T) {
	t.Parallel()
	a := runIn(t, nil, "version")
	wantCode(t, a, 0)
	b := runIn(t, nil, "--version")
	wantCode(t, b, 0)
	if a.stdout != b.stdout {
		t.Errorf("version and --version differ:\n%s\n%s", a.stdout, b.stdout)
	}
	for _, want := range []string{"redeliver ", "\ncommit: ", "\nbuilt:  ", "\ngo:     go1."} {
		if !strings.Contains(a.stdout, want) {
			t.Errorf("version output lacks %q:\n%s", want, a.stdout)
		}
	}
	if r := runIn(t, nil, "version", "extra"); r.code != exitInvalid {
		t.Errorf("version with an argument: %s", r)
	}
}

// TestVersionStamped builds the binary as the release does, with the
// linker setting version, commit and date, and runs it.
func TestVersionStamped(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping: go is not on PATH")
	}
	bin := filepath.Join(t.TempDir(), "redeliver")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin,
		"-ldflags", "-X main.version=9.8.7 -X main.commit=feedface -X main.date=2026-12-01T08:00:00Z", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "redeliver 9.8.7\ncommit: feedface\nbuilt:  2026-12-01T08:00:00Z\n"
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("--version:\n%s\nwant it to start with:\n%s", out, want)
	}
}
