package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/config"
)

// deliveriesOptions are what `redeliver deliveries` is given.
type deliveriesOptions struct {
	IO       *streams
	Settings func() (*config.Settings, error)
	GitHub   gitHubFunc
	State    stateFunc
	Logger   func() *slog.Logger

	flags  config.Flags
	output string
	limit  int
	export exportFlags
}

// eventView is one guid of one target as `deliveries` shows it.
type eventView struct {
	GUID         string    `json:"guid"`
	Event        string    `json:"event"`
	Action       string    `json:"action,omitempty"`
	Outcome      string    `json:"outcome"` // ok or failed
	Attempts     int       `json:"attempts"`
	Redeliveries int       `json:"redeliveries"`
	Last         time.Time `json:"last_delivered_at"`
	LastStatus   string    `json:"last_status"`
	LastCode     int       `json:"last_status_code"`
	NewestID     int64     `json:"newest_attempt_id"`
	Ledger       string    `json:"ledger_state,omitempty"`
	LedgerAsked  int       `json:"ledger_requests,omitempty"`
}

func newDeliveriesCmd(f *factory) *cobra.Command {
	o := &deliveriesOptions{IO: f.IO, GitHub: connect, State: openState, Logger: f.logger}
	o.Settings = f.settings(&o.flags)
	cmd := &cobra.Command{
		Use:   "deliveries",
		Short: "Show one target's recent deliveries grouped by event, with the ledger's view",
		Long: `deliveries lists one hook's attempts newest first (back to --since, 24h by
default), groups them by event (guid), and shows each event's outcome, its
attempts and redeliveries, and what the state's ledger knows of it. It asks
GitHub for nothing but the listing and writes nothing.`,
		Example: `  redeliver deliveries --org acme --hook 123456 --since 6h
  redeliver deliveries --repo acme/api --hook 1 --json guid,outcome --jq '.[] | select(.outcome == "failed") | .guid'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDeliveries(cmd.Context(), o)
		},
	}
	fs := cmd.Flags()
	addConnFlags(fs, &o.flags)
	addTargetFlags(fs, &o.flags)
	addStateFlag(fs, &o.flags)
	fs.StringVar(&o.flags.Since, "since", "24h", "how far back to list: a duration (36h, 2d) or a time")
	fs.StringVarP(&o.output, "output", "o", "", "output format: text (a table) or json (default: text on a terminal, json otherwise)")
	fs.IntVar(&o.limit, "limit", 0, "show at most this many events, newest first (0: all)")
	addExportFlags(fs, &o.export)
	return cmd
}

func runDeliveries(ctx context.Context, o *deliveriesOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	t, ledger, gh, err := o.target(ctx)
	if err != nil {
		return err
	}
	views, cutoff, err := listEvents(ctx, gh, t, ledger)
	if err != nil {
		return err
	}
	if o.limit > 0 && len(views) > o.limit {
		views = views[:o.limit]
	}
	switch {
	case o.export.enabled():
		return o.export.write(o.IO, views)
	case o.output == "json":
		enc := json.NewEncoder(o.IO.out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"target": t.Key(), "since": cutoff, "events": views})
	}
	return writeEvents(o.IO.out, t, cutoff, views)
}

// check validates the flags that config does not know.
func (o *deliveriesOptions) check() error {
	if o.output == "" {
		o.output = "json"
		if o.IO.outTTY {
			o.output = "text"
		}
	}
	if o.output == "table" {
		o.output = "text" // the older spelling
	}
	if o.output != "text" && o.output != "json" {
		return redeliver.Errorf(redeliver.EInvalid, "--output %q: want text or json", o.output)
	}
	if err := o.export.check(jsonFields(eventView{Action: "x", Ledger: "x", LedgerAsked: 1})); err != nil {
		return err
	}
	if o.limit < 0 {
		return redeliver.Errorf(redeliver.EInvalid, "--limit %d: must not be negative", o.limit)
	}
	return nil
}

// target finds the one hook to show and what the ledger knows of it.
func (o *deliveriesOptions) target(ctx context.Context) (plannedTarget, map[string]redeliver.LedgerEntry, *githubClient, error) {
	var none plannedTarget
	s, err := o.Settings()
	if err != nil {
		return none, nil, nil, err
	}
	log := o.Logger()
	gh, err := o.GitHub(s, log, nil)
	if err != nil {
		return none, nil, nil, err
	}
	targets, errs := expandTargets(ctx, gh, s.Targets)
	if len(errs) > 0 {
		return none, nil, nil, errs[0]
	}
	if len(targets) != 1 {
		return none, nil, nil, redeliver.Errorf(redeliver.EInvalid, "deliveries shows one hook; %d match (give --hook)", len(targets))
	}
	t := targets[0]
	st, err := o.State(ctx, s, gh, log, true)
	if err != nil {
		return none, nil, nil, err
	}
	defer st.Close()
	entries, err := st.Entries(ctx, t.Key())
	if err != nil {
		return none, nil, nil, err
	}
	ledger := map[string]redeliver.LedgerEntry{}
	for _, e := range entries {
		ledger[e.GUID] = e
	}
	return t, ledger, gh, nil
}

// listEvents lists the hook's attempts back to the policy's look-back and
// groups them by event, newest first.
func listEvents(ctx context.Context, src redeliver.Source, t plannedTarget, ledger map[string]redeliver.LedgerEntry) ([]eventView, time.Time, error) {
	views := map[string]*eventView{}
	var order []string
	since := func(first redeliver.Page) time.Time {
		if t.Policy.SinceAgo > 0 {
			return first.ServerTime.Add(-t.Policy.SinceAgo)
		}
		return t.Policy.Since
	}
	listing, err := redeliver.List(ctx, src, t.Target, since, func(a redeliver.Attempt) {
		v := views[a.GUID]
		if v == nil {
			v = &eventView{GUID: a.GUID, Event: a.Event, Action: a.Action, Outcome: "failed",
				Last: a.DeliveredAt, LastStatus: a.Status, LastCode: a.StatusCode, NewestID: a.ID}
			views[a.GUID] = v
			order = append(order, a.GUID)
		}
		v.Attempts++
		if a.Redelivery {
			v.Redeliveries++
		}
		if a.Succeeded() {
			v.Outcome = "ok"
		}
	}, nil)
	if err != nil {
		return nil, time.Time{}, err
	}
	out := make([]eventView, 0, len(order))
	for _, g := range order {
		v := views[g]
		if e, ok := ledger[g]; ok {
			v.Ledger, v.LedgerAsked = string(e.State), e.Requests
		}
		out = append(out, *v)
	}
	slices.SortStableFunc(out, func(a, b eventView) int { return b.Last.Compare(a.Last) })
	return out, listing.Cutoff, nil
}

// writeEvents prints the events as a table.
func writeEvents(w io.Writer, t plannedTarget, cutoff time.Time, out []eventView) error {
	fmt.Fprintf(w, "%s: %d events since %s\n", t.Target, len(out), when(cutoff))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GUID\tEVENT\tOUTCOME\tATTEMPTS\tREDELIVERIES\tLAST\tLAST STATUS\tLEDGER")
	for _, v := range out {
		ev := v.Event
		if v.Action != "" {
			ev += "." + v.Action
		}
		led := v.Ledger
		if led == "" {
			led = "-"
		} else if v.LedgerAsked > 0 {
			led = fmt.Sprintf("%s (asked %d)", led, v.LedgerAsked)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", printable(v.GUID), printable(ev), v.Outcome, v.Attempts, v.Redeliveries,
			when(v.Last), printable(v.LastStatus), led)
	}
	return tw.Flush()
}
