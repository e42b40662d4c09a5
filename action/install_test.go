// Package action_test runs the action's install script (install.sh) with
// bash against a local HTTP server that plays GitHub's release downloads
// and releases API.
package action_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const repo = "redeliver/redeliver"

// release is one fake release: its files by name.
type release map[string][]byte

// fakeGitHub serves releases under /REPO/releases/download/TAG/FILE and
// the releases list under /api/repos/REPO/releases, and counts requests.
type fakeGitHub struct {
	*httptest.Server
	mu       sync.Mutex
	releases map[string]release // by tag
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	f := &fakeGitHub{releases: map[string]release{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Path == "/api/repos/"+repo+"/releases" {
			var list []map[string]any
			for tag := range f.releases {
				list = append(list, map[string]any{"tag_name": tag, "prerelease": strings.Contains(tag, "-")})
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(list)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, "/"+repo+"/releases/download/")
		tag, name, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 {
			http.NotFound(w, r)
			return
		}
		b, ok := f.releases[tag][name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(f.Close)
	return f
}

// fakeBinary is the "binary" in a fake archive: a script saying which
// release and platform it came from.
func fakeBinary(version, goos, goarch string) []byte {
	return fmt.Appendf(nil, "#!/bin/sh\necho redeliver %s %s/%s\n", version, goos, goarch)
}

// addRelease makes a release like goreleaser's: an archive per platform
// holding the binary, README and man pages, and checksums.txt.
func (f *fakeGitHub) addRelease(t *testing.T, version string) release {
	t.Helper()
	rel := release{}
	var sums strings.Builder
	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, goarch := range []string{"amd64", "arm64"} {
			name := fmt.Sprintf("redeliver_%s_%s_%s.tar.gz", version, goos, goarch)
			bin := "redeliver"
			if goos == "windows" {
				name = strings.TrimSuffix(name, ".tar.gz") + ".zip"
				bin = "redeliver.exe"
			}
			files := map[string][]byte{bin: fakeBinary(version, goos, goarch), "README.md": []byte("# redeliver\n"), "man/redeliver.1": []byte(".TH REDELIVER 1\n")}
			rel[name] = archive(t, strings.HasSuffix(name, ".zip"), files)
			sum := sha256.Sum256(rel[name])
			fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		}
	}
	rel["checksums.txt"] = []byte(sums.String())
	f.mu.Lock()
	f.releases["v"+version] = rel
	f.mu.Unlock()
	return rel
}

func archive(t *testing.T, isZip bool, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if isZip {
		zw := zip.NewWriter(&buf)
		for name, b := range files {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write(b)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// runner is what the script sees of the runner and the action.
type runner struct {
	os, arch, ref, version string
}

// outcome is what one run of the script left.
type outcome struct {
	code           int
	stderr         string
	outputs        map[string]string // $GITHUB_OUTPUT
	installed      string            // path of the installed binary, "" if none
	installedBytes []byte
	tempLeft       []string // what is left in RUNNER_TEMP besides the outputs file
}

// install runs action/install.sh as the action's step does.
func install(t *testing.T, f *fakeGitHub, r runner) outcome {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("skipping: bash is not on PATH")
	}
	// Read here so that go test's cache knows the script: bash's reads
	// are invisible to it.
	if _, err := os.ReadFile("install.sh"); err != nil {
		t.Fatal(err)
	}
	temp := t.TempDir()
	outFile := filepath.Join(t.TempDir(), "github_output")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bash, "--noprofile", "--norc", "-eo", "pipefail", "install.sh")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"RUNNER_OS=" + r.os, "RUNNER_ARCH=" + r.arch, "RUNNER_TEMP=" + temp, "GITHUB_OUTPUT=" + outFile,
		"ACTION_REF=" + r.ref, "ACTION_REPOSITORY=" + repo, "INPUT_VERSION=" + r.version,
		"REDELIVER_DOWNLOAD_BASE=" + f.URL, "REDELIVER_API_BASE=" + f.URL + "/api",
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	o := outcome{outputs: map[string]string{}}
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		o.code = ee.ExitCode()
	}
	o.stderr = stderr.String()
	b, _ := os.ReadFile(outFile)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			o.outputs[k] = v
		}
	}
	entries, _ := os.ReadDir(temp)
	for _, e := range entries {
		if e.Name() == "redeliver" || e.Name() == "redeliver.exe" {
			o.installed = filepath.Join(temp, e.Name())
			o.installedBytes, _ = os.ReadFile(o.installed)
		} else {
			o.tempLeft = append(o.tempLeft, e.Name())
		}
	}
	return o
}

// TestInstallPicksTheAsset: the release of the action's tag (or of the
// version input), the archive of the runner's OS and architecture, its
// checksum verified; the binary lands in RUNNER_TEMP and nothing else is
// left there.
func TestInstallPicksTheAsset(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.addRelease(t, "1.2.3")
	f.addRelease(t, "1.10.0")
	f.addRelease(t, "1.11.0-rc.1")
	f.addRelease(t, "2.0.0")
	_, unzipErr := exec.LookPath("unzip")
	cases := []struct {
		r                           runner
		version, goos, goarch, file string
	}{
		{runner{os: "Linux", arch: "X64", ref: "v1.2.3"}, "1.2.3", "linux", "amd64", "redeliver"},
		{runner{os: "Linux", arch: "ARM64", ref: "v1.2.3"}, "1.2.3", "linux", "arm64", "redeliver"},
		{runner{os: "macOS", arch: "ARM64", ref: "v1.2.3"}, "1.2.3", "darwin", "arm64", "redeliver"},
		{runner{os: "macOS", arch: "X64", ref: "v2.0.0"}, "2.0.0", "darwin", "amd64", "redeliver"},
		{runner{os: "Windows", arch: "X64", ref: "v1.2.3"}, "1.2.3", "windows", "amd64", "redeliver.exe"},
		{runner{os: "Windows", arch: "ARM64", ref: "v2.0.0"}, "2.0.0", "windows", "arm64", "redeliver.exe"},
		// A moving tag: the newest release of that major version, no
		// pre-release (1.10.0 sorts above 1.2.3 as a number).
		{runner{os: "Linux", arch: "X64", ref: "v1"}, "1.10.0", "linux", "amd64", "redeliver"},
		{runner{os: "Linux", arch: "X64", ref: "v1.2"}, "1.2.3", "linux", "amd64", "redeliver"},
		// The version input wins over the ref, with or without its v.
		{runner{os: "Linux", arch: "X64", ref: "main", version: "1.2.3"}, "1.2.3", "linux", "amd64", "redeliver"},
		{runner{os: "Linux", arch: "X64", ref: "v1.2.3", version: "v2.0.0"}, "2.0.0", "linux", "amd64", "redeliver"},
		{runner{os: "Linux", arch: "X64", ref: "v1", version: "latest"}, "2.0.0", "linux", "amd64", "redeliver"},
		// A pre-release only when named.
		{runner{os: "Linux", arch: "X64", ref: "main", version: "1.11.0-rc.1"}, "1.11.0-rc.1", "linux", "amd64", "redeliver"},
		{runner{os: "Linux", arch: "X64", ref: "v1.11.0-rc.1"}, "1.11.0-rc.1", "linux", "amd64", "redeliver"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%s-%s-%s", c.r.os, c.r.arch, c.r.ref, c.r.version), func(t *testing.T) {
			t.Parallel()
			if c.goos == "windows" && unzipErr != nil {
				t.Skip("skipping: unzip is not on PATH")
			}
			o := install(t, f, c.r)
			if o.code != 0 {
				t.Fatalf("exit %d:\n%s", o.code, o.stderr)
			}
			if want := fakeBinary(c.version, c.goos, c.goarch); !bytes.Equal(o.installedBytes, want) {
				t.Errorf("installed %s = %q, want %q", o.installed, o.installedBytes, want)
			}
			if filepath.Base(o.installed) != c.file {
				t.Errorf("installed as %s, want %s", o.installed, c.file)
			}
			if o.outputs["build"] != "false" || o.outputs["version"] != c.version {
				t.Errorf("outputs: %v", o.outputs)
			}
			if len(o.tempLeft) != 0 {
				t.Errorf("left in RUNNER_TEMP: %v", o.tempLeft)
			}
			if c.goos != "windows" {
				st, err := os.Stat(o.installed)
				if err != nil || st.Mode()&0o111 == 0 {
					t.Errorf("the binary is not executable: %v %v", st, err)
				}
			}
		})
	}
}

// TestInstallChecksumMismatch: an archive whose bytes do not match
// checksums.txt is refused, saying so, and nothing is installed; no
// fallback to a build hides it.
func TestInstallChecksumMismatch(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	rel := f.addRelease(t, "1.2.3")
	f.mu.Lock()
	name := "redeliver_1.2.3_linux_amd64.tar.gz"
	rel[name] = archive(t, false, map[string][]byte{"redeliver": []byte("#!/bin/sh\necho tampered\n")})
	f.mu.Unlock()
	o := install(t, f, runner{os: "Linux", arch: "X64", ref: "v1.2.3"})
	if o.code == 0 {
		t.Fatalf("a tampered archive was accepted:\n%s", o.stderr)
	}
	if !strings.Contains(o.stderr, "checksum mismatch for "+name) || !strings.Contains(o.stderr, "refusing to install") {
		t.Errorf("stderr does not say why:\n%s", o.stderr)
	}
	if o.installed != "" || len(o.tempLeft) != 0 || o.outputs["build"] != "" {
		t.Errorf("installed %q, left %v, outputs %v", o.installed, o.tempLeft, o.outputs)
	}
}

// TestInstallFallsBackToBuild: a branch or commit ref, a tag with no
// release, a runner no release is built for: build=true, nothing
// downloaded or installed. An explicit version that has no release is an
// error instead.
func TestInstallFallsBackToBuild(t *testing.T) {
	t.Parallel()
	f := newFakeGitHub(t)
	f.addRelease(t, "1.2.3")
	cases := []struct {
		name string
		r    runner
		want string // in stderr
	}{
		{"branch", runner{os: "Linux", arch: "X64", ref: "main"}, "is a branch or commit"},
		{"commit", runner{os: "Linux", arch: "X64", ref: "0123456789abcdef0123456789abcdef01234567"}, "is a branch or commit"},
		{"tag without a release", runner{os: "Linux", arch: "X64", ref: "v9.9.9"}, "no release v9.9.9"},
		{"moving tag without a release", runner{os: "Linux", arch: "X64", ref: "v3"}, "no release of " + repo + " matches"},
		{"32-bit runner", runner{os: "Linux", arch: "X86", ref: "v1.2.3"}, "RUNNER_ARCH=X86"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := install(t, f, c.r)
			if o.code != 0 || o.outputs["build"] != "true" {
				t.Fatalf("exit %d, outputs %v:\n%s", o.code, o.outputs, o.stderr)
			}
			if !strings.Contains(o.stderr, c.want) || !strings.Contains(o.stderr, "building from source") {
				t.Errorf("stderr lacks %q:\n%s", c.want, o.stderr)
			}
			if o.installed != "" || len(o.tempLeft) != 0 {
				t.Errorf("installed %q, left %v", o.installed, o.tempLeft)
			}
		})
	}

	t.Run("no releases at all", func(t *testing.T) {
		t.Parallel()
		o := install(t, newFakeGitHub(t), runner{os: "Linux", arch: "X64", ref: "v1"})
		if o.code != 0 || o.outputs["build"] != "true" || o.installed != "" {
			t.Errorf("exit %d, outputs %v, installed %q:\n%s", o.code, o.outputs, o.installed, o.stderr)
		}
	})

	for _, c := range []struct{ version, want string }{
		{"9.9.9", "release v9.9.9 of " + repo + " has no checksums.txt"},
		{"banana", "version input 'banana' is not a release version"},
		{"v3", "no release of " + repo + " matches the version input (v3)"},
	} {
		t.Run("version input "+c.version, func(t *testing.T) {
			t.Parallel()
			o := install(t, f, runner{os: "Linux", arch: "X64", ref: "main", version: c.version})
			if o.code == 0 || !strings.Contains(o.stderr, c.want) {
				t.Errorf("exit %d, want an error saying %q:\n%s", o.code, c.want, o.stderr)
			}
			if o.installed != "" || o.outputs["build"] != "" {
				t.Errorf("installed %q, outputs %v", o.installed, o.outputs)
			}
		})
	}
}

// TestInstallSnapshot installs from a real goreleaser snapshot (.ci/run
// builds one and points REDELIVER_SNAPSHOT_DIST at its dist directory):
// the archive the release really makes, its checksums.txt, and the
// installed binary runs and names the snapshot's version.
func TestInstallSnapshot(t *testing.T) {
	t.Parallel()
	dist := os.Getenv("REDELIVER_SNAPSHOT_DIST")
	if dist == "" {
		t.Skip("skipping: REDELIVER_SNAPSHOT_DIST is not set (.ci/run sets it after the snapshot build)")
	}
	var meta struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(dist, "metadata.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil || meta.Version == "" {
		t.Fatalf("metadata.json: %v %q", err, b)
	}
	rel := release{}
	for _, name := range []string{"checksums.txt", "redeliver_" + meta.Version + "_linux_amd64.tar.gz"} {
		if rel[name], err = os.ReadFile(filepath.Join(dist, name)); err != nil {
			t.Fatal(err)
		}
	}
	f := newFakeGitHub(t)
	f.mu.Lock()
	f.releases["v"+meta.Version] = rel
	f.mu.Unlock()
	o := install(t, f, runner{os: "Linux", arch: "X64", ref: "main", version: meta.Version})
	if o.code != 0 || o.installed == "" {
		t.Fatalf("exit %d, installed %q:\n%s", o.code, o.installed, o.stderr)
	}
	out, err := exec.Command(o.installed, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "redeliver "+meta.Version+"\n") {
		t.Errorf("the installed binary says:\n%s", out)
	}
}
