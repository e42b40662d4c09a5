package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// TestReportFileListsEveryItem: past the items a report keeps in memory,
// --output json counts the rest (items_omitted) while --report lists every
// one of them, as valid JSON.
func TestReportFileListsEveryItem(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	const n = redeliver.DefaultMaxItems + 150
	seeds := make([]ghfake.Seed, n)
	for i := range seeds {
		seeds[i] = ghfake.Seed{GUID: fmt.Sprintf("g%05d", i), Event: "issues", At: w.ago(time.Hour), StatusCode: 500}
	}
	w.seed(w.orgHook, seeds...)
	report := filepath.Join(w.dir, "report.json")
	r := w.run(w.args("run", "--org", "acme", "--hook", fmt.Sprint(w.orgHook), "--dry-run", "--output", "json", "--report", report)...)
	type doc struct {
		Targets []redeliver.Report `json:"targets"`
	}
	var out, file doc
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout: %v", err)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("--report: %v\n%s", err, b[:min(len(b), 2000)])
	}
	if len(out.Targets) != 1 || len(out.Targets[0].Items) != redeliver.DefaultMaxItems || out.Targets[0].ItemsOmitted != 150 {
		t.Fatalf("stdout: %d targets, %d items, %d omitted; want 1, %d, 150", len(out.Targets), len(out.Targets[0].Items),
			out.Targets[0].ItemsOmitted, redeliver.DefaultMaxItems)
	}
	got := file.Targets[0]
	if len(got.Items) != n || got.ItemsOmitted != 0 || got.Redelivered != n {
		t.Fatalf("--report: %d items, %d omitted, %d redelivered; want %d, 0, %d", len(got.Items), got.ItemsOmitted, got.Redelivered, n, n)
	}
	seen := map[string]bool{}
	for _, it := range got.Items {
		seen[it.GUID] = true
	}
	if len(seen) != n {
		t.Errorf("--report lists %d distinct guids, want %d", len(seen), n)
	}
}
