//go:build unix

package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/miniauth/miniauth/app/apptest"
)

// The binary, started with the usual umask 022, keeps the data dir, the
// database and its backups to its own user.
func TestBinaryWritesPrivateFiles(t *testing.T) {
	bin := apptest.Binary(t)
	old := syscall.Umask(0o022) // inherited by the commands below
	t.Cleanup(func() { syscall.Umask(old) })
	root := t.TempDir()
	data := filepath.Join(root, "data")
	backup := filepath.Join(root, "backups", "nightly.db")
	if err := os.Mkdir(filepath.Dir(backup), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"migrate"}, {"backup", backup}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "MINIAUTH_DATA_DIR="+data, "MINIAUTH_DATABASE_URL=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("miniauth %v: %v\n%s", args, err, out)
		}
	}
	for path, want := range map[string]os.FileMode{data: 0o700, filepath.Join(data, "miniauth.db"): 0o600, backup: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %#o, want %#o", path, fi.Mode().Perm(), want)
		}
	}
}
