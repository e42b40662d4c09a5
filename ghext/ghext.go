// Package ghext lets redeliver run as a gh extension (gh-redeliver): the
// host and the token come from gh, as for any gh command — GH_HOST,
// GH_TOKEN or GH_ENTERPRISE_TOKEN, gh's hosts.yml, or gh's keyring through
// `gh auth token` — read with github.com/cli/go-gh.
package ghext

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/cli/go-gh/v2/pkg/auth"
	"github.com/cli/go-gh/v2/pkg/config"
)

// Name is the executable's name when gh installs it as an extension.
const Name = "gh-redeliver"

// Invoked reports whether argv0 (os.Args[0]) names the extension's
// executable: gh runs extensions by their path, whose base is Name (with
// .exe on Windows).
func Invoked(argv0 string) bool {
	base := filepath.Base(strings.ReplaceAll(argv0, `\`, "/"))
	base = strings.TrimSuffix(strings.ToLower(base), ".exe")
	return base == Name
}

// Login is gh's host and token for one host.
type Login struct {
	Host       string // gh's name of the host: github.com, ghe.example.com
	HostSource string // where the host came from
	APIURL     string // the host's REST base URL
	Token      string // secret: never printed
	// TokenSource is where gh found the token: GH_TOKEN, GITHUB_TOKEN,
	// GH_ENTERPRISE_TOKEN, GITHUB_ENTERPRISE_TOKEN, oauth_token (hosts.yml)
	// or gh (its keyring); empty when there is none.
	TokenSource string
}

// String names the host and where the token came from, never the token.
func (l Login) String() string {
	src := l.TokenSource
	if src == "" {
		src = "none"
	}
	return fmt.Sprintf("gh host %s (from %s), API %s, token from %s", l.Host, l.HostSource, l.APIURL, src)
}

// Resolve finds the host and gh's token for it. The host is host when it
// is not empty (from a flag), else GH_HOST, else the one host gh is logged
// in to, else github.com. A Login without a token is no error: the caller
// may have one of its own.
func Resolve(host, hostSource string) (Login, error) {
	if _, err := config.Read(nil); err != nil {
		return Login{}, fmt.Errorf("reading gh's configuration in %s: %v", config.ConfigDir(), err)
	}
	if host == "" {
		host, hostSource = auth.DefaultHost()
		switch hostSource {
		case "hosts":
			hostSource = "gh's hosts.yml"
		case "default":
			hostSource = "gh's default"
		}
	}
	host = strings.TrimSpace(host)
	if err := checkHost(host); err != nil {
		return Login{}, fmt.Errorf("%s=%q: %v", hostSource, truncate(host), err)
	}
	l := Login{Host: host, HostSource: hostSource, APIURL: APIURL(host)}
	tok, src := auth.TokenForHost(host)
	if tok != "" {
		l.Token, l.TokenSource = tok, src
	}
	return l, nil
}

// checkHost accepts a host name with an optional port.
func checkHost(h string) error {
	if h == "" {
		return fmt.Errorf("empty host")
	}
	u, err := url.Parse("https://" + h)
	if err != nil || u.Host != h || u.Path != "" || u.Hostname() == "" {
		return fmt.Errorf("want a host name such as github.com or ghe.example.com")
	}
	return nil
}

// APIURL is the REST base URL of a gh host: api.github.com for
// github.com, api.HOST for GHE.com tenancies, https://HOST/api/v3/ for
// GitHub Enterprise Server. A loopback host (a local test server) is
// reached over plain http.
func APIURL(host string) string {
	h := auth.NormalizeHostname(host)
	switch {
	case h == "github.com":
		return "https://api.github.com/"
	case auth.IsTenancy(h):
		return "https://api." + h + "/"
	case isLoopback(host):
		return "http://" + host + "/api/v3/"
	}
	return "https://" + host + "/api/v3/"
}

// HostOf is the gh host name of a REST API base URL, the inverse of APIURL.
func HostOf(apiURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(apiURL))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("not an absolute URL")
	}
	h := strings.ToLower(u.Host)
	switch {
	case h == "api.github.com":
		return "github.com", nil
	case strings.HasPrefix(h, "api.") && auth.IsTenancy(h):
		return strings.TrimPrefix(h, "api."), nil
	}
	return u.Host, nil
}

func isLoopback(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
