// Package ghfake is an in-process emulator of the parts of GitHub's REST API
// (version 2022-11-28) that redeliver uses: webhook deliveries for organization,
// repository and GitHub App hooks (list, get, redeliver), hook listings,
// repository Actions variables, repository issues and comments (for alerts),
// GitHub App authentication (JWT, installation tokens), rate limits and
// conditional requests (ETag, 304 not charged to the primary limit), both as
// github.com serves them (at the root) and as GitHub Enterprise Server does
// (under /api/v3). It is public on purpose: a test server other projects may
// import for their own webhook and redelivery tests. Its exported API is
// kept stable within a major version of this module (it only grows); what it
// emulates follows GitHub.
//
// It exists so that tests, benchmarks and the demo can run the tool, go-github
// and the docs' octokit script against something that behaves like GitHub
// without reaching it: deliveries are real HTTP POSTs to the hook's URL,
// history can be seeded in bulk, time comes from a Clock the test controls,
// faults and rate limits can be injected, and every request and redelivery is
// counted and logged (billed or not, 304s apart, by caller without its
// credential) so a test can assert exactly what a run did to "GitHub".
// Redeliveries happen before the 202, when ProcessRedeliveries is called
// (DeferRedeliveries), or in the background (RedeliveryWorkers, with
// WaitIdle); NewReceiver gives a receiver whose outage ends at a chosen time.
//
// A typical test:
//
//	srv := ghfake.New(ghfake.Options{})
//	defer srv.Close()
//	rcv := srv.NewReceiver()           // or any receiver's URL
//	hook := srv.AddOrgHook("acme", ghfake.HookConfig{URL: rcv.URL(), Secret: "s"})
//	srv.AddToken(ghfake.Token{Value: "ghp_x", Orgs: []string{"acme"}})
//	st := srv.SeedHistory(hook, ghfake.History{N: 500, FailureRatio: 0.1, Seed: 1})
//	// … run the tool against srv.URL() (or srv.URL()+"/api/v3") …
//	srv.Redeliveries()                 // what it asked for, in order
//	srv.RequestCount("GET /orgs/{org}/hooks/{hook_id}/deliveries")
//
// Clocks. Everything GitHub decides by time — delivered_at, the redelivery
// horizon, JWT and installation-token expiry, the primary rate-limit hour and
// the Date header — reads the emulator Clock, frozen at DefaultStart unless
// the test sets or advances it, or read from a fake clock the test shares
// with the service under test (Options.Now, NewFuncClock). Clients that compare server times with their
// own wall clock (JWT iat/exp signed with time.Now, go-github's local
// rate-limit wait, the docs script's Date.now() cutoff) need a Clock near wall
// time: NewClock(time.Now()). Waits the emulator asks for (retry-after, a
// primary reset) end when either the wall clock (or Budget.Now) or the
// emulator clock passes them, so a client may sleep or a test may Advance.
//
// Facts about GitHub's behaviour come from GitHub's REST and webhook
// documentation (docs.github.com) and its OpenAPI description; where GitHub's behaviour is unverified the choice made here is named in a
// comment (HorizonRejectStatus, status_code 0 for no response, per_page above
// 100 clamped, POST/PATCH counted as content-creating unless
// Budget.RedeliveriesNotContent, 304s still charged to secondary limits).
package ghfake
