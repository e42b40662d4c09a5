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

// statusOptions are what `redeliver status` is given. It resolves only
// what reading the state needs: no target, and credentials only for an
// Actions-variable state.
type statusOptions struct {
	IO       *streams
	Settings func() (*config.Settings, error)
	GitHub   gitHubFunc
	State    stateFunc
	Logger   func() *slog.Logger

	flags  config.Flags
	output string
	export exportFlags
}

// targetStatus is what the state knows of one target.
type targetStatus struct {
	Target     string         `json:"target"`
	Checkpoint time.Time      `json:"checkpoint"`
	Counts     map[string]int `json:"counts"` // by ledger state
}

func newStatusCmd(f *factory) *cobra.Command {
	o := &statusOptions{IO: f.IO, GitHub: connect, State: openState, Logger: f.logger}
	o.Settings = f.stateSettings(&o.flags)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show what the state knows per target: checkpoint and events by state",
		Long: `status reads the state (never writes it) and prints, per target, the
checkpoint and how many events are failed (waiting), pending, recovered,
exhausted and expired.`,
		Example: `  redeliver status
  redeliver status --state actions:acme/ops/LAST_REDELIVERY
  redeliver status --json target,checkpoint --template '{{range .}}{{.target}} {{timeago .checkpoint}}{{"\n"}}{{end}}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStatus(cmd.Context(), o)
		},
	}
	fs := cmd.Flags()
	addStateFlag(fs, &o.flags)
	addConnFlags(fs, &o.flags)
	fs.StringVar(&o.flags.Config, "config", "", "YAML file whose state: key names the state")
	fs.StringVarP(&o.output, "output", "o", "text", "output format: text or json")
	addExportFlags(fs, &o.export)
	return cmd
}

func runStatus(ctx context.Context, o *statusOptions) error {
	if o.output != "text" && o.output != "json" {
		return redeliver.Errorf(redeliver.EInvalid, "--output %q: want text or json", o.output)
	}
	if err := o.export.check(jsonFields(targetStatus{})); err != nil {
		return err
	}
	s, err := o.Settings()
	if err != nil {
		return err
	}
	log := o.Logger()
	var gh *githubClient
	if s.State.Kind == config.StateActionsVariable {
		// The variable is read through the API.
		if gh, err = o.GitHub(s, log, nil); err != nil {
			return err
		}
	}
	st, err := o.State(ctx, s, gh, log, true)
	if err != nil {
		return err
	}
	defer st.Close()
	out, err := readStatus(ctx, st)
	if err != nil {
		return err
	}
	if o.export.enabled() {
		return o.export.write(o.IO, out)
	}
	if o.output == "json" {
		enc := json.NewEncoder(o.IO.out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"state": s.State.String(), "targets": out})
	}
	return writeStatus(o.IO.out, s.State, out)
}

// readStatus reads every target's checkpoint and ledger counts.
func readStatus(ctx context.Context, st redeliver.Store) ([]targetStatus, error) {
	keys, err := st.Targets(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	var out []targetStatus
	for _, k := range keys {
		cp, _, err := st.Checkpoint(ctx, k)
		if err != nil {
			return nil, err
		}
		counts, err := st.Counts(ctx, k) // counted by the store, not read whole
		if err != nil {
			return nil, err
		}
		ts := targetStatus{Target: k, Checkpoint: cp.Time, Counts: map[string]int{}}
		for s, n := range counts {
			ts.Counts[string(s)] = n
		}
		out = append(out, ts)
	}
	return out, nil
}

// writeStatus prints the status as a table.
func writeStatus(w io.Writer, loc config.StateLocation, out []targetStatus) error {
	fmt.Fprintf(w, "state: %s\n", loc)
	if len(out) == 0 {
		fmt.Fprintln(w, "no targets yet: nothing has run against this state")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tCHECKPOINT\tFAILED\tPENDING\tRECOVERED\tEXHAUSTED\tEXPIRED")
	for _, t := range out {
		c := t.Counts
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", t.Target, when(t.Checkpoint),
			c[string(redeliver.StateFailed)], c[string(redeliver.StatePending)], c[string(redeliver.StateRecovered)],
			c[string(redeliver.StateExhausted)], c[string(redeliver.StateExpired)])
	}
	return tw.Flush()
}
