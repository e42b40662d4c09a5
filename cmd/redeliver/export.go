package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/cli/go-gh/v2/pkg/jq"
	"github.com/cli/go-gh/v2/pkg/template"
	"github.com/spf13/pflag"

	"github.com/redeliver/redeliver"
)

// exportFlags are gh's --json, --jq and --template: pick fields of each
// row as JSON, then filter them with a jq expression or format them with a
// Go template (go-gh's own implementations, with its template functions).
type exportFlags struct {
	fields   []string
	jq       string
	template string
}

func addExportFlags(fs *pflag.FlagSet, e *exportFlags) {
	fs.StringSliceVar(&e.fields, "json", nil, "print JSON with these fields (comma-separated)")
	fs.StringVarP(&e.jq, "jq", "q", "", "filter the --json output with a jq expression")
	fs.StringVarP(&e.template, "template", "t", "", "format the --json output with a Go template (gh's functions: tablerow, timeago, color…)")
}

// enabled says whether --json was given.
func (e *exportFlags) enabled() bool { return len(e.fields) > 0 }

// check refuses --jq or --template without --json, both at once, and
// fields that do not exist (naming those that do).
func (e *exportFlags) check(known []string) error {
	switch {
	case !e.enabled() && (e.jq != "" || e.template != ""):
		return redeliver.Errorf(redeliver.EInvalid, "--jq and --template need --json FIELDS (fields: %s)", strings.Join(known, ","))
	case e.jq != "" && e.template != "":
		return redeliver.Errorf(redeliver.EInvalid, "give --jq or --template, not both")
	}
	for _, f := range e.fields {
		if !slices.Contains(known, f) {
			return redeliver.Errorf(redeliver.EInvalid, "--json %s: unknown field %q; the fields are %s", strings.Join(e.fields, ","), f, strings.Join(known, ","))
		}
	}
	return nil
}

// jsonFields lists the JSON names of a row type's fields, from a sample.
func jsonFields(sample any) []string {
	data, _ := json.Marshal(sample)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(data, &m)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// write prints rows (a slice of structs) as --json, --jq or --template say.
func (e *exportFlags) write(ios *streams, rows any) error {
	data, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	var objs []map[string]json.RawMessage
	if err := json.Unmarshal(data, &objs); err != nil {
		return err
	}
	picked := make([]map[string]json.RawMessage, len(objs))
	for i, o := range objs {
		picked[i] = map[string]json.RawMessage{}
		for _, f := range e.fields {
			v, ok := o[f]
			if !ok {
				v = json.RawMessage("null") // an empty optional field
			}
			picked[i][f] = v
		}
	}
	out, err := json.Marshal(picked)
	if err != nil {
		return err
	}
	color := colorEnabled(ios)
	switch {
	case e.jq != "":
		if err := jq.EvaluateFormatted(bytes.NewReader(out), ios.out, e.jq, "  ", color); err != nil {
			return redeliver.Wrap(redeliver.EInvalid, err, "--jq %s", e.jq)
		}
		return nil
	case e.template != "":
		t := template.New(ios.out, 80, color)
		if err := t.Parse(e.template); err != nil {
			return redeliver.Wrap(redeliver.EInvalid, err, "--template")
		}
		if err := t.Execute(bytes.NewReader(out)); err != nil {
			return redeliver.Wrap(redeliver.EInvalid, err, "--template")
		}
		return t.Flush()
	}
	var b bytes.Buffer
	if err := json.Indent(&b, out, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err = ios.out.Write(b.Bytes())
	return err
}

// colorEnabled: colors only on a terminal, and never with NO_COLOR set
// or CLICOLOR=0; CLICOLOR_FORCE (not 0) forces them.
func colorEnabled(ios *streams) bool {
	if f := ios.getenv("CLICOLOR_FORCE"); f != "" && f != "0" {
		return true
	}
	return ios.outTTY && ios.getenv("NO_COLOR") == "" && ios.getenv("CLICOLOR") != "0"
}
