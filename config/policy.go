package config

import (
	"strconv"
	"time"

	"github.com/redeliver/redeliver"
)

// resolvePolicy builds the default policy: built-in defaults, then the
// config file's defaults, then flags.
func resolvePolicy(s *Settings, f Flags, file *File, env Getenv) error {
	p := redeliver.DefaultPolicy()
	if s.GHES {
		p.Horizon = redeliver.HorizonGHES
	}
	var err error
	if file != nil {
		if p, err = applyOptions(p, file.Defaults, "config "+file.name+": defaults"); err != nil {
			return err
		}
	}
	var mr *int
	if f.MaxRedeliveries != 0 {
		mr = &f.MaxRedeliveries
	}
	var ma *int
	if f.MaxAttempts != 0 {
		ma = &f.MaxAttempts
	}
	flags := PolicyOptions{MaxAttempts: ma, RetryBase: f.RetryBase, Since: f.Since,
		Events: f.Events, ExcludeEvents: f.ExcludeEvents, MaxRedeliveries: mr}
	if p, err = applyOptions(p, flags, "flag"); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	s.Policy = p
	return nil
}

// applyOptions lays options over a policy; where names the source in errors.
func applyOptions(p redeliver.Policy, o PolicyOptions, where string) (redeliver.Policy, error) {
	name := func(key, flag string) string {
		if where == "flag" {
			return flag
		}
		return where + ": " + key
	}
	if o.MaxAttempts != nil {
		if *o.MaxAttempts < 1 || *o.MaxAttempts > 100 {
			return p, errf("%s: must be between 1 and 100, got %d", name("max_attempts", "--max-attempts"), *o.MaxAttempts)
		}
		p.MaxAttempts = *o.MaxAttempts
	}
	if o.MaxRedeliveries != nil {
		if *o.MaxRedeliveries < 0 {
			return p, errf("%s: must not be negative, got %d", name("max_redeliveries", "--max-redeliveries"), *o.MaxRedeliveries)
		}
		p.MaxRedeliveries = *o.MaxRedeliveries
	}
	if o.RetryBase != "" {
		d, err := time.ParseDuration(o.RetryBase)
		if err != nil || d < time.Second || d > 7*24*time.Hour {
			return p, errf("%s %q: want a duration between 1s and 168h, like 1h", name("retry_base", "--retry-base"), truncate(o.RetryBase))
		}
		p.RetryBase = d
	}
	if o.Since != "" {
		t, ago, err := ParseSince(o.Since)
		if err != nil {
			return p, errf("%s: %v", name("since", "--since"), err)
		}
		p.Since, p.SinceAgo = t, ago
	}
	for _, list := range []struct {
		key, flag string
		v         []string
		dst       *[]string
	}{{"events", "--events", o.Events, &p.Events}, {"exclude_events", "--exclude-events", o.ExcludeEvents, &p.ExcludeEvents}} {
		if list.v == nil {
			continue
		}
		for _, e := range list.v {
			if err := checkEventFilter(e); err != nil {
				return p, errf("%s: %v", name(list.key, list.flag), err)
			}
		}
		*list.dst = append([]string(nil), list.v...)
	}
	return p, nil
}

func itoaInt(i int) string { return strconv.Itoa(i) }
