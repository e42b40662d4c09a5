package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

const modulePath = "github.com/redeliver/redeliver"

// moduleRoot finds the directory of this module's go.mod, from the working
// directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the benchmark from inside the redeliver module (go run ./bench)")
		}
		dir = parent
	}
}

// buildRedeliver builds the redeliver binary once, with the go command that
// runs the benchmark. The benchclock tag swaps one file, which lets
// $REDELIVER_BENCH_PACE_SCALE compress the pacer's time as the emulator
// compresses its limits: the binary measured is the shipped one in every
// other respect, and the shipped one has no such knob.
func buildRedeliver(root, dir string) (string, error) {
	out := filepath.Join(dir, "redeliver")
	cmd := exec.Command("go", "build", "-tags", "benchclock", "-o", out, "./cmd/redeliver")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/redeliver: %v\n%s", err, b)
	}
	return out, nil
}

// revision names the source redeliver was built from: the commit, and
// whether files outside bench/ differ from it.
func revision(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench", ":!BENCHMARKS.md").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		rev += " with uncommitted changes"
	}
	if out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%cI %s").Output(); err == nil {
		rev += " (" + strings.TrimSpace(string(out)) + ")"
	}
	return rev
}

// scriptPlaceholder is the one line of the docs script the benchmark changes.
const scriptPlaceholder = `baseUrl: "http(s)://HOSTNAME/api/v3",`

// prepareScript copies the docs script into dir with its placeholder baseUrl
// replaced by process.env.GITHUB_API_URL, and links node_modules beside it so
// require("octokit") resolves.
func prepareScript(src, modules, dir string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	if strings.Count(string(b), scriptPlaceholder) != 1 {
		return "", fmt.Errorf("%s: the line %q is not there exactly once; the script changed", src, scriptPlaceholder)
	}
	s := strings.Replace(string(b), scriptPlaceholder, "baseUrl: process.env.GITHUB_API_URL,", 1)
	path := filepath.Join(dir, "redeliver-failed-deliveries.js")
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		return "", err
	}
	if err := os.Symlink(modules, filepath.Join(dir, "node_modules")); err != nil {
		return "", err
	}
	return path, nil
}

// octokitModules finds a node_modules holding octokit: $REDELIVER_NODE_MODULES,
// then <root>/.cache/node/node_modules, installing octokit@5 there with npm
// (as .ci/run does) when neither has it.
func octokitModules(root string) (string, error) {
	has := func(dir string) bool {
		_, err := os.Stat(filepath.Join(dir, "octokit", "package.json"))
		return dir != "" && err == nil
	}
	if d := os.Getenv("REDELIVER_NODE_MODULES"); has(d) {
		return d, nil
	}
	prefix := filepath.Join(root, ".cache", "node")
	d := filepath.Join(prefix, "node_modules")
	if has(d) {
		return d, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("octokit is not in %s and npm is not on PATH to install it (or set REDELIVER_NODE_MODULES)", d)
	}
	fmt.Fprintf(os.Stderr, "installing octokit@5 into %s\n", prefix)
	cmd := exec.Command(npm, "install", "--prefix", prefix, "--no-audit", "--no-fund", "--silent", "octokit@5")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("npm install octokit@5: %v\n%s", err, out)
	}
	if !has(d) {
		return "", fmt.Errorf("npm install did not leave octokit in %s", d)
	}
	return d, nil
}

// machine describes where the benchmark ran.
type machine struct {
	CPU      string `json:"cpu"`
	Cores    int    `json:"cores"`
	MemoryMB int64  `json:"memory_mb"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Node     string `json:"node"`
	Octokit  string `json:"octokit"`
	Revision string `json:"redeliver_revision"`
	LoadFrom string `json:"load_average_start"`
	LoadTo   string `json:"load_average_end"`
}

func describeMachine(node, modules string) machine {
	m := machine{CPU: cpuModel(), Cores: runtime.NumCPU(), Go: runtime.Version(), LoadFrom: loadAverage()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = runtime.GOOS + " " + strings.TrimSpace(string(b))
	} else {
		m.Kernel = runtime.GOOS
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
				m.MemoryMB = kb / 1024
				break
			}
		}
		f.Close()
	}
	if node != "" {
		if out, err := exec.Command(node, "--version").Output(); err == nil {
			m.Node = strings.TrimSpace(string(out))
		}
	}
	if modules != "" {
		var pkg struct {
			Version string `json:"version"`
		}
		if b, err := os.ReadFile(filepath.Join(modules, "octokit", "package.json")); err == nil && json.Unmarshal(b, &pkg) == nil {
			m.Octokit = pkg.Version
		}
	}
	return m
}

// cpuModel is the "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// loadAverage is the first three fields of /proc/loadavg: other work on
// the machine slows both programs down.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
