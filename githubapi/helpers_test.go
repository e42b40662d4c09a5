package githubapi

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
)

// t0 is the emulator's frozen clock in most tests. It is days away from the
// wall clock on purpose: JWTs, installation-token expiry and rate-limit
// resets must all be judged on GitHub's clock, not ours.
var t0 = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// testToken is the PAT the emulator accepts; tests check it never leaks.
const testToken = "ghp_TESTsecretTOKEN0123456789abcdefABCDEF"

const appID = 42

// hookCfg points hooks nowhere; redeliveries are deferred, never sent.
var hookCfg = ghfake.HookConfig{URL: "https://receiver.invalid/hook", Secret: "s3cr3t"}

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

var otherKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func pkcs1(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8(k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// world is an emulator with org acme, repo acme/api, an org hook, a repo
// hook, App 42 with its hook and an installation on acme, and testToken.
type world struct {
	srv                        *ghfake.Server
	orgHook, repoHook, appHook int64
	installation               int64
}

func newWorld(t *testing.T, opts ghfake.Options) *world {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = ghfake.NewClock(t0)
	}
	opts.DeferRedeliveries = true
	srv := ghfake.New(opts)
	t.Cleanup(srv.Close)
	srv.AddToken(ghfake.Token{Value: testToken, All: true})
	srv.AddOrg("acme")
	srv.AddRepo("acme", "api")
	w := &world{srv: srv}
	w.orgHook = srv.AddOrgHook("acme", hookCfg)
	w.repoHook = srv.AddRepoHook("acme", "api", hookCfg)
	srv.AddApp(ghfake.App{ID: appID, PublicKey: &testKey().PublicKey})
	w.appHook = srv.SetAppHook(appID, hookCfg)
	w.installation = srv.AddInstallation(appID, "acme")
	return w
}

// targets returns one target of each kind with its emulator hook id.
func (w *world) targets() []struct {
	t    redeliver.Target
	hook int64
	list string // the emulator's route name for listing
} {
	return []struct {
		t    redeliver.Target
		hook int64
		list string
	}{
		{redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: w.orgHook}, w.orgHook, "GET /orgs/{org}/hooks/{hook_id}/deliveries"},
		{redeliver.Target{Kind: redeliver.KindRepo, Owner: "acme", Repo: "api", HookID: w.repoHook}, w.repoHook, "GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries"},
		{redeliver.Target{Kind: redeliver.KindApp, AppID: appID}, w.appHook, "GET /app/hook/deliveries"},
	}
}

func orgTarget(w *world) redeliver.Target {
	return redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: w.orgHook}
}

// newTestClient is New with millisecond backoff, so retries cost no time.
func newTestClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 3
	}
	c, err := newClient(cfg, 5*time.Millisecond)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// logBuffer collects a Client's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want code %s", code)
	}
	if got := redeliver.ErrorCode(err); got != code {
		t.Fatalf("code = %s, want %s (err: %v)", got, code, err)
	}
}

func wantContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// leak looks for any of secrets in v and everything reachable from it
// (unexported fields included) and returns where, or "".
func leak(v any, secrets ...string) string {
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value, path string, depth int) string
	check := func(s, path string) string {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(s, sec) {
				return path
			}
		}
		return ""
	}
	walk = func(v reflect.Value, path string, depth int) string {
		if !v.IsValid() || depth > 60 {
			return ""
		}
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return ""
			}
			seen[v.Pointer()] = true
			return walk(v.Elem(), path, depth+1)
		case reflect.Interface:
			return walk(v.Elem(), path, depth+1)
		case reflect.Struct:
			for i := range v.NumField() {
				if p := walk(v.Field(i), path+"."+v.Type().Field(i).Name, depth+1); p != "" {
					return p
				}
			}
		case reflect.Slice, reflect.Array:
			if v.Kind() == reflect.Slice && v.IsNil() {
				return ""
			}
			if v.Type().Elem().Kind() == reflect.Uint8 {
				b := make([]byte, v.Len())
				for i := range b {
					b[i] = byte(v.Index(i).Uint())
				}
				return check(string(b), path)
			}
			for i := range min(v.Len(), 10000) {
				if p := walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1); p != "" {
					return p
				}
			}
		case reflect.Map:
			if v.IsNil() || seen[v.Pointer()] {
				return ""
			}
			seen[v.Pointer()] = true
			it := v.MapRange()
			for it.Next() {
				if p := walk(it.Key(), path+"{key}", depth+1); p != "" {
					return p
				}
				if p := walk(it.Value(), path+"{value}", depth+1); p != "" {
					return p
				}
			}
		case reflect.String:
			return check(v.String(), path)
		}
		return ""
	}
	return walk(reflect.ValueOf(v), "err", 0)
}

// noLeak fails if err's text, its %+v and %#v forms, or anything reachable
// from it, contain a secret.
func noLeak(t *testing.T, name string, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: want an error", name)
	}
	for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		for _, s := range secrets {
			if s != "" && strings.Contains(form, s) {
				t.Errorf("%s: error text carries a secret: %s", name, form)
			}
		}
	}
	if p := leak(err, secrets...); p != "" {
		t.Errorf("%s: a secret is reachable from the error at %s", name, p)
	}
}
