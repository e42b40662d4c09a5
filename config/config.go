// Package config turns what a user gives — flags, the environment (including
// the docs scripts' variables) and an optional YAML file — into one resolved,
// validated Settings. Nothing here talks to GitHub or touches the state:
// bad input is rejected, with a message naming it, before anything happens.
package config

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redeliver/redeliver"
)

// Flags are the command-line values of `redeliver run` and its siblings.
// A zero value means "not given".
type Flags struct {
	APIURL         string
	Hostname       string
	CAFile         string
	TokenFile      string
	AppID          string
	PrivateKeyFile string

	Org     string
	Repo    string // OWNER/REPO
	Hook    string // hook id
	HookURL string
	App     bool
	Config  string // YAML file path

	State           string
	Since           string
	MaxAttempts     int // 0: not given
	RetryBase       string
	Events          []string
	ExcludeEvents   []string
	MaxRedeliveries int
}

// Settings is everything a run needs, resolved and validated.
type Settings struct {
	// APIURL is the REST base URL with a trailing slash.
	APIURL string
	// APIURLFrom names where APIURL came from (flag, variable or default).
	APIURLFrom string
	// GHES is true for an Enterprise Server base URL (…/api/v3/).
	GHES   bool
	CAFile string

	Token     string `json:"-"`
	TokenFrom string // the variable or file the token came from, never the token
	AppID     int64
	// PrivateKey is the App's PEM key; never logged.
	PrivateKey     []byte `json:"-"`
	PrivateKeyFrom string

	Targets []TargetSpec
	State   StateLocation
	// Policy is the default policy; targets may override parts of it.
	Policy redeliver.Policy
	// Warnings are things the user should hear about but that do not stop
	// the run (a world-readable key, an ignored HOSTNAME).
	Warnings []string
}

// TargetSpec is a target as given: it may still need the hooks API to
// become one or more redeliver.Targets (all hooks of an org, or the hook
// whose URL matches).
type TargetSpec struct {
	Kind    redeliver.Kind
	Owner   string
	Repo    string
	HookID  int64  // 0: every hook, or the one matching HookURL
	HookURL string // pick the hook by its payload URL
	AppID   int64  // the App (app targets)
	// Policy is the effective policy of this target.
	Policy redeliver.Policy
}

// Getenv looks up an environment variable; os.Getenv in production, a map
// in tests and fuzzing.
type Getenv func(string) string

// Resolve validates and combines flags, environment and config file. Files
// are read with readFile (in production, os.ReadFile capped at MaxFileBytes).
func Resolve(f Flags, env Getenv, readFile func(string) ([]byte, error)) (*Settings, error) {
	if readFile == nil {
		readFile = readFileCapped
	}
	s := &Settings{Policy: redeliver.DefaultPolicy()}
	file, err := readConfig(f, readFile)
	if err != nil {
		return nil, err
	}
	if err = resolveAPI(s, f, file, env); err != nil {
		return nil, err
	}
	if err = resolveCredentials(s, f, env, readFile); err != nil {
		return nil, err
	}
	if err = resolvePolicy(s, f, file, env); err != nil {
		return nil, err
	}
	if err := resolveTargets(s, f, file, env); err != nil {
		return nil, err
	}
	if err := resolveState(s, f, file, env); err != nil {
		return nil, err
	}
	for _, t := range s.Targets {
		if t.Kind == redeliver.KindApp && s.AppID == 0 {
			return nil, redeliver.Errorf(redeliver.EInvalid, "the App hook needs the App's credentials: --app-id and --private-key-file (or APP_ID and PRIVATE_KEY)")
		}
		if t.Kind != redeliver.KindApp && s.Token == "" && s.AppID == 0 {
			return nil, redeliver.Errorf(redeliver.EInvalid, "no credentials for %s: set GITHUB_TOKEN, GH_TOKEN or TOKEN, or --token-file, or a GitHub App (--app-id and --private-key-file)", t.describe())
		}
	}
	if err := needToken(s); err != nil {
		return nil, err
	}
	return s, nil
}

// ResolveState resolves only what reading the state needs: where it is
// and, when it is an Actions variable, how to reach GitHub and the token.
// Targets and policy are not asked for (`status` has none of its own).
func ResolveState(f Flags, env Getenv, readFile func(string) ([]byte, error)) (*Settings, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	s := &Settings{Policy: redeliver.DefaultPolicy()}
	file, err := readConfig(f, readFile)
	if err != nil {
		return nil, err
	}
	if err := resolveState(s, f, file, env); err != nil {
		return nil, err
	}
	if s.State.Kind != StateActionsVariable {
		return s, nil
	}
	if err := resolveAPI(s, f, file, env); err != nil {
		return nil, err
	}
	if err := resolveCredentials(s, f, env, readFile); err != nil {
		return nil, err
	}
	if err := needToken(s); err != nil {
		return nil, err
	}
	return s, nil
}

// readConfig reads and checks --config, if given.
func readConfig(f Flags, readFile func(string) ([]byte, error)) (*File, error) {
	if f.Config == "" {
		return nil, nil
	}
	data, err := readFile(f.Config)
	if err != nil {
		return nil, redeliver.Errorf(redeliver.EInvalid, "--config %s: %v", f.Config, unwrapPathErr(err))
	}
	return ParseFile(data, f.Config)
}

// needToken refuses an Actions-variable state without a token: the
// variables API takes no App JWT.
func needToken(s *Settings) error {
	if s.State.Kind == StateActionsVariable && s.Token == "" {
		return redeliver.Errorf(redeliver.EInvalid, "the Actions variable %s needs a token: set TOKEN (or GITHUB_TOKEN, GH_TOKEN, --token-file)", s.State.Variable)
	}
	return nil
}

func (t TargetSpec) describe() string {
	switch t.Kind {
	case redeliver.KindOrg:
		return "org " + t.Owner
	case redeliver.KindRepo:
		return "repo " + t.Owner + "/" + t.Repo
	}
	return "the App hook"
}

// ParseHookID parses a hook id, naming where it came from on error.
func ParseHookID(s, from string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || id <= 0 {
		return 0, redeliver.Errorf(redeliver.EInvalid, "%s=%q: a hook id is a positive integer", from, truncate(s))
	}
	return id, nil
}

// ParseSince reads --since: a duration back from the start of the run
// ("36h", "90m", "2d") or a time (RFC 3339, "2006-01-02", or milliseconds
// since the epoch as the docs script stores them). Exactly one of the
// results is non-zero.
func ParseSince(v string) (time.Time, time.Duration, error) {
	v = strings.TrimSpace(v)
	bad := redeliver.Errorf(redeliver.EInvalid, "%q: want a duration like 36h or 2d, or a time like 2026-11-25T06:00:00Z", truncate(v))
	if v == "" {
		return time.Time{}, 0, bad
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 3650 {
			return time.Time{}, 0, bad
		}
		return time.Time{}, time.Duration(n) * 24 * time.Hour, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, 0, bad
		}
		return time.Time{}, d, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil && !t.IsZero() {
			return t.UTC(), 0, nil
		}
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 && ms < 253402300800000 {
		return time.UnixMilli(ms).UTC(), 0, nil
	}
	return time.Time{}, 0, bad
}

// truncate keeps bad values short in messages.
func truncate(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func errf(format string, args ...any) error {
	return redeliver.Errorf(redeliver.EInvalid, "%s", fmt.Sprintf(format, args...))
}
