package main

import (
	"github.com/spf13/pflag"

	"github.com/redeliver/redeliver/config"
)

// addConnFlags adds where GitHub is and how to authenticate.
func addConnFlags(fs *pflag.FlagSet, f *config.Flags) {
	fs.StringVar(&f.APIURL, "api-url", "", "GitHub REST API base URL (default: $GITHUB_API_URL, else https://HOSTNAME/api/v3, else https://api.github.com)")
	fs.StringVar(&f.Hostname, "hostname", "", "GitHub Enterprise Server host name; the API is https://HOST/api/v3")
	fs.StringVar(&f.CAFile, "ca-file", "", "PEM file of an extra certificate authority to trust (a GHES private CA)")
	fs.StringVar(&f.TokenFile, "token-file", "", "file holding the token (default: $TOKEN, $GH_TOKEN or $GITHUB_TOKEN)")
	fs.StringVar(&f.AppID, "app-id", "", "GitHub App id (default: $APP_ID)")
	fs.StringVar(&f.PrivateKeyFile, "private-key-file", "", "GitHub App private key PEM file (default: $PRIVATE_KEY holds the PEM text)")
}

// addTargetFlags adds which hooks to work on.
func addTargetFlags(fs *pflag.FlagSet, f *config.Flags) {
	fs.StringVar(&f.Org, "org", "", "organization whose hook(s) to check")
	fs.StringVar(&f.Repo, "repo", "", "repository OWNER/REPO whose hook(s) to check")
	fs.StringVar(&f.Hook, "hook", "", "hook id (default: every hook of --org or --repo)")
	fs.StringVar(&f.HookURL, "hook-url", "", "pick the hook of --org or --repo whose payload URL is this")
	fs.BoolVar(&f.App, "app", false, "check the GitHub App's own hook (needs --app-id and --private-key-file)")
	fs.StringVar(&f.Config, "config", "", "YAML file listing targets and their options")
}

// addStateFlag adds where the state lives.
func addStateFlag(fs *pflag.FlagSet, f *config.Flags) {
	fs.StringVar(&f.State, "state", "", "state: a SQLite file path, or actions:OWNER/REPO/VARIABLE (default: $XDG_STATE_HOME/redeliver/state.db, or the docs script's LAST_REDELIVERY_VARIABLE_NAME)")
}

// addPolicyFlags adds what a run may do.
func addPolicyFlags(fs *pflag.FlagSet, f *config.Flags) {
	fs.StringVar(&f.Since, "since", "", "look back this far instead of from the checkpoint: a duration (36h, 2d) or a time (RFC 3339)")
	fs.IntVar(&f.MaxAttempts, "max-attempts", 0, "redeliveries per event across all runs (default 5)")
	fs.StringVar(&f.RetryBase, "retry-base", "", "spacing after the first redelivery of an event; doubles after each (default 1h)")
	fs.StringSliceVar(&f.Events, "events", nil, "only these events (push, issues.opened, …)")
	fs.StringSliceVar(&f.ExcludeEvents, "exclude-events", nil, "never these events")
	fs.IntVar(&f.MaxRedeliveries, "max-redeliveries", 0, "at most this many redeliveries per target in this run (default: no cap)")
}
