package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/config"
)

// replaySample is how many of the chosen deliveries a replay lists.
const replaySample = 10

// replayOptions are what `redeliver replay` is given: run's wiring (its
// settings, GitHub client, state and pacing flags) and the selection.
type replayOptions struct {
	run         runOptions
	guids       []string
	ids         []int64
	until       string
	statusCodes []int
	yes         bool
	again       bool
}

func newReplayCmd(f *factory) *cobra.Command {
	o := &replayOptions{run: runOptions{IO: f.IO, GitHub: connect, State: openState, Logger: f.logger, output: "text",
		perMinute: 80, perHour: 500, concurrency: 1, lockWait: time.Minute}}
	o.run.Settings = f.settings(&o.run.flags)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Redeliver chosen deliveries on purpose, whatever their status",
		Long: `replay redelivers deliveries you choose, failed or not: for the day a
receiver answered 200 but dropped the events. Choose them by --guid, by
--delivery-id, or by a --since/--until window filtered by --events and
--status-code. It works on one hook.

It is a dry run unless --yes is given: it prints how many deliveries it would
replay and the first ten. With --yes it asks GitHub to redeliver each once,
paced as run is, and records each request in the state's ledger before and
after it is made, so a replay run again (after a crash, say) skips what it
already asked for. A selection reaching past GitHub's redelivery horizon
(3 days on github.com, 7 on GHES) is refused with exit 2.`,
		Example: `  redeliver replay --org acme --hook 123456 --since 2026-11-30T08:00:00Z --until 2026-11-30T11:30:00Z --status-code 200
  redeliver replay --repo acme/api --hook 42 --since 6h --events push --yes
  redeliver replay --org acme --hook 123456 --guid 0b989ba4-242f-11e5-81e1-c7b6f8e1c7ac --yes
  redeliver replay --org acme --hook 123456 --delivery-id 12345678901 --delivery-id 12345678902`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.run.perMinuteSet, o.run.perHourSet = cmd.Flags().Changed("per-minute"), cmd.Flags().Changed("per-hour")
			return runReplay(cmd.Context(), o)
		},
	}
	fs := cmd.Flags()
	addConnFlags(fs, &o.run.flags)
	addTargetFlags(fs, &o.run.flags)
	addStateFlag(fs, &o.run.flags)
	fs.StringSliceVar(&o.guids, "guid", nil, "replay this delivery (its newest attempt); repeatable")
	fs.Int64SliceVar(&o.ids, "delivery-id", nil, "replay this delivery attempt; repeatable")
	fs.StringVar(&o.run.flags.Since, "since", "", "replay deliveries from this far back: a duration (2h) or a time (RFC 3339)")
	fs.StringVar(&o.until, "until", "", "with --since: replay deliveries up to this far back or this time (default: now)")
	fs.StringSliceVar(&o.run.flags.Events, "events", nil, "with --since: only these events (push, issues.opened, …)")
	fs.IntSliceVar(&o.statusCodes, "status-code", nil, "with --since: only deliveries whose receiver answered this HTTP status (200; 0: no response); repeatable")
	fs.BoolVar(&o.yes, "yes", false, "send the redeliveries (without it, only show what would be replayed)")
	fs.BoolVar(&o.again, "again", false, "also replay deliveries the state shows replayed since the window's start")
	fs.Float64Var(&o.run.rate, "rate", 1, "redeliveries per second at most (0: no limit; GitHub's advice is 1)")
	fs.DurationVar(&o.run.lockWait, "lock-wait", time.Minute, "how long to wait for a run holding the state")
	return cmd
}

// selection turns the flags into what to replay for a target's policy
// (which holds the resolved --since and --events).
func (o *replayOptions) selection(p redeliver.Policy) (redeliver.Selection, error) {
	sel := redeliver.Selection{GUIDs: o.guids, IDs: o.ids, Since: p.Since, SinceAgo: p.SinceAgo,
		Events: p.Events, StatusCodes: o.statusCodes, Again: o.again}
	if o.until != "" {
		t, ago, err := config.ParseSince(o.until)
		if err != nil {
			return sel, redeliver.Wrap(redeliver.EInvalid, err, "--until")
		}
		sel.Until, sel.UntilAgo = t, ago
	}
	return sel, sel.Validate()
}

// checkFlags refuses, before anything is opened or asked, a selection the
// flags alone show wrong: mixed selectors, a bad --until, or a --since
// duration longer than GitHub's redelivery horizon.
func (o *replayOptions) checkFlags() error {
	p := redeliver.Policy{}
	if o.run.flags.Since != "" {
		t, ago, err := config.ParseSince(o.run.flags.Since)
		if err != nil {
			return redeliver.Wrap(redeliver.EInvalid, err, "--since")
		}
		p.Since, p.SinceAgo = t, ago
	}
	if len(o.run.flags.Events) > 0 {
		p.Events = []string{"push"} // names are checked with the settings
	}
	if _, err := o.selection(p); err != nil {
		return err
	}
	s, err := o.run.Settings()
	if err != nil {
		return err
	}
	for _, t := range s.Targets {
		if h := t.Policy.Horizon; p.SinceAgo > h {
			return redeliver.Errorf(redeliver.EInvalid, "--since %s reaches past GitHub's redelivery horizon (%d days): older deliveries cannot be redelivered; nothing was sent",
				o.run.flags.Since, h/(24*time.Hour))
		}
	}
	return nil
}

func runReplay(ctx context.Context, o *replayOptions) error {
	if err := o.run.check(); err != nil {
		return err
	}
	if err := o.checkFlags(); err != nil {
		return err
	}
	// The selection is made with the state read-only: a refused one
	// leaves nothing behind. Only then is the state opened to write.
	o.run.dryRun = true
	sess, err := o.run.prepare(ctx)
	if err != nil {
		return err
	}
	defer sess.close()
	if len(sess.targetErrs) > 0 {
		return sess.targetErrs[0]
	}
	var targets []plannedTarget
	for _, t := range sess.targets {
		if t.failed != nil {
			return redeliver.Errorf(t.failed.ErrorCode, "%s", t.failed.Error)
		}
		targets = append(targets, t)
	}
	if len(targets) != 1 {
		return redeliver.Errorf(redeliver.EInvalid, "replay works on one hook at a time; %d were given: name one with --hook (or --app)", len(targets))
	}
	t := targets[0]
	sel, err := o.selection(t.Policy)
	if err != nil {
		return err
	}
	rep, err := redeliver.SelectReplayFrom(ctx, sess.gh, sess.st, t.Target, t.Policy, sel)
	if err != nil {
		return err
	}
	if !o.yes || len(rep.Selected) == 0 {
		rep.Sent = o.yes // nothing left to send
		printReplay(o.run.IO.out, t.Target, rep)
		return nil
	}
	sess.close()
	o.run.dryRun = false
	if err := sess.open(ctx); err != nil {
		return err
	}
	warnPace(ctx, o.run.IO, sess.s, sess.gh, &o.run)
	unlock, err := lockStore(ctx, o.run.IO, sess.st, o.run.lockWait)
	if err != nil {
		return err
	}
	sess.closers = append(sess.closers, unlock)
	err = rep.Send(ctx, sess.gh, sess.st, t.Target, sess.pacer)
	printReplay(o.run.IO.out, t.Target, rep)
	if ferr := sess.st.Flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = redeliver.Wrap(redeliver.EInternal, ferr, "saving the state")
	}
	switch {
	case err != nil:
		return err
	case rep.Stopped != "":
		return &exitError{code: exitIncomplete}
	case len(rep.Failed) > 0:
		return &exitError{code: exitFailed}
	}
	return nil
}

// printReplay tells what a replay chose and, with --yes, what it did.
func printReplay(w io.Writer, t redeliver.Target, rep *redeliver.ReplayReport) {
	when := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	if rep.Sent {
		fmt.Fprintf(w, "replayed %d of %d deliveries of %s (delivered %s to %s)\n", rep.Replayed, len(rep.Selected), t, when(rep.From), when(rep.To))
	} else {
		fmt.Fprintf(w, "would replay %d deliveries of %s (delivered %s to %s)\n", len(rep.Selected), t, when(rep.From), when(rep.To))
	}
	for i, a := range rep.Selected {
		if i == replaySample {
			fmt.Fprintf(w, "  … and %d more\n", len(rep.Selected)-replaySample)
			break
		}
		ev := a.Event
		if a.Action != "" {
			ev += "." + a.Action
		}
		fmt.Fprintf(w, "  %s  id %s  %s  status %d  delivered %s\n", a.GUID, strconv.FormatInt(a.ID, 10), ev, a.StatusCode, when(a.DeliveredAt))
	}
	if n := len(rep.Already); n > 0 {
		fmt.Fprintf(w, "%d already replayed since %s, left alone (--again replays them once more)\n", n, when(rep.From))
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(w, "not replayed: %s (id %d): %s\n", f.Attempt.GUID, f.Attempt.ID, f.Error)
	}
	if rep.Stopped != "" {
		fmt.Fprintln(w, rep.Stopped)
	}
	if !rep.Sent {
		fmt.Fprintln(w, "dry run: nothing was sent; add --yes to replay them")
	}
}
