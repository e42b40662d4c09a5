package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/actionsvar"
	"github.com/redeliver/redeliver/config"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/sqlite"
)

// connect builds the GitHub client from resolved settings.
func connect(s *config.Settings, log *slog.Logger, onLimit func()) (*githubapi.Client, error) {
	return githubapi.New(githubapi.Config{
		BaseURL:          s.APIURL,
		Token:            s.Token,
		AppID:            s.AppID,
		PrivateKeyPEM:    s.PrivateKey,
		CAFile:           s.CAFile,
		UserAgent:        "redeliver/" + version,
		Logger:           log,
		OnSecondaryLimit: onLimit,
	})
}

// openState opens the state. readOnly stores (dry runs, status) never
// create or change anything; a missing SQLite file then reads as empty.
func openState(ctx context.Context, s *config.Settings, gh *githubClient, log *slog.Logger, readOnly bool) (*state, error) {
	if s.State.Kind == config.StateActionsVariable {
		if gh == nil || gh.REST() == nil {
			return nil, redeliver.Errorf(redeliver.EInvalid, "the Actions variable %s needs a token", s.State.Variable)
		}
		st, err := actionsvar.New(ctx, gh.REST(), s.State.Owner, s.State.Repo, s.State.Variable,
			actionsvar.WithLogger(log))
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

// sameURL compares payload URLs loosely: a trailing slash does not matter.
func sameURL(a, b string) bool {
	return strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

// plannedTarget is a target with its policy.
type plannedTarget struct {
	redeliver.Target
	Policy redeliver.Policy
}

// githubClient is the GitHub adapter as the commands hold it.
type githubClient = githubapi.Client
