package redeliver

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// policy_test.go specifies what a run may do: the filters, the checks on
// flags, the spacing between redeliveries and the pace of requests.

func TestPolicyWants(t *testing.T) {
	for _, r := range []struct {
		name           string
		events, except []string
		event, action  string
		want           bool
	}{
		{name: "no filters let every event through", event: "push", want: true},
		{name: "no filters let an event with an action through", event: "issues", action: "opened", want: true},
		{name: "--events push lets push through", events: []string{"push"}, event: "push", want: true},
		{name: "--events push keeps issues out", events: []string{"push"}, event: "issues", action: "opened", want: false},
		{name: "--events issues lets every issues action through", events: []string{"issues"}, event: "issues", action: "closed", want: true},
		{name: "--events issues.opened lets issues.opened through", events: []string{"issues.opened"}, event: "issues", action: "opened", want: true},
		{name: "--events issues.opened keeps issues.closed out", events: []string{"issues.opened"}, event: "issues", action: "closed", want: false},
		{name: "--events issues.opened keeps out an issues event without action", events: []string{"issues.opened"}, event: "issues", want: false},
		{name: "--events with several entries lets any of them through", events: []string{"push", "issues.opened"}, event: "issues", action: "opened", want: true},
		{name: "--events matches whole names, not prefixes", events: []string{"pull_request"}, event: "pull_request_review", action: "submitted", want: false},
		{name: "--events push.opened does not match push without action", events: []string{"push.opened"}, event: "push", want: false},
		{name: "--exclude-events push keeps push out", except: []string{"push"}, event: "push", want: false},
		{name: "--exclude-events push lets issues through", except: []string{"push"}, event: "issues", action: "opened", want: true},
		{name: "--exclude-events issues keeps every issues action out", except: []string{"issues"}, event: "issues", action: "edited", want: false},
		{name: "--exclude-events issues.closed keeps issues.closed out", except: []string{"issues.closed"}, event: "issues", action: "closed", want: false},
		{name: "--exclude-events issues.closed lets issues.opened through", except: []string{"issues.closed"}, event: "issues", action: "opened", want: true},
		{name: "an exclusion beats an inclusion", events: []string{"issues"}, except: []string{"issues.closed"}, event: "issues", action: "closed", want: false},
		{name: "an inclusion and an unrelated exclusion", events: []string{"issues"}, except: []string{"issues.closed"}, event: "issues", action: "opened", want: true},
	} {
		t.Run(r.name, func(t *testing.T) {
			p := DefaultPolicy()
			p.Events, p.ExcludeEvents = r.events, r.except
			if got := p.Wants(r.event, r.action); got != r.want {
				t.Errorf("Policy{Events: %q, ExcludeEvents: %q}.Wants(%q, %q) = %v, want %v",
					r.events, r.except, r.event, r.action, got, r.want)
			}
		})
	}
}

func TestValidateEventName(t *testing.T) {
	for _, r := range []struct {
		name  string
		input string
		ok    bool
	}{
		{"an event name is valid", "push", true},
		{"an event name with underscores is valid", "pull_request_review", true},
		{"event.action is valid", "issues.opened", true},
		{"event.action with underscores is valid", "pull_request.ready_for_review", true},
		{"the action is not checked against a list: any lowercase action is valid", "issues.frobnicated", true},
		{"every known event is valid", "workflow_run", true},
		{"capitals are rejected (GitHub's names are lowercase)", "Push", false},
		{"capitals in the action are rejected", "issues.Opened", false},
		{"an unknown event is rejected, so a typo is not a filter that never matches", "pushh", false},
		{"an unknown event with an action is rejected", "pushh.opened", false},
		{"the empty string is rejected", "", false},
		{"an empty action is rejected", "issues.", false},
		{"an empty event is rejected", ".opened", false},
		{"a second dot is rejected", "issues.opened.x", false},
		{"a hyphen in the event is rejected", "pull-request", false},
		{"a hyphen in the action is rejected", "issues.re-opened", false},
		{"spaces are rejected", " push", false},
		{"a list is one entry per flag value, not comma-separated", "push,issues", false},
	} {
		t.Run(r.name, func(t *testing.T) {
			err := ValidateEventName(r.input)
			if r.ok {
				if err != nil {
					t.Errorf("ValidateEventName(%q) = %v, want nil", r.input, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateEventName(%q) = nil, want an error", r.input)
			}
			if ErrorCode(err) != EInvalid {
				t.Errorf("error code = %q, want %q", ErrorCode(err), EInvalid)
			}
			if quoted := strconv.Quote(r.input); !strings.Contains(err.Error(), quoted) {
				t.Errorf("error %q does not name the input %s", err, quoted)
			}
		})
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, r := range []struct {
		name   string
		change func(*Policy)
		names  string // "" when valid; otherwise what the error must name
	}{
		{name: "the default policy is valid", change: func(*Policy) {}},
		{name: "the GHES horizon is valid", change: func(p *Policy) { p.Horizon = HorizonGHES }},
		{name: "one attempt is enough", change: func(p *Policy) { p.MaxAttempts = 1 }},
		{name: "retry-base 0 (no spacing) is valid", change: func(p *Policy) { p.RetryBase = 0 }},
		{name: "overlap 0 is valid", change: func(p *Policy) { p.Overlap = 0 }},
		{name: "max-redeliveries 0 means no cap", change: func(p *Policy) { p.MaxRedeliveries = 0 }},
		{name: "valid filters are valid", change: func(p *Policy) {
			p.Events, p.ExcludeEvents = []string{"issues", "push"}, []string{"issues.closed"}
		}},
		{name: "max-attempts 0 is rejected", change: func(p *Policy) { p.MaxAttempts = 0 }, names: "max-attempts"},
		{name: "negative max-attempts is rejected", change: func(p *Policy) { p.MaxAttempts = -1 }, names: "max-attempts"},
		{name: "negative retry-base is rejected", change: func(p *Policy) { p.RetryBase = -time.Second }, names: "retry-base"},
		{name: "horizon 0 is rejected", change: func(p *Policy) { p.Horizon = 0 }, names: "horizon"},
		{name: "negative horizon is rejected", change: func(p *Policy) { p.Horizon = -time.Hour }, names: "horizon"},
		{name: "first window 0 is rejected", change: func(p *Policy) { p.FirstWindow = 0 }, names: "window"},
		{name: "negative overlap is rejected", change: func(p *Policy) { p.Overlap = -time.Minute }, names: "overlap"},
		{name: "negative max-redeliveries is rejected", change: func(p *Policy) { p.MaxRedeliveries = -1 }, names: "max-redeliveries"},
		{name: "negative pending grace is rejected", change: func(p *Policy) { p.PendingGrace = -time.Minute }, names: "pending"},
		{name: "an --events typo is rejected, naming it", change: func(p *Policy) { p.Events = []string{"push", "pushh"} }, names: `"pushh"`},
		{name: "an --exclude-events typo is rejected, naming it", change: func(p *Policy) { p.ExcludeEvents = []string{"Issues"} }, names: `"Issues"`},
	} {
		t.Run(r.name, func(t *testing.T) {
			p := DefaultPolicy()
			r.change(&p)
			err := p.Validate()
			if r.names == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error naming %s", r.names)
			}
			if ErrorCode(err) != EInvalid {
				t.Errorf("error code = %q, want %q", ErrorCode(err), EInvalid)
			}
			if !strings.Contains(err.Error(), r.names) {
				t.Errorf("Validate() = %q, want it to name %s", err, r.names)
			}
		})
	}
}

func TestPolicyValidateKeepsEvents(t *testing.T) {
	p := DefaultPolicy()
	p.Events = make([]string, 1, 4)
	p.Events[0] = "push"
	p.ExcludeEvents = []string{"issues"}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := p.Events[:cap(p.Events)][1]; got != "" {
		t.Errorf("Validate wrote %q into the spare capacity of Events", got)
	}
}

func TestPolicySpacing(t *testing.T) {
	for _, r := range []struct {
		name string
		base time.Duration
		n    int
		want time.Duration
	}{
		{"before any redelivery there is no spacing", time.Hour, 0, 0},
		{"after the 1st redelivery: RetryBase", time.Hour, 1, time.Hour},
		{"after the 2nd: 2 × RetryBase", time.Hour, 2, 2 * time.Hour},
		{"after the 3rd: 4 × RetryBase", time.Hour, 3, 4 * time.Hour},
		{"after the 4th: 8 × RetryBase", time.Hour, 4, 8 * time.Hour},
		{"after the 5th: 16 × RetryBase", 30 * time.Minute, 5, 8 * time.Hour},
		{"RetryBase 0 never spaces", 0, 4, 0},
	} {
		t.Run(r.name, func(t *testing.T) {
			p := DefaultPolicy()
			p.RetryBase = r.base
			if got := p.spacing(r.n); got != r.want {
				t.Errorf("spacing(%d) with RetryBase %s = %s, want %s", r.n, r.base, got, r.want)
			}
		})
	}
	t.Run("spacing does not overflow with many attempts", func(t *testing.T) {
		p := DefaultPolicy()
		prev := time.Duration(0)
		for n := 1; n <= 200; n++ {
			got := p.spacing(n)
			if got < prev || got <= 0 {
				t.Fatalf("spacing(%d) = %s after spacing(%d) = %s: want positive and non-decreasing", n, got, n-1, prev)
			}
			prev = got
		}
		if prev < 365*24*time.Hour {
			t.Errorf("spacing(200) = %s, want at least a year", prev)
		}
	})
}

func TestPacer(t *testing.T) {
	for _, r := range []struct {
		name      string
		perSecond float64
		slow      int // Slow() calls
		want      float64
	}{
		{"GitHub's default pace is one request a second", 1, 0, 1},
		{"a faster pace is kept as given", 5, 0, 5},
		{"0 means unlimited, reported as rate 0", 0, 0, 0},
		{"a negative pace means unlimited", -3, 0, 0},
		{"Slow halves the pace", 1, 1, 0.5},
		{"Slow halves again each time", 8, 3, 1},
		{"Slow drops an unlimited pacer to 10 a second", 0, 1, 10},
		{"Slow then halves a formerly unlimited pacer", 0, 2, 5},
	} {
		t.Run(r.name, func(t *testing.T) {
			p := NewPacer(r.perSecond)
			for range r.slow {
				p.Slow()
			}
			if got := p.Rate(); got != r.want {
				t.Errorf("NewPacer(%v) after %d Slow(): Rate() = %v, want %v", r.perSecond, r.slow, got, r.want)
			}
		})
	}
	t.Run("an unlimited pacer lets requests go", func(t *testing.T) {
		// A limited pacer would refuse at once: the wait would pass the deadline.
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		p := NewPacer(0)
		for i := range 100 {
			if err := p.Wait(ctx); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
	})
	t.Run("a cancelled run stops waiting with the context's error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := NewPacer(1).Wait(ctx); err == nil {
			t.Error("Wait on a cancelled context = nil, want an error")
		}
	})
}
