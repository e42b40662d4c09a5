package config

import (
	"os"
	"strconv"
	"strings"

	"github.com/redeliver/redeliver/githubapi"
)

// resolveCredentials finds the token and the App key. Tokens: --token-file,
// else TOKEN (the docs script's, which names the token meant for this job),
// else GH_TOKEN, else GITHUB_TOKEN. App: --app-id/APP_ID with
// --private-key-file or PRIVATE_KEY (the PEM text, as the App docs script
// takes it).
func resolveCredentials(s *Settings, f Flags, env Getenv, readFile func(string) ([]byte, error)) error {
	if f.TokenFile != "" {
		b, err := readFile(f.TokenFile)
		if err != nil {
			return errf("--token-file %s: %v", f.TokenFile, unwrapPathErr(err))
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
			return errf("--token-file %s: want one token on one line", f.TokenFile)
		}
		s.Token, s.TokenFrom = tok, "--token-file "+f.TokenFile
	} else {
		for _, name := range []string{"TOKEN", "GH_TOKEN", "GITHUB_TOKEN"} {
			if v := strings.TrimSpace(env(name)); v != "" {
				if strings.ContainsAny(v, " \t\r\n") {
					return errf("%s: the token must not contain spaces or line breaks", name)
				}
				s.Token, s.TokenFrom = v, name
				break
			}
		}
	}

	idText, idFrom := f.AppID, "--app-id"
	if idText == "" {
		idText, idFrom = env("APP_ID"), "APP_ID"
	}
	var key []byte
	keyFrom := ""
	switch {
	case f.PrivateKeyFile != "":
		keyFrom = "--private-key-file " + f.PrivateKeyFile
		b, err := readFile(f.PrivateKeyFile)
		if err != nil {
			return errf("--private-key-file %s: %v", f.PrivateKeyFile, unwrapPathErr(err))
		}
		key = b
		if st, err := os.Stat(f.PrivateKeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			s.Warnings = append(s.Warnings, "private key file "+f.PrivateKeyFile+" is readable by others (mode "+st.Mode().Perm().String()+"); chmod 600 it")
		}
	case env("PRIVATE_KEY") != "":
		keyFrom = "PRIVATE_KEY"
		// Secrets pasted into one-line settings often carry "\n" literally.
		key = []byte(strings.ReplaceAll(env("PRIVATE_KEY"), `\n`, "\n"))
	}
	switch {
	case idText == "" && key == nil:
		return nil
	case idText == "":
		return errf("%s is given but no App id: set --app-id or APP_ID", keyFrom)
	case key == nil:
		return errf("%s is given but no private key: set --private-key-file or PRIVATE_KEY", idFrom)
	}
	id, err := strconv.ParseInt(strings.TrimSpace(idText), 10, 64)
	if err != nil || id <= 0 {
		return errf("%s=%q: an App id is a positive integer", idFrom, truncate(idText))
	}
	if err := githubapi.CheckPrivateKey(key); err != nil {
		return errf("%s: %v", keyFrom, err)
	}
	s.AppID, s.PrivateKey, s.PrivateKeyFrom = id, key, keyFrom
	return nil
}
