package ghext

import "testing"

func TestInvoked(t *testing.T) {
	for argv0, want := range map[string]bool{
		"gh-redeliver": true,
		"/home/me/.local/share/gh/extensions/gh-redeliver/gh-redeliver":                 true,
		`C:\Users\me\AppData\Local\GitHub CLI\extensions\gh-redeliver\gh-redeliver.exe`: true,
		"redeliver":                   false,
		"/usr/local/bin/redeliver":    false,
		"/tmp/gh-redeliver/redeliver": false,
		"gh-redeliver-old":            false,
	} {
		if got := Invoked(argv0); got != want {
			t.Errorf("Invoked(%q) = %v, want %v", argv0, got, want)
		}
	}
}

// TestAPIURL: each kind of gh host maps to its REST base URL and back.
func TestAPIURL(t *testing.T) {
	for _, c := range []struct{ host, api string }{
		{"github.com", "https://api.github.com/"},
		{"GitHub.com", "https://api.github.com/"},
		{"acme.ghe.com", "https://api.acme.ghe.com/"},
		{"ghe.example.com", "https://ghe.example.com/api/v3/"},
		{"ghe.example.com:8443", "https://ghe.example.com:8443/api/v3/"},
		{"127.0.0.1:8080", "http://127.0.0.1:8080/api/v3/"},
		{"localhost:3000", "http://localhost:3000/api/v3/"},
	} {
		if got := APIURL(c.host); got != c.api {
			t.Errorf("APIURL(%q) = %q, want %q", c.host, got, c.api)
		}
		back, err := HostOf(c.api)
		if err != nil {
			t.Errorf("HostOf(%q): %v", c.api, err)
		}
		if want := map[string]string{"GitHub.com": "github.com"}[c.host]; want != "" && back != want || want == "" && back != c.host {
			t.Errorf("HostOf(%q) = %q, want %q", c.api, back, c.host)
		}
	}
	if _, err := HostOf("not a url"); err == nil {
		t.Errorf("HostOf accepted a relative URL")
	}
}

func TestCheckHost(t *testing.T) {
	for h, ok := range map[string]bool{
		"github.com": true, "ghe.example.com:8443": true, "127.0.0.1:1": true,
		"": false, "https://ghe.example.com": false, "ghe.example.com/x": false, "a b": false, ":80": false,
	} {
		if err := checkHost(h); (err == nil) != ok {
			t.Errorf("checkHost(%q) = %v, want ok=%v", h, err, ok)
		}
	}
}

// TestLoginString never holds the token.
func TestLoginString(t *testing.T) {
	l := Login{Host: "github.com", HostSource: "GH_HOST", APIURL: APIURL("github.com"), Token: "gho_secret", TokenSource: "oauth_token"}
	if s := l.String(); s != "gh host github.com (from GH_HOST), API https://api.github.com/, token from oauth_token" {
		t.Errorf("String() = %q", s)
	}
}
