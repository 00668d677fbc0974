//go:build unix

package cli

import "syscall"

// restrictUmask makes every file the process creates private to its user
// (directories 0700, files 0600): the database, its -wal and -shm, SQLite's
// temporary files, backups, the secret, uploads. miniauth serves its files
// itself, so no other user needs to read them.
func restrictUmask() { syscall.Umask(0o077) }
