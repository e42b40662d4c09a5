package statuspage

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redeliver/redeliver"
)

//go:embed assets/*.css templates/*.html
var files embed.FS

// CSP is the Content-Security-Policy of every response: no script at all,
// styles and images from the page's own origin, forms only to it, never in
// a frame.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// MaxRows is how many events a target page lists at most; the filters
// narrow the rest down.
const MaxRows = 500

// Options configure the page.
type Options struct {
	// Source is where the page reads from. Required.
	Source Source
	// Actor carries out the buttons' actions; nil: a read-only page.
	Actor Actor
	// Token is the access token (from --auth-token-file); "" lets anyone
	// who can reach the address in. It never appears in a page or a log.
	Token string
	// Refresh reloads the overview this often (0: never).
	Refresh time.Duration
	// Logger receives one line per action; nil: slog.Default().
	Logger *slog.Logger
}

// Handler serves the status page. Mount it at "/".
type Handler struct {
	opts  Options
	auth  auth
	mux   *http.ServeMux
	tmpl  *template.Template
	csrf  *http.CrossOriginProtection
	log   *slog.Logger
	outer http.Handler
}

// New returns the page's handler.
func New(o Options) (*Handler, error) {
	if o.Source == nil {
		return nil, errors.New("statuspage: no Source")
	}
	h := &Handler{opts: o, auth: auth{token: o.Token}, mux: http.NewServeMux(), log: o.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	t, err := template.New("").Funcs(funcs).ParseFS(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	h.tmpl = t
	h.csrf = http.NewCrossOriginProtection()
	h.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request refused: use the page's own buttons", http.StatusForbidden)
	}))
	h.mux.HandleFunc("GET /{$}", h.overview)
	h.mux.HandleFunc("GET /target", h.target)
	h.mux.HandleFunc("POST /action", h.action)
	h.mux.HandleFunc("GET /login", h.loginForm)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.logout)
	h.mux.Handle("GET /assets/", http.FileServerFS(files))
	h.outer = h.csrf.Handler(h.mux)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	secure(w)
	if _, ok := h.auth.who(r); !ok && !strings.HasPrefix(r.URL.Path, "/assets/") && r.URL.Path != "/login" {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="redeliver"`)
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	h.outer.ServeHTTP(w, r)
}

// Protect wraps another handler of the same process (such as /metrics) in
// the page's authentication: a bearer token or the page's session cookie.
func (h *Handler) Protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.auth.who(r); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="redeliver"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// secure sets the headers every response carries.
func secure(w http.ResponseWriter) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
}

// page is what every template gets.
type page struct {
	Title    string
	Now      time.Time
	Refresh  int
	SignedIn bool
	Who      string
	Auth     bool
	Flash    string
	Error    string

	Targets []TargetStatus

	Target     TargetStatus
	Events     []Event
	Shown      int
	Total      int
	EventNames []string
	States     []string
	Filter     struct{ State, Event string }
	CanAct     bool
	Chart      template.HTML
	Next       string
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, status int, p *page) {
	p.Who, p.SignedIn = h.auth.who(r)
	p.Auth = h.auth.enabled()
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		h.log.Error("status page: rendering", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders an error page with a status matching the error's code.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	switch redeliver.ErrorCode(err) {
	case redeliver.ENotFound:
		status = http.StatusNotFound
	case redeliver.EInvalid:
		status = http.StatusBadRequest
	case redeliver.EConflict:
		status = http.StatusConflict
	}
	if status == http.StatusInternalServerError {
		h.log.Error("status page", "path", r.URL.Path, "err", err)
	}
	h.render(w, r, "error.html", status, &page{Title: http.StatusText(status), Error: err.Error()})
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	ts, err := h.opts.Source.Targets(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	p := &page{Title: "redeliver", Targets: ts, Refresh: int(h.opts.Refresh / time.Second)}
	if len(ts) > 0 {
		p.Now = ts[0].Now
	}
	h.render(w, r, "overview.html", http.StatusOK, p)
}

// allStates are the state filter's choices; "open" is failed or pending.
var allStates = []string{"open", "failed", "waiting", "pending", "recovered", "exhausted", "expired"}

func (h *Handler) target(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("key")
	p := &page{States: allStates, CanAct: h.opts.Actor != nil, Flash: q.Get("done"), Error: q.Get("err")}
	p.Filter.State, p.Filter.Event = q.Get("state"), q.Get("event")
	if p.Filter.State != "" && !slices.Contains(allStates, p.Filter.State) {
		h.fail(w, r, redeliver.Errorf(redeliver.EInvalid, "state filter %q: want one of %s", p.Filter.State, strings.Join(allStates, ", ")))
		return
	}
	t, events, err := h.opts.Source.Target(r.Context(), key)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	span := t.Policy.Horizon
	if span <= 0 {
		span = redeliver.HorizonDotCom
	}
	// The events come one by one, in no order: the page keeps the chart's
	// counts, the event names and the newest MaxRows that match, never the
	// whole ledger.
	chart := NewChart(t.Now, span, span/72)
	names := map[string]bool{}
	newest := make([]Event, 0, 2*MaxRows)
	keep := func() {
		slices.SortFunc(newest, Newer)
		newest = newest[:min(len(newest), MaxRows)]
	}
	for e, err := range events {
		if err != nil {
			h.fail(w, r, err)
			return
		}
		names[e.Event] = true
		chart.Add(e)
		if matches(e, p.Filter.State, p.Filter.Event) {
			p.Total++
			if newest = append(newest, e); len(newest) == cap(newest) {
				keep()
			}
		}
	}
	keep()
	p.Title, p.Target, p.Now, p.Events, p.Chart = t.Name, t, t.Now, newest, chart.HTML()
	for n := range names {
		p.EventNames = append(p.EventNames, n)
	}
	slices.Sort(p.EventNames)
	p.Shown = len(p.Events)
	p.Next = r.URL.RequestURI()
	h.render(w, r, "target.html", http.StatusOK, p)
}

// matches applies the page's filters: state (see allStates) and event
// ("push" or "issues.opened").
func matches(e Event, state, event string) bool {
	switch state {
	case "":
	case "open":
		if !e.State.Open() {
			return false
		}
	case "waiting":
		if e.State != redeliver.StateFailed || e.Due.IsZero() {
			return false
		}
	default:
		if string(e.State) != state {
			return false
		}
	}
	if event != "" {
		ev, act, hasAct := strings.Cut(event, ".")
		if e.Event != ev || (hasAct && e.Action != act) {
			return false
		}
	}
	return true
}

func (h *Handler) action(w http.ResponseWriter, r *http.Request) {
	if h.opts.Actor == nil {
		h.fail(w, r, redeliver.Errorf(redeliver.EInvalid, "this status page is read-only"))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, redeliver.Errorf(redeliver.EInvalid, "bad form"))
		return
	}
	key, guid := r.PostForm.Get("key"), r.PostForm.Get("guid")
	act := redeliver.ManualAction(r.PostForm.Get("action"))
	who, _ := h.auth.who(r)
	if who == "" {
		who = "status page"
	}
	back := url.Values{"key": {key}}
	_, err := h.opts.Actor.Act(r.Context(), key, guid, act, who)
	switch code := redeliver.ErrorCode(err); {
	case err == nil:
		h.log.Info("status page action", "target", key, "guid", guid, "action", string(act), "by", who)
		back.Set("done", act.Label()+": "+guid)
	case code == redeliver.EConflict || code == redeliver.ENotFound || code == redeliver.EInvalid:
		back.Set("err", err.Error())
	default:
		h.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/target?"+back.Encode(), http.StatusSeeOther)
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "login.html", http.StatusOK, &page{Title: "Sign in", Next: safeNext(r.URL.Query().Get("next"))})
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, redeliver.Errorf(redeliver.EInvalid, "bad form"))
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	if !h.auth.enabled() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	if !h.auth.tokenOK(strings.TrimSpace(r.PostForm.Get("token"))) {
		h.render(w, r, "login.html", http.StatusUnauthorized, &page{Title: "Sign in", Next: next, Error: "That token is not the one this server was given."})
		return
	}
	name := cleanName(r.PostForm.Get("name"))
	if name == "" {
		name = "token holder"
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: h.auth.sign(name), Path: "/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int((7 * 24 * time.Hour).Seconds())})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, `\`) {
		return "/"
	}
	return next
}

// cleanName keeps a name typed at sign-in short and printable.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64])
	}
	return s
}

var funcs = template.FuncMap{
	"ago": func(t, now time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return relative(now.Sub(t))
	},
	// for is how long since t, for a state that has held since then.
	"for": func(t, now time.Time) string {
		return short(max(now.Sub(t), 0))
	},
	"until": func(t, now time.Time) string {
		if t.IsZero() || !t.After(now) {
			return "now"
		}
		return "in " + short(t.Sub(now))
	},
	"utc": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"targetURL": func(key string, kv ...string) string {
		v := url.Values{"key": {key}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return "/target?" + v.Encode()
	},
	"due":    func(c Counts) int { return c.Failed - c.Waiting },
	"label":  func(a redeliver.ManualAction) string { return a.Label() },
	"danger": func(a redeliver.ManualAction) bool { return a == redeliver.ManualGiveUp },
	"eq2":    func(a, b string) bool { return a == b },
	"spans": func(ss []redeliver.Span) string {
		var parts []string
		for _, s := range ss {
			parts = append(parts, s.From.UTC().Format("Jan 2 15:04")+"–"+s.To.UTC().Format("Jan 2 15:04")+" ("+s.Reason+")")
		}
		return strings.Join(parts, "; ")
	},
	"itoa": strconv.Itoa,
}

// relative says how long ago d was, roughly.
func relative(d time.Duration) string {
	if d < 0 {
		return "in " + short(-d)
	}
	if d < time.Second {
		return "just now"
	}
	return short(d) + " ago"
}

// short is a duration in its largest sensible unit.
func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h" + strconv.Itoa(int(d%time.Hour/time.Minute)) + "m"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}
