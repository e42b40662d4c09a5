package ghfake

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-github/v93/github"
)

// TestOpenAPIGoGitHub runs go-github against the emulator, at the root and
// under /api/v3, through the OpenAPI checker: list deliveries across pages
// (following resp.Cursor), redeliver (a 202 is *github.AcceptedError, which is
// success), read, create and update the variable.
func TestOpenAPIGoGitHub(t *testing.T) {
	for _, tc := range []struct {
		name, spec, prefix string
		platform           Platform
	}{
		{"dotcom", "rest-subset.openapi.json", "", DotCom},
		{"ghes", "rest-subset.ghes-3.19.openapi.json", ghesPrefix, GHES},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := NewClock(DefaultStart)
			srv := newServer(t, Options{Platform: tc.platform, Clock: clock})
			doc, router := loadSpec(t, tc.spec, srv.URL()+tc.prefix)
			checker := &specChecker{t: t, doc: doc, router: router, clock: clock, rateHeaders: tc.platform == DotCom, seen: map[string]map[int]bool{}}
			rcv := newReceiver(t, http.StatusOK)
			hook := srv.AddOrgHook("acme", HookConfig{URL: rcv.URL, Secret: "x"})
			srv.AddRepo("acme", "ops")
			srv.AddToken(Token{Value: "ghp_t", Orgs: []string{"acme"}})
			st := srv.SeedHistory(hook, History{N: 230, FailureRatio: 0.1, NoResponseRatio: 0.5, Seed: 3})

			opts := []github.ClientOptionsFunc{github.WithTransport(checker), github.WithAuthToken("ghp_t")}
			if tc.prefix == "" {
				base := srv.URL() + "/"
				opts = append(opts, github.WithURLs(&base, &base))
			} else {
				opts = append(opts, github.WithEnterpriseURLs(srv.URL()+"/api/v3/", srv.URL()+"/api/uploads/"))
			}
			cli, err := github.NewClient(opts...)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()

			var all []*github.HookDelivery
			list := &github.ListCursorOptions{PerPage: 100}
			pages := 0
			for {
				ds, resp, err := cli.Organizations.ListHookDeliveries(ctx, "acme", hook, list)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				all = append(all, ds...)
				if resp.Cursor == "" {
					break
				}
				list.Cursor = resp.Cursor
			}
			if len(all) != st.Attempts || pages != 3 {
				t.Fatalf("listed %d deliveries in %d pages, want %d in 3", len(all), pages, st.Attempts)
			}
			for i := 1; i < len(all); i++ {
				if all[i].GetID() >= all[i-1].GetID() {
					t.Fatalf("not newest first at %d", i)
				}
			}
			if all[0].GetID() != st.NewestID || all[len(all)-1].GetID() != st.OldestID {
				t.Errorf("ids %d..%d, want %d..%d (exact above 2^53)", all[len(all)-1].GetID(), all[0].GetID(), st.OldestID, st.NewestID)
			}

			_, _, err = cli.Organizations.RedeliverHookDelivery(ctx, "acme", hook, all[5].GetID())
			var accepted *github.AcceptedError
			if !errors.As(err, &accepted) {
				t.Fatalf("redeliver: %v, want *github.AcceptedError", err)
			}
			rd := srv.Redeliveries()
			if len(rd) != 1 || rd[0].DeliveryID != all[5].GetID() || rd[0].GUID != all[5].GetGUID() || rd[0].NewAttemptID == 0 {
				t.Errorf("redeliveries: %+v", rd)
			}
			d, _, err := cli.Organizations.GetHookDelivery(ctx, "acme", hook, rd[0].NewAttemptID)
			if err != nil || !d.GetRedelivery() || d.GetGUID() != all[5].GetGUID() || d.Request == nil {
				t.Errorf("get redelivery: %v %+v", err, d)
			}

			_, resp, err := cli.Actions.GetRepoVariable(ctx, "acme", "ops", "LAST_REDELIVERY")
			if resp == nil || resp.StatusCode != http.StatusNotFound {
				t.Fatalf("get missing variable: %v", err)
			}
			if _, err := cli.Actions.CreateRepoVariable(ctx, "acme", "ops", github.ActionsCreateVariableRequest{Name: "LAST_REDELIVERY", Value: "1"}); err != nil {
				t.Fatal(err)
			}
			if _, err := cli.Actions.UpdateRepoVariable(ctx, "acme", "ops", "LAST_REDELIVERY", github.ActionsUpdateVariableRequest{Value: new("2")}); err != nil {
				t.Fatal(err)
			}
			v, _, err := cli.Actions.GetRepoVariable(ctx, "acme", "ops", "LAST_REDELIVERY")
			if err != nil || v.Value != "2" {
				t.Fatalf("variable: %v %+v", err, v)
			}
			if got := srv.RequestCount("GET /orgs/{org}/hooks/{hook_id}/deliveries"); got != 3 {
				t.Errorf("list requests counted %d, want 3", got)
			}
		})
	}
}
