package packaging_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ReleaseTestEnv runs the release test (slow: static cgo builds for two
// architectures); .ci/run sets it. Without it the test skips, naming what
// this machine would still need. ReleaseArm64Env=1 makes a missing arm64
// toolchain a failure instead of a skip of the arm64 half (.ci/run sets
// it); ReleaseArm64Env=0 leaves arm64 out (half the cold build's compile
// time), saying so.
const (
	ReleaseTestEnv  = "MINIAUTH_RELEASE_TEST"
	ReleaseArm64Env = "MINIAUTH_RELEASE_ARM64"
)

// The version and build date the test builds with.
const (
	testVersion   = "1.2.3~citest"
	testEpoch     = 1764748800 // 2025-12-03T08:00:00Z
	testBuildDate = "2025-12-03T08:00:00Z"
)

// A prerequisite of the release test: a command, or a static C library a
// compiler must find, and the Debian package that provides it.
type prerequisite struct {
	command, staticLibOf, debian string
}

func (p prerequisite) missing() bool {
	if p.staticLibOf != "" {
		// gcc prints the bare name back when it has no such file.
		out, err := exec.Command(p.staticLibOf, "-print-file-name=libc.a").Output()
		return err != nil || !filepath.IsAbs(strings.TrimSpace(string(out)))
	}
	_, err := exec.LookPath(p.command)
	return err != nil
}

func (p prerequisite) String() string {
	name := p.command
	if p.staticLibOf != "" {
		name = "libc.a for " + p.staticLibOf
	}
	return name + " (" + p.debian + ")"
}

var (
	// The release itself, for amd64 on an amd64 machine, and its checks.
	amd64Needs = []prerequisite{
		{command: "go", debian: "Go 1.26"},
		{command: "gcc", debian: "gcc"},
		{staticLibOf: "gcc", debian: "libc6-dev"},
		{command: "dpkg-deb", debian: "dpkg"},
		{command: "ldd", debian: "libc-bin"},
		{command: "sha256sum", debian: "coreutils"},
	}
	// The arm64 half: cross-compiled, then run with qemu (called directly,
	// no binfmt_misc needed).
	arm64Needs = []prerequisite{
		{command: "aarch64-linux-gnu-gcc", debian: "gcc-aarch64-linux-gnu"},
		{staticLibOf: "aarch64-linux-gnu-gcc", debian: "libc6-dev-arm64-cross"},
		{command: "qemu-aarch64-static", debian: "qemu-user-static"},
	}
	// Installing the .deb in a throwaway root (also needs root).
	debNeeds = []prerequisite{
		{command: "dpkg", debian: "dpkg"},
		{command: "unshare", debian: "util-linux"},
		{command: "chroot", debian: "coreutils"},
		{command: "mount", debian: "mount"},
		{command: "useradd", debian: "passwd"},
		{command: "runuser", debian: "util-linux"},
		{command: "systemd-analyze", debian: "systemd"},
	}
)

func missingOf(needs ...[]prerequisite) []string {
	var out []string
	for _, list := range needs {
		for _, p := range list {
			if p.missing() {
				out = append(out, p.String())
			}
		}
	}
	return out
}

// TestRelease runs scripts/release as a user would and checks everything
// it made, for amd64 and (when the cross compiler and qemu are installed,
// or must be) arm64.
func TestRelease(t *testing.T) {
	if os.Getenv(ReleaseTestEnv) != "1" {
		msg := fmt.Sprintf("release build not tested: set %s=1 (as .ci/run does) to build the static binaries and the .deb", ReleaseTestEnv)
		if m := missingOf(amd64Needs, arm64Needs, debNeeds); len(m) > 0 {
			msg += "; this machine would also need " + strings.Join(m, ", ")
		}
		if os.Geteuid() != 0 {
			msg += "; and root, to install the .deb in a throwaway root"
		}
		t.Skip(msg)
	}
	if runtime.GOARCH != "amd64" || runtime.GOOS != "linux" {
		t.Skipf("the release test runs on linux/amd64 (it cross-compiles arm64), not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	if m := missingOf(amd64Needs); len(m) > 0 {
		t.Fatalf("%s=1 but the release build needs %s", ReleaseTestEnv, strings.Join(m, ", "))
	}
	archs := []string{"amd64"}
	arm64Missing, arm64Skip := missingOf(arm64Needs), ""
	switch {
	case os.Getenv(ReleaseArm64Env) == "0":
		arm64Skip = fmt.Sprintf("arm64 NOT built or tested: %s=0 leaves it out", ReleaseArm64Env)
	case len(arm64Missing) == 0:
		archs = append(archs, "arm64")
	case os.Getenv(ReleaseArm64Env) == "1":
		t.Fatalf("%s=1 but arm64 needs %s", ReleaseArm64Env, strings.Join(arm64Missing, ", "))
	default:
		arm64Skip = fmt.Sprintf("arm64 NOT built or tested: missing %s (set %s=1 to make this a failure)", strings.Join(arm64Missing, ", "), ReleaseArm64Env)
	}

	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "release"),
		"--version", testVersion, "--arch", strings.Join(archs, ","), "--out", out)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", testEpoch))
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, b)
	}
	t.Logf("scripts/release --arch %s took %s", strings.Join(archs, ","), time.Since(start).Round(time.Second))

	sums := checkSums(t, out)
	if arm64Skip != "" {
		t.Run("arm64", func(t *testing.T) { t.Skip(arm64Skip) })
	}
	for _, arch := range archs {
		t.Run(arch, func(t *testing.T) {
			tarball := fmt.Sprintf("miniauth_%s_linux_%s.tar.gz", testVersion, arch)
			deb := fmt.Sprintf("miniauth_%s_%s.deb", testVersion, arch)
			for _, f := range []string{tarball, deb} {
				if !sums[f] {
					t.Errorf("SHA256SUMS does not list %s", f)
				}
			}
			bin := extractTarball(t, filepath.Join(out, tarball), arch)
			for _, f := range []string{bin, filepath.Join(out, tarball), filepath.Join(out, deb)} {
				if fi, err := os.Stat(f); err == nil {
					t.Logf("%s: %.1f MiB", filepath.Base(f), float64(fi.Size())/(1<<20))
				}
			}
			checkStaticELF(t, bin, arch)
			line := checkVersion(t, bin, arch)
			if arch == "amd64" {
				checkBinaryOnlyBuild(t, bin, line)
			}
			serveLoginInEmptyRoot(t, bin, arch)
			checkDebContents(t, filepath.Join(out, deb), arch)
			if arch == "amd64" {
				installDebInThrowawayRoot(t, filepath.Join(out, deb))
			}
		})
	}
}

// checkSums verifies SHA256SUMS against the files and returns their names.
func checkSums(t *testing.T, dir string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: %q is not `sum  name`", line)
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("SHA256SUMS lists %s: %v", name, err)
		}
		got := sha256.Sum256(data)
		if hex.EncodeToString(got[:]) != sum {
			t.Errorf("SHA256SUMS: %s does not match", name)
		}
		names[name] = true
	}
	return names
}

// extractTarball checks the tarball's layout and returns the binary's path.
func extractTarball(t *testing.T, path, arch string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	prefix := fmt.Sprintf("miniauth_%s_linux_%s/", testVersion, arch)
	seen := map[string]bool{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h.Name, prefix) {
			t.Errorf("%s: %s is outside %s", filepath.Base(path), h.Name, prefix)
			continue
		}
		name := strings.TrimPrefix(h.Name, prefix)
		seen[name] = true
		if name == "miniauth" {
			if h.Mode&0o111 == 0 {
				t.Errorf("miniauth in the tarball has mode %o, want executable", h.Mode)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "miniauth"), data, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, want := range []string{"miniauth", "README.md", "docs/configuration.md", "docs/deploy.md", "docs/miniauth.service", "docs/miniauth.env"} {
		if !seen[want] {
			t.Errorf("%s lacks %s", filepath.Base(path), want)
		}
	}
	return filepath.Join(dir, "miniauth")
}

// checkStaticELF: no interpreter, no shared library, no symbol table, the
// right machine.
func checkStaticELF(t *testing.T, bin, arch string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
	if f.Machine != machine {
		t.Errorf("binary is for %v, want %v", f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has a program interpreter: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("binary has a symbol table: not stripped")
	}
	if arch == "amd64" {
		// ldd's own words, as a user would check.
		b, _ := exec.Command("ldd", bin).CombinedOutput()
		if !strings.Contains(string(b), "not a dynamic executable") && !strings.Contains(string(b), "statically linked") {
			t.Errorf("ldd %s: %s", bin, b)
		}
	}
}

// run is the command line to run bin: under qemu for arm64.
func run(bin, arch string, args ...string) []string {
	if arch == "arm64" {
		return append([]string{"qemu-aarch64-static", bin}, args...)
	}
	return append([]string{bin}, args...)
}

// checkVersion runs `miniauth version` and returns what it printed.
func checkVersion(t *testing.T, bin, arch string) string {
	t.Helper()
	argv := run(bin, arch, "version")
	b, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", argv, err, b)
	}
	want := regexp.MustCompile(`^miniauth ` + regexp.QuoteMeta(testVersion) + ` \(commit [0-9a-f]{12}(-dirty)?, built ` + testBuildDate + `\)\n$`)
	if !want.Match(b) {
		t.Errorf("miniauth version printed %q, want %v", b, want)
	}
	return string(b)
}

// checkBinaryOnlyBuild runs the Dockerfile's build (scripts/release
// --binary-only) with the same version, commit and date: the binary it
// makes is the release's.
func checkBinaryOnlyBuild(t *testing.T, release, versionLine string) {
	t.Helper()
	m := regexp.MustCompile(`commit (\S+),`).FindStringSubmatch(versionLine)
	if m == nil {
		t.Fatalf("no commit in %q", versionLine)
	}
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "release"), "--binary-only",
		"--version", testVersion, "--commit", m[1], "--arch", "amd64", "--out", out)
	cmd.Env = append(os.Environ(), fmt.Sprintf("SOURCE_DATE_EPOCH=%d", testEpoch))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release --binary-only: %v\n%s", err, b)
	}
	bin := filepath.Join(out, "miniauth-linux-amd64")
	checkStaticELF(t, bin, "amd64")
	if got := checkVersion(t, bin, "amd64"); got != versionLine {
		t.Errorf("--binary-only build says %q, the release %q", got, versionLine)
	}
	a, errA := os.ReadFile(release)
	b, errB := os.ReadFile(bin)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	t.Logf("--binary-only build identical to the release binary: %v", bytes.Equal(a, b))
}

// freeAddr is a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveLoginInEmptyRoot starts the binary chrooted into a directory holding
// only itself and its data dir (and, for arm64, the static qemu that runs
// it), in its own mount, PID, IPC and UTS namespaces, with nothing in its
// environment but miniauth's variables: no /etc, no /tmp, no CA
// certificates, no zone files, no libc. The built-in simulator then logs
// a user in over loopback.
func serveLoginInEmptyRoot(t *testing.T, bin, arch string) {
	t.Helper()
	rootfs := t.TempDir()
	copyFile(t, bin, filepath.Join(rootfs, "miniauth"), 0o755)
	if err := os.Mkdir(filepath.Join(rootfs, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	argv := []string{"/miniauth", "serve"}
	if arch == "arm64" {
		q, err := exec.LookPath("qemu-aarch64-static")
		if err != nil {
			t.Fatal(err)
		}
		copyFile(t, q, filepath.Join(rootfs, "qemu-aarch64-static"), 0o755)
		argv = []string{"/qemu-aarch64-static", "/miniauth", "serve"}
	}
	addr := freeAddr(t)
	// The path is the one inside the root: exec happens after the chroot.
	cmd := &exec.Cmd{Path: argv[0], Args: argv, Dir: "/"}
	cmd.Env = []string{"MINIAUTH_ADDR=" + addr, "MINIAUTH_DATA_DIR=/data"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     rootfs,
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS,
		Pdeathsig:  syscall.SIGKILL,
	}
	if os.Geteuid() != 0 {
		// Not root: a user namespace where we are, which allows the chroot.
		cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %v chrooted in %s: %v", argv, rootfs, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("server output:\n%s", logs.String())
		}
	}()

	base := "http://" + addr
	started := time.Now()
	client := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(3 * time.Minute) // qemu on a loaded machine
	for {
		res, err := client.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the server exited in the empty root: %v", err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the server did not answer /healthz in the empty root")
		}
	}

	res, err := client.Post(base+"/api/auth/login", "application/json", strings.NewReader(`{"code":"release-test","nickname":"Release"}`))
	if err != nil {
		t.Fatal(err)
	}
	var grant struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID       int64  `json:"id"`
			Nickname string `json:"nickname"`
		} `json:"user"`
	}
	err = json.NewDecoder(res.Body).Decode(&grant)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 || grant.AccessToken == "" {
		t.Fatalf("login in the empty root: status %d, %v, %+v", res.StatusCode, err, grant)
	}
	req, _ := http.NewRequest("GET", base+"/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+grant.AccessToken)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"nickname":"Release"`) {
		t.Fatalf("GET /api/me in the empty root: %d %s", res.StatusCode, body)
	}
	t.Logf("%s in the empty root: serving, a simulated login and /api/me in %s", arch, time.Since(started).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(rootfs, "data", "miniauth.db")); err != nil {
		t.Errorf("no database in the data dir: %v", err)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// checkDebContents reads the package's control fields and file list.
func checkDebContents(t *testing.T, deb, arch string) {
	t.Helper()
	field := func(name string) string {
		b, err := exec.Command("dpkg-deb", "--field", deb, name).Output()
		if err != nil {
			t.Fatalf("dpkg-deb --field %s: %v", name, err)
		}
		return strings.TrimSpace(string(b))
	}
	for name, want := range map[string]string{"Package": "miniauth", "Version": testVersion, "Architecture": arch} {
		if got := field(name); got != want {
			t.Errorf("%s: %s is %q, want %q", filepath.Base(deb), name, got, want)
		}
	}
	b, err := exec.Command("dpkg-deb", "--contents", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // path → mode and owner as dpkg-deb lists them
		"./usr/bin/miniauth":                        "-rwxr-xr-x root/root",
		"./usr/lib/systemd/system/miniauth.service": "-rw-r--r-- root/root",
		"./etc/miniauth/miniauth.env":               "-rw-r----- root/root",
		"./usr/share/doc/miniauth/README.md":        "-rw-r--r-- root/root",
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		if w, ok := want[f[5]]; ok {
			if got := f[0] + " " + f[1]; got != w {
				t.Errorf("%s: %s is %s, want %s", filepath.Base(deb), f[5], got, w)
			}
			delete(want, f[5])
		}
	}
	for path := range want {
		t.Errorf("%s does not install %s", filepath.Base(deb), path)
	}
	b, err = exec.Command("dpkg-deb", "--info", deb, "conffiles").Output()
	if err != nil || strings.TrimSpace(string(b)) != "/etc/miniauth/miniauth.env" {
		t.Errorf("conffiles = %q (%v), want /etc/miniauth/miniauth.env", b, err)
	}
}
