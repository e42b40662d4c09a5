package githubapi

import (
	"regexp"
	"strings"
)

// redacted stands in for whatever a URL carried that may be a secret.
const redacted = "xxxxx"

// RedactURL returns a URL fit to show in a message: its userinfo, the
// values of its query and its fragment may carry a password or a token
// (?access_token=…), so they are replaced; keys, host and path stay. It
// works on text that does not parse as a URL too.
func RedactURL(raw string) string {
	rest, frag, hasFrag := strings.Cut(raw, "#")
	rest, query, hasQuery := strings.Cut(rest, "?")
	if i := strings.Index(rest, "://"); i >= 0 {
		auth, path := rest[i+3:], ""
		if j := strings.IndexByte(auth, '/'); j >= 0 {
			auth, path = auth[:j], auth[j:]
		}
		if at := strings.LastIndexByte(auth, '@'); at >= 0 {
			auth = redacted + auth[at:]
		}
		rest = rest[:i+3] + auth + path
	} else if at := strings.LastIndexByte(rest, '@'); at >= 0 && !strings.Contains(rest[:at], "/") {
		rest = redacted + rest[at:] // user:pass@host without a scheme
	}
	var b strings.Builder
	b.WriteString(rest)
	if hasQuery {
		b.WriteByte('?')
		for i, kv := range strings.Split(query, "&") {
			if i > 0 {
				b.WriteByte('&')
			}
			if k, _, ok := strings.Cut(kv, "="); ok {
				b.WriteString(k + "=" + redacted)
			} else if kv != "" {
				b.WriteString(redacted)
			}
		}
	}
	if hasFrag && frag != "" {
		b.WriteString("#" + redacted)
	} else if hasFrag {
		b.WriteByte('#')
	}
	return b.String()
}

// urlInText finds URLs in a message: a scheme, "://", and what follows up
// to a space or a quote.
var urlInText = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s"'<>` + "`" + `]+`)

// RedactURLs applies RedactURL to every URL in a message.
func RedactURLs(msg string) string {
	if !strings.Contains(msg, "://") {
		return msg
	}
	return urlInText.ReplaceAllStringFunc(msg, RedactURL)
}
