// Package redeliver holds the words of the problem — targets, delivery
// attempts, the ledger of what was asked of GitHub, the policy — together with
// the pure Planner that decides what to redeliver and the Runner that makes
// one pass over one target. It imports no adapter: GitHub, SQLite and the
// Actions-variable store live in their own packages and implement the
// interfaces declared here.
package redeliver

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Kind says which family of webhook a target is.
type Kind string

// The three hook families that have a deliveries API.
const (
	KindOrg  Kind = "org"
	KindRepo Kind = "repo"
	KindApp  Kind = "app"
)

// Target is one webhook: an organization hook, a repository hook, or the
// GitHub App's own hook.
type Target struct {
	Kind   Kind
	Owner  string // organization login (org) or repository owner (repo)
	Repo   string // repository name (repo only)
	HookID int64  // hook id (org and repo); for an App, the App id is in AppID
	AppID  int64  // the App whose hook this is (app only)
}

// Key names the target in the state store and in reports. It is stable
// across runs: "org/acme/hooks/12", "repo/acme/api/hooks/34", "app/56/hook".
func (t Target) Key() string {
	switch t.Kind {
	case KindOrg:
		return "org/" + t.Owner + "/hooks/" + strconv.FormatInt(t.HookID, 10)
	case KindRepo:
		return "repo/" + t.Owner + "/" + t.Repo + "/hooks/" + strconv.FormatInt(t.HookID, 10)
	case KindApp:
		return "app/" + strconv.FormatInt(t.AppID, 10) + "/hook"
	}
	return "unknown/" + string(t.Kind)
}

// String is the target as a person reads it.
func (t Target) String() string {
	switch t.Kind {
	case KindOrg:
		return fmt.Sprintf("org %s hook %d", t.Owner, t.HookID)
	case KindRepo:
		return fmt.Sprintf("repo %s/%s hook %d", t.Owner, t.Repo, t.HookID)
	case KindApp:
		return fmt.Sprintf("app %d hook", t.AppID)
	}
	return t.Key()
}

// Validate reports the first thing wrong with t, naming it.
func (t Target) Validate() error {
	switch t.Kind {
	case KindOrg:
		if t.Owner == "" {
			return Errorf(EInvalid, "target: organization is empty")
		}
		if t.HookID <= 0 {
			return Errorf(EInvalid, "target %s: hook id must be a positive integer", t.Owner)
		}
	case KindRepo:
		if t.Owner == "" || t.Repo == "" {
			return Errorf(EInvalid, "target: repository must be OWNER/REPO")
		}
		if t.HookID <= 0 {
			return Errorf(EInvalid, "target %s/%s: hook id must be a positive integer", t.Owner, t.Repo)
		}
	case KindApp:
		if t.AppID <= 0 {
			return Errorf(EInvalid, "target: app id must be a positive integer")
		}
	default:
		return Errorf(EInvalid, "target: unknown kind %q (want org, repo or app)", string(t.Kind))
	}
	return nil
}

// Attempt is one delivery attempt as GitHub lists it. Redeliveries are
// attempts of their own that share the original's GUID.
type Attempt struct {
	ID          int64 // above 2^53 today: never pass it through a float
	GUID        string
	DeliveredAt time.Time
	Redelivery  bool
	Status      string
	StatusCode  int
	Event       string
	Action      string
}

// Succeeded says whether the receiver accepted this attempt. GitHub writes
// "OK" for any 2xx; checking the code as well keeps 201/202 right even where
// the status text differs.
func (a Attempt) Succeeded() bool {
	return a.Status == "OK" || (a.StatusCode >= 200 && a.StatusCode < 300)
}

// Page is one page of a hook's attempts, newest first.
type Page struct {
	Attempts []Attempt
	// Next is the opaque cursor of the following page; "" on the last page.
	Next string
	// ServerTime is GitHub's clock when it answered (the Date header). The
	// engine never trusts the runner's clock for checkpoints or horizons.
	ServerTime time.Time
}

// Hook is a webhook as the hooks API lists it.
type Hook struct {
	ID     int64
	URL    string
	Events []string
	Active bool
}

// Source lists a target's delivery attempts, newest first, one page at a time.
type Source interface {
	// ListAttempts returns the page at cursor ("" for the first page).
	// Errors carry a code: ENotFound for an unknown hook, EAuth for
	// credentials GitHub refused, ERateLimited when limits could not be
	// waited out, EInternal for answers that make no sense.
	ListAttempts(ctx context.Context, t Target, cursor string) (Page, error)
}

// Redeliverer asks GitHub to redeliver one attempt.
type Redeliverer interface {
	// Redeliver asks for attempt id of target t to be delivered again and
	// returns GitHub's clock when it accepted (202). GitHub performs the
	// redelivery asynchronously; its outcome appears later as a new attempt.
	Redeliver(ctx context.Context, t Target, attemptID int64) (time.Time, error)
}

// Holder is a Redeliverer that can hold a target's redeliveries before any
// is paced or recorded: serve holds them while the receiver is seen
// failing, and a held redelivery must spend neither a place in GitHub's
// rate windows nor a write to the store. Held returns nil to let the next
// redelivery go on to Redeliver, which may still hold it; an error holds
// the rest of the run's redeliveries for the next one (its code says why,
// ERateLimited for "later").
type Holder interface {
	Held(t Target) error
}

// HookLister lists the hooks of an organization or repository, so a target
// can be given as "every hook of acme" or "the hook whose URL is …".
type HookLister interface {
	// ListHooks returns every hook of the org (repo == "") or repository.
	ListHooks(ctx context.Context, owner, repo string) ([]Hook, error)
}
