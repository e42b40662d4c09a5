package githubapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redeliver/redeliver"
)

func TestNewValidatesConfig(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPKCS8 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})
	ecSEC1DER, _ := x509.MarshalECPrivateKey(ecKey)
	ecSEC1 := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecSEC1DER})
	garbledBody := "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu" // looks like key material
	garbled := []byte("-----BEGIN RSA PRIVATE KEY-----\n" + garbledBody + "\n-----END RSA PRIVATE KEY-----\n")

	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; nil: no error
		not  []string // must not appear
	}{
		{"default URL", Config{Token: testToken}, nil, nil},
		{"GHES URL without slash", Config{BaseURL: "https://ghe.example/api/v3", Token: testToken}, nil, nil},
		{"http to loopback v4", Config{BaseURL: "http://127.0.0.1:8080/", Token: testToken}, nil, nil},
		{"http to loopback 127/8", Config{BaseURL: "http://127.8.9.10:8080/", Token: testToken}, nil, nil},
		{"http to loopback v6", Config{BaseURL: "http://[::1]:8080/", Token: testToken}, nil, nil},
		{"http to localhost", Config{BaseURL: "http://localhost:8080/api/v3/", Token: testToken}, nil, nil},
		{"http to a remote host", Config{BaseURL: "http://ghe.example/api/v3/", Token: testToken},
			[]string{`"http://ghe.example/api/v3/"`, "plain http is only allowed to a loopback host"}, nil},
		{"http to a host named like loopback", Config{BaseURL: "http://127.0.0.1.nip.io/", Token: testToken},
			[]string{"plain http"}, nil},
		{"other scheme", Config{BaseURL: "ftp://ghe.example/", Token: testToken}, []string{"scheme must be https"}, nil},
		{"relative", Config{BaseURL: "api.github.com", Token: testToken}, []string{"must be absolute"}, nil},
		{"credentials in URL", Config{BaseURL: "https://me:hunter2@ghe.example/api/v3/", Token: testToken},
			[]string{"must not carry credentials"}, []string{"hunter2"}},
		{"query", Config{BaseURL: "https://ghe.example/api/v3/?x=1", Token: testToken}, []string{"query"}, nil},
		{"no credentials", Config{}, []string{"credentials"}, nil},
		{"token with newline", Config{Token: "abc\ndef"}, []string{"token: contains whitespace"}, []string{"abc"}},
		{"CA file missing", Config{Token: testToken, CAFile: filepath.Join(dir, "nope.pem")}, []string{"nope.pem"}, nil},
		{"CA file without certificate", Config{Token: testToken, CAFile: notPEM}, []string{"not.pem", "no PEM certificate"}, nil},
		{"PKCS#1 key", Config{AppID: appID, PrivateKeyPEM: pkcs1(testKey())}, nil, nil},
		{"PKCS#8 key", Config{AppID: appID, PrivateKeyPEM: pkcs8(testKey())}, nil, nil},
		{"key without app id", Config{PrivateKeyPEM: pkcs1(testKey())}, []string{"app id"}, nil},
		{"app id without key", Config{AppID: appID, Token: testToken}, []string{"private key is needed"}, nil},
		{"not PEM", Config{AppID: appID, PrivateKeyPEM: []byte("not a key at all")}, []string{"private key: no PEM block found"}, []string{"not a key at all"}},
		{"EC key in PKCS#8", Config{AppID: appID, PrivateKeyPEM: ecPKCS8}, []string{"private key: not an RSA key"}, nil},
		{"EC key in SEC 1", Config{AppID: appID, PrivateKeyPEM: ecSEC1}, []string{"private key: not an RSA key"}, nil},
		{"garbled RSA key", Config{AppID: appID, PrivateKeyPEM: garbled}, []string{"private key: not a valid PKCS#1 RSA key"}, []string{garbledBody[:20]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if !strings.HasSuffix(c.BaseURL(), "/") {
					t.Errorf("BaseURL() = %q, want a trailing slash", c.BaseURL())
				}
				return
			}
			wantCode(t, err, redeliver.EInvalid)
			wantContains(t, err, tt.want...)
			for _, n := range tt.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("error %q reveals %q", err, n)
				}
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q reveals the token", err)
			}
		})
	}
}

func TestNewKeyErrorsNeverQuoteTheKey(t *testing.T) {
	// A PKCS#8 RSA key with its DER corrupted: the parser's own message
	// could quote bytes; ours must not.
	good := pkcs8(testKey())
	block, _ := pem.Decode(good)
	block.Bytes = block.Bytes[:len(block.Bytes)/2]
	bad := pem.EncodeToMemory(block)
	_, err := New(Config{AppID: appID, PrivateKeyPEM: bad})
	wantCode(t, err, redeliver.EInvalid)
	body := strings.Split(string(bad), "\n")[1]
	noLeak(t, "corrupt key", err, body, body[:16])
}

func TestUserAgentDefault(t *testing.T) {
	c, err := New(Config{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.userAgent, "redeliver/") {
		t.Errorf("user agent %q, want redeliver/<version>", c.userAgent)
	}
	if c.REST() == nil {
		t.Error("REST() = nil with a token")
	}
	app, err := New(Config{AppID: appID, PrivateKeyPEM: pkcs1(testKey())})
	if err != nil {
		t.Fatal(err)
	}
	if app.REST() != nil {
		t.Error("REST() != nil without a token")
	}
}
