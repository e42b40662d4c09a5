package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/redeliver/redeliver"
)

// testMachine is what machineHostname reports in every test: a dotted name,
// as on a VM whose shell exports HOSTNAME as its fully qualified name.
const testMachine = "runner-7.corp.example.net"

func TestMain(m *testing.M) {
	machineHostname = func() (string, error) { return testMachine, nil }
	os.Exit(m.Run())
}

// Secret values used across the tests; none may ever appear in an error
// message, a warning or a From field.
const (
	secretToken     = "ghp_SECRETtokenVALUE0123456789abcdef"
	secretGHToken   = "gho_SECRETghTOKENvalue0123456789abc"
	secretGHToken2  = "ghs_SECRETgithubTOKENvalue012345678"
	secretFileToken = "github_pat_SECRETfileTOKEN0123456789"
)

// envMap is a map-backed Getenv.
type envMap map[string]string

func (e envMap) get(k string) string { return e[k] }

// with returns a copy of e with kv (name, value, name, value…) laid over it;
// an empty value deletes the name.
func (e envMap) with(kv ...string) envMap {
	out := envMap{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// fileMap is a map-backed readFile. Missing names fail like os.ReadFile.
type fileMap map[string]string

func (m fileMap) read(name string) ([]byte, error) {
	if v, ok := m[name]; ok {
		return []byte(v), nil
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

// testdataFiles loads every file of testdata/ (not its subdirectories) into
// a fileMap keyed by "testdata/NAME".
var testdataFiles = sync.OnceValue(func() fileMap {
	m := fileMap{}
	entries, err := os.ReadDir("testdata")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		p := filepath.Join("testdata", e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			panic(err)
		}
		m[filepath.ToSlash(p)] = string(b)
	}
	return m
})

// files returns the testdata files plus extra.
func files(extra fileMap) fileMap {
	m := fileMap{}
	for k, v := range testdataFiles() {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

type keys struct {
	pkcs1, pkcs8, ecPKCS8, ecSEC1 string
}

// testKeys generates the keys once per test binary.
var testKeys = sync.OnceValue(func() keys {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(rk)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	e8, err := x509.MarshalPKCS8PrivateKey(ek)
	if err != nil {
		panic(err)
	}
	e1, err := x509.MarshalECPrivateKey(ek)
	if err != nil {
		panic(err)
	}
	return keys{
		pkcs1:   string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)})),
		pkcs8:   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		ecPKCS8: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: e8})),
		ecSEC1:  string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: e1})),
	}
})

// keySecrets are the parts of a PEM that must never be shown: every base64
// line of its body.
func keySecrets(pemText string) []string {
	var out []string
	for _, line := range strings.Split(pemText, "\n") {
		line = strings.TrimSpace(line)
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

// allSecrets are the values no message may contain.
func allSecrets() []string {
	k := testKeys()
	s := []string{secretToken, secretGHToken, secretGHToken2, secretFileToken, "s3cretPassw0rd", "ghp_userTOKENinURL0123456789"}
	for _, p := range []string{k.pkcs1, k.pkcs8, k.ecPKCS8, k.ecSEC1} {
		s = append(s, keySecrets(p)...)
	}
	return s
}

// assertInvalid checks that err is an EInvalid error naming every one of
// want and quoting no secret.
func assertInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Resolve succeeded; want an error naming %q", want)
	}
	if code := redeliver.ErrorCode(err); code != redeliver.EInvalid {
		t.Errorf("error code = %q, want %q (error: %v)", code, redeliver.EInvalid, err)
	}
	var re *redeliver.Error
	if !errors.As(err, &re) {
		t.Errorf("error %T is not a *redeliver.Error", err)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not name %q", msg, w)
		}
	}
	assertNoSecret(t, "error", msg)
}

func assertNoSecret(t *testing.T, what, msg string) {
	t.Helper()
	for _, s := range allSecrets() {
		if strings.Contains(msg, s) {
			t.Errorf("%s %q quotes the secret %q", what, msg, s)
		}
	}
}

// mustResolve resolves and fails the test on error; warnings and From
// fields are checked for secrets.
func mustResolve(t *testing.T, f Flags, env envMap, fm fileMap) *Settings {
	t.Helper()
	if fm == nil {
		fm = files(nil)
	}
	s, err := Resolve(f, env.get, fm.read)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	for _, w := range s.Warnings {
		assertNoSecret(t, "warning", w)
	}
	assertNoSecret(t, "TokenFrom", s.TokenFrom)
	assertNoSecret(t, "PrivateKeyFrom", s.PrivateKeyFrom)
	assertNoSecret(t, "APIURLFrom", s.APIURLFrom)
	return s
}
