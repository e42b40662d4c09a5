package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/redeliver/redeliver"
)

// Formats of a Webhook's body.
const (
	// FormatSlack is a Slack-compatible incoming webhook body:
	// {"text": "…"} (Mattermost, Rocket.Chat and Teams' Slack connector
	// take it too).
	FormatSlack = "slack"
	// FormatJSON is the Notice itself as JSON, for a generic receiver.
	FormatJSON = "json"
)

// Webhook posts notices to an HTTP endpoint, at most one every Every (Slack
// allows about one message a second per webhook).
type Webhook struct {
	url     string
	format  string
	client  *http.Client
	limiter *rate.Limiter
}

// WebhookOptions configure a Webhook. URL is secret (it carries the
// webhook's key): it is never logged or shown, errors name only its host.
type WebhookOptions struct {
	URL    string
	Format string        // FormatSlack (default) or FormatJSON
	Every  time.Duration // at most one message this often; default 1s
	Client *http.Client  // default: a client with a 10 s timeout
}

// NewWebhook checks o and returns the notifier. Errors are EInvalid and
// never contain the URL.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, redeliver.Errorf(redeliver.EInvalid, "alert webhook URL: want an http(s) URL with a host")
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return nil, redeliver.Errorf(redeliver.EInvalid, "alert webhook URL for %s: plain http is accepted only for loopback addresses; use https", u.Hostname())
	}
	switch o.Format {
	case "":
		o.Format = FormatSlack
	case FormatSlack, FormatJSON:
	default:
		return nil, redeliver.Errorf(redeliver.EInvalid, "alert webhook format %q: want %s or %s", o.Format, FormatSlack, FormatJSON)
	}
	if o.Every <= 0 {
		o.Every = time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Webhook{url: o.URL, format: o.Format, client: o.Client, limiter: rate.NewLimiter(rate.Every(o.Every), 1)}, nil
}

// ReadURLFile reads a webhook URL from path (the --alert-webhook-url-file
// flag): the file's content without surrounding white space. Errors name
// the flag and the file, never the content.
func ReadURLFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", redeliver.Wrap(redeliver.EInvalid, err, "--alert-webhook-url-file %s: cannot read it", path)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", redeliver.Errorf(redeliver.EInvalid, "--alert-webhook-url-file %s is empty", path)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return "", redeliver.Errorf(redeliver.EInvalid, "--alert-webhook-url-file %s: want one URL on one line", path)
	}
	return s, nil
}

// Name implements Notifier.
func (w *Webhook) Name() string { return "webhook" }

// Notify implements Notifier.
func (w *Webhook) Notify(ctx context.Context, n Notice) error {
	var body any = n
	if w.format == FormatSlack {
		body = map[string]string{"text": n.Text()}
	}
	return w.post(ctx, body)
}

func (w *Webhook) post(ctx context.Context, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return Permanent(err)
	}
	if err := w.limiter.Wait(ctx); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(b))
	if err != nil {
		return Permanent(fmt.Errorf("alert webhook: cannot make the request"))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "redeliver")
	resp, err := w.client.Do(req)
	if err != nil {
		// The error text of net/http holds the URL: name only the host.
		return fmt.Errorf("alert webhook at %s: %s", req.URL.Host, scrub(err.Error(), w.url))
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("alert webhook at %s answered %s", req.URL.Host, resp.Status)
	}
	return Permanent(fmt.Errorf("alert webhook at %s answered %s", req.URL.Host, resp.Status))
}

// scrub removes the secret URL (and its path) from a message.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	msg = strings.ReplaceAll(msg, secret, "[webhook URL]")
	if u, err := url.Parse(secret); err == nil && u.Path != "" && u.Path != "/" {
		msg = strings.ReplaceAll(msg, u.Path, "/[redacted]")
	}
	return msg
}

func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	return strings.HasPrefix(h, "127.") || h == "::1"
}
