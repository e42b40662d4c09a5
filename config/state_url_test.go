package config

import "testing"

// A state URL is shown without its password wherever the state is named
// (reports, status); paths are shown as given.
func TestStateLocationHidesPassword(t *testing.T) {
	for raw, want := range map[string]string{
		"postgres://u:s3cret@db:5432/ops?search_path=r": "postgres://u:xxxxx@db:5432/ops?search_path=r",
		"postgresql://u@db/ops?password=s3cret":         "postgresql://u@db/ops?password=xxxxx",
		"postgres://u:s3%zzcret@db/ops":                 "postgres://(unparsable URL)",
		"/var/lib/redeliver/state.db":                   "/var/lib/redeliver/state.db",
		"sqlite:./state.db":                             "./state.db",
	} {
		loc, err := ParseState(raw, "--state")
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := loc.String(); got != want {
			t.Errorf("%s: String() = %q, want %q", raw, got, want)
		}
	}
}
