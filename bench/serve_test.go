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
