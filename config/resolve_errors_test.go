package config

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// The project rule: bad input gets a clear error and changes nothing. Every
// flag, environment variable and config file that can be wrong is rejected
// here with an EInvalid error whose message names it, and no error quotes a
// token or a key.

var (
	tokenEnv = envMap{"TOKEN": secretToken}
	docsOrg  = envMap{
		"TOKEN":                         secretToken,
		"ORGANIZATION_NAME":             "acme",
		"HOOK_ID":                       "12",
		"LAST_REDELIVERY_VARIABLE_NAME": "LAST_REDELIVERY",
		"WORKFLOW_REPO_OWNER":           "acme",
		"WORKFLOW_REPO_NAME":            "ops",
	}
	docsRepo = envMap{
		"TOKEN":                         secretToken,
		"REPO_OWNER":                    "acme",
		"REPO_NAME":                     "api",
		"HOOK_ID":                       "34",
		"LAST_REDELIVERY_VARIABLE_NAME": "LAST_REDELIVERY",
		"WORKFLOW_REPO_OWNER":           "acme",
		"WORKFLOW_REPO_NAME":            "ops",
	}
)

func docsApp() envMap {
	return envMap{
		"APP_ID":                        "56",
		"PRIVATE_KEY":                   testKeys().pkcs1,
		"TOKEN":                         secretToken,
		"LAST_REDELIVERY_VARIABLE_NAME": "LAST_REDELIVERY",
		"WORKFLOW_REPO_OWNER":           "acme",
		"WORKFLOW_REPO_NAME":            "ops",
	}
}

type errRow struct {
	name  string
	flags Flags
	env   envMap
	files fileMap // added to the testdata files
	want  []string
}

func runErrRows(t *testing.T, rows []errRow) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			env := r.env
			if env == nil {
				env = envMap{}
			}
			s, err := resolveNoPanic(t, r.flags, env, files(r.files))
			if err == nil {
				t.Fatalf("Resolve succeeded (targets %+v, API %s, state %v); want an error naming %q", s.Targets, s.APIURL, s.State, r.want)
			}
			if s != nil {
				t.Errorf("Resolve returned Settings alongside error %v", err)
			}
			assertInvalid(t, err, r.want...)
		})
	}
}

// resolveNoPanic calls Resolve and turns a panic into a test failure, so
// that one bad input does not take the rest of the suite down with it.
func resolveNoPanic(t *testing.T, f Flags, env envMap, fm fileMap) (s *Settings, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Resolve panics: %v\n%s", r, debug.Stack())
		}
	}()
	return Resolve(f, env.get, fm.read)
}

func TestResolveRejectsTargets(t *testing.T) {
	runErrRows(t, []errRow{
		{name: "HOOK_ID=abc", env: docsOrg.with("HOOK_ID", "abc"), want: []string{"HOOK_ID", "abc"}},
		{name: "HOOK_ID=0", env: docsOrg.with("HOOK_ID", "0"), want: []string{"HOOK_ID"}},
		{name: "HOOK_ID=-3", env: docsOrg.with("HOOK_ID", "-3"), want: []string{"HOOK_ID", "-3"}},
		{name: "HOOK_ID=1.5", env: docsOrg.with("HOOK_ID", "1.5"), want: []string{"HOOK_ID"}},
		{name: "HOOK_ID placeholder", env: docsOrg.with("HOOK_ID", "YOUR_HOOK_ID"), want: []string{"HOOK_ID"}},
		{name: "HOOK_ID overflow", env: docsOrg.with("HOOK_ID", "99999999999999999999"), want: []string{"HOOK_ID"}},
		{name: "repo HOOK_ID=abc", env: docsRepo.with("HOOK_ID", "abc"), want: []string{"HOOK_ID"}},
		{name: "ORGANIZATION_NAME without HOOK_ID", env: docsOrg.with("HOOK_ID", ""), want: []string{"HOOK_ID"}},
		{name: "REPO_OWNER/REPO_NAME without HOOK_ID", env: docsRepo.with("HOOK_ID", ""), want: []string{"HOOK_ID"}},
		{name: "HOOK_ID alone", env: tokenEnv.with("HOOK_ID", "12"), want: []string{"HOOK_ID", "ORGANIZATION_NAME", "REPO_OWNER"}},
		{name: "ORGANIZATION_NAME with REPO_OWNER", env: docsOrg.with("REPO_OWNER", "acme"), want: []string{"ORGANIZATION_NAME", "REPO_OWNER"}},
		{name: "ORGANIZATION_NAME with REPO_NAME", env: docsOrg.with("REPO_NAME", "api"), want: []string{"ORGANIZATION_NAME", "REPO_NAME"}},
		{name: "REPO_OWNER without REPO_NAME", env: docsRepo.with("REPO_NAME", ""), want: []string{"REPO_OWNER", "REPO_NAME"}},
		{name: "REPO_NAME without REPO_OWNER", env: docsRepo.with("REPO_OWNER", ""), want: []string{"REPO_OWNER", "REPO_NAME"}},
		{name: "ORGANIZATION_NAME bad", env: docsOrg.with("ORGANIZATION_NAME", "bad name!"), want: []string{"ORGANIZATION_NAME", "bad name!"}},
		{name: "ORGANIZATION_NAME too long", env: docsOrg.with("ORGANIZATION_NAME", strings.Repeat("a", 40)), want: []string{"ORGANIZATION_NAME"}},
		{name: "REPO_OWNER bad", env: docsRepo.with("REPO_OWNER", "ac/me"), want: []string{"REPO_OWNER"}},
		{name: "REPO_NAME bad", env: docsRepo.with("REPO_NAME", "a pi"), want: []string{"REPO_NAME"}},
		{name: "REPO_NAME dotdot", env: docsRepo.with("REPO_NAME", ".."), want: []string{"REPO_NAME"}},
		{name: "no target at all", env: tokenEnv, want: []string{"--org", "--repo", "--app", "--config", "ORGANIZATION_NAME"}},

		{name: "--hook abc", flags: Flags{Org: "acme", Hook: "abc"}, env: tokenEnv, want: []string{"--hook", "abc"}},
		{name: "--hook 0", flags: Flags{Org: "acme", Hook: "0"}, env: tokenEnv, want: []string{"--hook"}},
		{name: "--hook -3", flags: Flags{Repo: "acme/api", Hook: "-3"}, env: tokenEnv, want: []string{"--hook"}},
		{name: "--org and --repo", flags: Flags{Org: "acme", Repo: "acme/api"}, env: tokenEnv, want: []string{"--org", "--repo"}},
		{name: "--org and --app", flags: Flags{Org: "acme", App: true}, env: tokenEnv, want: []string{"--org", "--app"}},
		{name: "--repo and --app", flags: Flags{Repo: "acme/api", App: true}, env: tokenEnv, want: []string{"--repo", "--app"}},
		{name: "--hook without --org", flags: Flags{Hook: "12"}, env: tokenEnv, want: []string{"--hook", "--org"}},
		{name: "--hook-url without --org", flags: Flags{HookURL: "https://ci.example.com/hook"}, env: tokenEnv, want: []string{"--hook-url", "--org"}},
		{name: "--hook with --hook-url", flags: Flags{Org: "acme", Hook: "12", HookURL: "https://ci.example.com/hook"}, env: tokenEnv, want: []string{"--hook", "--hook-url"}},
		{name: "--hook-url not a URL", flags: Flags{Org: "acme", HookURL: "not a url"}, env: tokenEnv, want: []string{"--hook-url", "not a url"}},
		{name: "--hook-url relative", flags: Flags{Org: "acme", HookURL: "/webhook"}, env: tokenEnv, want: []string{"--hook-url"}},
		{name: "--hook-url ftp", flags: Flags{Org: "acme", HookURL: "ftp://ci.example.com/hook"}, env: tokenEnv, want: []string{"--hook-url"}},
		{name: "--app with --hook", flags: Flags{App: true, Hook: "12"}, env: docsApp(), want: []string{"--app", "--hook"}},
		{name: "--app with --hook-url", flags: Flags{App: true, HookURL: "https://ci.example.com/hook"}, env: docsApp(), want: []string{"--app", "--hook-url"}},
		{name: "--repo noslash", flags: Flags{Repo: "noslash"}, env: tokenEnv, want: []string{"--repo", "noslash"}},
		{name: "--repo a/b/c", flags: Flags{Repo: "a/b/c"}, env: tokenEnv, want: []string{"--repo", "a/b/c"}},
		{name: "--repo /api", flags: Flags{Repo: "/api"}, env: tokenEnv, want: []string{"--repo"}},
		{name: "--repo acme/", flags: Flags{Repo: "acme/"}, env: tokenEnv, want: []string{"--repo"}},
		{name: "--org bad name!", flags: Flags{Org: "bad name!"}, env: tokenEnv, want: []string{"--org", "bad name!"}},
		{name: "--org leading hyphen", flags: Flags{Org: "-acme"}, env: tokenEnv, want: []string{"--org"}},
		{name: "--org and --config", flags: Flags{Org: "acme", Config: "testdata/valid.yaml"}, env: docsApp(), want: []string{"--config", "testdata/valid.yaml"}},
		{name: "--repo and --config", flags: Flags{Repo: "acme/api", Config: "testdata/layering.yaml"}, env: tokenEnv, want: []string{"--config", "testdata/layering.yaml"}},
		{name: "--app and --config", flags: Flags{App: true, Config: "testdata/layering.yaml"}, env: docsApp(), want: []string{"--config", "testdata/layering.yaml"}},
	})
}

func TestResolveRejectsCredentials(t *testing.T) {
	k := testKeys()
	dir := t.TempDir()
	ecFile := filepath.Join(dir, "ec.pem")
	if err := os.WriteFile(ecFile, []byte(k.ecPKCS8), 0o600); err != nil {
		t.Fatal(err)
	}
	org := Flags{Org: "acme"}
	runErrRows(t, []errRow{
		{name: "no token for an org flag", flags: org, env: envMap{}, want: []string{"org acme", "GITHUB_TOKEN", "GH_TOKEN", "TOKEN", "--token-file"}},
		{name: "no token for the docs org env", env: docsOrg.with("TOKEN", ""), want: []string{"GITHUB_TOKEN", "GH_TOKEN", "TOKEN"}},
		{name: "no token for the docs repo env", env: docsRepo.with("TOKEN", ""), want: []string{"acme/api", "GITHUB_TOKEN", "GH_TOKEN", "TOKEN"}},
		{name: "blank TOKEN is no token", flags: org, env: envMap{"TOKEN": "  \n"}, want: []string{"GITHUB_TOKEN", "GH_TOKEN", "TOKEN"}},
		{name: "TOKEN with a newline", flags: org, env: envMap{"TOKEN": secretToken + "\n" + secretGHToken}, want: []string{"TOKEN"}},
		{name: "TOKEN with a space", flags: org, env: envMap{"TOKEN": "Bearer " + secretToken}, want: []string{"TOKEN"}},
		{name: "GH_TOKEN with a newline", flags: org, env: envMap{"GH_TOKEN": secretGHToken + "\r\n" + secretToken}, want: []string{"GH_TOKEN"}},
		{name: "GITHUB_TOKEN with a tab", flags: org, env: envMap{"GITHUB_TOKEN": secretGHToken2 + "\t" + secretToken}, want: []string{"GITHUB_TOKEN"}},
		{name: "--token-file missing", flags: Flags{Org: "acme", TokenFile: "/no/such/token"}, env: tokenEnv, want: []string{"--token-file", "/no/such/token"}},
		{name: "--token-file empty", flags: Flags{Org: "acme", TokenFile: "tok"}, files: fileMap{"tok": ""}, env: tokenEnv, want: []string{"--token-file", "tok"}},
		{name: "--token-file blank", flags: Flags{Org: "acme", TokenFile: "tok"}, files: fileMap{"tok": " \n\n"}, env: tokenEnv, want: []string{"--token-file", "tok"}},
		{name: "--token-file two lines", flags: Flags{Org: "acme", TokenFile: "tok"}, files: fileMap{"tok": secretFileToken + "\n" + secretToken + "\n"}, want: []string{"--token-file", "tok"}},
		{name: "--token-file a key", flags: Flags{Org: "acme", TokenFile: "tok"}, files: fileMap{"tok": k.pkcs1}, want: []string{"--token-file", "tok"}},

		{name: "APP_ID without PRIVATE_KEY", env: docsApp().with("PRIVATE_KEY", ""), want: []string{"APP_ID", "PRIVATE_KEY", "--private-key-file"}},
		{name: "PRIVATE_KEY without APP_ID", env: docsApp().with("APP_ID", ""), want: []string{"PRIVATE_KEY", "APP_ID", "--app-id"}},
		{name: "--app-id without a key", flags: Flags{AppID: "56", Org: "acme"}, env: tokenEnv, want: []string{"--app-id", "PRIVATE_KEY"}},
		{name: "--private-key-file without an App id", flags: Flags{PrivateKeyFile: "key.pem", Org: "acme"}, files: fileMap{"key.pem": k.pkcs1}, env: tokenEnv, want: []string{"--private-key-file key.pem", "APP_ID"}},
		{name: "APP_ID=abc", env: docsApp().with("APP_ID", "abc"), want: []string{"APP_ID", "abc"}},
		{name: "APP_ID=0", env: docsApp().with("APP_ID", "0"), want: []string{"APP_ID"}},
		{name: "APP_ID=-1", env: docsApp().with("APP_ID", "-1"), want: []string{"APP_ID"}},
		{name: "--app-id abc", flags: Flags{App: true, AppID: "abc"}, env: docsApp(), want: []string{"--app-id", "abc"}},
		{name: "PRIVATE_KEY not PEM", env: docsApp().with("PRIVATE_KEY", "MIIEowIBAAKCAQEAsecretsecretsecretsecret"), want: []string{"PRIVATE_KEY", "PEM"}},
		{name: "PRIVATE_KEY an EC key", env: docsApp().with("PRIVATE_KEY", k.ecPKCS8), want: []string{"PRIVATE_KEY", "not an RSA"}},
		{name: "PRIVATE_KEY an SEC1 EC key", env: docsApp().with("PRIVATE_KEY", k.ecSEC1), want: []string{"PRIVATE_KEY", "RSA"}},
		{name: "PRIVATE_KEY a garbled PEM", env: docsApp().with("PRIVATE_KEY", strings.Replace(k.pkcs1, "MII", "AAA", 1)), want: []string{"PRIVATE_KEY"}},
		{name: "PRIVATE_KEY a certificate", env: docsApp().with("PRIVATE_KEY", "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n"), want: []string{"PRIVATE_KEY"}},
		{name: "--private-key-file missing", flags: Flags{App: true, AppID: "56", PrivateKeyFile: "/no/such/key.pem"}, env: tokenEnv, want: []string{"--private-key-file", "/no/such/key.pem"}},
		{name: "--private-key-file an EC key", flags: Flags{App: true, AppID: "56", PrivateKeyFile: ecFile}, env: tokenEnv, files: fileMap{ecFile: k.ecPKCS8}, want: []string{"--private-key-file", ecFile, "not an RSA"}},
		{name: "--private-key-file empty", flags: Flags{App: true, AppID: "56", PrivateKeyFile: "empty.pem"}, env: tokenEnv, files: fileMap{"empty.pem": ""}, want: []string{"--private-key-file", "empty.pem"}},
		{name: "--app without App credentials", flags: Flags{App: true}, env: tokenEnv, want: []string{"--app-id", "--private-key-file", "APP_ID", "PRIVATE_KEY"}},
		{name: "App target in the file without App credentials", flags: Flags{Config: "testdata/app_only.yaml"}, env: tokenEnv, want: []string{"APP_ID", "PRIVATE_KEY"}},
	})
}

func TestResolveRejectsAPI(t *testing.T) {
	org := Flags{Org: "acme"}
	runErrRows(t, []errRow{
		{name: "--api-url plain http to a remote host", flags: Flags{Org: "acme", APIURL: "http://ghe.example.com/api/v3"}, env: tokenEnv, want: []string{"--api-url", "http", "loopback"}},
		{name: "GITHUB_API_URL plain http to a remote host", flags: org, env: tokenEnv.with("GITHUB_API_URL", "http://ghe.example.com/api/v3"), want: []string{"GITHUB_API_URL", "http"}},
		{name: "--api-url http to a host named like localhost", flags: Flags{Org: "acme", APIURL: "http://localhost.evil.example/"}, env: tokenEnv, want: []string{"--api-url"}},
		{name: "--api-url http to 10/8", flags: Flags{Org: "acme", APIURL: "http://10.0.0.1/api/v3"}, env: tokenEnv, want: []string{"--api-url"}},
		{name: "--api-url with user:pass", flags: Flags{Org: "acme", APIURL: "https://admin:s3cretPassw0rd@ghe.example.com/api/v3"}, env: tokenEnv, want: []string{"--api-url", "credentials"}},
		{name: "GITHUB_API_URL with user:pass", flags: org, env: tokenEnv.with("GITHUB_API_URL", "https://x:s3cretPassw0rd@ghe.example.com/api/v3"), want: []string{"GITHUB_API_URL", "credentials"}},
		{name: "--api-url with a token as user", flags: Flags{Org: "acme", APIURL: "https://ghp_userTOKENinURL0123456789@ghe.example.com/api/v3"}, env: tokenEnv, want: []string{"--api-url", "credentials"}},
		{name: "--api-url ftp with user:pass", flags: Flags{Org: "acme", APIURL: "ftp://admin:s3cretPassw0rd@ghe.example.com/"}, env: tokenEnv, want: []string{"--api-url"}},
		{name: "--api-url unparsable with user:pass", flags: Flags{Org: "acme", APIURL: "https://admin:s3cretPassw0rd@ghe.example.com:port/"}, env: tokenEnv, want: []string{"--api-url"}},
		{name: "--api-url not a URL", flags: Flags{Org: "acme", APIURL: "not a url"}, env: tokenEnv, want: []string{"--api-url", "not a url"}},
		{name: "--api-url without scheme", flags: Flags{Org: "acme", APIURL: "ghe.example.com/api/v3"}, env: tokenEnv, want: []string{"--api-url"}},
		{name: "--api-url with a query", flags: Flags{Org: "acme", APIURL: "https://ghe.example.com/api/v3?per_page=1"}, env: tokenEnv, want: []string{"--api-url"}},
		{name: "--api-url with a fragment", flags: Flags{Org: "acme", APIURL: "https://ghe.example.com/api/v3#x"}, env: tokenEnv, want: []string{"--api-url"}},
		{name: "--api-url without a host name", flags: Flags{Org: "acme", APIURL: "https://:443/api/v3"}, env: tokenEnv, want: []string{"--api-url"}},
		{name: "GITHUB_API_URL not a URL", flags: org, env: tokenEnv.with("GITHUB_API_URL", "::"), want: []string{"GITHUB_API_URL"}},
		{name: "--hostname with a path", flags: Flags{Org: "acme", Hostname: "ghe.example.com/api/v3"}, env: tokenEnv, want: []string{"--hostname"}},
		{name: "--hostname with user", flags: Flags{Org: "acme", Hostname: "admin@ghe.example.com"}, env: tokenEnv, want: []string{"--hostname"}},
		{name: "--hostname with user:pass", flags: Flags{Org: "acme", Hostname: "admin:s3cretPassw0rd@ghe.example.com"}, env: tokenEnv, want: []string{"--hostname"}},
		{name: "HOSTNAME with user:pass in the docs env", env: docsOrg.with("HOSTNAME", "admin:s3cretPassw0rd@ghe.example.com"), want: []string{"HOSTNAME"}},
		{name: "--hostname with a space", flags: Flags{Org: "acme", Hostname: "ghe example.com"}, env: tokenEnv, want: []string{"--hostname"}},
		{name: "--hostname only a scheme", flags: Flags{Org: "acme", Hostname: "https://"}, env: tokenEnv, want: []string{"--hostname"}},
		{name: "HOSTNAME with a path in the docs env", env: docsOrg.with("HOSTNAME", "ghe.example.com/api/v3"), want: []string{"HOSTNAME"}},
		{name: "api_url in the file", flags: Flags{Config: "testdata/bad_api_url.yaml"}, env: tokenEnv, want: []string{"api_url", "testdata/bad_api_url.yaml"}},
		{name: "hostname in the file", flags: Flags{Config: "testdata/bad_hostname.yaml"}, env: tokenEnv, want: []string{"hostname", "testdata/bad_hostname.yaml"}},
	})
}

func TestResolveRejectsPolicy(t *testing.T) {
	org := func(f Flags) Flags { f.Org = "acme"; return f }
	runErrRows(t, []errRow{
		{name: "--max-attempts -1", flags: org(Flags{MaxAttempts: -1}), env: tokenEnv, want: []string{"--max-attempts", "-1"}},
		{name: "--max-attempts 101", flags: org(Flags{MaxAttempts: 101}), env: tokenEnv, want: []string{"--max-attempts", "101"}},
		{name: "--retry-base bad", flags: org(Flags{RetryBase: "bad"}), env: tokenEnv, want: []string{"--retry-base", "bad"}},
		{name: "--retry-base 0s", flags: org(Flags{RetryBase: "0s"}), env: tokenEnv, want: []string{"--retry-base"}},
		{name: "--retry-base 500ms", flags: org(Flags{RetryBase: "500ms"}), env: tokenEnv, want: []string{"--retry-base"}},
		{name: "--retry-base -1h", flags: org(Flags{RetryBase: "-1h"}), env: tokenEnv, want: []string{"--retry-base"}},
		{name: "--retry-base 169h", flags: org(Flags{RetryBase: "169h"}), env: tokenEnv, want: []string{"--retry-base"}},
		{name: "--since banana", flags: org(Flags{Since: "banana"}), env: tokenEnv, want: []string{"--since", "banana"}},
		{name: "--since -5h", flags: org(Flags{Since: "-5h"}), env: tokenEnv, want: []string{"--since", "-5h"}},
		{name: "--since 0h", flags: org(Flags{Since: "0h"}), env: tokenEnv, want: []string{"--since"}},
		{name: "--since 0d", flags: org(Flags{Since: "0d"}), env: tokenEnv, want: []string{"--since"}},
		{name: "--since -2d", flags: org(Flags{Since: "-2d"}), env: tokenEnv, want: []string{"--since"}},
		{name: "--since 1.5d", flags: org(Flags{Since: "1.5d"}), env: tokenEnv, want: []string{"--since"}},
		{name: "--since 2026-13-01", flags: org(Flags{Since: "2026-13-01"}), env: tokenEnv, want: []string{"--since"}},
		{name: "--since blank", flags: org(Flags{Since: "  "}), env: tokenEnv, want: []string{"--since"}},
		{name: "--events pushh", flags: org(Flags{Events: []string{"push", "pushh"}}), env: tokenEnv, want: []string{"--events", "pushh"}},
		{name: "--events Push", flags: org(Flags{Events: []string{"Push"}}), env: tokenEnv, want: []string{"--events", "Push"}},
		{name: "--events empty entry", flags: org(Flags{Events: []string{""}}), env: tokenEnv, want: []string{"--events"}},
		{name: "--events issues.", flags: org(Flags{Events: []string{"issues."}}), env: tokenEnv, want: []string{"--events", "issues."}},
		{name: "--exclude-events nope", flags: org(Flags{ExcludeEvents: []string{"nope"}}), env: tokenEnv, want: []string{"--exclude-events", "nope"}},
		{name: "--exclude-events pull-request", flags: org(Flags{ExcludeEvents: []string{"pull-request"}}), env: tokenEnv, want: []string{"--exclude-events", "pull-request"}},
		{name: "--max-redeliveries -1", flags: org(Flags{MaxRedeliveries: -1}), env: tokenEnv, want: []string{"--max-redeliveries", "-1"}},
	})
}

func TestResolveRejectsState(t *testing.T) {
	org := func(state string) Flags { return Flags{Org: "acme", State: state} }
	runErrRows(t, []errRow{
		{name: "--state actions:o/r", flags: org("actions:o/r"), env: tokenEnv, want: []string{"--state", "actions:o/r"}},
		{name: "--state actions:", flags: org("actions:"), env: tokenEnv, want: []string{"--state"}},
		{name: "--state actions:o/r/N/x", flags: org("actions:o/r/N/x"), env: tokenEnv, want: []string{"--state"}},
		{name: "--state actions:o/r/GITHUB_X", flags: org("actions:o/r/GITHUB_X"), env: tokenEnv, want: []string{"--state", "GITHUB_X"}},
		{name: "--state actions:o/r/github_x", flags: org("actions:o/r/github_x"), env: tokenEnv, want: []string{"--state", "github_x"}},
		{name: "--state actions:o/r/1abc", flags: org("actions:o/r/1abc"), env: tokenEnv, want: []string{"--state", "1abc"}},
		{name: "--state actions:o/r/with-dash", flags: org("actions:o/r/with-dash"), env: tokenEnv, want: []string{"--state"}},
		{name: "--state actions:o/r/ (empty name)", flags: org("actions:o/r/"), env: tokenEnv, want: []string{"--state"}},
		{name: "--state actions: bad owner", flags: org("actions:bad owner/r/NAME"), env: tokenEnv, want: []string{"--state"}},
		{name: "--state sqlite: (no path)", flags: org("sqlite:"), env: tokenEnv, want: []string{"--state"}},
		{name: "--state blank", flags: org("   "), env: tokenEnv, want: []string{"--state"}},
		{name: "--state with NUL", flags: org("state\x00.db"), env: tokenEnv, want: []string{"--state"}},
		{name: "state in the file", flags: Flags{Config: "testdata/bad_state.yaml"}, env: tokenEnv, want: []string{"state", "testdata/bad_state.yaml"}},
		{name: "LAST_REDELIVERY_VARIABLE_NAME without a repository", env: docsOrg.with("WORKFLOW_REPO_OWNER", "", "WORKFLOW_REPO_NAME", ""), want: []string{"LAST_REDELIVERY_VARIABLE_NAME", "WORKFLOW_REPO_OWNER", "WORKFLOW_REPO_NAME", "GITHUB_REPOSITORY"}},
		{name: "LAST_REDELIVERY_VARIABLE_NAME with GITHUB_REPOSITORY=owner only", env: docsOrg.with("WORKFLOW_REPO_OWNER", "", "WORKFLOW_REPO_NAME", "", "GITHUB_REPOSITORY", "acme"), want: []string{"WORKFLOW_REPO_OWNER"}},
		{name: "LAST_REDELIVERY_VARIABLE_NAME=1bad", env: docsOrg.with("LAST_REDELIVERY_VARIABLE_NAME", "1bad"), want: []string{"LAST_REDELIVERY_VARIABLE_NAME", "1bad"}},
		{name: "LAST_REDELIVERY_VARIABLE_NAME=GITHUB_LAST", env: docsOrg.with("LAST_REDELIVERY_VARIABLE_NAME", "GITHUB_LAST"), want: []string{"LAST_REDELIVERY_VARIABLE_NAME", "GITHUB_LAST"}},
		{name: "LAST_REDELIVERY_VARIABLE_NAME placeholder-ish", env: docsOrg.with("LAST_REDELIVERY_VARIABLE_NAME", "last redelivery"), want: []string{"LAST_REDELIVERY_VARIABLE_NAME"}},
		{name: "WORKFLOW_REPO_OWNER bad", env: docsOrg.with("WORKFLOW_REPO_OWNER", "ac me"), want: []string{"WORKFLOW_REPO_OWNER"}},
		{name: "WORKFLOW_REPO_NAME bad", env: docsOrg.with("WORKFLOW_REPO_NAME", "o/ps"), want: []string{"WORKFLOW_REPO_NAME"}},
	})
}

func TestResolveRejectsConfigFile(t *testing.T) {
	cfg := func(name string) Flags { return Flags{Config: "testdata/" + name} }
	app := docsApp()
	runErrRows(t, []errRow{
		{name: "missing file", flags: Flags{Config: "testdata/no-such.yaml"}, env: tokenEnv, want: []string{"--config", "testdata/no-such.yaml"}},
		{name: "unknown top-level key", flags: cfg("unknown_top.yaml"), env: tokenEnv, want: []string{"colour", "testdata/unknown_top.yaml"}},
		{name: "unknown key in a target", flags: cfg("unknown_target_key.yaml"), env: tokenEnv, want: []string{"max_attemps", "testdata/unknown_target_key.yaml"}},
		{name: "bad YAML syntax", flags: cfg("bad_syntax.yaml"), env: tokenEnv, want: []string{"testdata/bad_syntax.yaml"}},
		{name: "empty file", flags: cfg("empty.yaml"), env: tokenEnv, want: []string{"testdata/empty.yaml", "empty"}},
		{name: "comments only", flags: cfg("comments_only.yaml"), env: tokenEnv, want: []string{"testdata/comments_only.yaml", "targets"}},
		{name: "no targets", flags: cfg("no_targets.yaml"), env: tokenEnv, want: []string{"testdata/no_targets.yaml", "targets"}},
		{name: "target with org and repo", flags: cfg("org_and_repo.yaml"), env: tokenEnv, want: []string{"testdata/org_and_repo.yaml", "targets[0]", "org", "repo"}},
		{name: "target with no kind", flags: cfg("no_kind.yaml"), env: tokenEnv, want: []string{"testdata/no_kind.yaml", "targets[0]"}},
		{name: "app with hook", flags: cfg("app_with_hook.yaml"), env: app, want: []string{"testdata/app_with_hook.yaml", "targets[0]", "hook"}},
		{name: "repo noslash", flags: cfg("repo_noslash.yaml"), env: tokenEnv, want: []string{"testdata/repo_noslash.yaml", "targets[0]", "noslash"}},
		{name: "hook and hook_url", flags: cfg("hook_and_hook_url.yaml"), env: tokenEnv, want: []string{"testdata/hook_and_hook_url.yaml", "targets[1]", "hook_url"}},
		{name: "negative hook", flags: cfg("hook_negative.yaml"), env: tokenEnv, want: []string{"testdata/hook_negative.yaml", "targets[0]", "hook"}},
		{name: "hook not a number", flags: cfg("hook_string.yaml"), env: tokenEnv, want: []string{"testdata/hook_string.yaml"}},
		{name: "max_attempts 0 in defaults", flags: cfg("defaults_max_attempts_0.yaml"), env: tokenEnv, want: []string{"testdata/defaults_max_attempts_0.yaml", "defaults", "max_attempts"}},
		{name: "bad retry_base in defaults", flags: cfg("defaults_bad_retry_base.yaml"), env: tokenEnv, want: []string{"testdata/defaults_bad_retry_base.yaml", "defaults", "retry_base", "soon"}},
		{name: "bad since in a target", flags: cfg("target_bad_since.yaml"), env: tokenEnv, want: []string{"testdata/target_bad_since.yaml", "targets[1]", "since", "banana"}},
		{name: "bad event in a target", flags: cfg("target_bad_event.yaml"), env: tokenEnv, want: []string{"testdata/target_bad_event.yaml", "targets[0]", "events", "pushh"}},
		{name: "bad org in a target", flags: cfg("target_bad_org.yaml"), env: tokenEnv, want: []string{"testdata/target_bad_org.yaml", "targets[0]", "org"}},
		{name: "YAML tag on an empty list", flags: cfg("events_tag_null.yaml"), env: tokenEnv, want: []string{"testdata/events_tag_null.yaml"}},
		{name: "bad hook_url in a target", flags: cfg("target_bad_hook_url.yaml"), env: tokenEnv, want: []string{"testdata/target_bad_hook_url.yaml", "targets[0]", "hook_url"}},
		{name: "valid file, bad --max-attempts", flags: Flags{Config: "testdata/valid.yaml", MaxAttempts: 101}, env: app, want: []string{"--max-attempts"}},
	})
}

// TestResolveErrorReturnsNoSettings checks that a conflict between flags is
// reported without reading any file.
func TestResolveErrorReturnsNoSettings(t *testing.T) {
	read := func(name string) ([]byte, error) {
		t.Errorf("read %s", name)
		return nil, os.ErrNotExist
	}
	_, err := Resolve(Flags{Org: "acme", Repo: "acme/api"}, tokenEnv.get, read)
	assertInvalid(t, err, "--org", "--repo")
}
