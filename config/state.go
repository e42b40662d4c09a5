package config

import (
	"net/url"
	"path/filepath"
	"strings"

	"github.com/redeliver/redeliver/actionsvar"
)

// StateKind says where the checkpoints and the ledger live.
type StateKind int

// State kinds.
const (
	StateSQLite          StateKind = iota // a SQLite file (the default)
	StateActionsVariable                  // repository Actions variables, as the docs script
)

// StateLocation is where the state lives.
type StateLocation struct {
	Kind StateKind
	// Path is the SQLite file; "" means the default path.
	Path string
	// Owner, Repo and Variable name the Actions variable.
	Owner, Repo, Variable string
	// From names the flag, file key or variables that chose it.
	From string
}

// String describes the location for people.
func (l StateLocation) String() string {
	if l.Kind == StateActionsVariable {
		return "Actions variable " + l.Variable + " of " + l.Owner + "/" + l.Repo
	}
	if l.Path == "" {
		return "the default state file"
	}
	return redactURL(l.Path)
}

// redactURL hides the password of a state URL (postgres://user:pw@host/db,
// or ?password=pw); a path is returned as it is.
func redactURL(p string) string {
	scheme, _, isURL := strings.Cut(p, "://")
	if !isURL {
		return p
	}
	u, err := url.Parse(p)
	if err != nil {
		return scheme + "://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// CheckVariableName applies GitHub's rules for variable names (the
// Actions-variable store's rule); from names where the name came from.
func CheckVariableName(name, from string) error {
	if err := actionsvar.ValidateName(name); err != nil {
		return errf("%s: %v", from, err)
	}
	return nil
}

// DefaultStatePath is where the SQLite state lives unless --state says
// otherwise: $XDG_STATE_HOME/redeliver/state.db, else
// $HOME/.local/state/redeliver/state.db. It reads env, not the process
// environment, so tests and callers decide what it sees.
func DefaultStatePath(env Getenv) (string, error) {
	if dir := env("XDG_STATE_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "redeliver", "state.db"), nil
	}
	if home := env("HOME"); home != "" && filepath.IsAbs(home) {
		return filepath.Join(home, ".local", "state", "redeliver", "state.db"), nil
	}
	return "", errf("cannot find a place for the state: neither XDG_STATE_HOME nor HOME is an absolute path; set one, or give --state")
}

// resolveState reads --state (a path, or actions:OWNER/REPO/NAME), else
// state in the config file, else the docs script's
// LAST_REDELIVERY_VARIABLE_NAME with WORKFLOW_REPO_OWNER and
// WORKFLOW_REPO_NAME (or GITHUB_REPOSITORY), else the default file.
func resolveState(s *Settings, f Flags, file *File, env Getenv) error {
	raw, from := f.State, "--state"
	if raw == "" && file != nil && file.State != "" {
		raw, from = file.State, "state in "+file.name
	}
	if raw != "" {
		loc, err := ParseState(raw, from)
		if err != nil {
			return err
		}
		s.State = loc
		return nil
	}
	name := env("LAST_REDELIVERY_VARIABLE_NAME")
	if name == "" {
		// Without a home the path stays empty; commands that need the
		// file say so then (status of an Actions variable does not).
		path, _ := DefaultStatePath(env)
		s.State = StateLocation{Kind: StateSQLite, Path: path, From: "default"}
		return nil
	}
	if err := CheckVariableName(name, "LAST_REDELIVERY_VARIABLE_NAME"); err != nil {
		return err
	}
	owner, repo := env("WORKFLOW_REPO_OWNER"), env("WORKFLOW_REPO_NAME")
	if owner == "" || repo == "" {
		// A scheduled run has no github.event.repository, so the docs
		// workflow's WORKFLOW_REPO_NAME is empty then: GITHUB_REPOSITORY
		// (always set by Actions) fills in what is missing.
		if gOwner, gRepo, ok := strings.Cut(env("GITHUB_REPOSITORY"), "/"); ok &&
			(owner == "" || strings.EqualFold(owner, gOwner)) && (repo == "" || strings.EqualFold(repo, gRepo)) {
			owner, repo = gOwner, gRepo
		}
	}
	if owner == "" || repo == "" {
		return errf("LAST_REDELIVERY_VARIABLE_NAME is set but WORKFLOW_REPO_OWNER and WORKFLOW_REPO_NAME (or GITHUB_REPOSITORY) do not name the repository that holds it")
	}
	if _, _, ok := splitRepo(owner + "/" + repo); !ok {
		return errf("WORKFLOW_REPO_OWNER=%q WORKFLOW_REPO_NAME=%q: not a repository", truncate(owner), truncate(repo))
	}
	s.State = StateLocation{Kind: StateActionsVariable, Owner: owner, Repo: repo, Variable: name, From: "LAST_REDELIVERY_VARIABLE_NAME"}
	return nil
}

// ParseState reads a state location: "actions:OWNER/REPO/NAME" for an
// Actions variable, "sqlite:PATH" or a plain path for a SQLite file.
func ParseState(raw, from string) (StateLocation, error) {
	if rest, ok := strings.CutPrefix(raw, "actions:"); ok {
		parts := strings.Split(rest, "/")
		if len(parts) != 3 {
			return StateLocation{}, errf("%s %q: want actions:OWNER/REPO/VARIABLE", from, truncate(raw))
		}
		if _, _, ok := splitRepo(parts[0] + "/" + parts[1]); !ok {
			return StateLocation{}, errf("%s %q: %s/%s is not a repository", from, truncate(raw), parts[0], parts[1])
		}
		if err := CheckVariableName(parts[2], from); err != nil {
			return StateLocation{}, err
		}
		return StateLocation{Kind: StateActionsVariable, Owner: parts[0], Repo: parts[1], Variable: parts[2], From: from}, nil
	}
	path := strings.TrimPrefix(raw, "sqlite:")
	if strings.TrimSpace(path) == "" || strings.ContainsRune(path, 0) {
		return StateLocation{}, errf("%s %q: want a file path or actions:OWNER/REPO/VARIABLE", from, truncate(raw))
	}
	return StateLocation{Kind: StateSQLite, Path: path, From: from}, nil
}
