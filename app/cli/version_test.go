package cli

import (
	"bytes"
	"regexp"
	"testing"
)

// `miniauth version` names the release, commit and build date the release
// build embedded, and says "dev" for a plain build.
func TestVersionLine(t *testing.T) {
	defer func(v, c, d string) { Version, Commit, Date = v, c, d }(Version, Commit, Date)

	Version, Commit, Date = "", "", ""
	if got := versionLine(); !regexp.MustCompile(`^miniauth dev(-[0-9a-f]{12})?$`).MatchString(got) {
		t.Errorf("plain build: version line %q, want miniauth dev or dev-<commit>", got)
	}

	Version, Commit, Date = "1.2.0", "0123456789ab", "2026-12-03T08:00:00Z"
	var out bytes.Buffer
	if code := Run(&Env{Args: []string{"version"}, Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &out}); code != 0 {
		t.Fatalf("miniauth version exited %d: %s", code, out.String())
	}
	if want := "miniauth 1.2.0 (commit 0123456789ab, built 2026-12-03T08:00:00Z)\n"; out.String() != want {
		t.Errorf("release build: got %q, want %q", out.String(), want)
	}
}
