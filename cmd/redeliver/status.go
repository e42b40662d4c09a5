package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/config"
)

type statusOptions struct {
	flags  config.Flags
	output string
}

// targetStatus is what the state knows of one target.
type targetStatus struct {
	Target     string         `json:"target"`
	Checkpoint time.Time      `json:"checkpoint"`
	Counts     map[string]int `json:"counts"` // by ledger state
}

func newStatusCmd(io *streams) *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the state knows per target: checkpoint and events by state",
		Long: `status reads the state (never writes it) and prints, per target, the
checkpoint and how many events are failed (waiting), pending, recovered,
exhausted and expired.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), io, o)
		},
	}
	addStateFlag(cmd.Flags(), &o.flags)
	addConnFlags(cmd.Flags(), &o.flags)
	cmd.Flags().StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	return cmd
}

func runStatus(ctx context.Context, io *streams, o *statusOptions) error {
	if o.output != "text" && o.output != "json" {
		return redeliver.Errorf(redeliver.EInvalid, "--output %q: want text or json", o.output)
	}
	loc, err := statusLocation(o.flags, io.getenv)
	if err != nil {
		return err
	}
	s := &config.Settings{State: loc}
	if loc.Kind == config.StateActionsVariable {
		// The variable is read through the API: resolve connection and token.
		full, err := config.Resolve(withAnyTarget(o.flags), io.getenv, nil)
		if err != nil {
			return err
		}
		full.State = loc
		s = full
	}
	var gh = (*githubClient)(nil)
	if loc.Kind == config.StateActionsVariable {
		c, err := connect(s, newLogger(io.err, false), nil)
		if err != nil {
			return err
		}
		gh = c
	}
	store, _, err := openStore(ctx, s, gh, true)
	if err != nil {
		return err
	}
	defer store.Close()
	keys, err := store.Targets(ctx)
	if err != nil {
		return err
	}
	slices.Sort(keys)
	var out []targetStatus
	for _, k := range keys {
		cp, _, err := store.Checkpoint(ctx, k)
		if err != nil {
			return err
		}
		es, err := store.Entries(ctx, k)
		if err != nil {
			return err
		}
		ts := targetStatus{Target: k, Checkpoint: cp.Time, Counts: map[string]int{}}
		for _, e := range es {
			ts.Counts[string(e.State)]++
		}
		out = append(out, ts)
	}
	if o.output == "json" {
		enc := json.NewEncoder(io.out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"state": loc.String(), "targets": out})
	}
	fmt.Fprintf(io.out, "state: %s\n", loc)
	if len(out) == 0 {
		fmt.Fprintln(io.out, "no targets yet: nothing has run against this state")
		return nil
	}
	tw := tabwriter.NewWriter(io.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCHECKPOINT\tFAILED\tPENDING\tRECOVERED\tEXHAUSTED\tEXPIRED")
	for _, t := range out {
		c := t.Counts
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", t.Target, when(t.Checkpoint),
			c[string(redeliver.StateFailed)], c[string(redeliver.StatePending)], c[string(redeliver.StateRecovered)],
			c[string(redeliver.StateExhausted)], c[string(redeliver.StateExpired)])
	}
	return tw.Flush()
}

// statusLocation finds the state without needing a target.
func statusLocation(f config.Flags, env config.Getenv) (config.StateLocation, error) {
	if f.State != "" {
		return config.ParseState(f.State, "--state")
	}
	if name := env("LAST_REDELIVERY_VARIABLE_NAME"); name != "" {
		s, err := config.Resolve(withAnyTarget(f), env, nil)
		if err != nil {
			return config.StateLocation{}, err
		}
		return s.State, nil
	}
	return config.StateLocation{Kind: config.StateSQLite, From: "default"}, nil
}

// withAnyTarget lets config.Resolve check the connection settings of a
// command that has no target of its own.
func withAnyTarget(f config.Flags) config.Flags {
	if f.Org == "" && f.Repo == "" && !f.App && f.Config == "" {
		f.Org = "status"
		f.Hook = "1"
	}
	return f
}
