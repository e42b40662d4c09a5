package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each mode's block of the serve section is rewritten in place; the rest
// of the file, and the other mode's block, stay as they were.
func TestUpdateServeSectionKeepsTheRest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\nthe matrix\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct{ mode, block string }{
		{"full", "full one\n"}, {"quick", "quick one\n"}, {"full", "full two\n"}, {"quick", "quick two\n"},
	}
	for _, s := range steps {
		if err := updateServeSection(path, s.mode, s.block); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	doc := string(b)
	for _, want := range []string{"# Benchmarks\n\nthe matrix\n", serveSectionTitle, "full two\n", "quick two\n"} {
		if strings.Count(doc, want) != 1 {
			t.Errorf("want %q once in:\n%s", want, doc)
		}
	}
	for _, gone := range []string{"full one", "quick one"} {
		if strings.Contains(doc, gone) {
			t.Errorf("%q still there:\n%s", gone, doc)
		}
	}
}

// A new matrix report must not drop the serve section the last serve run
// wrote: they are separate runs of the benchmark.
func TestKeepServeSection(t *testing.T) {
	old := "# Benchmarks\n\nold matrix\n\n" + serveSectionTitle + "\n\nserve figures\n"
	got := keepServeSection("# Benchmarks\n\nnew matrix\n", old)
	if want := "# Benchmarks\n\nnew matrix\n\n" + serveSectionTitle + "\n\nserve figures\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := keepServeSection("new\n", "no section\n"); got != "new\n" {
		t.Errorf("without a serve section: got %q", got)
	}
}
