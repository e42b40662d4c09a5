package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver/ghext"
)

// asGHExtension says whether the binary runs as gh-redeliver, the gh
// extension (by the name it was started as): then gh's login supplies the
// host and the token.
var asGHExtension = ghext.Invoked(os.Args[0])

// addGHExtension makes the commands that talk to GitHub take gh's host and
// token when running as the gh extension. The host is --api-url's, else
// GITHUB_API_URL's, else --hostname, else GH_HOST, else the one host gh is
// logged in to, else github.com; the token is gh's for that host, unless
// TOKEN or --token-file gives one.
func addGHExtension(root *cobra.Command, io *streams) {
	if !asGHExtension {
		return
	}
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		fs := cmd.Flags()
		api := fs.Lookup("api-url")
		if api == nil {
			return nil // this command does not talk to GitHub
		}
		host, from := "", ""
		switch {
		case api.Changed:
			host, from = hostOfOr(api.Value.String()), "--api-url"
		case io.getenv("GITHUB_API_URL") != "":
			host, from = hostOfOr(io.getenv("GITHUB_API_URL")), "GITHUB_API_URL"
		case fs.Changed("hostname"):
			host, from = fs.Lookup("hostname").Value.String(), "--hostname"
		}
		if host == "" && from != "" {
			return nil // a malformed URL: the command's own checks name it
		}
		login, err := ghext.Resolve(host, from)
		if err != nil {
			return &exitError{code: exitInvalid, err: err}
		}
		base := io.getenv
		io.getenv = func(k string) string {
			switch k {
			case "GH_TOKEN", "GITHUB_TOKEN":
				// gh's token for this host; a github.com token in GH_TOKEN
				// must not reach an Enterprise host.
				return login.Token
			case "GITHUB_API_URL":
				if v := base(k); v != "" {
					return v
				}
				return login.APIURL
			}
			return base(k)
		}
		if login.Token == "" && base("TOKEN") == "" && !fs.Changed("token-file") && !fs.Changed("app-id") && base("APP_ID") == "" {
			fmt.Fprintf(io.err, "redeliver: gh has no token for %s: run `gh auth login --hostname %s` (or set GH_TOKEN, GH_ENTERPRISE_TOKEN for an Enterprise host)\n", login.Host, login.Host)
		}
		return nil
	}
}

// hostOfOr is the gh host of an API URL, or "" when it is not a URL.
func hostOfOr(apiURL string) string {
	h, err := ghext.HostOf(apiURL)
	if err != nil {
		return ""
	}
	return h
}
