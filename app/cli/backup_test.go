package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/keys"
)

// TestBackupIntoDirectory: a directory target gets a new dated file; a
// missing one is an error, not a file named like it.
func TestBackupIntoDirectory(t *testing.T) {
	dir := t.TempDir()
	migrate(t, dir, "")
	backups := t.TempDir()
	code, out, errOut := runCLI(t, dir, "", "", "backup", backups)
	if code != 0 {
		t.Fatalf("backup into a directory: exit %d %q %q", code, out, errOut)
	}
	names := files(t, backups)
	if len(names) != 1 || !regexp.MustCompile(`^miniauth-\d{8}T\d{6}Z\.db$`).MatchString(names[0]) {
		t.Fatalf("directory holds %v, want one miniauth-<time>.db", names)
	}
	if !strings.Contains(out, filepath.Join(backups, names[0])) {
		t.Errorf("output %q does not name the file", out)
	}
	missing := filepath.Join(t.TempDir(), "nope") + "/"
	code, out, errOut = runCLI(t, dir, "", "", "backup", missing)
	oneLine(t, "backup into a missing directory", code, out, errOut, []string{"no such directory", "mkdir -p"})
	if _, err := os.Stat(strings.TrimSuffix(missing, "/")); !os.IsNotExist(err) {
		t.Errorf("a missing directory was created or filled: %v", err)
	}
	// A file that exists is still refused.
	code, _, errOut = runCLI(t, dir, "", "", "backup", filepath.Join(backups, names[0]))
	if code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("existing file: exit %d %q", code, errOut)
	}
}

// TestBackupWithSecret: --with-secret writes the generated server secret
// beside the backup, readable by its owner only; a secret from the
// environment is not written anywhere.
func TestBackupWithSecret(t *testing.T) {
	dir := t.TempDir()
	migrate(t, dir, "")
	if _, err := keys.Load("", dir); err != nil { // as the server's first start does
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join(dir, keys.SecretFile))
	target := filepath.Join(t.TempDir(), "b.db")
	code, out, errOut := runCLI(t, dir, "", "", "backup", "--with-secret", target)
	if code != 0 {
		t.Fatalf("exit %d %q %q", code, out, errOut)
	}
	got, err := os.ReadFile(target + ".jwt_secret")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("secret copy: %v, equal %v", err, bytes.Equal(got, want))
	}
	if st, _ := os.Stat(target + ".jwt_secret"); st.Mode().Perm() != 0o600 {
		t.Errorf("secret copy mode %v, want 0600", st.Mode().Perm())
	}
	if strings.Contains(out+errOut, strings.TrimSpace(string(want))) {
		t.Error("the secret was printed")
	}
	vars := map[string]string{"MINIAUTH_DATA_DIR": dir, "MINIAUTH_JWT_SECRET": strings.Repeat("k", 40)}
	code, out, errOut = runEnv(t, vars, "backup", "--with-secret", filepath.Join(t.TempDir(), "c.db"))
	oneLine(t, "--with-secret with MINIAUTH_JWT_SECRET", code, out, errOut, []string{"MINIAUTH_JWT_SECRET"}, strings.Repeat("k", 40))
}

// TestAdminListShowsTheZone: times in MINIAUTH_TIMEZONE with the zone
// named, as the panel shows them.
func TestAdminListShowsTheZone(t *testing.T) {
	dir := t.TempDir()
	migrate(t, dir, "")
	if code, _, errOut := runCLI(t, dir, "", "long enough password\n", "admin", "create", "--username", "zoe", "--password-stdin"); code != 0 {
		t.Fatal(errOut)
	}
	_, out, _ := runCLI(t, dir, "", "", "admin", "list")
	if !strings.Contains(out, " CST ") || !strings.Contains(out, time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")) {
		t.Errorf("default zone (Asia/Shanghai): %q", out)
	}
	_, out, _ = runEnv(t, map[string]string{"MINIAUTH_DATA_DIR": dir, "MINIAUTH_TIMEZONE": "UTC"}, "admin", "list")
	if !strings.Contains(out, " UTC ") {
		t.Errorf("MINIAUTH_TIMEZONE=UTC: %q", out)
	}
}

// TestCopyProgressInALog: written to a pipe or file, copy prints one
// finished line per table, never a line rewritten with \r.
func TestCopyProgressInALog(t *testing.T) {
	src := t.TempDir()
	migrate(t, src, "")
	if code, _, errOut := runCLI(t, src, "", "", "dev", "seed", "--users", "5"); code != 0 {
		t.Fatal(errOut)
	}
	dst := apptest.FreshPostgres(t)
	code, out, errOut := runEnv(t, map[string]string{"MINIAUTH_DATA_DIR": src}, "copy", "--from", filepath.Join(src, "miniauth.db"), "--to", dst)
	if code != 0 {
		t.Fatalf("copy: exit %d %q %q", code, out, errOut)
	}
	if strings.Contains(errOut, "\r") || !strings.Contains(errOut, "users") {
		t.Errorf("progress in a log: %q", errOut)
	}
}
