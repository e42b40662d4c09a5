// Package githubapi is the GitHub adapter: it lists webhook delivery
// attempts, asks GitHub to redeliver them and lists hooks, for organization,
// repository and GitHub App hooks, on github.com and GitHub Enterprise
// Server. It implements redeliver.Source, redeliver.Redeliverer and
// redeliver.HookLister on google/go-github.
//
// Every call goes through one transport stack per credential (a token, the
// App JWT, each installation), from the top:
//
//	retries (cenkalti/backoff: 5xx, network errors, primary-limit waits)
//	secondary rate limits (gofri/go-github-ratelimit: waits out retry-after)
//	primary rate limits (gofri/go-github-ratelimit: blocks until reset)
//	normalize (GitHub's reset epoch → our clock; retry-after when missing)
//	auth (Bearer token, App JWT or installation token; same origin only)
//	wire (User-Agent, X-GitHub-Api-Version, per-attempt timeout, Date)
//	net/http (TLS always verified: system roots plus Config.CAFile)
//
// Secrets never leave this package in an error, a log line or a response:
// errors are rebuilt from status, route and GitHub's message, and responses
// handed upwards point at the request as it was before credentials were
// added (so even go-github's own errors from REST() cannot reach an
// Authorization header).
//
// GitHub's clock rules: x-ratelimit-reset is translated onto the local
// clock before any limiter sees it (so go-github's Response.Rate.Reset is
// local time too), App JWTs are signed for GitHub's clock as learned from
// Date headers, and installation-token expiry is moved onto the local clock
// before ghinstallation judges it. A runner whose clock is off therefore
// neither sends early nor waits for hours.
package githubapi

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/redeliver/redeliver"
)

// DefaultBaseURL is github.com's REST API root.
const DefaultBaseURL = "https://api.github.com/"

// apiVersion is the REST API version sent on every request; GHES ≤ 3.20
// knows no newer one (https://docs.github.com/en/rest/about-the-rest-api/api-versions).
const apiVersion = "2022-11-28"

// Defaults applied by New when the Config leaves a field at its zero value.
const (
	DefaultMaxRetries  = 5
	DefaultHTTPTimeout = 30 * time.Second
)

// Config says how to reach GitHub and as whom.
type Config struct {
	// BaseURL is the REST API root: "https://api.github.com/" (the default
	// when empty) or "https://ghe.example/api/v3/". Plain http is accepted
	// only for loopback hosts (127.0.0.0/8, ::1, localhost).
	BaseURL string
	// Token is a personal access token or any other token GitHub accepts
	// as "Authorization: Bearer". It serves org and repo targets, hook lists
	// and Actions variables.
	Token string
	// AppID and PrivateKeyPEM identify a GitHub App. The App JWT serves the
	// App's own hook; without a Token, org and repo targets use
	// installation tokens of the App.
	AppID         int64
	PrivateKeyPEM []byte
	// CAFile names an extra PEM CA bundle (for a GHES with a private CA);
	// it is added to the system roots. Verification is never turned off.
	CAFile string
	// UserAgent is sent on every request; "redeliver/<version>" when empty.
	UserAgent string
	// Logger receives retries and rate-limit waits; nil discards them.
	Logger *slog.Logger
	// OnSecondaryLimit is called (from any goroutine, so it must be quick
	// and safe for concurrent use) when GitHub answers with a secondary
	// rate limit, so the caller's Pacer can slow down: once per limit, not
	// for each request that then waits it out.
	OnSecondaryLimit func()
	// OnSecondaryWait, when set, is called instead of OnSecondaryLimit with
	// the limited request's route (as Answer.Route names it; "" when not
	// known) and how long GitHub asked to wait (0 when it did not say), so
	// a learning Pacer can tell which of GitHub's windows was hit
	// (Pacer.Hit), and a limit on a request it does not pace can be told
	// apart.
	OnSecondaryWait func(route string, wait time.Duration)
	// MaxRetries bounds the retries of one request after 5xx answers,
	// network errors and rate limits: 0 means DefaultMaxRetries, a negative
	// value means no retries.
	MaxRetries int
	// HTTPTimeout bounds each attempt (sending, waiting for and reading the
	// answer), not the waits between attempts: 0 means DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// Conditional makes the first page of each hook's deliveries a
	// conditional request (see conditional.go); for callers that poll.
	Conditional bool
	// OnAnswer, when set, hears every answer with its request's context
	// (from any goroutine: it must be quick and safe for concurrent use).
	OnAnswer func(context.Context, Answer)
}

// Client talks to one GitHub (github.com or a GHES) with the credentials of
// one Config. It is safe for concurrent use.
type Client struct {
	base      *url.URL // API root, with a trailing slash
	userAgent string
	log       *slog.Logger
	appID     int64
	key       *rsa.PrivateKey
	retries   int
	onLimit   func()
	onWait    func(string, time.Duration)
	cond      bool
	onAnswer  func(context.Context, Answer)
	minWait   time.Duration // first backoff interval; tests shorten it
	skew      *skewClock
	limits    *limitsSeen
	wire      http.RoundTripper // the bottom of every stack

	token *api // nil without a Token
	app   *api // the App JWT; nil without an App
	anon  *api // no credentials: GET /rate_limit for an App alone

	mu        sync.Mutex
	limitsOff *bool            // what GET /rate_limit said, once asked
	instByKey map[string]int64 // "org/acme" or "repo/acme/api" → installation id
	instByID  map[int64]*api
}

// api is one go-github client over its own transport stack.
type api struct {
	gh  *github.Client
	st  *stack
	who string // names the credential in messages: "the token", …
}

// New checks cfg and returns a Client. It makes no request; see CheckAuth.
// Errors have code redeliver.EInvalid and name the field at fault, never a
// secret.
func New(cfg Config) (*Client, error) { return newClient(cfg, 500*time.Millisecond) }

// newClient is New with the first backoff interval; tests shorten it.
func newClient(cfg Config, minWait time.Duration) (*Client, error) {
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	var key *rsa.PrivateKey
	if len(cfg.PrivateKeyPEM) > 0 {
		if key, err = parseRSAKey(cfg.PrivateKeyPEM); err != nil {
			return nil, err
		}
		if cfg.AppID <= 0 {
			return nil, redeliver.Errorf(redeliver.EInvalid, "app id: must be a positive integer when a private key is given")
		}
	} else if cfg.AppID != 0 {
		return nil, redeliver.Errorf(redeliver.EInvalid, "app id %d: a private key is needed to act as the App", cfg.AppID)
	}
	if cfg.Token == "" && key == nil {
		return nil, redeliver.Errorf(redeliver.EInvalid, "credentials: give a token, or an App id and private key")
	}
	if strings.ContainsAny(cfg.Token, "\r\n\t ") {
		// A token with whitespace would corrupt the header; say so without
		// echoing it.
		return nil, redeliver.Errorf(redeliver.EInvalid, "token: contains whitespace")
	}
	tlsCfg, err := tlsConfig(cfg.CAFile)
	if err != nil {
		return nil, err
	}

	c := &Client{
		base:      base,
		userAgent: cfg.UserAgent,
		log:       cfg.Logger,
		appID:     cfg.AppID,
		key:       key,
		retries:   cfg.MaxRetries,
		onLimit:   cfg.OnSecondaryLimit,
		onWait:    cfg.OnSecondaryWait,
		cond:      cfg.Conditional,
		onAnswer:  cfg.OnAnswer,
		minWait:   minWait,
		skew:      &skewClock{},
		limits:    &limitsSeen{base: base},
		instByKey: map[string]int64{},
		instByID:  map[int64]*api{},
	}
	if c.userAgent == "" {
		c.userAgent = "redeliver/" + version()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.retries == 0:
		c.retries = DefaultMaxRetries
	case c.retries < 0:
		c.retries = 0
	}
	timeout := cfg.HTTPTimeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.Proxy = http.ProxyFromEnvironment
	tr.MaxIdleConnsPerHost = 8
	c.wire = &wireRT{next: tr, userAgent: c.userAgent, timeout: timeout, skew: c.skew, limits: c.limits}

	c.anon = c.newAPI("no credentials", c.wire)
	if cfg.Token != "" {
		c.token = c.newAPI("the token", &bearerRT{next: c.wire, value: "Bearer " + cfg.Token})
	}
	if key != nil {
		c.app = c.newAPI("the App JWT (App "+itoa(cfg.AppID)+")", &jwtRT{next: c.appsTransport(c.wire), skew: c.skew})
	}
	return c, nil
}

// REST returns the go-github client authenticated with the token, over the
// same retry and rate-limit stack as every other call, or nil when the
// Config has no token (see RESTFor).
func (c *Client) REST() *github.Client {
	if c.token == nil {
		return nil
	}
	return c.token.gh
}

// BaseURL returns the API root in use, with a trailing slash.
func (c *Client) BaseURL() string { return c.base.String() }

// parseBaseURL applies the default and checks the URL.
func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		raw = DefaultBaseURL
	}
	u, err := checkBaseURL(raw)
	if err != nil {
		return nil, redeliver.Errorf(redeliver.EInvalid, "base URL %q: %v", RedactURL(strings.TrimSpace(raw)), err)
	}
	return u, nil
}

// NormalizeBaseURL checks a REST API root — absolute, https (plain http
// only to a loopback host: a token must not cross a network in clear
// text), no credentials, query or fragment — and returns it with a
// trailing slash. Its error says what is wrong without quoting the URL,
// so the caller can name where it came from (and show it through
// RedactURL).
func NormalizeBaseURL(raw string) (string, error) {
	u, err := checkBaseURL(raw)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// checkBaseURL is NormalizeBaseURL's rule.
func checkBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, errors.New("does not parse as a URL; want one like https://ghe.example.com/api/v3")
	}
	if !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return nil, errors.New("must be absolute, like https://api.github.com/ or https://HOST/api/v3/")
	}
	if u.User != nil {
		return nil, errors.New("must not carry credentials; use the token")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" {
		return nil, errors.New("must not have a query or fragment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return nil, errors.New("plain http is only allowed to a loopback host; use https")
		}
	default:
		return nil, errors.New("scheme must be https")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if p := u.EscapedPath(); !strings.HasSuffix(p, "/") {
		u.Path, u.RawPath = u.Path+"/", p+"/"
	}
	return u, nil
}

// IsLoopback reports whether host is localhost or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tlsConfig returns the TLS settings: system roots, plus caFile if given.
func tlsConfig(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, redeliver.Wrap(redeliver.EInvalid, err, "CA file %q", caFile)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, redeliver.Errorf(redeliver.EInvalid, "CA file %q: no PEM certificate in it", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// parseRSAKey parses a PKCS#1 or PKCS#8 RSA private key.
func parseRSAKey(data []byte) (*rsa.PrivateKey, error) {
	k, err := rsaKey(data)
	if err != nil {
		return nil, redeliver.Errorf(redeliver.EInvalid, "private key: %v", err)
	}
	return k, nil
}

// CheckPrivateKey checks that pem holds what GitHub issues for an App: an
// unencrypted RSA private key in PKCS#1 or PKCS#8 PEM. Its error says what
// is wrong and never quotes the key, nor the parser's own message (which
// might).
func CheckPrivateKey(pem []byte) error {
	_, err := rsaKey(pem)
	return err
}

func rsaKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if _, ok := block.Headers["Proc-Type"]; ok {
		return nil, errors.New("encrypted keys are not supported")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#1 RSA key")
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a valid PKCS#8 key")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("not an RSA key (GitHub Apps use RSA)")
		}
		return rk, nil
	case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
		return nil, fmt.Errorf("not an RSA key (PEM type %q)", block.Type)
	default:
		return nil, fmt.Errorf("unexpected PEM type %q, want RSA PRIVATE KEY or PRIVATE KEY", block.Type)
	}
}

// version is the module version this binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return strings.TrimPrefix(v, "v")
		}
	}
	return "dev"
}
