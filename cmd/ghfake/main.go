// Command ghfake serves the GitHub REST emulator (package ghfake) stand-alone,
// for demos and manual testing:
//
//	go run ./cmd/ghfake -addr 127.0.0.1:8080 -scenario file.yaml [-ghes] [-tls]
//
// The first line on stdout is the root base URL and the GHES-style one
// (root + /api/v3); it serves until SIGINT or SIGTERM.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/redeliver/redeliver/ghfake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	scenario := flag.String("scenario", "", "scenario file (YAML, or JSON by extension)")
	ghes := flag.Bool("ghes", false, "imitate GitHub Enterprise Server (overrides the scenario's platform)")
	useTLS := flag.Bool("tls", false, "serve HTTPS with a self-signed certificate (written to stderr)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("ghfake: ")

	sc := &ghfake.Scenario{}
	if *scenario != "" {
		var err error
		if sc, err = ghfake.LoadScenario(*scenario); err != nil {
			log.Fatal(err)
		}
	}
	if *ghes {
		sc.Platform = "ghes"
	}
	opts := sc.Options()
	opts.Addr, opts.TLS = *addr, *useTLS
	srv := ghfake.New(opts)
	defer srv.Close()
	if err := srv.Apply(sc); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s/api/v3\n", srv.URL(), srv.URL())
	for _, h := range srv.Hooks() {
		log.Printf("%s hook %d owner=%s repo=%s app=%d url=%q attempts=%d", h.Kind, h.ID, h.Owner, h.Repo, h.AppID, h.URL, h.Count)
	}
	if *useTLS {
		os.Stderr.Write(srv.CertPEM())
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
