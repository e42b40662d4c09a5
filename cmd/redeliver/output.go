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
	ExitCode int                 `json:"exit_code"`
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

// exitCode: 3 when GitHub refused the credentials, 2 for invalid input
// found late (a --hook-url that matches nothing), 1 when any target or
// redelivery failed, else 0.
func (r *runResult) exitCode() int {
	code := exitOK
	for _, t := range r.Targets {
		switch {
		case t.ErrorCode == redeliver.EAuth:
			return exitAuth
		case t.ErrorCode == redeliver.EInvalid && code == exitOK:
			code = exitInvalid
		case t.Error != "" || t.Errors > 0:
			code = exitFailed
		}
	}
	if len(r.Problems) > 0 && code == exitOK {
		code = exitFailed
	}
	return code
}

// writeResult prints the result, and in GitHub Actions also writes the job
// summary and annotations.
func writeResult(io *streams, format string, r *runResult) error {
	r.Version = 1
	r.ExitCode = r.exitCode()
	var err error
	if format == "json" {
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		writeText(io.out, r)
	}
	if io.getenv("GITHUB_ACTIONS") == "true" {
		writeAnnotations(io.out, r)
		if path := io.getenv("GITHUB_STEP_SUMMARY"); path != "" {
			if serr := appendFile(path, stepSummary(r)); serr != nil {
				fmt.Fprintln(io.err, "warning: writing the job summary:", serr)
			}
		}
	}
	return err
}

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
		if t.Stopped != "" {
			fmt.Fprintf(w, "  ! stopped early: %s\n", t.Stopped)
		}
		if t.Error != "" {
			fmt.Fprintf(w, "  ! error: %s\n", printable(t.Error))
		}
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "error: %s\n", printable(p))
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
