package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenDocsCmd is the hidden command the release build runs to put man
// pages and shell completions into the archives: generated from the
// command tree, they cannot drift from the flags.
func newGenDocsCmd(io *streams) *cobra.Command {
	var dir, date string
	cmd := &cobra.Command{
		Use:    "gen-docs",
		Short:  "Write man pages and shell completions into a directory",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			when := time.Now().UTC()
			if date != "" {
				t, err := time.Parse(time.RFC3339, date)
				if err != nil {
					return &exitError{code: exitInvalid, err: fmt.Errorf("--date %q: want an RFC 3339 time (2026-12-01T08:00:00Z)", date)}
				}
				when = t
			}
			if err := genDocs(cmd.Root(), dir, when); err != nil {
				return &exitError{code: exitFailed, err: err}
			}
			fmt.Fprintf(io.out, "wrote man pages to %s and completions to %s\n", filepath.Join(dir, "man"), filepath.Join(dir, "completions"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "docs-build", "directory to write man/ and completions/ into")
	cmd.Flags().StringVar(&date, "date", "", "date printed in the man pages, RFC 3339 (default: now; the release passes the commit's date)")
	return cmd
}

// genDocs writes DIR/man/*.1 and DIR/completions/ for bash, zsh, fish and
// PowerShell.
func genDocs(root *cobra.Command, dir string, when time.Time) error {
	man := filepath.Join(dir, "man")
	comp := filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	root.DisableAutoGenTag = true
	hdr := &doc.GenManHeader{Title: "REDELIVER", Section: "1", Date: &when, Source: "redeliver " + currentBuild().Version, Manual: "redeliver manual"}
	if err := doc.GenManTree(root, hdr, man); err != nil {
		return fmt.Errorf("man pages: %w", err)
	}
	for name, gen := range map[string]func(*os.File) error{
		"redeliver.bash": func(f *os.File) error { return root.GenBashCompletionV2(f, true) },
		"_redeliver":     func(f *os.File) error { return root.GenZshCompletion(f) },
		"redeliver.fish": func(f *os.File) error { return root.GenFishCompletion(f, true) },
		"redeliver.ps1":  func(f *os.File) error { return root.GenPowerShellCompletionWithDesc(f) },
	} {
		f, err := os.Create(filepath.Join(comp, name))
		if err != nil {
			return err
		}
		err = gen(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("completion %s: %w", name, err)
		}
	}
	return nil
}
