package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/alert"
	"github.com/redeliver/redeliver/config"
)

// alertOptions are the alert flags of `run` and `serve`.
type alertOptions struct {
	repo    string
	urlFile string
	format  string
	// url is read from urlFile by check; it is a secret.
	url string
}

func addAlertFlags(fs *pflag.FlagSet, a *alertOptions) {
	fs.StringVar(&a.repo, "alert-repo", "", "open a GitHub issue per target in OWNER/REPO when events are lost for good (the token needs Issues write there)")
	fs.StringVar(&a.urlFile, "alert-webhook-url-file", "", "post a message to the webhook URL in this file when events are lost for good (Slack-compatible)")
	fs.StringVar(&a.format, "alert-webhook-format", alert.FormatSlack, "body of the alert webhook's messages: slack or json")
}

// enabled says whether any destination was given.
func (a *alertOptions) enabled() bool { return a.repo != "" || a.urlFile != "" }

// check validates the flags and reads the webhook URL, before anything
// is written.
func (a *alertOptions) check() error {
	if a.format == "" && !a.enabled() {
		return nil // a command without the alert flags (replay)
	}
	if a.format != alert.FormatSlack && a.format != alert.FormatJSON {
		return redeliver.Errorf(redeliver.EInvalid, "--alert-webhook-format %q: want slack or json", a.format)
	}
	if a.repo != "" {
		owner, repo, ok := strings.Cut(a.repo, "/")
		if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
			return redeliver.Errorf(redeliver.EInvalid, "--alert-repo %q: want OWNER/REPO", a.repo)
		}
	}
	if a.urlFile == "" {
		return nil
	}
	u, err := alert.ReadURLFile(a.urlFile)
	if err != nil {
		return err
	}
	if _, err := alert.NewWebhook(alert.WebhookOptions{URL: u, Format: a.format}); err != nil {
		// The error names the host at most, never the URL.
		return redeliver.Wrap(redeliver.EInvalid, err, "--alert-webhook-url-file %s", a.urlFile)
	}
	a.url = u
	return nil
}

// checkState refuses alerts where the state cannot remember what was
// told: without it every run would tell everything again.
func (a *alertOptions) checkState(s *config.Settings) error {
	if a.enabled() && s.State.Kind == config.StateActionsVariable {
		return redeliver.Errorf(redeliver.EInvalid, "%s: the Actions variable state cannot record which alerts were sent (each run would send them again); use a SQLite file or PostgreSQL for --state", a.flagNames())
	}
	return nil
}

func (a *alertOptions) flagNames() string {
	var names []string
	if a.repo != "" {
		names = append(names, "--alert-repo")
	}
	if a.urlFile != "" {
		names = append(names, "--alert-webhook-url-file")
	}
	return strings.Join(names, " and ")
}

// alerter builds the Alerter over the state store; nil when no
// destination was given. --alert-repo needs a token (the App's JWT cannot
// open issues).
func (a *alertOptions) alerter(gh *githubClient, store redeliver.Store, log *slog.Logger) (*alert.Alerter, error) {
	if !a.enabled() {
		return nil, nil
	}
	marks, ok := store.(alert.Marks)
	if !ok {
		return nil, redeliver.Errorf(redeliver.EInvalid, "%s: this state cannot record which alerts were sent; use a SQLite file or PostgreSQL for --state", a.flagNames())
	}
	al := &alert.Alerter{Marks: marks, Logger: log}
	if a.repo != "" {
		if gh == nil || gh.REST() == nil {
			return nil, redeliver.Errorf(redeliver.EInvalid, "--alert-repo %s needs a token (GH_TOKEN, --token-file): GitHub App credentials alone cannot open issues", a.repo)
		}
		n, err := alert.NewGitHubIssues(gh.REST(), a.repo)
		if err != nil {
			return nil, err
		}
		al.Notifiers = append(al.Notifiers, n)
	}
	if a.url != "" {
		n, err := alert.NewWebhook(alert.WebhookOptions{URL: a.url, Format: a.format})
		if err != nil {
			return nil, redeliver.Wrap(redeliver.EInvalid, err, "--alert-webhook-url-file %s", a.urlFile)
		}
		al.Notifiers = append(al.Notifiers, n)
	}
	return al, nil
}

// checkAlerts tells al's notifiers what the pass that produced rep left
// lost; the problems it returns never change the exit code.
func checkAlerts(ctx context.Context, al *alert.Alerter, store redeliver.Store, rep *redeliver.Report) []string {
	_, probs := checkAlertsResult(ctx, al, store, rep)
	return probs
}

// alertBatch is how many ledger entries one read for alerts takes.
const alertBatch = 1000

// alertEntries are the ledger entries alerts look at: every one lost for
// good, and one open entry if any (an open event keeps the target from
// being called healthy). Not the whole ledger: a backlog of a million
// failed events would be read into memory after every pass.
func alertEntries(ctx context.Context, store redeliver.Store, key string) ([]redeliver.LedgerEntry, error) {
	entries, err := store.OpenEntries(ctx, key, "", 1)
	if err != nil {
		return nil, err
	}
	err = redeliver.EachBatch(ctx, store.LostEntries, key, alertBatch, func(lost []redeliver.LedgerEntry) error {
		entries = append(entries, lost...)
		return nil
	})
	return entries, err
}

// checkAlertsResult is checkAlerts with what Check did.
func checkAlertsResult(ctx context.Context, al *alert.Alerter, store redeliver.Store, rep *redeliver.Report) (alert.Result, []string) {
	if al == nil || rep == nil || rep.Target == "" {
		return alert.Result{}, nil
	}
	entries, err := alertEntries(ctx, store, rep.Target)
	if err != nil {
		return alert.Result{}, []string{fmt.Sprintf("alerts for %s: reading the ledger: %v", rep.Target, err)}
	}
	res, err := al.Check(ctx, alert.InputFor(rep, entries))
	var out []string
	for _, e := range res.Errors {
		out = append(out, fmt.Sprintf("alerts for %s: %s", rep.Name, e))
	}
	if err != nil {
		out = append(out, fmt.Sprintf("alerts for %s: recording what was sent: %v", rep.Name, err))
	}
	return res, out
}
