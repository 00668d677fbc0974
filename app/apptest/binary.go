package apptest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds the miniauth binary once per test run and returns its
// path. `go test ./...` runs each package in a process of its own; they
// share one build, kept under the temp dir and named by a hash of the
// sources, so the packages that run the binary do not each link it. A
// lock file makes the first package build while the others wait.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.path, build.err = sharedBuild() })
	if build.err != nil {
		t.Fatalf("build miniauth: %v", build.err)
	}
	return build.path
}

// RemoveBinary is kept for TestMains written before the build was shared:
// the binary stays for the other packages of the run. Builds of older
// sources are pruned by the next build.
func RemoveBinary() {}

// sharedBuild builds the binary of the current sources, or finds it built.
func sharedBuild() (string, error) {
	root := moduleRoot()
	sum, err := sourceHash(root)
	if err != nil {
		return "", err
	}
	cache := filepath.Join(os.TempDir(), "miniauth-test-bin")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(cache, sum, "miniauth")
	lock, err := os.OpenFile(filepath.Join(cache, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	pruneBuilds(cache, sum)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	tmp := path + ".partial"
	cmd := exec.Command("go", "build", "-o", tmp, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return path, os.Rename(tmp, path)
}

// sourceHash names the sources a build is made of: every file the binary
// compiles or embeds (tests excluded), by path and content.
func sourceHash(root string) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version())
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "artifacts" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") {
			return nil
		}
		switch filepath.Ext(name) {
		case ".go", ".html", ".css", ".js", ".svg", ".json", ".mod", ".sum", ".txt":
		default:
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintln(h, rel)
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("hash the sources: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// pruneBuilds removes builds of other sources older than an hour (a run
// in progress may still use a recent one).
func pruneBuilds(cache, keep string) {
	entries, _ := os.ReadDir(cache)
	for _, e := range entries {
		if !e.IsDir() || e.Name() == keep {
			continue
		}
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(cache, e.Name()))
		}
	}
}

// moduleRoot is the repository root, found from this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}
