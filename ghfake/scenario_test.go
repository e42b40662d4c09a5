package ghfake

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScenarioExample(t *testing.T) {
	sc, err := LoadScenario(filepath.Join("testdata", "scenario.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	opts := sc.Options()
	opts.Clock = NewClock(DefaultStart)
	srv := newServer(t, opts)
	if err := srv.Apply(sc); err != nil {
		t.Fatal(err)
	}
	hooks := srv.Hooks()
	if len(hooks) != 3 || hooks[0].ID != 100001 || hooks[0].Count != 450 || hooks[0].Kind != "org" {
		t.Fatalf("hooks: %+v", hooks)
	}
	atts := srv.Attempts(100001)
	if oldest := atts[len(atts)-1].DeliveredAt; !oldest.Equal(DefaultStart.Add(-24 * time.Hour)) {
		t.Errorf("history window starts %v", oldest)
	}
	if v, ok := srv.Variable("acme", "ops", "last_redelivery"); !ok || v != "0" {
		t.Errorf("variable: %q %v", v, ok)
	}
	if r := call(t, nil, "GET", srv.URL()+"/orgs/acme/hooks/100001/deliveries", "ghp_demo_admin", nil); r.Status != 200 {
		t.Errorf("token from the scenario: %d", r.Status)
	}
	if srv.AppHookID(4242) == 0 || len(srv.Attempts(srv.AppHookID(4242))) != 20 {
		t.Errorf("app hook history missing")
	}
}

func TestScenarioStrict(t *testing.T) {
	for _, c := range []struct {
		name, text string
		json       bool
		want       string
	}{
		{"unknown top-level key", "orgs: [a]\nhokks: []\n", false, "hokks"},
		{"unknown nested key", "hooks:\n  - org: a\n    url: http://x\n    secrett: s\n", false, "secrett"},
		{"unknown JSON key", `{"orgs":["a"],"tokenz":[]}`, true, "tokenz"},
		{"bad platform", "platform: gitlab\n", false, "platform"},
		{"hook without owner", "hooks:\n  - url: http://x\n", false, "hooks[0]"},
		{"bad fault kind", "faults:\n  - kind: explode\n", false, "faults[0].kind"},
		{"bad duration", "receiver_timeout: soon\n", false, "soon"},
		{"negative workers", "redelivery_workers: -1\n", false, "redelivery_workers"},
		{"workers and defer", "redelivery_workers: 2\ndefer_redeliveries: true\n", false, "redelivery_workers"},
		{"ratio out of range", "hooks:\n  - org: a\n    history: {count: 1, failure_ratio: 2}\n", false, "failure_ratio"},
	} {
		_, err := ParseScenario([]byte(c.text), c.json)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
	sc, err := ParseScenario([]byte(`{"platform":"ghes","orgs":["acme"],"receiver_timeout":"5s","faults":[{"kind":"reset","times":1}],
		"redelivery_workers":3,"budget":{"redeliveries_not_content":true}}`), true)
	if err != nil {
		t.Fatal(err)
	}
	if o := sc.Options(); o.Platform != GHES || o.ReceiverTimeout != 5*time.Second || o.RedeliveryWorkers != 3 || !o.Budget.RedeliveriesNotContent {
		t.Errorf("options: %+v", o)
	}
	// A scenario for another platform is refused rather than half applied.
	srv := newServer(t, Options{})
	if err := srv.Apply(sc); err == nil || !strings.Contains(err.Error(), "platform") {
		t.Errorf("platform mismatch: %v", err)
	}
	// A private key works as public_key too.
	dir := t.TempDir()
	good, _ := keys(t)
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pemPrivate(good), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "s.yaml"), []byte("apps:\n  - id: 5\n    public_key: key.pem\n"), 0o644)
	sc, err = LoadScenario(filepath.Join(dir, "s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Apply(sc); err != nil {
		t.Fatal(err)
	}
	now := srv.Clock().Now()
	if r := call(t, nil, "GET", srv.URL()+"/app", signJWT(t, good, 5, now, now.Add(time.Minute)), nil); r.Status != 200 {
		t.Errorf("JWT for scenario app: %d %s", r.Status, r.Body)
	}
}
