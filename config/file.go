package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	yamlguard "go.yaml.in/yaml/v4"
	"go.yaml.in/yaml/v4/plugin/loaderlimits"
)

// Limits on a configuration file, checked before the YAML decoder sees it.
// A file with a thousand targets is about 60 KB, nested 5 levels deep, with
// a few thousand values; the limits are far above that and far below what
// would cost a noticeable time or memory.
const (
	// MaxFileBytes is the largest configuration file read (1 MiB). The same
	// cap applies to token and private key files.
	MaxFileBytes = 1 << 20
	// maxDepth is how deeply collections may nest, counted separately for
	// flow ([…], {…}) and block (indented) collections.
	maxDepth = 64
	// maxValues is how many values (scalars and collections) the file may
	// hold once every alias is replaced by what it names.
	maxValues = 100_000
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
	if len(data) > MaxFileBytes {
		return nil, errf("config %s: %d bytes, more than the %d (1 MiB) a configuration file may have", name, len(data), MaxFileBytes)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errf("config %s: the file is empty", name)
	}
	if err := checkShape(data); err != nil {
		return nil, errf("config %s: %v", name, err)
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

// checkShape refuses a file whose nesting or alias expansion would make the
// decoder slow or large, before the decoder sees it. goccy/go-yaml has no
// such limits: 1 KB of aliases expanding to a billion values, or 200 KB of
// nested brackets, kept it busy for minutes and gigabytes. go.yaml.in/yaml
// parses in linear time and stops at the depth limit as soon as it is
// reached; aliases are then counted on its node tree, without expanding
// them. A file it cannot parse is refused with its message.
func checkShape(data []byte) error {
	tooDeep := false
	limits := loaderlimits.New(
		loaderlimits.DepthFunc(func(depth int, _ *loaderlimits.DepthContext) error {
			if depth > maxDepth {
				tooDeep = true
				return errors.New("too deep")
			}
			return nil
		}),
		loaderlimits.AliasNone(), // valueCounter counts them instead
	)
	l, err := yamlguard.NewLoader(bytes.NewReader(data), yamlguard.WithPlugin(limits))
	if err != nil {
		return err
	}
	for {
		var doc yamlguard.Node
		err := l.Load(&doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		var le *yamlguard.LoadError
		switch {
		case err != nil && tooDeep && errors.As(err, &le):
			return fmt.Errorf("[%d:%d] nested deeper than %d levels, the limit for a configuration file", le.Mark.Line, le.Mark.Column, maxDepth)
		case err != nil && tooDeep:
			return fmt.Errorf("nested deeper than %d levels, the limit for a configuration file", maxDepth)
		case err != nil && errors.As(err, &le):
			return fmt.Errorf("[%d:%d] %s", le.Mark.Line, le.Mark.Column, le.Message)
		case err != nil:
			return err
		}
		c := valueCounter{seen: map[*yamlguard.Node]int{}}
		n := c.count(&doc)
		switch {
		case c.loop != nil:
			return fmt.Errorf("[%d:%d] alias *%s is inside the value it names", c.loop.Line, c.loop.Column, c.loop.Value)
		case n > maxValues:
			return fmt.Errorf("with its aliases expanded it holds more than %d values, the limit for a configuration file", maxValues)
		}
	}
}

// valueCounter counts the values of a node tree with every alias replaced
// by the node it names, without making the copies: each anchored node is
// counted once and its count reused. Counts stop growing past maxValues.
type valueCounter struct {
	seen map[*yamlguard.Node]int // node → count; -1 while being counted
	loop *yamlguard.Node         // the first alias met inside what it names
}

func (c *valueCounter) count(n *yamlguard.Node) int {
	if n == nil {
		return 0
	}
	if n.Kind == yamlguard.AliasNode {
		switch got, ok := c.seen[n.Alias]; {
		case got < 0:
			if c.loop == nil {
				c.loop = n
			}
			return maxValues + 1 // an alias inside what it names: endless
		case ok:
			return got
		}
		return c.count(n.Alias)
	}
	if got, ok := c.seen[n]; ok { // shared without an alias: not from the parser, but safe
		if got < 0 {
			return maxValues + 1
		}
		return got
	}
	c.seen[n] = -1
	total := 1
	for _, child := range n.Content {
		total += c.count(child)
		if total > maxValues {
			total = maxValues + 1
			break
		}
	}
	c.seen[n] = total
	return total
}

// readFileCapped reads a file of settings (configuration, token, private
// key), refusing one larger than MaxFileBytes without reading further: a
// path such as /dev/zero must not fill the memory.
func readFileCapped(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("larger than %d bytes (1 MiB), the limit for a file of settings", MaxFileBytes)
	}
	return data, nil
}
