package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/redeliver/redeliver"
	"github.com/redeliver/redeliver/ghfake"
	"github.com/redeliver/redeliver/githubapi"
	"github.com/redeliver/redeliver/sqlite"
)

func newDemoCmd(f *factory) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Watch a run end to end: a GitHub emulator and a local receiver, no credentials, no network",
		Long: `demo starts, inside this process, the GitHub emulator and a webhook receiver
on 127.0.0.1. The receiver is down while GitHub sends some events (connection
refused), then answers 503 for a while, then comes back. demo then runs the
engine against the emulator with a temporary SQLite state and shows what
failed, what was redelivered, and that every event reached the receiver.`,
		Example: `  redeliver demo
  redeliver demo --keep-state`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), f.IO, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep-state", false, "keep the temporary state file and print its path")
	return cmd
}

// demoReceiver counts the events it accepted, and answers 503 while broken.
type demoReceiver struct {
	mu       sync.Mutex
	broken   bool
	received map[string]int // guid → deliveries accepted
}

func (r *demoReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken {
		http.Error(w, "deploy in progress", http.StatusServiceUnavailable)
		return
	}
	r.received[req.Header.Get("X-GitHub-Delivery")]++
	w.WriteHeader(http.StatusOK)
}

func (r *demoReceiver) setBroken(b bool) {
	r.mu.Lock()
	r.broken = b
	r.mu.Unlock()
}

func (r *demoReceiver) count() (events, deliveries int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.received {
		events++
		deliveries += n
	}
	return events, deliveries
}

func runDemo(ctx context.Context, ios *streams, keep bool) error {
	w := ios.out
	start := time.Now().UTC().Truncate(time.Second)
	clock := ghfake.NewClock(start.Add(-2 * time.Hour))
	gh := ghfake.New(ghfake.Options{Clock: clock})
	defer gh.Close()

	rcv := &demoReceiver{received: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return redeliver.Wrap(redeliver.EInternal, err, "starting the demo receiver")
	}
	srv := &http.Server{Handler: rcv, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ends with Close below
	defer srv.Close()
	up := "http://" + ln.Addr().String() + "/webhook"
	down, err := closedPort()
	if err != nil {
		return err
	}

	const token = "demo-token"
	gh.AddOrg("acme")
	gh.AddToken(ghfake.Token{Value: token, All: true})
	hook := gh.AddOrgHook("acme", ghfake.HookConfig{URL: down, Secret: "demo-secret", Events: []string{"push", "issues", "pull_request"}})

	fmt.Fprintf(w, "redeliver demo: a GitHub emulator at %s and a receiver at %s, both on this machine.\n\n", gh.URL(), up)
	send := func(n int, phase string) error {
		for i := range n {
			ev, act := demoEvent(i)
			a, err := gh.Send(hook, ev, act, map[string]any{"demo": phase, "n": i})
			if err != nil {
				return redeliver.Wrap(redeliver.EInternal, err, "sending a demo event")
			}
			fmt.Fprintf(w, "  %s  %-26s %-36s %s\n", a.DeliveredAt.Format("15:04:05"), eventLabel(a.Event, a.Action), a.GUID, outcome(a))
			clock.Advance(3 * time.Minute)
		}
		return nil
	}
	fmt.Fprintln(w, "1. The receiver is down (connection refused); GitHub sends 5 events and records failures:")
	if err := send(5, "down"); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n2. The receiver is up but deploying (503); 4 more events fail:")
	gh.SetHookURL(hook, up)
	rcv.setBroken(true)
	if err := send(4, "deploying"); err != nil {
		return err
	}
	fmt.Fprintln(w, "\n3. The receiver is healthy again; 3 events go through:")
	rcv.setBroken(false)
	if err := send(3, "healthy"); err != nil {
		return err
	}
	clock.Advance(30 * time.Minute)

	dir, err := os.MkdirTemp("", "redeliver-demo-")
	if err != nil {
		return redeliver.Wrap(redeliver.EInternal, err, "making the demo's state directory")
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	statePath := filepath.Join(dir, "state.db")
	store, err := sqlite.Open(statePath)
	if err != nil {
		return err
	}
	defer store.Close()
	client, err := githubapi.New(githubapi.Config{BaseURL: gh.URL() + "/", Token: token, UserAgent: "redeliver/" + version + " (demo)"})
	if err != nil {
		return err
	}
	target := redeliver.Target{Kind: redeliver.KindOrg, Owner: "acme", HookID: hook}
	runner := &redeliver.Runner{Source: client, Redeliverer: client, Store: store, Policy: redeliver.DefaultPolicy(),
		Pacer: redeliver.NewPacer(20), Concurrency: 1}

	fmt.Fprintf(w, "\n4. redeliver run --org acme --hook %d   (state: %s; 20 requests/s, as on a GHES without rate limits)\n", hook, statePath)
	rep, err := runner.Run(ctx, target)
	res := &runResult{APIURL: gh.URL(), State: statePath}
	res.add(rep)
	writeText(indent(w), res)
	if err != nil {
		return err
	}

	events, deliveries := rcv.count()
	fmt.Fprintf(w, "\n5. The receiver now holds %d of the 12 events (%d deliveries: each failed event exactly once more).\n", events, deliveries)

	clock.Advance(6 * time.Hour)
	fmt.Fprintln(w, "\n6. Six hours later the next scheduled run finds nothing left to do:")
	rep2, err := runner.Run(ctx, target)
	res2 := &runResult{APIURL: gh.URL(), State: statePath}
	res2.add(rep2)
	writeText(indent(w), res2)
	if err != nil {
		return err
	}
	if events != 12 || deliveries != 12 || rep.Redelivered != 9 {
		return redeliver.Errorf(redeliver.EInternal, "demo: expected 9 redeliveries and 12 events received once, got %d redeliveries, %d events, %d deliveries", rep.Redelivered, events, deliveries)
	}
	fmt.Fprintf(w, "\nEvery event reached the receiver once; GitHub was asked %d times in all (%d listing pages, %d redeliveries).\n",
		gh.TotalRequests(), rep.Pages+rep2.Pages, rep.Redelivered)
	if keep {
		fmt.Fprintf(w, "State kept at %s (try: redeliver status --state %s)\n", statePath, statePath)
	}
	return nil
}

func demoEvent(i int) (string, string) {
	switch i % 3 {
	case 0:
		return "push", ""
	case 1:
		return "issues", "opened"
	}
	return "pull_request", "synchronize"
}

func eventLabel(ev, act string) string {
	if act != "" {
		return ev + "." + act
	}
	return ev
}

func outcome(a ghfake.Attempt) string {
	if a.StatusCode >= 200 && a.StatusCode < 300 {
		return "OK"
	}
	return fmt.Sprintf("%s (status_code %d)", a.Status, a.StatusCode)
}

// closedPort returns a URL on 127.0.0.1 where nothing listens.
func closedPort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", redeliver.Wrap(redeliver.EInternal, err, "finding a closed port")
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/webhook", nil
}
