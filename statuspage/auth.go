package statuspage

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"strings"
	"unicode"

	"github.com/redeliver/redeliver"
)

// MinTokenLength is the shortest access token accepted: shorter ones can be
// guessed.
const MinTokenLength = 16

// CheckListen decides whether the page may be served on addr (host:port, as
// --listen takes it): on a loopback address always; elsewhere only with an
// access token, or when insecureNoAuth says the operator knowingly serves
// it to anyone who can reach it. The error, EInvalid, names the flags.
func CheckListen(addr string, hasToken, insecureNoAuth bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return redeliver.Wrap(redeliver.EInvalid, err, "--listen %q: want HOST:PORT, such as 127.0.0.1:8080", addr)
	}
	if hasToken || insecureNoAuth || Loopback(host) {
		return nil
	}
	where := host
	if where == "" {
		where = "every interface"
	}
	return redeliver.Errorf(redeliver.EInvalid,
		"--listen %s serves the status page and its actions on %s, beyond this machine: give --auth-token-file, or --insecure-no-auth to serve it without authentication",
		addr, where)
}

// Loopback reports whether host (a name or an address, without a port)
// names this machine only: localhost or a loopback address. An empty host
// means every interface, which is not loopback.
func Loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// LoadToken reads the access token from path (the --auth-token-file flag):
// the file's content without surrounding white space. The error, EInvalid,
// names the flag and the file, never the content.
func LoadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", redeliver.Wrap(redeliver.EInvalid, err, "--auth-token-file %s: cannot read it", path)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case tok == "":
		return "", redeliver.Errorf(redeliver.EInvalid, "--auth-token-file %s is empty", path)
	case len(tok) < MinTokenLength:
		return "", redeliver.Errorf(redeliver.EInvalid, "--auth-token-file %s: the token is shorter than %d characters", path, MinTokenLength)
	case strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
		return "", redeliver.Errorf(redeliver.EInvalid, "--auth-token-file %s: the token must be one line without spaces", path)
	}
	return tok, nil
}

// sessionCookie names the cookie a browser gets after signing in.
const sessionCookie = "redeliver_session"

// auth checks requests against the access token. The zero value lets
// everyone in.
type auth struct {
	token string
}

func (a auth) enabled() bool { return a.token != "" }

// sign is the session value for name: name and an HMAC of it keyed by the
// token, so the cookie proves the token was known without holding it.
func (a auth) sign(name string) string {
	m := hmac.New(sha256.New, []byte(a.token))
	m.Write([]byte("redeliver status page session\x00" + name))
	return base64.RawURLEncoding.EncodeToString([]byte(name)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// who returns the name of the person r comes from and whether r may see
// the page: a bearer token in the Authorization header, or a session cookie.
func (a auth) who(r *http.Request) (string, bool) {
	if !a.enabled() {
		return "", true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") && a.tokenOK(strings.TrimSpace(tok)) {
			return "bearer token", true
		}
		return "", false
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	enc, _, ok := strings.Cut(c.Value, ".")
	if !ok {
		return "", false
	}
	name, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || subtle.ConstantTimeCompare([]byte(a.sign(string(name))), []byte(c.Value)) != 1 {
		return "", false
	}
	return string(name), true
}

// tokenOK compares in constant time.
func (a auth) tokenOK(tok string) bool {
	return subtle.ConstantTimeCompare([]byte(tok), []byte(a.token)) == 1
}
