package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/actionsvar"
	"github.com/redeliver/redeliver/config"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/sqlite"
)

// connect builds the GitHub client from resolved settings.
func connect(s *config.Settings, log *slog.Logger, pace paceListener) (*githubapi.Client, error) {
	cfg := githubapi.Config{
		BaseURL:       s.APIURL,
		Token:         s.Token,
		AppID:         s.AppID,
		PrivateKeyPEM: s.PrivateKey,
		CAFile:        s.CAFile,
		UserAgent:     "redeliver/" + version,
		Logger:        log,
	}
	if pace != nil {
		cfg.OnSecondaryWait = pace.limited
		cfg.OnAnswer = func(_ context.Context, a githubapi.Answer) { pace.answered(a.Route) }
	}
	return githubapi.New(cfg)
}

// openState opens the state. readOnly stores (dry runs, status) never
// create or change anything; a missing SQLite file then reads as empty.
func openState(ctx context.Context, s *config.Settings, gh *githubClient, log *slog.Logger, readOnly bool) (*state, error) {
	if s.State.Kind == config.StateActionsVariable {
		if gh == nil || gh.REST() == nil {
			return nil, redeliver.Errorf(redeliver.EInvalid, "the Actions variable %s needs a token", s.State.Variable)
		}
		st, err := actionsvar.New(ctx, gh.REST(), s.State.Owner, s.State.Repo, s.State.Variable,
			actionsvar.WithLogger(log), actionsvar.WithErrors(gh.Explain))
		if err != nil {
			return nil, err
		}
		flush := func(ctx context.Context) error {
			if readOnly {
				return nil
			}
			return st.Flush(ctx)
		}
		return &state{Store: st, Flush: flush, Dropped: st.Dropped}, nil
	}
	if st, ok, err := openStateStore(ctx, s.State.Path, readOnly); ok {
		if err != nil {
			return nil, err
		}
		return &state{Store: st, Flush: noFlush, Dropped: noDrops}, nil
	}
	path, err := statePath(s)
	if err != nil {
		return nil, err
	}
	if readOnly {
		if _, err := os.Stat(path); os.IsNotExist(err) {
			return &state{Store: emptyStore{}, Flush: noFlush, Dropped: noDrops}, nil
		}
		st, err := sqlite.OpenReadOnly(path)
		if err != nil {
			return nil, err
		}
		return &state{Store: st, Flush: noFlush, Dropped: noDrops}, nil
	}
	st, err := sqlite.Open(path)
	if err != nil {
		return nil, err
	}
	return &state{Store: st, Flush: noFlush, Dropped: noDrops}, nil
}

// statePath is the SQLite file of the settings (config fills in the
// default path from the environment it was given).
func statePath(s *config.Settings) (string, error) {
	if s.State.Path != "" {
		return s.State.Path, nil
	}
	return "", redeliver.Errorf(redeliver.EInvalid, "no state path: neither XDG_STATE_HOME nor HOME is set to an absolute path; give --state")
}

// stateFileExists reports whether the state is a SQLite file that exists.
func stateFileExists(s *config.Settings) bool {
	if s.State.Kind != config.StateSQLite || s.State.Path == "" {
		return false
	}
	_, err := os.Stat(s.State.Path)
	return err == nil
}

func noDrops() int { return 0 }

func noFlush(context.Context) error { return nil }

// expandTargets turns target specs into targets, listing hooks where a
// spec names every hook of an org or repo, or a hook by its URL.
func expandTargets(ctx context.Context, gh redeliver.HookLister, specs []config.TargetSpec) ([]plannedTarget, []error) {
	var out []plannedTarget
	var errs []error
	for _, sp := range specs {
		t := redeliver.Target{Kind: sp.Kind, Owner: sp.Owner, Repo: sp.Repo, HookID: sp.HookID, AppID: sp.AppID}
		if sp.Kind == redeliver.KindApp || sp.HookID != 0 {
			out = append(out, plannedTarget{Target: t, Policy: sp.Policy})
			continue
		}
		hooks, err := gh.ListHooks(ctx, sp.Owner, sp.Repo)
		where := "org " + sp.Owner
		if sp.Repo != "" {
			where = "repo " + sp.Owner + "/" + sp.Repo
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("listing the hooks of %s: %w", where, err))
			continue
		}
		var matched []redeliver.Hook
		for _, h := range hooks {
			if sp.HookURL == "" || sameURL(h.URL, sp.HookURL) {
				matched = append(matched, h)
			}
		}
		switch {
		case sp.HookURL != "" && len(matched) == 0:
			errs = append(errs, redeliver.Errorf(redeliver.EInvalid, "--hook-url %s: no hook of %s has this payload URL", sp.HookURL, where))
			continue
		case sp.HookURL != "" && len(matched) > 1:
			ids := make([]string, len(matched))
			for i, h := range matched {
				ids[i] = fmt.Sprint(h.ID)
			}
			errs = append(errs, redeliver.Errorf(redeliver.EInvalid, "--hook-url %s: %d hooks of %s have this payload URL (ids %s); pick one with --hook", sp.HookURL, len(matched), where, strings.Join(ids, ", ")))
			continue
		}
		for _, h := range matched {
			tt := t
			tt.HookID = h.ID
			out = append(out, plannedTarget{Target: tt, Policy: sp.Policy})
		}
	}
	return out, errs
}

// reachable marks the targets given by hook id whose hook the
// credentials cannot see as failed: a wrong org, repo or hook id is found
// before a new state is created for it. It costs one hook listing per org
// or repository, so it is done only then.
func reachable(ctx context.Context, gh redeliver.HookLister, targets []plannedTarget) {
	listed := map[string][]redeliver.Hook{}
	for i := range targets {
		t := &targets[i]
		if t.Kind == redeliver.KindApp {
			continue // CheckAuth has read the App
		}
		where := "org " + t.Owner
		if t.Repo != "" {
			where = "repo " + t.Owner + "/" + t.Repo
		}
		hooks, ok := listed[where]
		if !ok {
			var err error
			if hooks, err = gh.ListHooks(ctx, t.Owner, t.Repo); err != nil {
				t.fail(err)
				continue
			}
			listed[where] = hooks
		}
		if !slices.ContainsFunc(hooks, func(h redeliver.Hook) bool { return h.ID == t.HookID }) {
			ids := make([]string, len(hooks))
			for i, h := range hooks {
				ids[i] = fmt.Sprint(h.ID)
			}
			t.fail(redeliver.Errorf(redeliver.ENotFound, "%s has no hook %d (its hooks: %s)", where, t.HookID, orNone(strings.Join(ids, ", "))))
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// sameURL compares payload URLs loosely: a trailing slash does not matter.
func sameURL(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// plannedTarget is a target with its policy.
type plannedTarget struct {
	redeliver.Target
	Policy redeliver.Policy
	// failed is the report of a target found unusable before the run.
	failed *redeliver.Report
}

// fail records why the target cannot be worked on.
func (t *plannedTarget) fail(err error) {
	t.failed = &redeliver.Report{Target: t.Key(), Name: t.String(), Error: err.Error(), ErrorCode: redeliver.ErrorCode(err)}
}

// githubClient is the GitHub adapter as the commands hold it.
type githubClient = githubapi.Client
