package ghfake

import (
	"bytes"
	"cmp"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Scenario describes an emulator set-up in a YAML or JSON file: see
// testdata/scenario.yaml for an example. Unknown keys are errors.
type Scenario struct {
	Platform          string          `yaml:"platform" json:"platform"` // "dotcom" (default) or "ghes"
	RateLimiting      bool            `yaml:"rate_limiting" json:"rate_limiting"`
	Start             *time.Time      `yaml:"start" json:"start"`                       // clock start; nil: now (cmd) / DefaultStart
	RunningClock      *bool           `yaml:"running_clock" json:"running_clock"`       // clock moves with wall time; default true in cmd/ghfake
	ReceiverTimeout   Duration        `yaml:"receiver_timeout" json:"receiver_timeout"` // e.g. "10s"
	TokenTTL          Duration        `yaml:"token_ttl" json:"token_ttl"`
	DeferRedeliveries bool            `yaml:"defer_redeliveries" json:"defer_redeliveries"`
	RedeliveryWorkers int             `yaml:"redelivery_workers" json:"redelivery_workers"`
	PrimaryLimit      int             `yaml:"primary_limit" json:"primary_limit"`
	Retention         Duration        `yaml:"retention" json:"retention"`
	Budget            *ScenarioBudget `yaml:"budget" json:"budget"`
	Orgs              []string        `yaml:"orgs" json:"orgs"`
	Repos             []string        `yaml:"repos" json:"repos"` // "owner/name"
	Tokens            []Token         `yaml:"tokens" json:"tokens"`
	Apps              []ScenarioApp   `yaml:"apps" json:"apps"`
	Hooks             []ScenarioHook  `yaml:"hooks" json:"hooks"`
	Variables         []ScenarioVar   `yaml:"variables" json:"variables"`
	Faults            []ScenarioFault `yaml:"faults" json:"faults"`
	FaultSeed         int64           `yaml:"fault_seed" json:"fault_seed"`
	dir               string          // the file's folder, for relative key paths
}

// ScenarioBudget is Budget in a scenario file.
type ScenarioBudget struct {
	Scale            float64 `yaml:"scale" json:"scale"`
	PrimaryPerHour   int     `yaml:"primary_per_hour" json:"primary_per_hour"`
	PointsPerMinute  int     `yaml:"points_per_minute" json:"points_per_minute"`
	ContentPerMinute int     `yaml:"content_per_minute" json:"content_per_minute"`
	ContentPerHour   int     `yaml:"content_per_hour" json:"content_per_hour"`
	Concurrent       int     `yaml:"concurrent" json:"concurrent"`
	Status           int     `yaml:"status" json:"status"`
	// RedeliveriesNotContent: redeliveries do not count as content-creating.
	RedeliveriesNotContent bool `yaml:"redeliveries_not_content" json:"redeliveries_not_content"`
}

// ScenarioApp is a GitHub App in a scenario file.
type ScenarioApp struct {
	ID            int64                  `yaml:"id" json:"id"`
	Slug          string                 `yaml:"slug" json:"slug"`
	Name          string                 `yaml:"name" json:"name"`
	ClientID      string                 `yaml:"client_id" json:"client_id"`
	PublicKey     string                 `yaml:"public_key" json:"public_key"` // path to a PEM public key or RSA private key
	Installations []ScenarioInstallation `yaml:"installations" json:"installations"`
}

// ScenarioInstallation installs an app on an organization.
type ScenarioInstallation struct {
	Account string   `yaml:"account" json:"account"`
	Repos   []string `yaml:"repos" json:"repos"` // nil: all repositories
}

// ScenarioHook is a hook in a scenario file: exactly one of Org, Repo, App.
type ScenarioHook struct {
	ID          int64            `yaml:"id" json:"id"` // optional fixed id (not for app hooks)
	Org         string           `yaml:"org" json:"org"`
	Repo        string           `yaml:"repo" json:"repo"` // "owner/name"
	App         int64            `yaml:"app" json:"app"`
	URL         string           `yaml:"url" json:"url"`
	Secret      string           `yaml:"secret" json:"secret"`
	Events      []string         `yaml:"events" json:"events"`
	Active      *bool            `yaml:"active" json:"active"`
	ContentType string           `yaml:"content_type" json:"content_type"`
	InsecureSSL bool             `yaml:"insecure_ssl" json:"insecure_ssl"`
	History     *ScenarioHistory `yaml:"history" json:"history"`
}

// ScenarioHistory seeds a hook's history: Count attempts over the Window
// that ends at the clock's start.
type ScenarioHistory struct {
	Count           int      `yaml:"count" json:"count"`
	Window          Duration `yaml:"window" json:"window"` // default 24h
	FailureRatio    float64  `yaml:"failure_ratio" json:"failure_ratio"`
	NoResponseRatio float64  `yaml:"no_response_ratio" json:"no_response_ratio"`
	RecoveredRatio  float64  `yaml:"recovered_ratio" json:"recovered_ratio"`
	Events          []string `yaml:"events" json:"events"`
	Seed            int64    `yaml:"seed" json:"seed"`
}

// ScenarioVar is a repository variable.
type ScenarioVar struct {
	Repo  string `yaml:"repo" json:"repo"`
	Name  string `yaml:"name" json:"name"`
	Value string `yaml:"value" json:"value"`
}

// ScenarioFault is a Fault in a scenario file; Kind is latency, status,
// reset, primary_limit or secondary_limit.
type ScenarioFault struct {
	Route       string   `yaml:"route" json:"route"`
	Kind        string   `yaml:"kind" json:"kind"`
	Times       int      `yaml:"times" json:"times"`
	After       int      `yaml:"after" json:"after"`
	Every       int      `yaml:"every" json:"every"`
	Status      int      `yaml:"status" json:"status"`
	Latency     Duration `yaml:"latency" json:"latency"`
	RetryAfter  int      `yaml:"retry_after" json:"retry_after"`
	Probability float64  `yaml:"probability" json:"probability"`
}

// Duration is a time.Duration written as "10s", "24h" in scenario files.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

var faultKinds = map[string]FaultKind{
	"latency": FaultLatency, "status": FaultStatus, "reset": FaultReset,
	"primary_limit": FaultPrimaryLimit, "secondary_limit": FaultSecondaryLimit,
}

// LoadScenario reads a scenario from a .json file, or YAML otherwise.
func LoadScenario(path string) (*Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc, err := ParseScenario(b, strings.EqualFold(filepath.Ext(path), ".json"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sc.dir = filepath.Dir(path)
	return sc, nil
}

// ParseScenario parses scenario text (JSON when isJSON, else YAML) strictly
// and validates it; relative key paths resolve against the working directory.
func ParseScenario(b []byte, isJSON bool) (*Scenario, error) {
	sc := &Scenario{dir: "."}
	if isJSON {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(sc); err != nil {
			return nil, err
		}
	} else if err := yaml.NewDecoder(bytes.NewReader(b), yaml.Strict()).Decode(sc); err != nil {
		return nil, errors.New(yaml.FormatError(err, false, true))
	}
	return sc, sc.Validate()
}

// Validate checks a scenario, naming the offending field.
func (sc *Scenario) Validate() error {
	if _, err := sc.platform(); err != nil {
		return err
	}
	if sc.RedeliveryWorkers < 0 {
		return fmt.Errorf("redelivery_workers: %d is negative", sc.RedeliveryWorkers)
	}
	if sc.RedeliveryWorkers > 0 && sc.DeferRedeliveries {
		return errors.New("redelivery_workers: not together with defer_redeliveries")
	}
	for i, r := range sc.Repos {
		if o, n, ok := strings.Cut(r, "/"); !ok || o == "" || n == "" {
			return fmt.Errorf("repos[%d]: %q is not owner/name", i, r)
		}
	}
	for i, t := range sc.Tokens {
		if t.Value == "" {
			return fmt.Errorf("tokens[%d].value: required", i)
		}
	}
	apps := map[int64]bool{}
	for i, a := range sc.Apps {
		if a.ID <= 0 {
			return fmt.Errorf("apps[%d].id: required", i)
		}
		if a.PublicKey == "" {
			return fmt.Errorf("apps[%d].public_key: required", i)
		}
		for j, in := range a.Installations {
			if in.Account == "" {
				return fmt.Errorf("apps[%d].installations[%d].account: required", i, j)
			}
		}
		apps[a.ID] = true
	}
	for i, h := range sc.Hooks {
		n := 0
		for _, set := range []bool{h.Org != "", h.Repo != "", h.App != 0} {
			if set {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("hooks[%d]: exactly one of org, repo, app is required", i)
		}
		if h.Repo != "" && !strings.Contains(h.Repo, "/") {
			return fmt.Errorf("hooks[%d].repo: %q is not owner/name", i, h.Repo)
		}
		if h.App != 0 && !apps[h.App] {
			return fmt.Errorf("hooks[%d].app: no app %d in apps", i, h.App)
		}
		if h.App != 0 && h.ID != 0 {
			return fmt.Errorf("hooks[%d].id: an app hook's id is chosen by the emulator", i)
		}
		if h.ContentType != "" && h.ContentType != "json" && h.ContentType != "form" {
			return fmt.Errorf("hooks[%d].content_type: %q is not json or form", i, h.ContentType)
		}
		if hi := h.History; hi != nil {
			for name, r := range map[string]float64{"failure_ratio": hi.FailureRatio, "no_response_ratio": hi.NoResponseRatio, "recovered_ratio": hi.RecoveredRatio} {
				if r < 0 || r > 1 {
					return fmt.Errorf("hooks[%d].history.%s: %v is not in [0, 1]", i, name, r)
				}
			}
			if hi.Count < 0 {
				return fmt.Errorf("hooks[%d].history.count: negative", i)
			}
		}
	}
	for i, v := range sc.Variables {
		if !strings.Contains(v.Repo, "/") {
			return fmt.Errorf("variables[%d].repo: %q is not owner/name", i, v.Repo)
		}
		if !variableName.MatchString(v.Name) {
			return fmt.Errorf("variables[%d].name: %q is not a valid variable name", i, v.Name)
		}
	}
	for i, f := range sc.Faults {
		if _, ok := faultKinds[f.Kind]; !ok {
			return fmt.Errorf("faults[%d].kind: %q is not one of latency, status, reset, primary_limit, secondary_limit", i, f.Kind)
		}
	}
	return nil
}

func (sc *Scenario) platform() (Platform, error) {
	switch strings.ToLower(sc.Platform) {
	case "", "dotcom", "github.com":
		return DotCom, nil
	case "ghes":
		return GHES, nil
	}
	return 0, fmt.Errorf("platform: %q is not dotcom or ghes", sc.Platform)
}

// Options returns the server options the scenario asks for. Without a start
// time the clock starts at now and, unless running_clock is false, runs with
// wall time: what a stand-alone server wants.
func (sc *Scenario) Options() Options {
	p, _ := sc.platform()
	opts := Options{
		Platform: p, RateLimiting: sc.RateLimiting, ReceiverTimeout: time.Duration(sc.ReceiverTimeout),
		TokenTTL: time.Duration(sc.TokenTTL), DeferRedeliveries: sc.DeferRedeliveries, RedeliveryWorkers: sc.RedeliveryWorkers,
		PrimaryLimit: sc.PrimaryLimit, Retention: time.Duration(sc.Retention),
	}
	start := time.Now().UTC().Truncate(time.Second)
	if sc.Start != nil {
		start = *sc.Start
	}
	if sc.RunningClock == nil || *sc.RunningClock {
		opts.Clock = NewRunningClock(start)
	} else {
		opts.Clock = NewClock(start)
	}
	if b := sc.Budget; b != nil {
		opts.Budget = &Budget{Scale: b.Scale, PrimaryPerHour: b.PrimaryPerHour, PointsPerMinute: b.PointsPerMinute,
			ContentPerMinute: b.ContentPerMinute, ContentPerHour: b.ContentPerHour, Concurrent: b.Concurrent, Status: b.Status,
			RedeliveriesNotContent: b.RedeliveriesNotContent}
	}
	return opts
}

// Apply adds the scenario's organizations, repositories, tokens, apps, hooks
// (with seeded history), variables and faults to the server. The platform
// and other options are fixed at New: use sc.Options() to create the server.
func (s *Server) Apply(sc *Scenario) error {
	if err := sc.Validate(); err != nil {
		return err
	}
	if p, _ := sc.platform(); sc.Platform != "" && p != s.opts.Platform {
		return fmt.Errorf("platform: scenario is %s but the server is %s", p, s.opts.Platform)
	}
	for _, o := range sc.Orgs {
		s.AddOrg(o)
	}
	for _, r := range sc.Repos {
		o, n, _ := strings.Cut(r, "/")
		s.AddRepo(o, n)
	}
	for _, t := range sc.Tokens {
		s.AddToken(t)
	}
	for i, a := range sc.Apps {
		path := a.PublicKey
		if !filepath.IsAbs(path) {
			path = filepath.Join(sc.dir, path)
		}
		key, err := readPublicKey(path)
		if err != nil {
			return fmt.Errorf("apps[%d].public_key: %w", i, err)
		}
		s.AddApp(App{ID: a.ID, Slug: a.Slug, Name: a.Name, ClientID: a.ClientID, PublicKey: key})
		for _, in := range a.Installations {
			s.AddInstallation(a.ID, in.Account, in.Repos...)
		}
	}
	for i, h := range sc.Hooks {
		cfg := HookConfig{URL: h.URL, Secret: h.Secret, Events: h.Events, Active: h.Active, ContentType: h.ContentType, InsecureSSL: h.InsecureSSL}
		id, err := s.addScenarioHook(h, cfg)
		if err != nil {
			return fmt.Errorf("hooks[%d]: %w", i, err)
		}
		if hi := h.History; hi != nil && hi.Count > 0 {
			window := time.Duration(hi.Window)
			if window == 0 {
				window = 24 * time.Hour
			}
			to := s.now()
			s.SeedHistory(id, History{N: hi.Count, From: to.Add(-window), To: to, FailureRatio: hi.FailureRatio,
				NoResponseRatio: hi.NoResponseRatio, RecoveredRatio: hi.RecoveredRatio, Events: hi.Events, Seed: hi.Seed})
		}
	}
	for _, v := range sc.Variables {
		o, r, _ := strings.Cut(v.Repo, "/")
		s.SetVariable(o, r, v.Name, v.Value)
	}
	if sc.FaultSeed != 0 {
		s.SetFaultSeed(sc.FaultSeed)
	}
	for _, f := range sc.Faults {
		s.AddFault(Fault{Route: f.Route, Kind: faultKinds[f.Kind], Times: f.Times, After: f.After, Every: f.Every,
			Status: f.Status, Latency: time.Duration(f.Latency), RetryAfter: f.RetryAfter, Probability: f.Probability})
	}
	return nil
}

func (s *Server) addScenarioHook(h ScenarioHook, cfg HookConfig) (int64, error) {
	if h.App != 0 {
		return s.SetAppHook(h.App, cfg), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.ID != 0 && s.st.hooks[h.ID] != nil {
		return 0, fmt.Errorf("id %d is already taken", h.ID)
	}
	var hk *hook
	if h.Org != "" {
		o := s.addOrgLocked(h.Org)
		hk = s.newHookLocked(orgHook, h.ID, cfg)
		hk.owner = o.login
	} else {
		owner, name, _ := strings.Cut(h.Repo, "/")
		r := s.addRepoLocked(owner, name)
		hk = s.newHookLocked(repoHook, h.ID, cfg)
		hk.owner, hk.repo = r.owner, r.name
	}
	return hk.id, nil
}

// readPublicKey reads an RSA public key, or the public half of an RSA private key, from PEM.
func readPublicKey(path string) (*rsa.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePublicKeyPEM(b)
}

// ParsePublicKeyPEM parses an RSA public key ("PUBLIC KEY", "RSA PUBLIC KEY")
// or takes the public half of an RSA private key ("RSA PRIVATE KEY", "PRIVATE KEY").
func ParsePublicKeyPEM(b []byte) (*rsa.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	switch blk.Type {
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		if rk, ok := k.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, errors.New("not an RSA key")
	case "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		return &k.PublicKey, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return &rk.PublicKey, nil
		}
		return nil, errors.New("not an RSA key")
	}
	return nil, fmt.Errorf("unexpected PEM block %q", blk.Type)
}

// HookInfo describes a hook, for listing what a scenario created.
type HookInfo struct {
	ID    int64
	Kind  string // "org", "repo" or "app"
	Owner string // org login or repo owner
	Repo  string // repo hooks
	AppID int64  // app hooks
	URL   string
	Count int // attempts stored
}

// Hooks lists every hook, by id.
func (s *Server) Hooks() []HookInfo {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []HookInfo
	for _, h := range s.st.hooks {
		kind := [...]string{"org", "repo", "app"}[h.kind]
		out = append(out, HookInfo{ID: h.id, Kind: kind, Owner: h.owner, Repo: h.repo, AppID: h.appID, URL: h.cfg.URL, Count: len(h.attempts)})
	}
	slices.SortFunc(out, func(a, b HookInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
