package redeliver

import (
	"context"
	"fmt"
	"hash/maphash"
	"time"
)

// Listing is what List went through.
type Listing struct {
	Pages     int
	Cutoff    time.Time // the oldest delivered_at taken
	FirstTime time.Time // GitHub's clock at the first page
	LastTime  time.Time // GitHub's clock at the last page
	Oldest    time.Time // the oldest delivered_at seen at or after Cutoff
	// Newest is the newest delivered_at listed, older than Cutoff or not:
	// GitHub's data clock, which the next checkpoint is taken from.
	Newest time.Time
	// Complete is true when the listing reached Cutoff or the end of the
	// hook's history; Stopped says why not.
	Complete bool
	Stopped  string
}

// List walks t's attempts newest first, page by page, calling each for
// every attempt delivered at or after the cutoff (computed from the first
// page, as it depends on GitHub's clock). It stops at the first page that
// reaches the cutoff, at an empty page or at the last page. A cursor GitHub
// already gave in this listing (a loop, A→B→A) ends it with an error rather
// than reading forever. page, if not nil, hears the page count after each
// page; an error from it ends the listing.
func List(ctx context.Context, src Source, t Target, cutoff func(first Page) time.Time, each func(Attempt), page func(pages int) error) (Listing, error) {
	var l Listing
	cursor := ""
	// The cursors given so far, as 64-bit hashes: a listing of 10,000,000
	// attempts has 100,000 pages, and their cursors as strings were the
	// largest thing a run kept. A false match needs a hash collision
	// among them (odds about 1 in 10^9).
	seed := maphash.MakeSeed()
	seen := map[uint64]struct{}{maphash.String(seed, ""): {}}
	for {
		pg, err := src.ListAttempts(ctx, t, cursor)
		if err != nil {
			return l, fmt.Errorf("listing deliveries of %s (page %d): %w", t, l.Pages+1, err)
		}
		if l.Pages == 0 {
			l.FirstTime, l.Cutoff, l.Oldest = pg.ServerTime, cutoff(pg), pg.ServerTime
		}
		l.LastTime = pg.ServerTime
		l.Pages++
		reached := len(pg.Attempts) == 0
		for _, a := range pg.Attempts {
			if a.DeliveredAt.After(l.Newest) {
				l.Newest = a.DeliveredAt
			}
			if a.DeliveredAt.Before(l.Cutoff) {
				reached = true
				continue
			}
			if a.DeliveredAt.Before(l.Oldest) {
				l.Oldest = a.DeliveredAt
			}
			each(a)
		}
		if page != nil {
			if err := page(l.Pages); err != nil {
				return l, err
			}
		}
		if reached || pg.Next == "" {
			l.Complete = true
			return l, nil
		}
		if pg.Next == cursor {
			l.Stopped = "GitHub returned the same page cursor twice; listing stopped"
			return l, nil
		}
		h := maphash.String(seed, pg.Next)
		if _, again := seen[h]; again {
			l.Stopped = fmt.Sprintf("GitHub's page links loop back to an earlier page after page %d; listing stopped", l.Pages)
			return l, Errorf(EInternal, "listing deliveries of %s: the page links loop back to an earlier page after page %d (cursor seen before)", t, l.Pages)
		}
		seen[h] = struct{}{}
		cursor = pg.Next
	}
}
