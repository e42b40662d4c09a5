package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// File is the YAML configuration file: many targets across orgs, repos and
// Apps, each with its own options. Unknown keys are errors.
//
//	api_url: https://ghe.example.com/api/v3
//	state: /var/lib/redeliver/state.db
//	defaults:
//	  max_attempts: 5
//	targets:
//	  - org: acme
//	    hook: 12
//	  - repo: acme/api        # every hook of the repository
//	  - org: acme
//	    hook_url: https://ci.example.com/hook
//	    events: [push, pull_request.opened]
//	  - app: true
type File struct {
	APIURL   string        `yaml:"api_url"`
	Hostname string        `yaml:"hostname"`
	CAFile   string        `yaml:"ca_file"`
	State    string        `yaml:"state"`
	Defaults PolicyOptions `yaml:"defaults"`
	Targets  []FileTarget  `yaml:"targets"`
	name     string        // the file's path, for messages
}

// PolicyOptions are the per-target options, in the file's defaults or on a
// target. Unset fields inherit.
type PolicyOptions struct {
	MaxAttempts     *int     `yaml:"max_attempts"`
	RetryBase       string   `yaml:"retry_base"`
	Since           string   `yaml:"since"`
	Events          []string `yaml:"events"`
	ExcludeEvents   []string `yaml:"exclude_events"`
	MaxRedeliveries *int     `yaml:"max_redeliveries"`
}

// FileTarget is one entry of targets: exactly one of org, repo, app.
type FileTarget struct {
	Org           string `yaml:"org"`
	Repo          string `yaml:"repo"`
	App           bool   `yaml:"app"`
	Hook          int64  `yaml:"hook"`
	HookURL       string `yaml:"hook_url"`
	PolicyOptions `yaml:",inline"`
}

// ParseFile decodes and checks a configuration file; name is its path, used
// in every error.
func ParseFile(data []byte, name string) (*File, error) {
	f := &File{}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errf("config %s: the file is empty", name)
	}
	if err := unmarshalYAML(data, f); err != nil {
		if msg, ok := yamlValueMessage(err, data); ok {
			return nil, errf("config %s: %s", name, msg)
		}
		return nil, errf("config %s: %s", name, yamlMessage(err))
	}
	f.name = name
	if len(f.Targets) == 0 {
		return nil, errf("config %s: no targets (add a targets: list with org, repo or app entries)", name)
	}
	for i, t := range f.Targets {
		n := 0
		for _, set := range []bool{t.Org != "", t.Repo != "", t.App} {
			if set {
				n++
			}
		}
		where := func() string { return "config " + name + ": targets[" + strconv.Itoa(i) + "]" }
		switch {
		case n != 1:
			return nil, errf("%s: give exactly one of org, repo or app", where())
		case t.App && (t.Hook != 0 || t.HookURL != ""):
			return nil, errf("%s: an App has one hook; hook and hook_url do not apply", where())
		case t.Hook < 0:
			return nil, errf("%s: hook must be a positive integer", where())
		case t.Hook != 0 && t.HookURL != "":
			return nil, errf("%s: give hook or hook_url, not both", where())
		}
		if t.Repo != "" {
			if _, _, ok := splitRepo(t.Repo); !ok {
				return nil, errf("%s: repo %q: want OWNER/REPO", where(), truncate(t.Repo))
			}
		}
	}
	return f, nil
}

// yamlMessage keeps the parser's first line (it names the line and the
// key) without the source excerpt it prints below it.
func yamlMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "\n"); i > 0 {
		msg = msg[:i]
	}
	return msg
}

// unmarshalYAML decodes strictly and turns a panic of the decoder
// (goccy/go-yaml#735: a tag on a value where a list is expected) into an
// error, so that a bad file is a clear error and not a crash.
func unmarshalYAML(data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed on this file (%v); look for a tag such as !!seq on an empty value", r)
		}
	}()
	return yaml.UnmarshalWithOptions(data, v, yaml.DisallowUnknownField())
}
