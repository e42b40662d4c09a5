package main

// The binary started as gh-redeliver (as gh runs its extensions) takes the
// host and the token from gh: GH_HOST, GH_ENTERPRISE_TOKEN, gh's hosts.yml
// under GH_CONFIG_DIR, or `gh auth token` for gh's keyring. The emulator
// plays an Enterprise Server on a loopback host.

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redeliver/redeliver/ghfake"
)

// ghToken is the token gh holds for the emulator's host; testToken is
// also known to the emulator, so a run that works with ghToken alone shows
// that gh's token was the one sent.
const ghToken = "gho_GHLOGINtok3nNeverPrintMe9876543210abc"

// ghWorld is a world whose emulator is an Enterprise Server, with gh's
// config directory and the extension's executable beside it.
type ghWorld struct {
	*world
	host      string // 127.0.0.1:PORT, gh's name of the emulator
	configDir string // GH_CONFIG_DIR
	ext       string // the binary, named gh-redeliver
}

func newGHWorld(t *testing.T) *ghWorld {
	t.Helper()
	w := newWorld(t, ghfake.Options{Platform: ghfake.GHES})
	w.srv.AddToken(ghfake.Token{Value: ghToken, All: true})
	u, err := url.Parse(w.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	g := &ghWorld{world: w, host: u.Host, configDir: filepath.Join(w.dir, "gh-config")}
	if err := os.MkdirAll(g.configDir, 0o700); err != nil {
		t.Fatal(err)
	}
	g.ext = filepath.Join(w.dir, "bin", "gh-redeliver")
	if err := os.MkdirAll(filepath.Dir(g.ext), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(binPath, g.ext); err != nil {
		t.Fatal(err)
	}
	return g
}

// hostsFile writes gh's hosts.yml with these hosts and tokens.
func (g *ghWorld) hostsFile(hostTokens ...string) {
	g.t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(hostTokens); i += 2 {
		fmt.Fprintf(&b, "%q:\n    user: octocat\n    oauth_token: %s\n    git_protocol: https\n", hostTokens[i], hostTokens[i+1])
	}
	writeFile(g.t, g.configDir, "hosts.yml", []byte(b.String()), 0o600)
}

// env is a gh user's shell: no redeliver token variables, gh's config
// directory, no gh on PATH unless a test puts one there.
func (g *ghWorld) env(extra ...string) map[string]string {
	e := map[string]string{
		"HOME":           g.dir,
		"XDG_STATE_HOME": filepath.Join(g.dir, "xdg"),
		"GH_CONFIG_DIR":  g.configDir,
		"PATH":           filepath.Join(g.dir, "empty-path"),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		e[extra[i]] = extra[i+1]
	}
	return e
}

// runExe runs the executable at path with env as its whole environment
// and checks that gh's token appears nowhere in what it printed.
func runExe(t *testing.T, path string, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	noSecrets(t, "output of "+filepath.Base(path), r.stdout+r.stderr)
	if strings.Contains(r.stdout+r.stderr, ghToken) {
		t.Errorf("the output of %s holds gh's token", filepath.Base(path))
	}
	return r
}

// runArgs are a run against the org hook with a fresh state.
func (g *ghWorld) runArgs(extra ...string) []string {
	return append([]string{"run", "--org", "acme", "--hook", fmt.Sprint(g.orgHook), "--state", g.state, "--rate", "0"}, extra...)
}

// TestGHExtension: each way gh knows a login reaches the emulator's host
// with gh's token, and the run redelivers the failed events.
func TestGHExtension(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		setup func(g *ghWorld) map[string]string
		args  []string
	}{
		{"GH_HOST and hosts.yml", func(g *ghWorld) map[string]string {
			g.hostsFile("github.com", "gho_other", g.host, ghToken)
			return g.env("GH_HOST", g.host)
		}, nil},
		{"the only host of hosts.yml", func(g *ghWorld) map[string]string {
			g.hostsFile(g.host, ghToken)
			return g.env()
		}, nil},
		{"GH_ENTERPRISE_TOKEN, not GH_TOKEN, for an Enterprise host", func(g *ghWorld) map[string]string {
			// GH_TOKEN is github.com's: sent here it would be refused.
			return g.env("GH_HOST", g.host, "GH_ENTERPRISE_TOKEN", ghToken, "GH_TOKEN", "gho_dotcomOnly")
		}, nil},
		{"gh's keyring through gh auth token", func(g *ghWorld) map[string]string {
			bin := filepath.Join(g.dir, "gh-bin")
			if err := os.MkdirAll(bin, 0o755); err != nil {
				g.t.Fatal(err)
			}
			script := "#!/bin/sh\n" +
				"[ \"$1 $2 $3 $4 $5\" = \"auth token --secure-storage --hostname " + g.host + "\" ] || exit 1\n" +
				"echo " + ghToken + "\n"
			writeFile(g.t, bin, "gh", []byte(script), 0o755)
			e := g.env("GH_HOST", g.host)
			e["PATH"] = bin + string(os.PathListSeparator) + "/usr/bin:/bin"
			return e
		}, nil},
		{"--hostname picks the host", func(g *ghWorld) map[string]string {
			g.hostsFile("github.com", "gho_other", g.host, ghToken)
			return g.env()
		}, []string{"--hostname", "HOST"}},
		{"--api-url picks the host", func(g *ghWorld) map[string]string {
			g.hostsFile("github.com", "gho_other", g.host, ghToken)
			return g.env("GH_HOST", "github.com")
		}, []string{"--api-url", "http://HOST/api/v3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := newGHWorld(t)
			gs := g.failed(g.orgHook, "gh", 2, g.ago(time.Hour), time.Minute)
			env := c.setup(g)
			args := g.runArgs()
			for _, a := range c.args {
				args = append(args, strings.ReplaceAll(a, "HOST", g.host))
			}
			r := runExe(t, g.ext, env, append(args, "--verbose")...)
			wantCode(t, r, 0)
			wantRedeliveredOnce(t, g.redeliveries(), gs)
		})
	}
}

// TestGHExtensionRefusals: a wrong token is refused by the host, no login
// says how to log in, a broken hosts.yml is named; nothing is redelivered.
// The same binary under its own name does not read gh's login.
func TestGHExtensionRefusals(t *testing.T) {
	t.Parallel()
	t.Run("gh's token refused", func(t *testing.T) {
		t.Parallel()
		g := newGHWorld(t)
		g.failed(g.orgHook, "gh", 1, g.ago(time.Hour), time.Minute)
		g.hostsFile(g.host, "gho_revokedToken000")
		r := runExe(t, g.ext, g.env("GH_HOST", g.host), g.runArgs()...)
		wantCode(t, r, exitAuth)
		if n := len(g.redeliveries()); n != 0 {
			t.Errorf("%d redeliveries", n)
		}
		if strings.Contains(r.stderr, "gho_revokedToken000") {
			t.Errorf("the output holds the token")
		}
	})
	t.Run("not logged in", func(t *testing.T) {
		t.Parallel()
		g := newGHWorld(t)
		g.failed(g.orgHook, "gh", 1, g.ago(time.Hour), time.Minute)
		r := runExe(t, g.ext, g.env("GH_HOST", g.host), g.runArgs()...)
		wantCode(t, r, exitInvalid)
		if want := "gh auth login --hostname " + g.host; !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
		}
		if n := len(g.redeliveries()); n != 0 {
			t.Errorf("%d redeliveries", n)
		}
	})
	t.Run("broken hosts.yml", func(t *testing.T) {
		t.Parallel()
		g := newGHWorld(t)
		writeFile(t, g.configDir, "hosts.yml", []byte("github.com: [unclosed\n"), 0o600)
		r := runExe(t, g.ext, g.env("GH_HOST", g.host), g.runArgs()...)
		wantCode(t, r, exitInvalid)
		if !strings.Contains(r.stderr, "gh's configuration in "+g.configDir) {
			t.Errorf("stderr does not name gh's configuration:\n%s", r.stderr)
		}
		if exists(g.state) {
			t.Errorf("the state was created")
		}
	})
	t.Run("bad GH_HOST", func(t *testing.T) {
		t.Parallel()
		g := newGHWorld(t)
		r := runExe(t, g.ext, g.env("GH_HOST", "https://ghe.example.com/x"), g.runArgs()...)
		wantCode(t, r, exitInvalid)
		if !strings.Contains(r.stderr, "GH_HOST=") {
			t.Errorf("stderr does not name GH_HOST:\n%s", r.stderr)
		}
	})
	t.Run("as redeliver, gh's login is not read", func(t *testing.T) {
		t.Parallel()
		g := newGHWorld(t)
		g.failed(g.orgHook, "gh", 1, g.ago(time.Hour), time.Minute)
		g.hostsFile(g.host, ghToken)
		r := runExe(t, binPath, g.env("GH_HOST", g.host), g.runArgs("--api-url", g.api)...)
		wantCode(t, r, exitInvalid)
		if n := len(g.redeliveries()); n != 0 {
			t.Errorf("%d redeliveries", n)
		}
	})
	t.Run("commands that do not talk to GitHub need no login", func(t *testing.T) {
		t.Parallel()
		g := newGHWorld(t)
		r := runExe(t, g.ext, g.env(), "version")
		wantCode(t, r, 0)
		if r.stderr != "" {
			t.Errorf("stderr: %s", r.stderr)
		}
	})
}
