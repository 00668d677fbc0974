//go:build unix

package database

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/miniauth/miniauth/ent"
)

// withUmask runs the test under the usual umask 022, with which SQLite's
// own defaults make world-readable files.
func withUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
}

// wantPrivate fails unless every named file exists with mode 0600.
func wantPrivate(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
			continue
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %#o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// A new database, its -wal and -shm (checked while open, when they
// exist) and a backup of it are 0600, whatever the umask. (PostgreSQL
// keeps no files of ours.)
func TestSQLiteFilesArePrivate(t *testing.T) {
	withUmask(t)
	path := filepath.Join(t.TempDir(), "miniauth.db")
	db := openTest(t, path)
	ctx := context.Background()
	if err := db.Writer.Do(ctx, func(ctx context.Context, tx *ent.Client) error {
		return tx.User.Create().SetOpenid("private").SetPhone("13800138000").Exec(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	wantPrivate(t, path, path+"-wal", path+"-shm")

	backup := filepath.Join(t.TempDir(), "backup.db")
	res, err := db.Backup(ctx, backup)
	if err != nil || res.Users != 1 {
		t.Fatalf("backup: %+v %v", res, err)
	}
	wantPrivate(t, backup)
	leftovers, _ := filepath.Glob(backup + "?*")
	if len(leftovers) > 0 {
		t.Errorf("backup left %v", leftovers)
	}
}

// A database an older miniauth made 0644 is made private when opened.
func TestOpenMakesOldDatabaseFilesPrivate(t *testing.T) {
	withUmask(t)
	path := filepath.Join(t.TempDir(), "miniauth.db")
	db := openTest(t, path)
	db.Close()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	openTest(t, path)
	wantPrivate(t, path)
}
