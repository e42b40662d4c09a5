package config

import (
	"net/url"
	"strings"

	"github.com/redeliver/redeliver"
)

// resolveTargets reads the targets from the flags, else the config file,
// else the docs scripts' environment (ORGANIZATION_NAME or REPO_OWNER and
// REPO_NAME with HOOK_ID; APP_ID alone for the App hook).
func resolveTargets(s *Settings, f Flags, file *File, env Getenv) error {
	given := 0
	for _, set := range []bool{f.Org != "", f.Repo != "", f.App} {
		if set {
			given++
		}
	}
	if given > 1 {
		return errf("give one of --org, --repo or --app (use --config for several targets)")
	}
	if given == 0 && (f.Hook != "" || f.HookURL != "") {
		return errf("--hook and --hook-url need --org or --repo")
	}
	if f.Hook != "" && f.HookURL != "" {
		return errf("give --hook or --hook-url, not both")
	}
	if given > 0 && file != nil {
		return errf("targets come either from the command line or from --config %s, not both", file.name)
	}
	if f.HookURL != "" {
		if err := checkHookURL(f.HookURL, "--hook-url"); err != nil {
			return err
		}
	}

	switch {
	case given == 1:
		spec := TargetSpec{HookURL: f.HookURL, Policy: s.Policy}
		if f.Hook != "" {
			id, err := ParseHookID(f.Hook, "--hook")
			if err != nil {
				return err
			}
			spec.HookID = id
		}
		switch {
		case f.Org != "":
			if !validLogin(f.Org) {
				return errf("--org %q: not an organization name", truncate(f.Org))
			}
			spec.Kind, spec.Owner = redeliver.KindOrg, f.Org
		case f.Repo != "":
			owner, repo, ok := splitRepo(f.Repo)
			if !ok {
				return errf("--repo %q: want OWNER/REPO", truncate(f.Repo))
			}
			spec.Kind, spec.Owner, spec.Repo = redeliver.KindRepo, owner, repo
		default:
			if f.Hook != "" || f.HookURL != "" {
				return errf("--app has one hook; --hook and --hook-url do not apply")
			}
			spec.Kind, spec.AppID = redeliver.KindApp, s.AppID
		}
		s.Targets = []TargetSpec{spec}
	case file != nil:
		for i, ft := range file.Targets {
			pol, err := applyOptions(s.Policy, ft.PolicyOptions, "config "+file.name+": targets["+itoaInt(i)+"]")
			if err != nil {
				return err
			}
			spec := TargetSpec{HookID: ft.Hook, HookURL: ft.HookURL, Policy: pol}
			switch {
			case ft.Org != "":
				if !validLogin(ft.Org) {
					return errf("config %s: targets[%d]: org %q: not an organization name", file.name, i, truncate(ft.Org))
				}
				spec.Kind, spec.Owner = redeliver.KindOrg, ft.Org
			case ft.Repo != "":
				owner, repo, _ := splitRepo(ft.Repo)
				spec.Kind, spec.Owner, spec.Repo = redeliver.KindRepo, owner, repo
			default:
				spec.Kind, spec.AppID = redeliver.KindApp, s.AppID
			}
			if ft.HookURL != "" {
				if err := checkHookURL(ft.HookURL, "config "+file.name+": targets["+itoaInt(i)+"].hook_url"); err != nil {
					return err
				}
			}
			s.Targets = append(s.Targets, spec)
		}
	default:
		spec, ok, err := docsTarget(env, s)
		if err != nil {
			return err
		}
		if !ok {
			return errf("no target: give --org, --repo, --app or --config (or the docs script's ORGANIZATION_NAME, or REPO_OWNER and REPO_NAME, with HOOK_ID)")
		}
		s.Targets = []TargetSpec{spec}
	}
	return nil
}

// docsTarget reads the target the way the three docs scripts do.
func docsTarget(env Getenv, s *Settings) (TargetSpec, bool, error) {
	org, owner, name := env("ORGANIZATION_NAME"), env("REPO_OWNER"), env("REPO_NAME")
	spec := TargetSpec{Policy: s.Policy}
	switch {
	case org != "" && (owner != "" || name != ""):
		return spec, false, errf("ORGANIZATION_NAME and REPO_OWNER/REPO_NAME are both set: the docs scripts take one or the other")
	case org != "":
		if !validLogin(org) {
			return spec, false, errf("ORGANIZATION_NAME=%q: not an organization name", truncate(org))
		}
		spec.Kind, spec.Owner = redeliver.KindOrg, org
	case owner != "" || name != "":
		if owner == "" || name == "" {
			return spec, false, errf("REPO_OWNER and REPO_NAME go together (one of them is empty)")
		}
		if _, _, ok := splitRepo(owner + "/" + name); !ok {
			return spec, false, errf("REPO_OWNER=%q REPO_NAME=%q: not a repository", truncate(owner), truncate(name))
		}
		spec.Kind, spec.Owner, spec.Repo = redeliver.KindRepo, owner, name
	case s.AppID != 0:
		spec.Kind, spec.AppID = redeliver.KindApp, s.AppID
		return spec, true, nil
	default:
		if env("HOOK_ID") != "" {
			return spec, false, errf("HOOK_ID is set but neither ORGANIZATION_NAME nor REPO_OWNER/REPO_NAME names where the hook is")
		}
		return spec, false, nil
	}
	if env("HOOK_ID") == "" {
		return spec, false, errf("HOOK_ID is not set: the docs scripts need the hook's id")
	}
	id, err := ParseHookID(env("HOOK_ID"), "HOOK_ID")
	if err != nil {
		return spec, false, err
	}
	spec.HookID = id
	return spec, true, nil
}

func checkHookURL(raw, from string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return errf("%s %q: want the hook's payload URL, like https://ci.example.com/webhook", from, truncate(raw))
	}
	return nil
}

// splitRepo splits OWNER/REPO.
func splitRepo(s string) (owner, repo string, ok bool) {
	owner, repo, found := strings.Cut(s, "/")
	if !found || !validLogin(owner) || !validRepoName(repo) {
		return "", "", false
	}
	return owner, repo, true
}

// validLogin accepts GitHub user and organization names: letters, digits
// and single hyphens, at most 39 characters (GHES also allows _).
func validLogin(s string) bool {
	if s == "" || len(s) > 39 || strings.HasPrefix(s, "-") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// validRepoName accepts repository names: letters, digits, '.', '-', '_'.
func validRepoName(s string) bool {
	if s == "" || len(s) > 100 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
