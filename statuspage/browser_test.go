package statuspage_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/redeliver/redeliver"
)

// chromium finds a headless-capable Chromium: $REDELIVER_CHROMIUM, else
// Debian's chromium on the PATH. The test is skipped where there is none,
// unless REDELIVER_REQUIRE_BROWSER is set (as CI does).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("REDELIVER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("REDELIVER_REQUIRE_BROWSER") != "" {
		t.Fatal("REDELIVER_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium, or set REDELIVER_CHROMIUM)")
	}
	t.Skip("no Chromium on this machine: the browser test of the status page is skipped (apt-get install chromium to run it)")
	return ""
}

// artifacts is where screenshots go: $REDELIVER_ARTIFACTS, else a
// temporary directory of the test.
func artifacts(t *testing.T) string {
	if d := os.Getenv("REDELIVER_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// receiver counts the deliveries it accepts per guid; while down it
// answers 503.
type receiver struct {
	up  atomic.Bool
	mu  sync.Mutex
	got map[string]int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !r.up.Load() {
		http.Error(w, "deploying", http.StatusServiceUnavailable)
		return
	}
	r.mu.Lock()
	r.got[req.Header.Get("X-GitHub-Delivery")]++
	r.mu.Unlock()
}

func (r *receiver) count(guid string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[guid]
}

// The status page in a real browser, on the real engine, emulator and state
// file: a person opens the overview and a target, presses "redeliver now",
// and the emulator redelivers the event to the receiver; a form on another
// site cannot do the same.
func TestBrowser(t *testing.T) {
	chrome := chromium(t)
	ctx := context.Background()
	w := newWorld(t)
	gh, store, tgt, rcv, g1, before := w.gh, w.store, w.tgt, w.rcv, w.g1, w.before
	page := httptest.NewServer(w.handler)
	t.Cleanup(page.Close)
	// Another origin (another port) serving a form aimed at the page.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/action">
<input type="hidden" name="key" value="%s"><input type="hidden" name="guid" value="%s">
<button id="go" name="action" value="give-up">win a prize</button></form>`, page.URL, tgt.Key(), g1)
	}))
	t.Cleanup(evil.Close)

	bctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(bctx,
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-proxy-server", true))
	defer cancelAlloc()
	cctx, cancelCtx := chromedp.NewContext(actx)
	defer cancelCtx()
	out := artifacts(t)

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(out, name), png, 0o644)
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(cctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}

	// The overview.
	if err := chromedp.Do(cctx, chromedp.Navigate(page.URL+"/"), chromedp.WaitVisible(chromedp.CSS("table.overview")), shot("statuspage-overview.png")); err != nil {
		t.Fatalf("overview: %v", err)
	}
	if row := text("table.overview tbody tr"); !strings.Contains(row, "repo acme/api hook") || !strings.Contains(row, "4712 / 5000") {
		t.Errorf("overview row: %q", row)
	}
	// Open the target; g1 waits for its spacing.
	if err := chromedp.Do(cctx, chromedp.Click(chromedp.CSS("table.overview a")), chromedp.WaitVisible(chromedp.CSS("svg.chart")), shot("statuspage-target.png")); err != nil {
		t.Fatalf("target page: %v", err)
	}
	row := "#ev-" + g1
	if s := text(row); !strings.Contains(s, "failed") || !strings.Contains(s, "in 55m") {
		t.Errorf("g1 before the button: %q, want failed and due in 55m", s)
	}
	if rcv.count(g1) != 0 {
		t.Fatalf("the receiver has g1 already")
	}
	// Press "redeliver now".
	if err := chromedp.Do(cctx, chromedp.Click(chromedp.CSS(row+` button[value="redeliver-now"]`)), chromedp.WaitVisible(chromedp.CSS(".flash"))); err != nil {
		t.Fatalf("redeliver now: %v", err)
	}
	if s := text(".flash"); !strings.Contains(s, "Done: redeliver now: "+g1) {
		t.Errorf("after the button the page says %q", s)
	}
	if s := text(row); !strings.Contains(s, "redeliver now by status page") {
		t.Errorf("g1 after the button: %q, want the action recorded", s)
	}
	if n := rcv.count(g1); n != 1 {
		t.Errorf("the receiver got g1 %d times after the button, want 1", n)
	}
	var ours []string
	for _, r := range gh.Redeliveries()[before:] {
		ours = append(ours, r.GUID)
	}
	if len(ours) != 1 || ours[0] != g1 {
		t.Errorf("redeliveries after the button: %v, want only %s", ours, g1)
	}
	e := entryOf(t, store, tgt.Key(), g1)
	if e.Manual != redeliver.ManualRedeliverNow || e.Used() != 2 || e.Force {
		t.Errorf("g1 in the ledger: %+v, want the action recorded, 2 used, the force spent", e)
	}

	// On a phone the page fits the screen: only the tables scroll sideways.
	if _, err := chromedp.Call(cctx, emulation.SetDeviceMetricsOverride,
		emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
		t.Fatalf("phone viewport: %v", err)
	}
	if err := chromedp.Do(cctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("svg.chart")), shot("statuspage-phone.png")); err != nil {
		t.Fatalf("target page on a phone: %v", err)
	}
	if fits, err := chromedp.Run(cctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)); err != nil || !fits {
		t.Errorf("on a 390 px wide phone the page scrolls sideways (%v)", err)
	}
	if _, err := chromedp.Call(cctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{}); err != nil {
		t.Fatalf("clearing the phone viewport: %v", err)
	}

	// A form on another origin cannot act.
	other := entryOf(t, store, tgt.Key(), g1)
	if err := chromedp.Do(cctx, chromedp.Navigate(evil.URL), chromedp.Click(chromedp.CSS("#go")),
		chromedp.WaitNotPresent(chromedp.CSS("#go")), chromedp.WaitVisible(chromedp.CSS("body"))); err != nil {
		t.Fatalf("cross-origin form: %v", err)
	}
	body, _ := chromedp.Run(cctx, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(body, "cross-origin request refused") {
		t.Errorf("the cross-origin POST got %q, want the refusal", body)
	}
	if got := entryOf(t, store, tgt.Key(), g1); got != other {
		t.Errorf("a cross-origin POST changed the ledger: %+v", got)
	}
	t.Logf("screenshots in %s", out)
}

func entryOf(t *testing.T, st redeliver.Store, key, guid string) redeliver.LedgerEntry {
	t.Helper()
	es, err := st.Entries(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.GUID == guid {
			return e
		}
	}
	t.Fatalf("no ledger entry %s", guid)
	return redeliver.LedgerEntry{}
}
