package ghfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// hookshotUA is the User-Agent GitHub's delivery service sends.
const hookshotUA = "GitHub-Hookshot/5f2e1a7"

// newSendClient makes the client deliveries go out with. With keepAlive > 0
// (the background workers) it keeps that many idle connections per receiver
// so a large backlog does not open one connection per delivery; it closes
// them after a second idle, before a receiver's own idle timeout (node: 5 s)
// could close one under a request.
func newSendClient(timeout time.Duration, insecure bool, keepAlive int) *http.Client {
	tr := &http.Transport{
		Proxy:             nil, // deliveries go straight to the receiver
		DisableKeepAlives: keepAlive <= 0,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: insecure},
	}
	if keepAlive > 0 {
		tr.MaxIdleConnsPerHost = keepAlive
		tr.IdleConnTimeout = time.Second
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: tr,
		// GitHub records a redirect as the response it got; it does not follow it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// outgoing is one delivery to make, captured under the lock so the HTTP
// exchange itself runs without it.
type outgoing struct {
	hookID     int64
	url        string
	secret     string
	form       bool
	insecure   bool
	body       []byte
	guid       string
	event      string
	targetID   int64
	targetType string
}

// result is what a delivery got back, already in GitHub's terms.
type result struct {
	code       int
	status     string
	duration   float64
	respHeader map[string]string
	respBody   *string
	secret     string // what the request was signed with
	form       bool   // sent form-encoded
}

// Send delivers an event to a hook over real HTTP, as GitHub would, and
// records the attempt with a new guid. A nil payload is synthesized; a
// []byte or json.RawMessage is sent as is; anything else is marshalled.
// Failed deliveries are recorded, not returned as errors; the error is for an
// unknown or inactive hook or an unmarshallable payload. Events are not
// filtered against the hook's Events.
func (s *Server) Send(hookID int64, event, action string, payload any) (Attempt, error) {
	var body []byte
	switch p := payload.(type) {
	case nil:
	case []byte:
		body = p
	case json.RawMessage:
		body = p
	default:
		b, err := json.Marshal(p)
		if err != nil {
			return Attempt{}, fmt.Errorf("ghfake: payload: %w", err)
		}
		body = b
	}
	u := randomUUID(rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())))
	s.mu.Lock()
	h := s.st.hooks[hookID]
	if h == nil {
		s.mu.Unlock()
		return Attempt{}, fmt.Errorf("ghfake: unknown hook %d", hookID)
	}
	if !*h.cfg.Active {
		s.mu.Unlock()
		return Attempt{}, fmt.Errorf("ghfake: hook %d is not active", hookID)
	}
	a := attempt{uuid: u}
	a.inst, a.repoID = s.defaultContext(h)
	a.event, a.action = s.names.id(event), s.names.id(action)
	if body != nil {
		h.payloads = append(h.payloads, append([]byte(nil), body...))
		a.payload = int32(len(h.payloads))
	} else {
		body = s.synthPayload(h, &a)
	}
	out := s.outgoingLocked(h, &a, body)
	s.mu.Unlock()

	res := s.post(out)
	return s.recordAttempt(hookID, a, res, false)
}

// outgoingLocked prepares the delivery of attempt a's payload; s.mu held.
func (s *Server) outgoingLocked(h *hook, a *attempt, body []byte) outgoing {
	out := outgoing{hookID: h.id, url: h.cfg.URL, secret: h.cfg.Secret, form: h.cfg.ContentType == "form",
		insecure: h.cfg.InsecureSSL, body: body, guid: h.guid(a), event: s.names.list[a.event]}
	out.targetID, out.targetType = s.target(h)
	return out
}

// target is what X-GitHub-Hook-Installation-Target-ID/-Type name.
func (s *Server) target(h *hook) (int64, string) {
	switch h.kind {
	case repoHook:
		if r := s.st.repos[repoKey(h.owner, h.repo)]; r != nil {
			return r.id, "repository"
		}
	case appHook:
		return h.appID, "integration"
	default:
		if o := s.st.orgs[lower(h.owner)]; o != nil {
			return o.id, "organization"
		}
	}
	return 0, ""
}

// deliveryHeaders are the headers GitHub sends with a delivery (https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers).
func deliveryHeaders(hookID int64, out *outgoing, body []byte) map[string]string {
	hd := map[string]string{
		"Accept":                                 "*/*",
		"Content-Type":                           "application/json",
		"User-Agent":                             hookshotUA,
		"X-GitHub-Delivery":                      out.guid,
		"X-GitHub-Event":                         out.event,
		"X-GitHub-Hook-ID":                       strconv.FormatInt(hookID, 10),
		"X-GitHub-Hook-Installation-Target-ID":   strconv.FormatInt(out.targetID, 10),
		"X-GitHub-Hook-Installation-Target-Type": out.targetType,
	}
	if out.form {
		hd["Content-Type"] = "application/x-www-form-urlencoded"
	}
	if out.secret != "" {
		m := hmac.New(sha256.New, []byte(out.secret))
		m.Write(body)
		hd["X-Hub-Signature-256"] = "sha256=" + hex.EncodeToString(m.Sum(nil))
		m1 := hmac.New(sha1.New, []byte(out.secret))
		m1.Write(body)
		hd["X-Hub-Signature"] = "sha1=" + hex.EncodeToString(m1.Sum(nil))
	}
	return hd
}

// Signature returns the X-Hub-Signature-256 value GitHub sends for body.
func Signature(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// postedBody is the body a delivery sends: the payload, or for a form hook
// the payload as its "payload" field.
func postedBody(payload []byte, form bool) []byte {
	if form {
		return []byte("payload=" + url.QueryEscape(string(payload)))
	}
	return payload
}

// post performs the HTTP exchange and classifies the outcome.
func (s *Server) post(out outgoing) result {
	body := postedBody(out.body, out.form)
	hd := deliveryHeaders(out.hookID, &out, body)
	res := result{secret: out.secret, form: out.form}
	req, err := http.NewRequestWithContext(s.sendCtx, http.MethodPost, out.url, bytes.NewReader(body))
	if err != nil {
		res.status = StatusConnectHost
		return res
	}
	for k, v := range hd {
		req.Header[k] = []string{v}
	}
	cli := s.sendCli
	if out.insecure {
		cli = s.sendCliI
	}
	start := time.Now()
	resp, err := cli.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err == nil {
			res.code = resp.StatusCode
			res.status = statusFor(resp.StatusCode)
			res.respHeader = map[string]string{}
			for k, v := range resp.Header {
				res.respHeader[k] = v[0]
			}
			str := string(b)
			res.respBody = &str
		}
	}
	res.duration = math.Round(time.Since(start).Seconds()*100) / 100
	if err != nil {
		res.code, res.status = 0, classify(err)
	}
	return res
}

// classify names a transport error as GitHub's status strings do (https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/troubleshooting-webhooks).
func classify(err error) string {
	var ne net.Error
	var dns *net.DNSError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var tlsRec tls.RecordHeaderError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return StatusTimedOut
	case errors.As(err, &dns):
		return StatusConnectHost
	case errors.As(err, &ua), errors.As(err, &hn), errors.As(err, &ci), errors.As(err, &tlsRec):
		return StatusTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return StatusConnectNetwork
	}
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil && ue.Op == "Post" {
		var op *net.OpError
		if !errors.As(err, &op) {
			return StatusConnectHost // unsupported scheme, empty URL
		}
	}
	return StatusConnectNetwork
}

// recordAttempt stores a delivery's outcome as a new attempt (a copies the
// event, guid, payload and context) and returns it.
func (s *Server) recordAttempt(hookID int64, a attempt, res result, redelivery bool) (Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.st.hooks[hookID]
	if h == nil {
		return Attempt{}, fmt.Errorf("ghfake: hook %d vanished", hookID)
	}
	a.at = s.now().Unix()
	a.id = s.st.idFor(a.at)
	if n := len(h.attempts); n > 0 && h.attempts[n-1].id >= a.id {
		a.id = h.attempts[n-1].id + 1 // a redelivery always gets a larger id
	}
	a.redeliv = redelivery
	a.code = int16(res.code)
	a.status = s.names.id(res.status)
	a.duration = float32(res.duration)
	h.insert(a)
	h.details[a.id] = &delivered{url: h.cfg.URL, secret: res.secret, form: res.form, respHeader: res.respHeader, respBody: res.respBody}
	return s.export(h, &a), nil
}

// ---- redelivery ----

type queued struct {
	hookID, deliveryID int64
	logIdx             int
	log                Redelivery
	// do, when set, is another background delivery (a ping) to make instead.
	do func()
}

type redeliveryQueue struct {
	mu    sync.Mutex
	items []queued
}

// startRedelivery logs a redelivery of attempt id on hook h and performs it
// now, queues it for ProcessRedeliveries (DeferRedeliveries) or hands it to
// the background workers (RedeliveryWorkers); s.mu must NOT be held.
func (s *Server) startRedelivery(hookID, deliveryID int64, guid string) {
	log := Redelivery{HookID: hookID, DeliveryID: deliveryID, GUID: guid, At: s.now()}
	idx := s.logRedelivery(log)
	q := queued{hookID: hookID, deliveryID: deliveryID, logIdx: idx, log: log}
	if s.opts.DeferRedeliveries {
		s.queue.mu.Lock()
		s.queue.items = append(s.queue.items, q)
		s.queue.mu.Unlock()
		return
	}
	if s.pool != nil {
		s.pool.push(q)
		return
	}
	s.performRedelivery(q)
}

// performRedelivery re-sends an attempt's payload and records the new attempt.
func (s *Server) performRedelivery(q queued) bool {
	s.mu.Lock()
	h := s.st.hooks[q.hookID]
	if h == nil {
		s.mu.Unlock()
		return false
	}
	i := h.find(q.deliveryID)
	if i < 0 {
		s.mu.Unlock()
		return false
	}
	a := h.attempts[i]
	body := s.payloadLocked(h, &a)
	out := s.outgoingLocked(h, &a, body)
	s.mu.Unlock()

	res := s.post(out)
	if s.sendCtx.Err() != nil {
		return false // closed while delivering: GitHub never finished this one
	}
	na, err := s.recordAttempt(q.hookID, a, res, true)
	if err != nil {
		return false
	}
	s.completeRedelivery(q.logIdx, q.log, na.ID)
	return true
}

// ProcessRedeliveries performs the redeliveries queued under
// DeferRedeliveries, in order, and returns how many it performed.
func (s *Server) ProcessRedeliveries() int {
	s.queue.mu.Lock()
	items := s.queue.items
	s.queue.items = nil
	s.queue.mu.Unlock()
	n := 0
	for _, q := range items {
		if s.performRedelivery(q) {
			n++
		}
	}
	return n
}

// PendingRedeliveries returns how many redeliveries are accepted but not yet
// recorded: deferred ones waiting for ProcessRedeliveries, or those queued
// for or in the hands of the background workers.
func (s *Server) PendingRedeliveries() int {
	if s.pool != nil {
		s.pool.mu.Lock()
		defer s.pool.mu.Unlock()
		return s.pool.pending
	}
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	return len(s.queue.items)
}

// payloadLocked returns the payload an attempt carried; s.mu held.
func (s *Server) payloadLocked(h *hook, a *attempt) []byte {
	if a.payload > 0 {
		return h.payloads[a.payload-1]
	}
	return s.synthPayload(h, a)
}

// synthPayload builds a small, plausible payload for a seeded attempt. It
// depends only on what redeliveries share (hook, event, action, guid,
// context), so a redelivery sends the same bytes.
func (s *Server) synthPayload(h *hook, a *attempt) []byte {
	p := map[string]any{}
	if act := s.names.list[a.action]; act != "" {
		p["action"] = act
	}
	if o := s.st.orgs[lower(h.owner)]; o != nil {
		p["organization"] = map[string]any{"login": o.login, "id": o.id}
	}
	if a.repoID != 0 {
		repo := map[string]any{"id": a.repoID}
		for _, r := range s.st.repos {
			if r.id == a.repoID {
				repo["name"], repo["full_name"] = r.name, r.owner+"/"+r.name
			}
		}
		p["repository"] = repo
	}
	if a.inst != 0 {
		p["installation"] = map[string]any{"id": a.inst}
	}
	p["sender"] = map[string]any{"login": "ghfake[bot]", "id": 1, "type": "Bot"}
	if s.names.list[a.event] == "ping" {
		p["zen"] = "Keep it logically awesome."
		p["hook_id"] = h.id
	}
	b, _ := json.Marshal(p)
	return b
}
