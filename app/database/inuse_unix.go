//go:build unix

package database

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"syscall"
)

// sqliteDMSByte is the byte of the -shm file on which every connection
// to a WAL database holds a shared lock while it is open (SQLite's unix
// VFS: UNIX_SHM_DMS, 120 + 8).
const sqliteDMSByte = 128

// shmFiles keeps the -shm files sqliteHolder opened, open: closing any
// descriptor of a file drops every POSIX lock this process holds on it,
// SQLite's own included, and another process could then take the
// database for unused and reset its shared memory.
var shmFiles sync.Map // path → *os.File

// sqliteHolder is the pid of another process that has the SQLite file at
// path open, or 0.
func sqliteHolder(path string) (int, error) {
	var f *os.File
	if v, ok := shmFiles.Load(path); ok {
		f = v.(*os.File)
	} else {
		opened, err := os.Open(path + "-shm")
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil // nobody has it open in WAL mode
		}
		if err != nil {
			return 0, err
		}
		// A concurrent call may have stored its own: this one stays open
		// unused rather than be closed (see shmFiles).
		v, _ := shmFiles.LoadOrStore(path, opened)
		f = v.(*os.File)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: sqliteDMSByte, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, err
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, nil
	}
	return int(lk.Pid), nil
}
