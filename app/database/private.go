package database

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// The database holds phone numbers, openids and password hashes: its
// files are for miniauth's user alone (0600), even in a data dir that
// others may list (systemd's StateDirectory= makes it 0755).

// privateMode is the mode of every database file miniauth creates.
const privateMode = 0o600

// createPrivate creates an empty database file with privateMode unless
// one exists. SQLite would create it 0644 (less the umask) and gives its
// -wal and -shm files the main file's mode, so creating the main file
// first makes all three private. An empty file is an empty database.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, privateMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database file: %w", err)
	}
	return f.Close()
}

// makePrivate takes group and other permissions away from a database
// file and its -wal and -shm companions made by an older miniauth (0644).
// It is best effort: a file owned by another user stays as it is, and
// SQLite reports the real problem if it cannot open it.
func makePrivate(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
			os.Chmod(p, fi.Mode().Perm()&^0o077)
		}
	}
}
