// Package packaging_test checks what the release ships: the settings file
// and the systemd unit always (fast), and, when MINIAUTH_RELEASE_TEST=1
// (.ci/run sets it), the whole release: scripts/release builds it, the
// static binary serves a login in an empty chroot, and the .deb is
// installed, checked and removed in a throwaway root.
package packaging_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miniauth/miniauth/app/config"
)

// root is the repository root, seen from this package's directory.
const root = ".."

// helpVariables are the variables `miniauth --help` lists.
func helpVariables(t *testing.T) []string {
	t.Helper()
	var vars []string
	for _, m := range regexp.MustCompile(`(?m)^\s+(MINIAUTH_[A-Z0-9_]+)`).FindAllStringSubmatch(config.Usage(), -1) {
		vars = append(vars, m[1])
	}
	if len(vars) < 10 {
		t.Fatalf("found %d variables in miniauth --help: the pattern no longer matches its output", len(vars))
	}
	return vars
}

// Every variable of `miniauth --help` is in the .deb's settings file, set or
// commented, so an operator edits one file and never needs to look up names.
func TestEnvFileListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "packaging", "miniauth.env"))
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#?(MINIAUTH_[A-Z0-9_]+)=`).FindAllStringSubmatch(string(b), -1) {
		present[m[1]] = true
	}
	for _, v := range helpVariables(t) {
		if !present[v] {
			t.Errorf("packaging/miniauth.env has no line %s=… (set or commented): add it with a comment saying what it does", v)
		}
	}
	// systemd's EnvironmentFile= and sh's "." must read the set lines alike.
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !regexp.MustCompile(`^MINIAUTH_[A-Z0-9_]+=[A-Za-z0-9_.:,/@+-]*$`).MatchString(line) {
			t.Errorf("packaging/miniauth.env:%d: %q is not a plain VARIABLE=value line", i+1, line)
		}
	}
}

// unitDirectives reads a systemd unit into key → values (a key may repeat).
func unitDirectives(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", path, line)
		}
		out[k] = append(out[k], v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The unit runs miniauth as its own user with the hardening the issue asks
// for and no capability at all (it listens on an unprivileged port).
func TestServiceUnitIsHardened(t *testing.T) {
	d := unitDirectives(t, filepath.Join(root, "packaging", "miniauth.service"))
	want := map[string]string{
		"User":                  "miniauth",
		"Group":                 "miniauth",
		"ExecStart":             "/usr/bin/miniauth serve",
		"EnvironmentFile":       "/etc/miniauth/miniauth.env",
		"StateDirectory":        "miniauth",
		"StateDirectoryMode":    "0700",
		"ProtectSystem":         "strict",
		"ProtectHome":           "yes",
		"NoNewPrivileges":       "yes",
		"PrivateTmp":            "yes",
		"PrivateDevices":        "yes",
		"CapabilityBoundingSet": "",
		"AmbientCapabilities":   "",
		"UMask":                 "0077",
		"WantedBy":              "multi-user.target",
	}
	for k, v := range want {
		got, ok := d[k]
		if !ok || len(got) != 1 || got[0] != v {
			t.Errorf("miniauth.service: %s=%q, want exactly %s=%s", k, got, k, v)
		}
	}
	if rw := d["ReadWritePaths"]; len(rw) > 0 {
		t.Errorf("miniauth.service: ReadWritePaths=%v: the state directory is the only writable place", rw)
	}
}

// The maintainer scripts never delete the data directory, on remove or
// purge, and purge says where the data stays.
func TestDebScriptsKeepTheData(t *testing.T) {
	for _, name := range []string{"postinst", "prerm", "postrm"} {
		b, err := os.ReadFile(filepath.Join(root, "packaging", "deb", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			code, _, _ := strings.Cut(line, "#")
			if strings.Contains(code, "rm ") && strings.Contains(code, "/var/lib/miniauth") && !strings.Contains(code, "echo") {
				t.Errorf("packaging/deb/%s deletes the data directory: %q", name, line)
			}
		}
		info, err := os.Stat(filepath.Join(root, "packaging", "deb", name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o111 == 0 {
			t.Errorf("packaging/deb/%s is not executable", name)
		}
	}
}

// The Dockerfile (not built here: no Docker engine in CI) builds with the
// release's own command, so the binary it ships is the one TestRelease
// tests, and runs it as a non-root user on a base with CA certificates and
// zone data, with the data dir as a volume.
func TestDockerfileUsesTheReleaseBuild(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var froms, users, volumes []string
	var build string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "FROM":
			froms = append(froms, f[1])
		case "USER":
			users = append(users, f[1])
		case "VOLUME":
			volumes = append(volumes, f[1:]...)
		case "RUN":
			if strings.Contains(line, "scripts/release") {
				build = line
			}
		}
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile stages %v: want a build stage and a runtime stage", froms)
	}
	if last := froms[len(froms)-1]; !strings.HasPrefix(last, "gcr.io/distroless/static") {
		t.Errorf("runtime stage FROM %s: want gcr.io/distroless/static (CA certificates and zone data, no libc needed)", last)
	}
	if !strings.Contains(build, "scripts/release --binary-only") {
		t.Errorf("the Dockerfile does not build with scripts/release --binary-only (found %q)", build)
	}
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1], "root") || strings.HasPrefix(users[len(users)-1], "0") {
		t.Errorf("Dockerfile USER %v: want a non-root user last", users)
	}
	if len(volumes) != 1 || volumes[0] != "/var/lib/miniauth" {
		t.Errorf("Dockerfile VOLUME %v, want /var/lib/miniauth", volumes)
	}
	if !strings.Contains(string(b), "MINIAUTH_DATA_DIR=/var/lib/miniauth") {
		t.Error("Dockerfile does not point MINIAUTH_DATA_DIR at the volume")
	}
}
