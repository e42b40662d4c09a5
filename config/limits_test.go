package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// billionLaughs is about 600 bytes of aliases that expand to 9^9 (387
// million) values: each level lists the one before nine times.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("targets:\n  - org: acme\n    events: &a0 [" + strings.TrimSuffix(strings.Repeat("lol,", 9), ",") + "]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "  - org: a%d\n    events: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9), ","))
	}
	return b.String()
}

// TestConfigLimits feeds hostile files to ParseFile. Before the limits,
// goccy/go-yaml spent minutes and gigabytes on each of the first three.
func TestConfigLimits(t *testing.T) {
	const name = "hostile/redeliver.yaml"
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"billion laughs", billionLaughs(), []string{"more than 100000 values", "limit"}},
		{"200 KB of nested brackets", "targets: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n",
			[]string{"[1:74] nested deeper than 64 levels", "limit"}},
		{"nested block sequences", "targets:\n" + strings.Repeat("- ", 5000) + "x\n", []string{"nested deeper than 64 levels"}},
		{"nested flow mappings", "targets: [" + strings.Repeat("{a: ", 65) + "b" + strings.Repeat("}", 65) + "]\n", []string{"nested deeper than 64 levels"}},
		{"an alias inside what it names", "targets: &x [*x]\n", []string{"[1:14] alias *x is inside the value it names"}},
		{"more than 1 MiB", "targets:\n" + strings.Repeat("  - org: acme\n", MaxFileBytes/14+1), []string{"1048595 bytes, more than the 1048576 (1 MiB)"}},
		{"too deep in a second document", "targets: [{org: a}]\n---\n" + strings.Repeat("[", 65) + strings.Repeat("]", 65) + "\n", []string{"nested deeper"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFile([]byte(tt.data), name)
			if err == nil {
				t.Fatalf("accepted %d bytes: %+v", len(tt.data), f)
			}
			assertInvalid(t, err, append([]string{name}, tt.want...)...)
			t.Logf("%d bytes: %v", len(tt.data), err)
		})
	}
}

// TestConfigWithinLimits checks that what a real file does stays allowed:
// anchors shared between targets, and nesting up to the limit.
func TestConfigWithinLimits(t *testing.T) {
	for _, data := range []string{
		"x: &ev [push, pull_request.opened]\n",
		"targets:\n  - &t {org: acme, events: &ev [push, pull_request.opened]}\n  - {repo: acme/api, events: *ev}\n  - *t\n",
		"targets:\n  - org: acme\n    events: " + strings.Repeat("[", 62) + "push" + strings.Repeat("]", 62) + "\n",
	} {
		err := checkShape([]byte(data))
		if err != nil {
			t.Errorf("checkShape(%q): %v", data, err)
		}
	}
	var b strings.Builder
	b.WriteString("targets:\n")
	for i := range 5_000 {
		fmt.Fprintf(&b, "  - org: org-%d\n    events: [push, pull_request.opened]\n", i)
	}
	f, err := ParseFile([]byte(b.String()), "big.yaml")
	if err != nil || len(f.Targets) != 5_000 {
		t.Fatalf("a file of 5,000 targets (%d bytes): %v", b.Len(), err)
	}
}

// TestReadFileCapped checks that a file of settings larger than the cap,
// or endless, is refused without being read whole.
func TestReadFileCapped(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(dir, "exact")
	if err := os.WriteFile(exact, make([]byte, MaxFileBytes), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := readFileCapped(exact); err != nil || len(b) != MaxFileBytes {
		t.Errorf("a file of exactly the cap: %d bytes, %v", len(b), err)
	}
	rows := []struct {
		flags Flags
		want  []string
	}{
		{Flags{Config: big}, []string{"--config " + big, "larger than 1048576 bytes"}},
		{Flags{Config: "/dev/zero"}, []string{"--config /dev/zero", "larger than 1048576 bytes"}},
		{Flags{Org: "acme", TokenFile: "/dev/zero"}, []string{"--token-file /dev/zero", "larger than"}},
		{Flags{Org: "acme", AppID: "1", PrivateKeyFile: "/dev/zero"}, []string{"--private-key-file /dev/zero", "larger than"}},
	}
	for _, r := range rows {
		if _, err := os.Stat("/dev/zero"); err != nil && strings.Contains(r.want[0], "/dev/zero") {
			continue // not on this system
		}
		_, err := Resolve(r.flags, envMap{}.get, nil)
		assertInvalid(t, err, r.want...)
	}
}

// BenchmarkParseFileNearLimits measures the largest files the limits let
// through, and the refusals, for RELIABILITY.md:
//
//	go test ./config -run '^$' -bench ParseFileNearLimits -benchtime 5x
func BenchmarkParseFileNearLimits(b *testing.B) {
	var targets strings.Builder
	targets.WriteString("targets:\n")
	// Each target is 7 values (a mapping, 2 keys, a name, a list, an
	// event): 14,000 of them are just under maxValues.
	for i := range 14_000 {
		fmt.Fprintf(&targets, "  - {org: org-%d, events: [push]}\n", i)
	}
	// The same, to the size limit: refused for its values.
	big := targets.String()
	for i := 14_000; len(big) < MaxFileBytes-64; i++ {
		big += fmt.Sprintf("  - {org: org-%d, events: [push]}\n", i)
	}
	// Aliases that expand to just under maxValues: 4 levels of 9 lists.
	var aliases strings.Builder
	aliases.WriteString("targets:\n  - org: acme\n    events: &a0 [" + strings.TrimSuffix(strings.Repeat("lol,", 9), ",") + "]\n")
	for i := 1; i < 5; i++ {
		fmt.Fprintf(&aliases, "  - org: a%d\n    events: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 9), ","))
	}
	for _, bc := range []struct{ name, data string }{
		{"14000-targets", targets.String()},
		{"refused-1MiB-of-targets", big},
		{"aliases-to-66k-values", aliases.String()},
		{"nested-64", "targets: [{org: a, events: " + strings.Repeat("[", 62) + "push" + strings.Repeat("]", 62) + "}]\n"},
		{"refused-billion-laughs", billionLaughs()},
		{"refused-200KB-brackets", "targets: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				_, _ = ParseFile([]byte(bc.data), "bench.yaml")
			}
		})
	}
}
