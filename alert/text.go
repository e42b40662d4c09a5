package alert

import (
	"fmt"
	"strings"
	"time"
)

// ListMax is how many alerts a notice lists one by one; past it, the rest
// are counted in a summary line.
const ListMax = 10

// Title is the notice's one-line headline.
func (n Notice) Title() string {
	var ex, exp, gaps int
	for _, a := range n.Alerts {
		switch a.Kind {
		case KindExhausted:
			ex++
		case KindExpired:
			exp++
		case KindGap:
			gaps++
		}
	}
	var parts []string
	if ex > 0 {
		parts = append(parts, plural(ex, "event exhausted", "events exhausted"))
	}
	if exp > 0 {
		parts = append(parts, plural(exp, "event expired", "events expired"))
	}
	if gaps > 0 {
		parts = append(parts, plural(gaps, "coverage gap", "coverage gaps"))
	}
	return fmt.Sprintf("redeliver: %s on %s", strings.Join(parts, ", "), n.Name)
}

// Text is the notice as plain text (Markdown-safe): the headline, then one
// line per alert, or the first ListMax and a count of the rest.
func (n Notice) Text() string {
	var b strings.Builder
	b.WriteString(n.Title())
	b.WriteString("\n")
	for i, a := range n.Alerts {
		if i == ListMax {
			fmt.Fprintf(&b, "… and %d more.\n", len(n.Alerts)-ListMax)
			break
		}
		b.WriteString("- " + a.Line() + "\n")
	}
	if n.PageURL != "" {
		b.WriteString("Status page: " + n.PageURL + "\n")
	}
	return b.String()
}

// Line is one alert in words.
func (a Alert) Line() string {
	ev := a.Event
	if a.Action != "" {
		ev += "." + a.Action
	}
	switch a.Kind {
	case KindGap:
		return fmt.Sprintf("deliveries from %s to %s were not checked (%s)", stamp(a.Gap.From), stamp(a.Gap.To), a.Gap.Reason)
	case KindExpired:
		return fmt.Sprintf("%s %s (first delivered %s) expired after %s: GitHub can no longer redeliver it",
			ev, a.GUID, stamp(a.FirstSeen), plural(a.Attempts, "redelivery", "redeliveries"))
	}
	if a.GivenUpBy != "" {
		return fmt.Sprintf("%s %s (first delivered %s) was given up by %s after %s",
			ev, a.GUID, stamp(a.FirstSeen), a.GivenUpBy, plural(a.Attempts, "redelivery", "redeliveries"))
	}
	return fmt.Sprintf("%s %s (first delivered %s) is exhausted: %s failed",
		ev, a.GUID, stamp(a.FirstSeen), plural(a.Attempts, "redelivery", "redeliveries"))
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
