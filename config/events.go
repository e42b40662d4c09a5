package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/agnivade/levenshtein"

	"github.com/redeliver/redeliver"
)

// knownActions are the actions GitHub sends with the most used webhook
// events (docs: "Webhook events and payloads"). A filter on one of these
// events with another action is a typo that would match nothing; events
// not listed here take any action.
var knownActions = map[string][]string{
	"check_run":     {"completed", "created", "requested_action", "rerequested"},
	"check_suite":   {"completed", "requested", "rerequested"},
	"issue_comment": {"created", "deleted", "edited"},
	"issues": {"assigned", "closed", "deleted", "demilestoned", "edited", "labeled", "locked", "milestoned",
		"opened", "pinned", "reopened", "transferred", "typed", "unassigned", "unlabeled", "unlocked", "unpinned", "untyped"},
	"label":  {"created", "deleted", "edited"},
	"member": {"added", "edited", "removed"},
	"pull_request": {"assigned", "auto_merge_disabled", "auto_merge_enabled", "closed", "converted_to_draft",
		"demilestoned", "dequeued", "edited", "enqueued", "labeled", "locked", "milestoned", "opened",
		"ready_for_review", "reopened", "review_request_removed", "review_requested", "synchronize",
		"unassigned", "unlabeled", "unlocked"},
	"pull_request_review":         {"dismissed", "edited", "submitted"},
	"pull_request_review_comment": {"created", "deleted", "edited"},
	"release":                     {"created", "deleted", "edited", "prereleased", "published", "released", "unpublished"},
	"workflow_job":                {"completed", "in_progress", "queued", "waiting"},
	"workflow_run":                {"completed", "in_progress", "requested"},
}

// checkEventFilter checks an "event" or "event.action" filter entry
// against GitHub's names, suggesting the nearest one for a typo.
func checkEventFilter(s string) error {
	if err := redeliver.ValidateEventName(s); err != nil {
		ev, _, _ := strings.Cut(s, ".")
		if _, known := redeliver.KnownEvents[ev]; !known {
			names := make([]string, 0, len(redeliver.KnownEvents))
			for n := range redeliver.KnownEvents {
				names = append(names, n)
			}
			if near := nearest(strings.ToLower(ev), names); near != "" {
				return fmt.Errorf("%w; did you mean %q?", err, near)
			}
		}
		return err
	}
	ev, act, ok := strings.Cut(s, ".")
	actions := knownActions[ev]
	if !ok || actions == nil || slices.Contains(actions, act) {
		return nil
	}
	msg := fmt.Sprintf("event %q: GitHub sends no action %q with %s", s, act, ev)
	if near := nearest(act, actions); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", ev+"."+near)
	} else {
		msg += " (its actions: " + strings.Join(actions, ", ") + ")"
	}
	return redeliver.Errorf(redeliver.EInvalid, "%s", msg)
}

// nearest returns the name closest to s by edit distance, if it is close
// enough to be what was meant (at most 2 edits, and less than half of s).
func nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := levenshtein.ComputeDistance(s, n); d < bestD || (d == bestD && best != "" && n < best) {
			best, bestD = n, d
		}
	}
	if best == "" || bestD*2 >= len(s) {
		return ""
	}
	return best
}
