package main

// The action and the example workflows pass actionlint, run as a tool of
// its own (go run …@version), never imported.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/redeliver/redeliver/ghfake"
)

const actionlintPkg = "github.com/rhysd/actionlint/cmd/actionlint@v1.7.12"

// actionlint runs actionlint in dir and returns its output and exit code;
// it skips the test when the tool cannot be fetched or built.
func actionlint(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping: go is not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, append([]string{"run", actionlintPkg, "-no-color"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("go run %s: %v", actionlintPkg, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// TestActionlint lints the example workflows as they are, and again in a
// repository of their own that holds action.yml at its root, with
// `uses: redeliver/redeliver@v1` pointed at it (`uses: ./`), so that
// actionlint also checks every `with:` input against the action's inputs.
// A workflow with an input the action does not have shows that the check
// bites.
func TestActionlint(t *testing.T) {
	t.Parallel()
	if out, code := actionlint(t, t.TempDir(), "-version"); code != 0 {
		t.Skipf("skipping: %s cannot be fetched or built here (exit %d):\n%s", actionlintPkg, code, out)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	examples, err := filepath.Glob(filepath.Join(root, "examples", "workflows", "*.yml"))
	if err != nil || len(examples) != 3 {
		t.Fatalf("examples: %v %v", examples, err)
	}

	// As they are (the action is remote: its inputs are not checked).
	if out, code := actionlint(t, root, examples...); code != 0 {
		t.Errorf("actionlint on examples/workflows (exit %d):\n%s", code, out)
	}

	repo := t.TempDir()
	wf := filepath.Join(repo, ".github", "workflows")
	// actionlint finds the project (and so `uses: ./`) by its .git.
	for _, d := range []string{wf, filepath.Join(repo, ".git")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	action, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, repo, "action.yml", action, 0o644)
	for _, ex := range examples {
		b, err := os.ReadFile(ex)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if strings.Count(text, "uses: redeliver/redeliver@v1") != 1 {
			t.Fatalf("%s: want exactly one `uses: redeliver/redeliver@v1`", ex)
		}
		writeFile(t, wf, filepath.Base(ex), []byte(strings.Replace(text, "uses: redeliver/redeliver@v1", "uses: ./", 1)), 0o644)
	}
	if out, code := actionlint(t, repo); code != 0 {
		t.Errorf("actionlint with the local action.yml (exit %d):\n%s", code, out)
	}

	// The control: an input action.yml does not declare is an error.
	writeFile(t, wf, "bad.yml", []byte(`name: bad
on: workflow_dispatch
jobs:
  redeliver:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        with:
          org: acme
          organisation: acme
`), 0o644)
	out, code := actionlint(t, repo)
	if code == 0 || !strings.Contains(out, `input "organisation" is not defined in action`) {
		t.Errorf("actionlint did not catch an undeclared input (exit %d):\n%s", code, out)
	}
}

// actionYAML is what TestActionScript reads of action.yml.
type actionYAML struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Runs struct {
		Steps []struct {
			ID    string            `yaml:"id"`
			Shell string            `yaml:"shell"`
			Run   string            `yaml:"run"`
			Env   map[string]string `yaml:"env"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

var inputExpr = regexp.MustCompile(`\$\{\{\s*inputs\.([a-z-]+)\s*\}\}`)

// runActionStep runs the action's "run" step with bash as the runner would:
// its env block with the inputs filled in (defaults for the others), the
// runner's variables, and $RUNNER_TEMP/redeliver being the built binary.
func runActionStep(t *testing.T, w *world, inputs map[string]string, extraEnv map[string]string) (result, string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("skipping: bash is not on PATH")
	}
	b, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionYAML
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	for name := range inputs {
		if _, ok := a.Inputs[name]; !ok {
			t.Fatalf("action.yml has no input %q", name)
		}
	}
	var step = -1
	for i, s := range a.Runs.Steps {
		if s.ID == "run" {
			step = i
		}
	}
	if step < 0 || a.Runs.Steps[step].Shell != "bash" {
		t.Fatalf("action.yml: no bash step with id run")
	}
	s := a.Runs.Steps[step]
	temp := t.TempDir()
	if err := os.Symlink(binPath, filepath.Join(temp, "redeliver")); err != nil {
		t.Fatal(err)
	}
	output := filepath.Join(temp, "github_output")
	env := map[string]string{
		"PATH": os.Getenv("PATH"), "HOME": w.dir, "RUNNER_TEMP": temp, "GITHUB_OUTPUT": output,
		"GITHUB_REPOSITORY": "acme/ops", "GITHUB_API_URL": w.api, "GITHUB_ACTIONS": "true",
	}
	for k, v := range s.Env {
		env[k] = inputExpr.ReplaceAllStringFunc(v, func(m string) string {
			name := inputExpr.FindStringSubmatch(m)[1]
			if v, ok := inputs[name]; ok {
				return v
			}
			return a.Inputs[name].Default
		})
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", s.Run)
	cmd.Dir = temp
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	r := result{code: code, stdout: out.String(), stderr: errb.String()}
	noSecrets(t, "the action's output", r.stdout+r.stderr)
	got, _ := os.ReadFile(output)
	return r, string(got)
}

// TestActionScript runs the composite action's shell step, with the inputs
// the org example gives, against the emulator: the inputs become flags, the
// state is the repository variable, the report path is a step output, the
// docs script's variables in the job's environment do not leak in, and an
// input cannot inject shell code.
func TestActionScript(t *testing.T) {
	t.Parallel()
	w := newWorld(t, ghfake.Options{})
	gs := w.failed(w.orgHook, "act", 2, w.ago(time.Hour), time.Minute)
	inputs := map[string]string{
		"token": testToken, "org": "acme", "hook": fmt.Sprint(w.orgHook),
		"state-variable": "LAST_REDELIVERY", "args": "--rate 0 --max-redeliveries 10",
	}
	// A docs-script environment left in the job must not change the target.
	leak := map[string]string{"ORGANIZATION_NAME": "other", "HOOK_ID": "1", "HOSTNAME": "ghe.leak.example"}
	r, outputs := runActionStep(t, w, inputs, leak)
	wantCode(t, r, 0)
	wantRedeliveredOnce(t, w.redeliveries(), gs)
	report, ok := strings.CutPrefix(strings.TrimSpace(outputs), "report=")
	if !ok {
		t.Fatalf("GITHUB_OUTPUT: %q", outputs)
	}
	if res := decodeResultFile(t, report); res.Totals.Redelivered != 2 || res.State != "Actions variable LAST_REDELIVERY of acme/ops" {
		t.Errorf("report: %+v", res)
	}
	if v, _ := w.srv.Variable("acme", "ops", "LAST_REDELIVERY"); v != strconv.FormatInt(w.now().UnixMilli(), 10) {
		t.Errorf("LAST_REDELIVERY = %q", v)
	}

	// An input is data, never code.
	marker := filepath.Join(w.dir, "injected")
	inputs["since"] = "$(touch " + marker + ")"
	inputs["events"] = "push; touch " + marker
	r, _ = runActionStep(t, w, inputs, nil)
	wantCode(t, r, 2)
	if exists(marker) {
		t.Errorf("an input ran as shell code")
	}
}
