package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// commit and date are stamped by the release build, beside version:
// -ldflags "-X main.version=1.2.3 -X main.commit=… -X main.date=…".
var (
	commit = ""
	date   = ""
)

// buildInfo is what `redeliver version` prints.
type buildInfo struct {
	Version  string
	Commit   string
	Date     string
	Modified bool // built from a checkout with uncommitted changes
	Go       string
}

// String is the text of `version` and `--version`.
func (b buildInfo) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "redeliver %s\n", b.Version)
	c := b.Commit
	if c == "" {
		c = "unknown"
	}
	if b.Modified {
		c += " (modified)"
	}
	d := b.Date
	if d == "" {
		d = "unknown"
	}
	fmt.Fprintf(&s, "commit: %s\nbuilt:  %s\ngo:     %s\n", c, d, b.Go)
	return s.String()
}

// currentBuild reads the stamped values, falling back to what the Go
// toolchain recorded: the module version for `go install …@v1.2.3`, the
// VCS revision and time for a build from a checkout.
func currentBuild() buildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return resolveBuild(version, commit, date, info)
}

// resolveBuild is currentBuild with its inputs passed in, for tests.
func resolveBuild(ldVersion, ldCommit, ldDate string, info *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: ldVersion, Commit: ldCommit, Date: ldDate, Go: runtime.Version()}
	if info == nil {
		if b.Version == "" {
			b.Version = "dev"
		}
		return b
	}
	if info.GoVersion != "" {
		b.Go = info.GoVersion
	}
	if b.Version == "" || b.Version == "dev" {
		b.Version = "dev"
		if v := info.Main.Version; v != "" && v != "(devel)" {
			b.Version = strings.TrimPrefix(v, "v")
		}
	}
	// The VCS settings describe the checkout the binary was built from;
	// a release build stamps its own and they are taken as they are.
	stamped := ldCommit != ""
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if !stamped {
				b.Commit = s.Value
			}
		case "vcs.time":
			if ldDate == "" && !stamped {
				b.Date = s.Value
			}
		case "vcs.modified":
			if !stamped {
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

// addVersion gives the root command `--version` and a `version` command,
// both printing the version, the commit and the build date.
func addVersion(root *cobra.Command, io *streams) {
	b := currentBuild()
	text := b.String()
	root.Version = b.Version
	root.SetVersionTemplate(text)
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprint(io.out, text)
			return err
		},
	})
}
