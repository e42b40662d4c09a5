package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/githubapi"
)

// runResult is the whole run; its JSON form is the `--output json` report.
type runResult struct {
	Version  int                 `json:"version"` // of this JSON shape
	DryRun   bool                `json:"dry_run"`
	APIURL   string              `json:"api_url"`
	State    string              `json:"state"`
	Targets  []*redeliver.Report `json:"targets"`
	Totals   totals              `json:"totals"`
	Problems []string            `json:"problems,omitempty"`
	// LedgerDropped counts ledger entries the state dropped to fit its
	// size limit (Actions variables hold 48 KB).
	LedgerDropped int `json:"ledger_dropped,omitempty"`
	// Error is why the run could not start (bad input, credentials).
	Error     string `json:"error,omitempty"`
	ErrorCode string `json:"error_code,omitempty"`
	ExitCode  int    `json:"exit_code"`

	// cut are the targets --timeout stopped.
	cut map[*redeliver.Report]bool
	// alertProblems counts the Problems that are alerts not sent: listed,
	// but never a reason to exit non-zero.
	alertProblems int
	// items holds every item of the reports, for --report.
	items *itemSpool
}

type totals struct {
	Targets     int `json:"targets"`
	Attempts    int `json:"attempts"`
	Failed      int `json:"failed"`
	Redelivered int `json:"redelivered"`
	Waiting     int `json:"waiting"`
	Pending     int `json:"pending"`
	Deferred    int `json:"deferred"`
	Recovered   int `json:"recovered"`
	Exhausted   int `json:"exhausted"`
	Expired     int `json:"expired"`
	Errors      int `json:"errors"`
}

func (r *runResult) add(rep *redeliver.Report) {
	r.Targets = append(r.Targets, rep)
	t := &r.Totals
	t.Targets++
	t.Attempts += rep.Attempts
	t.Failed += rep.Failed
	t.Redelivered += rep.Redelivered
	t.Waiting += rep.Waiting
	t.Pending += rep.Pending
	t.Deferred += rep.Deferred
	t.Recovered += rep.Recovered
	t.Exhausted += rep.Exhausted
	t.Expired += rep.Expired
	t.Errors += rep.Errors
	if rep.Error != "" {
		t.Errors++
	}
}

// timedOut marks a target that --timeout stopped: what it left is for the
// next run, not a failure.
func (r *runResult) timedOut(rep *redeliver.Report) {
	if r.cut == nil {
		r.cut = map[*redeliver.Report]bool{}
	}
	r.cut[rep] = true
}

// exitCode: 3 when GitHub refused the credentials, 2 for invalid input
// found late (a --hook-url that matches nothing), 1 when any target or
// redelivery failed, 4 when the run stopped early and left work for the
// next run because of a rate limit or --timeout, else 0. A run the probe
// stopped because the receiver still fails exits 0: nothing failed that a
// later run cannot do.
func (r *runResult) exitCode() int {
	code, incomplete := exitOK, false
	for _, t := range r.Targets {
		limited := r.cut[t] || t.ErrorCode == redeliver.ERateLimited || deferredByLimit(t) || stoppedByLimit(t)
		switch {
		case t.ErrorCode == redeliver.EAuth:
			return exitAuth
		case t.ErrorCode == redeliver.EInvalid && code == exitOK:
			code = exitInvalid
		case t.Errors > 0 || (t.Error != "" && !limited):
			code = exitFailed
		}
		incomplete = incomplete || limited
	}
	switch {
	case code != exitOK:
		return code
	case len(r.Problems) > r.alertProblems:
		return exitFailed
	case incomplete:
		return exitIncomplete
	}
	return exitOK
}

// stoppedByLimit reports a target the engine stopped early, leaving work,
// because time ran out or a rate limit could not be waited out. The engine
// says why only in words; these are its two phrases for it.
func stoppedByLimit(t *redeliver.Report) bool {
	return t.Deferred > 0 && (t.StopReason == redeliver.StopDeadline || t.StopReason == redeliver.StopRateLimited)
}

// deferredByLimit reports a target whose redeliveries were put off by a
// rate limit that could not be waited out (the engine records the error
// on each deferred item).
func deferredByLimit(t *redeliver.Report) bool {
	for _, it := range t.Items {
		if it.Verdict == redeliver.VerdictDeferred && it.Error != "" {
			return true
		}
	}
	return false
}

// writeResult prints the result, and in GitHub Actions also writes the job
// summary and annotations.
func writeResult(ios *streams, format string, r *runResult) error {
	r.Version = 1
	r.redact()
	var err error
	if format == "json" {
		enc := json.NewEncoder(ios.out)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		writeText(ios.out, r)
	}
	if ios.getenv("GITHUB_ACTIONS") == "true" {
		writeAnnotations(ios.out, r)
		if path := ios.getenv("GITHUB_STEP_SUMMARY"); path != "" {
			if serr := appendFile(path, stepSummary(r)); serr != nil {
				fmt.Fprintln(ios.err, "warning: writing the job summary:", serr)
			}
		}
	}
	return err
}

// redact hides what URLs in messages may carry (userinfo, query values,
// fragments) in every message of the result.
func (r *runResult) redact() {
	r.Error = redactURLs(r.Error)
	for i, p := range r.Problems {
		r.Problems[i] = redactURLs(p)
	}
	for _, t := range r.Targets {
		t.Error, t.Stopped = redactURLs(t.Error), redactURLs(t.Stopped)
		for i := range t.Items {
			t.Items[i].Error = redactURLs(t.Items[i].Error)
		}
	}
}

// redactURLs hides secrets URLs may carry in a message.
func redactURLs(msg string) string { return githubapi.RedactURLs(msg) }

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func writeText(w io.Writer, r *runResult) {
	verb := "Redelivered"
	if r.DryRun {
		verb = "Would redeliver"
	}
	for _, t := range r.Targets {
		if t.Target == "" {
			fmt.Fprintf(w, "error: %s\n", printable(t.Error))
			continue
		}
		fmt.Fprintf(w, "%s: %s %d of %d failed events (%d attempts listed since %s)\n",
			t.Name, strings.ToLower(verb), t.Redelivered, t.Failed, t.Attempts, when(t.From))
		var parts []string
		for _, c := range []struct {
			n    int
			what string
		}{{t.Waiting, "waiting for their next attempt"}, {t.Pending, "pending"}, {t.Deferred, "left for the next run"},
			{t.Recovered, "recovered"}, {t.Exhausted, "exhausted"}, {t.Expired, "expired"}, {t.Filtered, "filtered out"}, {t.Errors, "could not be asked (see below)"}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  %s\n", strings.Join(parts, ", "))
		}
		for _, it := range t.Items {
			switch {
			case r.DryRun && it.Verdict == redeliver.VerdictRedeliver:
				fmt.Fprintf(w, "  would redeliver %s (%s) attempt %d, first seen %s\n", printable(it.GUID), printable(eventName(it)), it.AttemptID, when(it.FirstSeen))
			case it.Error != "":
				fmt.Fprintf(w, "  ! %s (%s): %s\n", printable(it.GUID), printable(eventName(it)), printable(it.Error))
			case it.Verdict == redeliver.VerdictExhausted:
				fmt.Fprintf(w, "  ! exhausted: %s (%s) still failing after %d redeliveries\n", printable(it.GUID), printable(eventName(it)), it.Attempts)
			case it.Verdict == redeliver.VerdictExpired:
				fmt.Fprintf(w, "  ! expired: %s (%s) is past GitHub's redelivery horizon\n", printable(it.GUID), printable(eventName(it)))
			}
		}
		for _, g := range t.Uncovered {
			fmt.Fprintf(w, "  ! not covered: %s to %s: %s\n", when(g.From), when(g.To), g.Reason)
		}
		switch {
		case t.Stopped != "" && (t.Deferred > 0 || !t.Complete):
			fmt.Fprintf(w, "  ! stopped early: %s\n", t.Stopped)
		case t.Stopped != "":
			// Nothing was left: the stop came after the last request.
			fmt.Fprintf(w, "  ! note: %s\n", strings.TrimSuffix(t.Stopped, "; the rest is left for the next run"))
		}
		if t.Error != "" {
			fmt.Fprintf(w, "  ! error: %s\n", printable(t.Error))
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "error: %s\n", printable(p))
	}
	if r.LedgerDropped > 0 {
		fmt.Fprintf(w, "warning: the ledger was full: %d entries were dropped to fit (closed ones first); a failed event among them is followed only while GitHub still lists it in a run's window\n", r.LedgerDropped)
	}
	since := time.Time{}
	for _, t := range r.Targets {
		if !t.From.IsZero() && (since.IsZero() || t.From.Before(since)) {
			since = t.From
		}
	}
	fmt.Fprintf(w, "%s %d failed webhook deliveries out of %d total deliveries since %s.\n",
		verb, r.Totals.Redelivered, r.Totals.Attempts, when(since))
}

func eventName(it redeliver.Item) string {
	if it.Action != "" {
		return it.Event + "." + it.Action
	}
	return it.Event
}

// printable keeps a string from the API on one line of text output: with
// control characters in it (a line break could start a workflow command of
// its own in GitHub Actions, which reads stdout and stderr), it is shown
// with Go's escapes.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// writeAnnotations emits ::warning:: workflow commands for exhausted and
// expired events and for uncovered spans. Strings from the API are escaped
// so they cannot inject workflow commands.
func writeAnnotations(w io.Writer, r *runResult) {
	for _, t := range r.Targets {
		for _, it := range t.Items {
			switch it.Verdict {
			case redeliver.VerdictExhausted:
				fmt.Fprintf(w, "::warning title=%s::%s\n", escapeProperty("redeliver: exhausted"),
					escapeData(fmt.Sprintf("%s: event %s (%s) still fails after %d redeliveries; it will not be retried", t.Name, it.GUID, eventName(it), it.Attempts)))
			case redeliver.VerdictExpired:
				fmt.Fprintf(w, "::warning title=%s::%s\n", escapeProperty("redeliver: expired"),
					escapeData(fmt.Sprintf("%s: event %s (%s) is past GitHub's redelivery horizon and was not redelivered", t.Name, it.GUID, eventName(it))))
			}
		}
		if t.Error != "" {
			fmt.Fprintf(w, "::error title=%s::%s\n", escapeProperty("redeliver: "+t.Name), escapeData(t.Error))
		}
		for _, g := range t.Uncovered {
			fmt.Fprintf(w, "::warning title=%s::%s\n", escapeProperty("redeliver: not covered"),
				escapeData(fmt.Sprintf("%s: %s to %s: %s", t.Name, when(g.From), when(g.To), g.Reason)))
		}
	}
	if r.LedgerDropped > 0 {
		fmt.Fprintf(w, "::warning title=%s::%s\n", escapeProperty("redeliver: ledger full"),
			escapeData(fmt.Sprintf("%d ledger entries were dropped to fit the Actions variable", r.LedgerDropped)))
	}
}

// escapeData and escapeProperty follow the workflow-command escaping of
// @actions/core (toCommandValue / escapeProperty).
func escapeData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

func escapeProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

// stepSummary is the Markdown table for $GITHUB_STEP_SUMMARY.
func stepSummary(r *runResult) string {
	var b strings.Builder
	title := "Webhook redelivery"
	if r.DryRun {
		title += " (dry run)"
	}
	fmt.Fprintf(&b, "### %s\n\n", title)
	b.WriteString("| target | attempts | failed | redelivered | waiting | pending | recovered | exhausted | expired | errors |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, t := range r.Targets {
		name := t.Name
		if name == "" {
			name = "(error)"
		}
		errs := t.Errors
		if t.Error != "" {
			errs++
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |\n", mdEscape(name), t.Attempts, t.Failed,
			t.Redelivered, t.Waiting, t.Pending, t.Recovered, t.Exhausted, t.Expired, errs)
	}
	for _, t := range r.Targets {
		for _, it := range t.Items {
			if it.Verdict == redeliver.VerdictExhausted || it.Verdict == redeliver.VerdictExpired || it.Error != "" {
				fmt.Fprintf(&b, "\n- %s `%s` %s: %s", mdEscape(t.Name), mdEscape(it.GUID), it.Verdict, mdEscape(it.Error))
			}
		}
		if t.Error != "" {
			fmt.Fprintf(&b, "\n- %s: **error** %s", mdEscape(t.Name), mdEscape(t.Error))
		}
	}
	b.WriteString("\n")
	return b.String()
}

// mdEscape keeps API strings from breaking the table or adding markup.
func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ", "\r", " ", "`", "'", "<", "&lt;", ">", "&gt;", "*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]").Replace(s)
}

// writeReportFile writes the JSON report to a file (--report).
func writeReportFile(path string, r *runResult) error {
	if r.items != nil {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if err := r.items.write(f, r); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
