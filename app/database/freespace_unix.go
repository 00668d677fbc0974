//go:build unix

package database

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// checkFreeSpace fails with a DiskFull fault when the filesystem holding
// path has less than minFreeBytes left for this process (root may use the
// blocks reserved for it).
func checkFreeSpace(path string) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return nil // cannot tell: the write probe decides
	}
	blocks := st.Bavail
	if os.Geteuid() == 0 {
		blocks = st.Bfree
	}
	if free := uint64(blocks) * uint64(st.Bsize); free < minFreeBytes {
		return &Fault{Cause: DiskFull, Err: fmt.Errorf("%d bytes free on the filesystem of %s", free, filepath.Dir(path))}
	}
	return nil
}
