package config

import (
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/githubapi"
)

// The seed corpora of these fuzz targets run in the normal suite. To fuzz:
//
//	go test -run XXX -fuzz FuzzParseFile -fuzztime 20s ./config/
//
// Crashers Go writes to testdata/fuzz/ become regression seeds.
//
// With CONFIG_FUZZ_IGNORE_KNOWN=1 the fuzz targets skip inputs that only hit
// a known bug (see knownBug; those found so far are fixed), so a fuzzing run
// can look past one while it is open; the normal suite never sets it.
var ignoreKnown = os.Getenv("CONFIG_FUZZ_IGNORE_KNOWN") != ""

// knownBug fails the test, or skips the input when ignoreKnown is set.
func knownBug(t *testing.T, format string, args ...any) {
	t.Helper()
	if ignoreKnown {
		t.Skipf("known bug: "+format, args...)
	}
	t.Errorf(format, args...)
}

func FuzzParseFile(f *testing.F) {
	for _, data := range testdataFiles() {
		f.Add([]byte(data))
	}
	for _, s := range []string{
		"targets:\n  - org: acme\n    hook: 12\n",
		"targets:\n  - app: true\n",
		"targets: [{repo: a/b, events: [push], since: 2d}]\n",
		"defaults: {max_attempts: 100, max_redeliveries: 0, exclude_events: [ping]}\ntargets:\n  - org: a\n",
		"a: &x [*x]\n",
		"targets:\n  - &t {org: acme}\n  - *t\n",
		"targets:\n  - org: acme\n    hook: 9223372036854775808\n",
		"targets:\n  - <<: {org: acme}\n",
		"%YAML 1.2\n---\ntargets: []\n...\n",
		"!!map {targets: !!seq [ {org: !!str 12} ]}",
		"\xef\xbb\xbftargets:\n  - org: acme\n",
	} {
		f.Add([]byte(s))
	}
	const name = "fuzz/redeliver.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parseFileNoPanic(t, data, name)
		if err != nil {
			if file != nil {
				t.Errorf("ParseFile returned a File with error %v", err)
			}
			if code := redeliver.ErrorCode(err); code != redeliver.EInvalid {
				t.Errorf("error code %q: %v", code, err)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the file", err)
			}
			return
		}
		if len(file.Targets) == 0 {
			t.Fatalf("ParseFile accepted a file with no targets")
		}
		for i, tg := range file.Targets {
			n := 0
			for _, set := range []bool{tg.Org != "", tg.Repo != "", tg.App} {
				if set {
					n++
				}
			}
			if n != 1 || tg.Hook < 0 || (tg.App && (tg.Hook != 0 || tg.HookURL != "")) || (tg.Hook != 0 && tg.HookURL != "") {
				t.Errorf("ParseFile accepted targets[%d] = %+v", i, tg)
			}
		}
		// A file ParseFile accepts goes through Resolve without panicking,
		// and is either resolved or rejected naming it.
		env := docsApp()
		read := func(string) ([]byte, error) { return data, nil }
		s, err := Resolve(Flags{Config: name}, env.get, read)
		if err != nil {
			if code := redeliver.ErrorCode(err); code != redeliver.EInvalid {
				t.Errorf("Resolve: error code %q: %v", code, err)
			}
			return
		}
		if len(s.Targets) != len(file.Targets) {
			t.Errorf("Resolve made %d targets of %d", len(s.Targets), len(file.Targets))
		}
		for i, tg := range s.Targets {
			if err := tg.Policy.Validate(); err != nil {
				t.Errorf("targets[%d] policy: %v", i, err)
			}
		}
	})
}

// parseFileNoPanic calls ParseFile and turns a panic into a test failure,
// so that one bad file does not take the rest of the suite down with it.
func parseFileNoPanic(t *testing.T, data []byte, name string) (f *File, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			stack := string(debug.Stack())
			if strings.Contains(stack, "go-yaml/ast.(*ArrayNodeIter).Len") {
				knownBug(t, "ParseFile(%q) panics in the YAML decoder (goccy/go-yaml#735): %v", data, r)
			} else {
				t.Errorf("ParseFile(%q) panics: %v\n%s", data, r, stack)
			}
			f, err = nil, nil
			t.SkipNow()
		}
	}()
	return ParseFile(data, name)
}

// fuzzInputNames are the names an error of Resolve may point at.
var fuzzInputNames = []string{
	"TOKEN", "ORGANIZATION_NAME", "REPO_OWNER", "REPO_NAME", "HOOK_ID", "LAST_REDELIVERY_VARIABLE_NAME",
	"HOSTNAME", "WORKFLOW_REPO_OWNER", "WORKFLOW_REPO_NAME", "GITHUB_REPOSITORY", "GITHUB_API_URL",
	"APP_ID", "PRIVATE_KEY", "--org", "--hook", "--since", "--state", "--max-attempts", "--events",
}

func FuzzResolveEnv(f *testing.F) {
	k := testKeys()
	type seed struct {
		org, owner, name, hook, lastVar, hostname, wfOwner, wfName, ghRepo, apiURL, token, appID, key string
		keyChoice                                                                                     uint8
		flagOrg, flagHook, flagSince, flagState, flagEvent                                            string
		flagMax                                                                                       int
	}
	for _, s := range []seed{
		{org: "acme", hook: "12", lastVar: "LAST", hostname: "YOUR_HOSTNAME", wfOwner: "acme", wfName: "ops", token: secretToken},
		{owner: "acme", name: "api", hook: "34", lastVar: "LAST", hostname: "ghe.example.com", wfOwner: "acme", wfName: "ops", token: secretToken},
		{lastVar: "LAST", wfOwner: "acme", wfName: "ops", token: secretToken, appID: "56", keyChoice: 1},
		{lastVar: "LAST", ghRepo: "acme/ops", token: secretToken, appID: "56", keyChoice: 5},
		{lastVar: "LAST", ghRepo: "acme/ops", token: secretToken, appID: "56", keyChoice: 4},
		{lastVar: "LAST", ghRepo: "acme/ops", appID: "56", key: `-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----`},
		{org: "acme", hook: "12", hostname: testMachine, apiURL: "http://127.0.0.1:8080/api/v3", token: " x \n"},
		{hostname: "buildkitsandbox", token: secretToken, flagOrg: "acme", flagHook: "7", flagSince: "36h", flagState: "actions:o/r/V", flagEvent: "issues.opened", flagMax: 3},
		{org: "acme", owner: "acme", hook: "0", token: "", flagSince: "banana", flagMax: -1},
		{hook: "12", apiURL: "https://u:p@ghe.example.com/", flagState: "actions:o/r", flagEvent: "pushh"},
		{org: "bad name!", hook: "abc", lastVar: "GITHUB_X", wfOwner: "o", appID: "abc", key: "not a key", flagMax: 101},
		{org: "acme", hook: "12", token: secretToken, flagSince: "1764230400000", flagState: "sqlite:/tmp/x.db"},
	} {
		f.Add(s.org, s.owner, s.name, s.hook, s.lastVar, s.hostname, s.wfOwner, s.wfName, s.ghRepo, s.apiURL, s.token, s.appID, s.key, s.keyChoice,
			s.flagOrg, s.flagHook, s.flagSince, s.flagState, s.flagEvent, s.flagMax)
	}
	// Real keys are picked by keyChoice (1…5) rather than fuzzed as text: a
	// 1.7 kB argument makes every new input take a minute to minimize.
	realKeys := []string{k.pkcs1, k.pkcs8, k.ecPKCS8, k.ecSEC1, strings.ReplaceAll(strings.TrimSpace(k.pkcs1), "\n", `\n`)}
	f.Fuzz(func(t *testing.T, org, owner, name, hook, lastVar, hostname, wfOwner, wfName, ghRepo, apiURL, token, appID, key string, keyChoice uint8,
		flagOrg, flagHook, flagSince, flagState, flagEvent string, flagMax int) {
		if c := int(keyChoice) % 8; c >= 1 && c <= len(realKeys) {
			key = realKeys[c-1] + key
		}
		env := envMap{
			"ORGANIZATION_NAME": org, "REPO_OWNER": owner, "REPO_NAME": name, "HOOK_ID": hook,
			"LAST_REDELIVERY_VARIABLE_NAME": lastVar, "HOSTNAME": hostname,
			"WORKFLOW_REPO_OWNER": wfOwner, "WORKFLOW_REPO_NAME": wfName, "GITHUB_REPOSITORY": ghRepo,
			"GITHUB_API_URL": apiURL, "TOKEN": token, "APP_ID": appID, "PRIVATE_KEY": key,
		}
		fl := Flags{Org: flagOrg, Hook: flagHook, Since: flagSince, State: flagState, MaxAttempts: flagMax}
		if flagEvent != "" {
			fl.Events = []string{flagEvent}
		}
		readFile := func(p string) ([]byte, error) { return nil, os.ErrNotExist }
		s, err := Resolve(fl, env.get, readFile)

		others := []string{org, owner, name, hook, lastVar, hostname, wfOwner, wfName, ghRepo, apiURL, appID,
			flagOrg, flagHook, flagSince, flagState, flagEvent} // all but the token and the key
		inputs := append(slices.Clone(others), key)
		secret := strings.TrimSpace(token)
		secretIsUnique := len(secret) >= 12 && !slices.ContainsFunc(inputs, func(in string) bool { return strings.Contains(in, secret) })
		for _, name := range fuzzInputNames {
			if secretIsUnique && strings.Contains(name, secret) {
				secretIsUnique = false
			}
		}

		if err != nil {
			if s != nil {
				t.Errorf("Resolve returned Settings with error %v", err)
			}
			if code := redeliver.ErrorCode(err); code != redeliver.EInvalid {
				t.Errorf("error code %q: %v", code, err)
			}
			msg := err.Error()
			if !slices.ContainsFunc(fuzzInputNames, func(n string) bool { return strings.Contains(msg, n) }) {
				t.Errorf("error %q names none of the inputs", msg)
			}
			if secretIsUnique && strings.Contains(msg, secret) {
				t.Errorf("error %q quotes the token", msg)
			}
			for _, line := range keySecrets(strings.ReplaceAll(key, `\n`, "\n")) {
				if strings.Contains(msg, line) && !slices.ContainsFunc(others, func(in string) bool { return strings.Contains(in, line) }) {
					t.Errorf("error %q quotes the private key", msg)
				}
			}
			return
		}

		if !strings.HasSuffix(s.APIURL, "/") {
			t.Errorf("APIURL %q has no trailing slash", s.APIURL)
		}
		if again, err := NormalizeAPIURL(s.APIURL, "x"); err != nil || again != s.APIURL {
			t.Errorf("APIURL %q does not normalize to itself: %q, %v", s.APIURL, again, err)
		}
		if s.GHES != IsGHES(s.APIURL) {
			t.Errorf("GHES = %v for %s", s.GHES, s.APIURL)
		}
		if want := map[bool]time.Duration{false: redeliver.HorizonDotCom, true: redeliver.HorizonGHES}[s.GHES]; s.Policy.Horizon != want {
			t.Errorf("horizon %s for %s", s.Policy.Horizon, s.APIURL)
		}
		if len(s.Targets) != 1 {
			t.Errorf("targets = %+v, want one", s.Targets)
		}
		for _, tg := range s.Targets {
			rt := redeliver.Target{Kind: tg.Kind, Owner: tg.Owner, Repo: tg.Repo, HookID: tg.HookID, AppID: tg.AppID}
			if tg.HookID == 0 && tg.Kind != redeliver.KindApp {
				rt.HookID = 1 // every hook, or the one matching HookURL: found later
			}
			if err := rt.Validate(); err != nil {
				t.Errorf("target %+v: %v", tg, err)
			}
			if tg.Kind != redeliver.KindApp && s.Token == "" && s.AppID == 0 {
				t.Errorf("target %+v without credentials", tg)
			}
			if err := tg.Policy.Validate(); err != nil {
				t.Errorf("policy: %v", err)
			}
		}
		switch s.TokenFrom {
		case "", "TOKEN":
		default:
			t.Errorf("TokenFrom = %q", s.TokenFrom)
		}
		if s.Token != "" && (strings.ContainsAny(s.Token, " \t\r\n") || s.Token != secret) {
			t.Errorf("token taken from %q is not TOKEN trimmed", s.TokenFrom)
		}
		if s.State.Kind == StateActionsVariable {
			if err := CheckVariableName(s.State.Variable, "x"); err != nil {
				t.Errorf("state %+v: %v", s.State, err)
			}
			if _, _, ok := splitRepo(s.State.Owner + "/" + s.State.Repo); !ok {
				t.Errorf("state %+v: not a repository", s.State)
			}
		}
		for _, w := range s.Warnings {
			if secretIsUnique && strings.Contains(w, secret) {
				t.Errorf("warning %q quotes the token", w)
			}
		}
	})
}

func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"36h", "90m", "2d", "3650d", "3651d", "0d", "-5h", "banana", "", "2026-11-25T06:00:00Z",
		"2026-11-25T06:00:00", "2026-11-25", "1764230400000", "253402299999999", "1.5d", "+2d", "9223372036854775807",
		"2026-11-25T06:00:00.123456789+14:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		at, ago, err := ParseSince(in)
		if err != nil {
			if code := redeliver.ErrorCode(err); code != redeliver.EInvalid {
				t.Errorf("error code %q: %v", code, err)
			}
			if !at.IsZero() || ago != 0 {
				t.Errorf("ParseSince(%q) = %s, %s with error %v", in, at, ago, err)
			}
			if utf8.ValidString(in) && !utf8.ValidString(err.Error()) {
				t.Errorf("error %q is not valid UTF-8", err)
			}
			return
		}
		if ago < 0 {
			t.Errorf("ParseSince(%q) = negative %s", in, ago)
		}
		if at.IsZero() == (ago == 0) {
			knownBug(t, "ParseSince(%q) = %s, %s: want exactly one non-zero", in, at, ago)
		}
		if !at.IsZero() && at.Location() != time.UTC {
			t.Errorf("ParseSince(%q) = %s not in UTC", in, at)
		}
	})
}

func FuzzNormalizeAPIURL(f *testing.F) {
	for _, s := range []string{"https://api.github.com", "https://ghe.example.com/api/v3", "http://127.0.0.1:8080/",
		"http://[::1]:1/", "http://localhost", "http://ghe.example.com/", "https://u:p@h/", "https://h/?q#f", "ftp://h/",
		"", "::", "https://%zz/", "https://h/a%2Fb", "https://h/a b", "HTTP://LOCALHOST/x/"} {
		f.Add(s)
	}
	const from = "GITHUB_API_URL"
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := NormalizeAPIURL(raw, from)
		if err != nil {
			if code := redeliver.ErrorCode(err); code != redeliver.EInvalid {
				t.Errorf("error code %q: %v", code, err)
			}
			if !strings.Contains(err.Error(), from) {
				t.Errorf("error %q does not name %s", err, from)
			}
			// A password in the URL is never quoted back.
			if i := strings.Index(raw, "://"); i >= 0 {
				rest := raw[i+3:]
				if at := strings.LastIndex(rest, "@"); at >= 0 {
					if _, pw, ok := strings.Cut(rest[:at], ":"); ok && len(pw) >= 6 &&
						!strings.Contains(raw[:i+3]+rest[at:], pw) && !strings.Contains(from, pw) && strings.Contains(err.Error(), pw) {
						knownBug(t, "error %q quotes the password %q", err, pw)
					}
				}
			}
			return
		}
		u, perr := url.Parse(out)
		switch {
		case perr != nil:
			t.Fatalf("NormalizeAPIURL(%q) = %q, which does not parse: %v", raw, out, perr)
		case u.ForceQuery:
			knownBug(t, "NormalizeAPIURL(%q) = %q ends in an empty query", raw, out)
		case !strings.HasSuffix(out, "/") && u.RawPath != "":
			knownBug(t, "NormalizeAPIURL(%q) = %q without a trailing slash (escaped path)", raw, out)
		case !strings.HasSuffix(out, "/"):
			t.Errorf("NormalizeAPIURL(%q) = %q without a trailing slash", raw, out)
		case u.Scheme != "http" && u.Scheme != "https":
			t.Errorf("NormalizeAPIURL(%q) = %q: scheme %q", raw, out, u.Scheme)
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			t.Errorf("NormalizeAPIURL(%q) = %q carries credentials, a query or a fragment", raw, out)
		case u.Scheme == "http" && !githubapi.IsLoopback(u.Hostname()):
			t.Errorf("NormalizeAPIURL(%q) = %q: plain http to %q", raw, out, u.Hostname())
		case u.Hostname() == "":
			knownBug(t, "NormalizeAPIURL(%q) = %q has no host name", raw, out)
		}
		if again, err := NormalizeAPIURL(out, from); err != nil || again != out {
			t.Errorf("NormalizeAPIURL(%q) = %q, but again = %q, %v", raw, out, again, err)
		}
	})
}
