package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/postgres"
	"github.com/redeliver/redeliver/sqlite"
)

type stateCopyOptions struct {
	from, to string
	lockWait time.Duration
}

func newStateCmd(io *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Work on the state itself: copy it between SQLite and PostgreSQL",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newStateCopyCmd(io))
	return cmd
}

func newStateCopyCmd(io *streams) *cobra.Command {
	o := &stateCopyOptions{}
	cmd := &cobra.Command{
		Use:   "copy --from STATE --to STATE",
		Short: "Copy every checkpoint and ledger entry from one state to another",
		Long: `state copy moves a state between stores: from a SQLite file to
PostgreSQL when one machine is no longer enough, or back. STATE is a file
path (or sqlite:PATH) or a postgres:// URL.

It holds both states' locks while it copies, so no run or serve replica
changes either meanwhile. The destination must be empty: a missing file, an
empty file, or a schema with no redeliver state in it. A state with anything
in it is refused rather than merged, because overwriting a ledger entry can
make redeliver ask for an event twice. After copying, it reads everything
back and compares.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStateCopy(cmd.Context(), io, o)
		},
	}
	cmd.Flags().StringVar(&o.from, "from", "", "the state to copy: a file path or a postgres:// URL")
	cmd.Flags().StringVar(&o.to, "to", "", "the empty state to fill: a file path or a postgres:// URL")
	cmd.Flags().DurationVar(&o.lockWait, "lock-wait", 0, "how long to wait for a run holding either state")
	return cmd
}

// copyEnd is one side of a copy.
type copyEnd struct {
	flag, spec string
}

// name is how messages show the state: a URL without its password.
func (e copyEnd) name() string {
	if postgres.IsURL(e.spec) {
		return postgres.Redact(e.spec)
	}
	return strings.TrimPrefix(e.spec, "sqlite:")
}

func (e copyEnd) check() error {
	switch {
	case strings.TrimSpace(e.spec) == "":
		return redeliver.Errorf(redeliver.EInvalid, "%s is required: a file path or a postgres:// URL", e.flag)
	case strings.HasPrefix(e.spec, "actions:"):
		return redeliver.Errorf(redeliver.EInvalid, "%s %s: state copy moves SQLite and PostgreSQL states, not Actions variables", e.flag, e.spec)
	case strings.ContainsRune(e.spec, 0):
		return redeliver.Errorf(redeliver.EInvalid, "%s: the path contains a NUL byte", e.flag)
	}
	return nil
}

// open opens one end: the source read-only, the destination for writing.
func (e copyEnd) open(ctx context.Context, readOnly bool) (redeliver.Store, error) {
	var st redeliver.Store
	var err error
	if postgres.IsURL(e.spec) {
		st, err = postgres.Open(ctx, e.spec, postgres.Options{ReadOnly: readOnly})
	} else if path := strings.TrimPrefix(e.spec, "sqlite:"); readOnly {
		st, err = sqlite.OpenReadOnly(path)
	} else {
		st, err = sqlite.Open(path)
	}
	if err != nil {
		return nil, redeliver.Wrap(redeliver.ErrorCode(err), err, "%s", e.flag)
	}
	return st, nil
}

func runStateCopy(ctx context.Context, io *streams, o *stateCopyOptions) error {
	from, to := copyEnd{"--from", o.from}, copyEnd{"--to", o.to}
	for _, e := range []copyEnd{from, to} {
		if err := e.check(); err != nil {
			return err
		}
	}
	if o.lockWait < 0 {
		return redeliver.Errorf(redeliver.EInvalid, "--lock-wait %s: must not be negative", o.lockWait)
	}
	if sameState(from.spec, to.spec) {
		return redeliver.Errorf(redeliver.EInvalid, "--from and --to name the same state (%s)", from.name())
	}
	src, err := from.open(ctx, true)
	if err != nil {
		if redeliver.ErrorCode(err) == redeliver.ENotFound {
			return redeliver.Wrap(redeliver.EInvalid, err, "nothing to copy")
		}
		return err
	}
	defer src.Close()
	dst, err := to.open(ctx, false)
	if err != nil {
		return err
	}
	defer dst.Close()

	for _, l := range []struct {
		end copyEnd
		st  redeliver.Store
	}{{from, src}, {to, dst}} {
		unlock, err := l.st.Lock(ctx, o.lockWait)
		if err != nil {
			return redeliver.Wrap(redeliver.ErrorCode(err), err, "%s", l.end.flag)
		}
		defer unlock()
	}

	if keys, err := dst.Targets(ctx); err != nil {
		return err
	} else if len(keys) > 0 {
		return redeliver.Errorf(redeliver.EInvalid,
			"--to %s already holds a state (%d targets): state copy fills only an empty state, so that no ledger entry is overwritten; copy to a new file or an empty schema (?search_path=NAME)",
			to.name(), len(keys))
	}
	keys, err := src.Targets(ctx)
	if err != nil {
		return err
	}
	srcMarks, _ := src.(alertMarks)
	dstMarks, _ := dst.(alertMarks)
	var checkpoints, entries, marks int
	for _, k := range keys {
		cp, ok, err := src.Checkpoint(ctx, k)
		if err != nil {
			return err
		}
		// Ledger first, checkpoint last, as a run writes them: a copy
		// that stops halfway never has a checkpoint ahead of its ledger.
		// A batch at a time, so a ledger of millions is never held whole.
		err = redeliver.EachBatch(ctx, src.EntriesAfter, k, copyBatch, func(es []redeliver.LedgerEntry) error {
			if err := dst.Put(ctx, k, es...); err != nil {
				return copyStopped(to, err)
			}
			entries += len(es)
			return nil
		})
		if err != nil {
			return err
		}
		if ok {
			if err := dst.SetCheckpoint(ctx, k, cp); err != nil {
				return copyStopped(to, err)
			}
			checkpoints++
		}
		// What alerts already told goes too: the copy must not tell it
		// again.
		if srcMarks != nil && dstMarks != nil {
			m, err := srcMarks.AlertMarks(ctx, k)
			if err != nil {
				return err
			}
			if err := dstMarks.SetAlertMarks(ctx, k, time.Now(), m); err != nil {
				return copyStopped(to, err)
			}
			marks += len(m)
		}
	}
	if err := verifyCopy(ctx, src, dst, keys); err != nil {
		return err
	}
	fmt.Fprintf(io.out, "copied %d targets (%d checkpoints, %d ledger entries, %d alert marks) from %s to %s\n",
		len(keys), checkpoints, entries, marks, from.name(), to.name())
	return nil
}

// copyBatch is how many ledger entries state copy reads and writes at once.
const copyBatch = 2000

// copyStopped says what a failed write left behind.
func copyStopped(to copyEnd, err error) error {
	return redeliver.Wrap(redeliver.ErrorCode(err), err,
		"the copy stopped halfway: %s holds part of the state; remove it (or drop its redeliver_* tables) before copying again", to.name())
}

// verifyCopy reads the destination back and compares it with the source.
func verifyCopy(ctx context.Context, src, dst redeliver.Store, keys []string) error {
	got, err := dst.Targets(ctx)
	if err != nil {
		return err
	}
	if !slices.Equal(got, keys) {
		return redeliver.Errorf(redeliver.EInternal, "the copy does not read back: %d targets instead of %d", len(got), len(keys))
	}
	for _, k := range keys {
		ca, oka, err1 := src.Checkpoint(ctx, k)
		cb, okb, err2 := dst.Checkpoint(ctx, k)
		na, err3 := src.Counts(ctx, k)
		nb, err4 := dst.Counts(ctx, k)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return err
		}
		same, err := sameLedger(ctx, src, dst, k)
		if err != nil {
			return err
		}
		if !same || !maps.Equal(na, nb) || oka != okb || ca != cb {
			return redeliver.Errorf(redeliver.EInternal, "the copy does not read back the same for target %s", k)
		}
		sm, _ := src.(alertMarks)
		dm, _ := dst.(alertMarks)
		if sm != nil && dm != nil {
			ma, err1 := sm.AlertMarks(ctx, k)
			mb, err2 := dm.AlertMarks(ctx, k)
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			if !maps.Equal(ma, mb) {
				return redeliver.Errorf(redeliver.EInternal, "the copy does not read back the same alert marks for target %s", k)
			}
		}
	}
	return nil
}

// sameLedger says whether every entry of target k in src reads back the
// same from dst, a batch at a time (with Counts, that they hold the same).
// The two stores may order guids differently, so each batch is looked up.
func sameLedger(ctx context.Context, src, dst redeliver.Store, k string) (bool, error) {
	err := redeliver.EachBatch(ctx, src.EntriesAfter, k, copyBatch, func(es []redeliver.LedgerEntry) error {
		guids := make([]string, len(es))
		for i, e := range es {
			guids[i] = e.GUID
		}
		back, err := dst.Lookup(ctx, k, guids)
		if err != nil {
			return err
		}
		byGUID := make(map[string]redeliver.LedgerEntry, len(back))
		for _, e := range back {
			byGUID[e.GUID] = e
		}
		for _, e := range es {
			if b, ok := byGUID[e.GUID]; !ok || b != e {
				return errDiffers
			}
		}
		return nil
	})
	if errors.Is(err, errDiffers) {
		return false, nil
	}
	return err == nil, err
}

// errDiffers ends sameLedger's walk at the first entry that differs.
var errDiffers = errors.New("the copy differs")

// alertMarks is a store that keeps what alerts told (both SQLite and
// PostgreSQL do).
type alertMarks interface {
	AlertMarks(ctx context.Context, key string) (map[string]string, error)
	SetAlertMarks(ctx context.Context, key string, at time.Time, marks map[string]string) error
}

// sameState reports whether two specs name the same state, as far as can
// be told without opening them.
func sameState(a, b string) bool {
	if postgres.IsURL(a) || postgres.IsURL(b) {
		return a == b
	}
	pa, err1 := filepath.Abs(strings.TrimPrefix(a, "sqlite:"))
	pb, err2 := filepath.Abs(strings.TrimPrefix(b, "sqlite:"))
	return err1 == nil && err2 == nil && pa == pb
}
