package githubapi

import "testing"

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.github.com/":                           "https://api.github.com/",
		"https://u:pass@ghe.example.com/api/v3":             "https://xxxxx@ghe.example.com/api/v3",
		"https://ghe.example.com/api/v3?access_token=ghp_x": "https://ghe.example.com/api/v3?access_token=xxxxx",
		"https://h/p?a=1&b=2&flag":                          "https://h/p?a=xxxxx&b=xxxxx&xxxxx",
		"https://h/p#ghp_secret":                            "https://h/p#xxxxx",
		"ghe.example.com?access_token=ghp_x":                "ghe.example.com?access_token=xxxxx",
		"user:pw@ghe.example.com":                           "xxxxx@ghe.example.com",
		"https://h/a@b/c":                                   "https://h/a@b/c",
		"::":                                                "::",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
	msg := `--api-url="https://ghe.example.com/api/v3?access_token=ghp_SECRET": must not have a query or fragment; see https://x:y@h/z#frag`
	want := `--api-url="https://ghe.example.com/api/v3?access_token=xxxxx": must not have a query or fragment; see https://xxxxx@h/z#xxxxx`
	if got := RedactURLs(msg); got != want {
		t.Errorf("RedactURLs:\n got %s\nwant %s", got, want)
	}
}
