package config

import (
	"net/url"
	"os"
	"strings"

	"github.com/redeliver/redeliver/githubapi"
)

// DotComAPI is the REST base URL of github.com.
const DotComAPI = githubapi.DefaultBaseURL

// machineHostname is the machine's own name; a variable so tests can set it.
var machineHostname = os.Hostname

// resolveAPI picks the REST base URL: --api-url, else api_url in the
// config file, else GITHUB_API_URL (set by GitHub Actions), else --hostname
// or the docs script's HOSTNAME, else github.com.
func resolveAPI(s *Settings, f Flags, file *File, env Getenv) error {
	raw, from := "", ""
	switch {
	case f.APIURL != "":
		raw, from = f.APIURL, "--api-url"
	case file != nil && file.APIURL != "":
		raw, from = file.APIURL, "api_url in "+file.name
	case env("GITHUB_API_URL") != "":
		raw, from = env("GITHUB_API_URL"), "GITHUB_API_URL"
	case f.Hostname != "":
		u, err := hostURL(f.Hostname, "--hostname")
		if err != nil {
			return err
		}
		raw, from = u, "--hostname"
	case file != nil && file.Hostname != "":
		u, err := hostURL(file.Hostname, "hostname in "+file.name)
		if err != nil {
			return err
		}
		raw, from = u, "hostname in "+file.name
	default:
		if h, ok, warn := docsHostname(env); ok {
			u, err := hostURL(h, "HOSTNAME")
			if err != nil {
				return err
			}
			raw, from = u, "HOSTNAME"
		} else {
			if warn != "" {
				s.Warnings = append(s.Warnings, warn)
			}
			raw, from = DotComAPI, "default"
		}
	}
	u, err := NormalizeAPIURL(raw, from)
	if err != nil {
		return err
	}
	s.APIURL, s.APIURLFrom = u, from
	s.GHES = IsGHES(u)
	s.CAFile = f.CAFile
	if s.CAFile == "" && file != nil {
		s.CAFile = file.CAFile
	}
	return nil
}

// docsHostname decides whether the HOSTNAME variable names a GHES host, as
// the docs script means it, or is the machine's own name, as every shell
// and container sets it. It is taken only when the docs script's
// environment is in use (ORGANIZATION_NAME, REPO_OWNER or
// LAST_REDELIVERY_VARIABLE_NAME is set), it is a dotted host name, and it is
// not this machine's name. The warning says why a value was ignored.
func docsHostname(env Getenv) (host string, ok bool, warning string) {
	h := strings.TrimSpace(env("HOSTNAME"))
	if h == "" {
		return "", false, ""
	}
	docs := env("ORGANIZATION_NAME") != "" || env("REPO_OWNER") != "" || env("LAST_REDELIVERY_VARIABLE_NAME") != ""
	if !docs {
		return "", false, "" // a shell's HOSTNAME: not ours to read
	}
	if me, err := machineHostname(); err == nil && strings.EqualFold(me, h) {
		return "", false, "HOSTNAME=" + truncate(h) + " is this machine's own name, not a GitHub Enterprise Server host: using " + DotComAPI + " (set GITHUB_API_URL or --hostname to choose)"
	}
	if h == "YOUR_HOSTNAME" || !strings.Contains(strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://"), ".") {
		return "", false, "HOSTNAME=" + truncate(h) + " is not a dotted host name, so it is taken for the machine's name, not a GitHub Enterprise Server host: using " + DotComAPI
	}
	return h, true, ""
}

// hostURL turns a GHES host name into its REST base URL.
func hostURL(h, from string) (string, error) {
	h = strings.TrimSpace(h)
	h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://"), "/")
	if h == "github.com" || h == "api.github.com" {
		return DotComAPI, nil
	}
	if h == "" || strings.ContainsAny(h, "/?#@ \t") {
		return "", errf("%s=%q: want a host name like ghe.example.com", from, truncate(githubapi.RedactURL(h)))
	}
	return "https://" + h + "/api/v3/", nil
}

// NormalizeAPIURL checks a REST base URL and gives it a trailing slash,
// by the GitHub adapter's rule; from names where the URL came from.
func NormalizeAPIURL(raw, from string) (string, error) {
	u, err := githubapi.NormalizeBaseURL(raw)
	if err != nil {
		return "", errf("%s=%q: %v", from, truncate(githubapi.RedactURL(strings.TrimSpace(raw))), err)
	}
	return u, nil
}

// IsGHES reports whether a base URL is a GitHub Enterprise Server's, whose
// REST API lives under /api/v3 and keeps deliveries 7 days, not 3.
func IsGHES(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	return strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v3")
}
