package packaging_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// throwawayRoot is a directory to chroot into that looks like a Debian
// system to dpkg: the host's /usr seen through an overlay (reads come from
// the host, writes land in the overlay, so the host is never touched), and
// its own /etc, /var (with an empty dpkg database), /tmp and /run. No
// systemd runs in it, as in a container or a chroot.
type throwawayRoot struct {
	t                *testing.T
	dir, upper, work string
}

func newThrowawayRoot(t *testing.T) *throwawayRoot {
	t.Helper()
	if os.Geteuid() != 0 {
		// TestRelease runs only when asked to (MINIAUTH_RELEASE_TEST=1), and
		// then the .deb must be tested too.
		t.Fatal("installing the .deb in a throwaway root needs root (mount, chroot, chown): run the release test as root, as .ci/run does")
	}
	if m := missingOf(debNeeds); len(m) > 0 {
		t.Fatalf("installing the .deb in a throwaway root needs %s", strings.Join(m, ", "))
	}
	base := t.TempDir()
	r := &throwawayRoot{t: t, dir: filepath.Join(base, "root"), upper: filepath.Join(base, "upper"), work: filepath.Join(base, "work")}
	for _, d := range []string{"usr", "etc/dpkg/dpkg.cfg.d", "etc/systemd/system", "var/lib/dpkg/info", "var/lib/dpkg/updates",
		"var/lib/dpkg/triggers", "var/log", "var/cache", "tmp", "run", "dev", "proc", "root"} {
		if err := os.MkdirAll(filepath.Join(r.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{r.upper, r.work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(r.dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"} {
		if err := os.Symlink(target, filepath.Join(r.dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(r.dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The host's accounts, minus any miniauth user: the package creates it.
	for _, f := range []string{"passwd", "group", "shadow", "gshadow"} {
		b, err := os.ReadFile(filepath.Join("/etc", f))
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if !strings.HasPrefix(line, "miniauth:") {
				keep = append(keep, line)
			}
		}
		mode := os.FileMode(0o644)
		if strings.Contains(f, "shadow") {
			mode = 0o640
		}
		if err := os.WriteFile(filepath.Join(r.dir, "etc", f), []byte(strings.Join(keep, "\n")+"\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"login.defs", "nsswitch.conf"} {
		if b, err := os.ReadFile(filepath.Join("/etc", f)); err == nil {
			if err := os.WriteFile(filepath.Join(r.dir, "etc", f), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// PAM's settings: runuser (the documented way to run a maintenance
	// command as the service user) aborts without them.
	for _, d := range []string{"pam.d", "security"} {
		if _, err := os.Stat(filepath.Join("/etc", d)); err != nil {
			continue
		}
		if out, err := exec.Command("cp", "-a", filepath.Join("/etc", d), filepath.Join(r.dir, "etc", d)).CombinedOutput(); err != nil {
			t.Fatalf("cp /etc/%s: %v\n%s", d, err, out)
		}
	}
	return r
}

// sh runs a shell script chrooted in the root, in a mount namespace of its
// own where /usr is the overlay, /dev the host's and /proc a fresh one.
func (r *throwawayRoot) sh(script string) (string, error) {
	setup := fmt.Sprintf(`set -e
mount -t overlay overlay -o lowerdir=/usr,upperdir=%[2]s,workdir=%[3]s %[1]s/usr
mount --rbind /dev %[1]s/dev
mount -t proc proc %[1]s/proc
exec chroot %[1]s /bin/sh -c "$1"`, r.dir, r.upper, r.work)
	cmd := exec.Command("unshare", "--mount", "--pid", "--fork", "--kill-child", "sh", "-c", setup, "sh", "set -e\n"+script)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive"}
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func (r *throwawayRoot) mustSh(script string) string {
	r.t.Helper()
	out, err := r.sh(script)
	if err != nil {
		r.t.Fatalf("in the throwaway root: %s\n%v\n%s", script, err, out)
	}
	return out
}

// exists reports whether path exists inside the root (the overlay's
// upper layer for /usr).
func (r *throwawayRoot) exists(path string) bool {
	out, err := r.sh("test -e " + path)
	_ = out
	return err == nil
}

// installDebInThrowawayRoot installs the .deb with dpkg -i, checks what it
// put where and the user it made, verifies the unit with systemd-analyze,
// runs a maintenance command as the service user with the settings file,
// reinstalls it (the upgrade path), then removes and purges it: the data
// stays, and both say where.
func installDebInThrowawayRoot(t *testing.T, deb string) {
	r := newThrowawayRoot(t)
	copyFile(t, deb, filepath.Join(r.dir, "tmp", "miniauth.deb"), 0o644)

	out := r.mustSh("dpkg -i /tmp/miniauth.deb")
	if !strings.Contains(out, "/etc/miniauth/miniauth.env") || !strings.Contains(out, "systemctl enable --now miniauth") {
		t.Errorf("dpkg -i does not say what to do next:\n%s", out)
	}

	out = r.mustSh("stat -c '%n %a %U:%G' /usr/bin/miniauth /usr/lib/systemd/system/miniauth.service /etc/miniauth/miniauth.env /var/lib/miniauth")
	for _, want := range []string{
		"/usr/bin/miniauth 755 root:root",
		"/usr/lib/systemd/system/miniauth.service 644 root:root",
		"/etc/miniauth/miniauth.env 640 root:miniauth",
		"/var/lib/miniauth 700 miniauth:miniauth",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("after dpkg -i, want %q in:\n%s", want, out)
		}
	}

	// A system user with no login, its home the state directory.
	out = strings.TrimSpace(r.mustSh("getent passwd miniauth"))
	f := strings.Split(out, ":")
	if len(f) != 7 {
		t.Fatalf("getent passwd miniauth = %q", out)
	}
	if uid, _ := strconv.Atoi(f[2]); uid <= 0 || uid >= 1000 {
		t.Errorf("miniauth's uid is %s, want a system uid (1–999)", f[2])
	}
	if f[5] != "/var/lib/miniauth" || f[6] != "/usr/sbin/nologin" {
		t.Errorf("miniauth's home and shell are %s and %s, want /var/lib/miniauth and /usr/sbin/nologin", f[5], f[6])
	}

	if out := r.mustSh("miniauth version"); !strings.HasPrefix(out, "miniauth "+testVersion+" (commit ") {
		t.Errorf("installed miniauth version: %q", out)
	}

	// systemd's own check of the installed unit.
	out, err := r.sh("systemd-analyze verify /usr/lib/systemd/system/miniauth.service 2>&1")
	if err != nil || strings.Contains(out, "miniauth.service") {
		t.Errorf("systemd-analyze verify miniauth.service: %v\n%s", err, out)
	}
	// And its score of the hardening: 1.5 "OK" today; anything above 2.0
	// (20 on the scale --threshold uses) means a protection was dropped.
	out, err = r.sh("systemd-analyze security --offline=yes --threshold=20 --no-pager /usr/lib/systemd/system/miniauth.service 2>&1")
	if m := regexp.MustCompile(`Overall exposure level for miniauth.service: [^\n]*`).FindString(out); m != "" {
		t.Log(m)
	}
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0, or it failed: %v\n%s", err, out)
	}

	// Step 1 of what dpkg -i said: the mini program's credentials in the
	// settings file (production refuses to start without them).
	r.mustSh(`sed -i 's/^#MINIAUTH_WECHAT_APPID=.*/MINIAUTH_WECHAT_APPID=wx0123456789abcdef/; s/^#MINIAUTH_WECHAT_SECRET=.*/MINIAUTH_WECHAT_SECRET=0123456789abcdef0123456789abcdef/' /etc/miniauth/miniauth.env`)
	// The documented way to run a maintenance command: as the service
	// user, with the settings file. It creates the database the service
	// will use, private to that user.
	r.mustSh(`runuser -u miniauth -- sh -c 'set -a; . /etc/miniauth/miniauth.env; exec miniauth migrate' 2>&1`)
	if out := r.mustSh("stat -c '%a %U' /var/lib/miniauth/miniauth.db"); out != "600 miniauth\n" {
		t.Errorf("the database made by miniauth migrate as the service user: %q, want 600 miniauth", out)
	}

	// Installing again is the upgrade path: the user exists, nothing breaks.
	r.mustSh("dpkg -i /tmp/miniauth.deb")
	if n := strings.Count(r.mustSh("cat /etc/passwd"), "\nminiauth:"); n != 1 {
		t.Errorf("after a reinstall, /etc/passwd has %d miniauth users", n)
	}
	// The edited settings survive it (a conffile), mode and group kept.
	if out := r.mustSh("grep -c '^MINIAUTH_WECHAT_APPID=wx0123456789abcdef$' /etc/miniauth/miniauth.env; stat -c '%a %U:%G' /etc/miniauth/miniauth.env"); out != "1\n640 root:miniauth\n" {
		t.Errorf("after a reinstall, the edited settings file: %q", out)
	}

	out = r.mustSh("dpkg -r miniauth")
	if !strings.Contains(out, "/var/lib/miniauth") {
		t.Errorf("dpkg -r does not say where the data stays:\n%s", out)
	}
	for path, want := range map[string]bool{
		"/usr/bin/miniauth":                        false,
		"/usr/lib/systemd/system/miniauth.service": false,
		"/etc/miniauth/miniauth.env":               true, // a conffile stays until purge
		"/var/lib/miniauth/miniauth.db":            true,
	} {
		if got := r.exists(path); got != want {
			t.Errorf("after dpkg -r, %s exists = %v, want %v", path, got, want)
		}
	}

	out = r.mustSh("dpkg -P miniauth")
	if !strings.Contains(out, "data stays in /var/lib/miniauth") {
		t.Errorf("dpkg -P does not say where the data stays:\n%s", out)
	}
	if r.exists("/etc/miniauth/miniauth.env") {
		t.Error("after dpkg -P, /etc/miniauth/miniauth.env is still there")
	}
	if !r.exists("/var/lib/miniauth/miniauth.db") {
		t.Error("dpkg -P deleted the database")
	}
}
