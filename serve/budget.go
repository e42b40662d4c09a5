package serve

import (
	"net/http"
	"time"

	"golang.org/x/time/rate"
)

// Answer is one answer GitHub gave, as the service counts it. Its fields
// are githubapi.Answer's, so the command converts one into the other.
type Answer struct {
	// Credential names the credential (never its value).
	Credential string
	// Route is the method and templated path, e.g.
	// "GET /orgs/{org}/hooks/{hook_id}/deliveries".
	Route  string
	Status int
	// Limit, Remaining and Used are the x-ratelimit-* headers; -1 where absent.
	Limit, Remaining, Used int64
	// Resource is x-ratelimit-resource.
	Resource string
	// ResetIn is how long until the primary window resets; 0 when unknown.
	ResetIn time.Duration
}

// billed reports whether the answer counts against the primary limit.
func (a Answer) billed() bool { return a.Status != http.StatusNotModified }

// budget is one credential's share of GitHub's primary rate limit. A token
// bucket refills at Share × limit an hour (a twelfth of that as burst), each
// billed answer takes a token, and 304s take none. GitHub's own count is
// the backstop: when x-ratelimit-remaining falls to the part of the quota
// that is not ours (someone else uses the same credential, or a burst at
// the window's edge), polls wait for the window to reset.
type budget struct {
	share     float64
	lim       *rate.Limiter // nil until GitHub has named its limit
	limit     int64
	remaining int64 // -1: unknown
	resetAt   time.Time
	stretched bool // the schedule is stretched by this budget now
	delayed   int  // polls delayed since the service started
}

func newBudget(share float64) *budget { return &budget{share: share, remaining: -1} }

// observe takes one answer in at now (the service's clock).
func (b *budget) observe(a Answer, now time.Time) {
	if a.Resource != "" && a.Resource != "core" {
		return
	}
	if a.Limit > 0 && a.Limit != b.limit {
		b.limit = a.Limit
		perHour := b.share * float64(a.Limit)
		b.lim = rate.NewLimiter(rate.Limit(perHour/3600), max(1, int(perHour/12)))
		// A new limiter starts full: the first answer's own cost is taken
		// below like any other.
	}
	if a.Remaining >= 0 {
		b.remaining = a.Remaining
		b.resetAt = now.Add(a.ResetIn)
	}
	if a.billed() && b.lim != nil {
		b.lim.ReserveN(now, 1)
	}
}

// wait is how long a poll due at now must wait for the budget (0: go).
func (b *budget) wait(now time.Time) time.Duration {
	if b.lim == nil {
		return 0 // no limits known: a GHES with rate limiting off, or no answer yet
	}
	var d time.Duration
	if tokens := b.lim.TokensAt(now); tokens < 1 {
		d = time.Duration((1 - tokens) / float64(b.lim.Limit()) * float64(time.Second))
	}
	reserve := int64((1 - b.share) * float64(b.limit))
	if b.remaining >= 0 && b.remaining <= reserve && now.Before(b.resetAt) {
		d = max(d, b.resetAt.Sub(now))
	}
	return d
}

// BudgetStatus is one credential's budget as the status page shows it.
type BudgetStatus struct {
	Credential string
	// Share is the fraction of the hourly quota the service may spend.
	Share float64
	// Limit and Remaining are GitHub's figures from the last answer
	// (-1 remaining: not known yet; 0 limit: GitHub sends none).
	Limit, Remaining int64
	ResetAt          time.Time
	// Tokens is what is left in the service's own bucket.
	Tokens float64
	// Stretched says whether polls are being delayed for the budget now.
	Stretched bool
	Delayed   int
}

func (b *budget) status(cred string, now time.Time) BudgetStatus {
	st := BudgetStatus{Credential: cred, Share: b.share, Limit: b.limit, Remaining: b.remaining,
		ResetAt: b.resetAt, Stretched: b.stretched, Delayed: b.delayed}
	if b.lim != nil {
		st.Tokens = b.lim.TokensAt(now)
	}
	return st
}
