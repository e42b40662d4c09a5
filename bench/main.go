// Command bench measures redeliver against the script in GitHub's docs
// ("Automatically redelivering failed deliveries for an organization
// webhook") on the same data, in the same run, and against the floor: the
// fewest API calls the job can need, and under github.com's rate limits the
// least time they allow.
//
//	go run ./bench                  # the full matrix (about an hour); writes BENCHMARKS.md and bench/chart.svg
//	go run ./bench -quick           # four cases in about three minutes; prints the table
//	go run ./bench -quick -out DIR  # … and writes BENCHMARKS.md, chart.svg and results.json into DIR
//	go run ./bench -quick -json FILE
//	go run ./bench -serve [-quick]  # `redeliver serve` on 50 hooks for a day (-quick: 3 h) of emulated time vs the docs script every 6 h (bench/serve.go)
//
// For each case the benchmark starts the GitHub emulator (ghfake) in its own
// process, seeds the same history for each program, and runs the docs
// script (node + octokit, its baseUrl taken from GITHUB_API_URL) and the
// redeliver binary (built once with go build) as child processes. It
// records wall time, API calls by route (the emulator's counters), peak RSS
// (getrusage of the child), the redeliveries made, and the failed guids
// missed or redelivered twice. See bench/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// config is the command line.
type config struct {
	quick        bool
	out          string
	jsonPath     string
	scriptLimit  time.Duration
	scriptSample time.Duration
	toolLimit    time.Duration
	scale        float64
	only         string
	noScript     bool
	scriptSrc    string
	verbose      bool
	from         string
	chartFormat  string
	serve        bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == launchFlag {
		os.Exit(launchMain(os.Args[2:]))
	}
	var cfg config
	flag.BoolVar(&cfg.quick, "quick", false, "run the quick cases (under five minutes, the script's runs included)")
	flag.StringVar(&cfg.out, "out", "", "write BENCHMARKS.md, chart.svg and results.json into this directory (default: a full run writes BENCHMARKS.md and bench/chart.svg in the module; a quick run writes nothing)")
	flag.StringVar(&cfg.jsonPath, "json", "", "write the figures of every case as JSON to this file")
	flag.DurationVar(&cfg.scriptLimit, "script-limit", 0, "time limit of each script run (default 45s quick, 100s full; some full cases set their own)")
	flag.DurationVar(&cfg.scriptSample, "script-sample", 0, "stop a script run once its listing is done and its POSTs have run this long, and extrapolate (default 10s quick, 20s full; 0s: never)")
	flag.DurationVar(&cfg.toolLimit, "tool-limit", 0, "time limit of each redeliver run (default 90s quick, 150s full)")
	flag.Float64Var(&cfg.scale, "scale", 600, "time compression of github.com's envelope for redeliver where redeliveries count as content (ghfake Budget.Scale and the benchclock pacer)")
	flag.StringVar(&cfg.only, "only", "", "run only the cases whose name matches this regular expression")
	flag.BoolVar(&cfg.noScript, "no-script", false, "do not run the docs script")
	flag.StringVar(&cfg.scriptSrc, "script", "", "the docs script (default: ../shared/seed/redeliver-failed-deliveries.js beside the module)")
	flag.BoolVar(&cfg.verbose, "v", false, "say what runs")
	flag.StringVar(&cfg.chartFormat, "chart-format", "svg", "the chart's format: svg or png")
	flag.StringVar(&cfg.from, "from", "", "run nothing: print and write (-out, -json) the figures of an earlier run's results.json")
	flag.BoolVar(&cfg.serve, "serve", false, "simulate `redeliver serve` on 50 hooks (a day of emulated time; -quick: 3 hours) against the docs script every 6 hours")
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	def := func(d *time.Duration, name string, quick, full time.Duration) {
		if !set[name] {
			*d = full
			if cfg.quick {
				*d = quick
			}
		}
	}
	def(&cfg.scriptLimit, "script-limit", 45*time.Second, 100*time.Second)
	def(&cfg.scriptSample, "script-sample", 10*time.Second, 20*time.Second)
	def(&cfg.toolLimit, "tool-limit", 90*time.Second, 150*time.Second)
	if cfg.chartFormat != "svg" && cfg.chartFormat != "png" {
		fatalf("-chart-format %q: want svg or png", cfg.chartFormat)
	}
	if cfg.scale < 1 {
		fatalf("-scale %g: must be at least 1", cfg.scale)
	}
	if cfg.serve {
		if err := runServeBench(cfg); err != nil {
			fatalf("%v", err)
		}
		return
	}
	if err := run(cfg); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}

func run(cfg config) error {
	started := time.Now()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if cfg.from != "" {
		b, err := os.ReadFile(cfg.from)
		if err != nil {
			return err
		}
		var rep report
		if err := json.Unmarshal(b, &rep); err != nil {
			return fmt.Errorf("%s: %v", cfg.from, err)
		}
		rep.Targets = evaluate(&rep)
		rep.RenderedFrom = filepath.Base(cfg.from)
		printText(os.Stdout, &rep)
		return writeOutputs(cfg, root, &rep)
	}
	cases := fullCases()
	if cfg.quick {
		cases = quickCases()
	}
	if cfg.only != "" {
		re, err := regexp.Compile(cfg.only)
		if err != nil {
			return fmt.Errorf("-only: %v", err)
		}
		var keep []benchCase
		for _, c := range cases {
			if re.MatchString(c.Name()) {
				keep = append(keep, c)
			}
		}
		cases = keep
	}
	if len(cases) == 0 {
		return fmt.Errorf("no case to run")
	}

	work, err := os.MkdirTemp("", "redeliver-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	b := &bench{cfg: cfg, work: work, postGap: map[time.Duration]time.Duration{}, log: func(string, ...any) {}}
	if cfg.verbose {
		b.log = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
	}
	if b.self, err = os.Executable(); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "building redeliver …")
	rev := revision(root)
	if b.tool, err = buildRedeliver(root, work); err != nil {
		return err
	}
	modules := ""
	if !cfg.noScript {
		if b.node, err = exec.LookPath("node"); err != nil {
			return errNoNode
		}
		if modules, err = octokitModules(root); err != nil {
			return err
		}
		src := cfg.scriptSrc
		if src == "" {
			src = filepath.Join(filepath.Dir(root), "shared", "seed", "redeliver-failed-deliveries.js")
		}
		sdir := filepath.Join(work, "script")
		if err := os.Mkdir(sdir, 0o755); err != nil {
			return err
		}
		if b.script, err = prepareScript(src, modules, sdir); err != nil {
			return fmt.Errorf("the docs script: %w (or pass -script FILE, or -no-script)", err)
		}
	}
	// The hook's receiver: it answers 200 to whatever reaches it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.receiver = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}), ReadHeaderTimeout: 10 * time.Second}
	go b.receiver.Serve(ln)
	defer b.receiver.Close()
	b.receiverAt = "http://" + ln.Addr().String() + "/webhook"

	m := describeMachine(b.node, modules)
	m.Revision = rev
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	mode := "full"
	if cfg.quick {
		mode = "quick"
	}
	fmt.Fprintf(os.Stderr, "%s benchmark: %d cases; script limit %s (sample %s), redeliver limit %s, envelope compressed %g×\n",
		mode, len(cases), cfg.scriptLimit, cfg.scriptSample, cfg.toolLimit, cfg.scale)
	var results []*caseResult
	for i, c := range cases {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "[%d/%d] %s: %s attempts, %s failed, %dms latency …\n", i+1, len(cases), c.Name(),
			thousands(c.Attempts), pct(c.Ratio), c.Latency.Milliseconds())
		cr := b.runCase(ctx, c)
		results = append(results, cr)
		for _, r := range []*runResult{cr.Script, cr.Tool} {
			if r != nil {
				fmt.Fprintf(os.Stderr, "        %-9s %s\n", r.Program, oneLine(cr, r))
			}
		}
	}
	m.LoadTo = loadAverage()
	rep := &report{Command: commandLine(), Mode: mode, Machine: m, Scale: cfg.scale, ScaleFlag: scaleFlag(cfg.scale),
		ScriptLimit: cfg.scriptLimit.String(), ScriptSample: cfg.scriptSample.String(), ToolLimit: cfg.toolLimit.String(),
		Started: started.UTC().Format(time.RFC3339), Elapsed: time.Since(started).Round(time.Second).String(),
		Cases: results}
	rep.Targets = evaluate(rep)
	printText(os.Stdout, rep)

	if err := writeOutputs(cfg, root, rep); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	return b.startErr
}

// writeOutputs writes -json, and BENCHMARKS.md with the chart: into -out,
// or, for a full run of every case, into the module (BENCHMARKS.md and
// bench/chart.svg). A quick run without -out writes nothing there.
func writeOutputs(cfg config, root string, rep *report) error {
	if cfg.jsonPath != "" {
		if err := writeJSON(cfg.jsonPath, rep); err != nil {
			return err
		}
	}
	mdPath, chartPath, chartRef := "", "", ""
	switch {
	case cfg.out != "":
		if err := os.MkdirAll(cfg.out, 0o755); err != nil {
			return err
		}
		chartRef = "chart." + cfg.chartFormat
		mdPath, chartPath = filepath.Join(cfg.out, "BENCHMARKS.md"), filepath.Join(cfg.out, chartRef)
		if cfg.from == "" {
			if err := writeJSON(filepath.Join(cfg.out, "results.json"), rep); err != nil {
				return err
			}
		}
	case rep.Mode == "full" && cfg.only == "" && (cfg.from != "" || !cfg.quick):
		chartRef = "bench/chart." + cfg.chartFormat
		mdPath, chartPath = filepath.Join(root, "BENCHMARKS.md"), filepath.Join(root, filepath.FromSlash(chartRef))
	}
	if chartPath == "" {
		return nil
	}
	if err := writeChart(chartPath, rep); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	doc := markdown(rep, chartRef)
	if old, err := os.ReadFile(mdPath); err == nil {
		doc = keepServeSection(doc, string(old))
	}
	if err := os.WriteFile(mdPath, []byte(doc), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "wrote %s and %s\n", mdPath, chartPath)
	return nil
}

// commandLine is how the benchmark was started.
func commandLine() string {
	return strings.TrimSpace("go run ./bench " + strings.Join(os.Args[1:], " "))
}

func writeJSON(path string, rep *report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
