package apptest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// Binary builds the miniauth binary once per test process and returns
// its path.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "miniauth-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "miniauth")
		cmd := exec.Command("go", "build", "-o", build.path, ".")
		cmd.Dir = moduleRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatalf("build miniauth: %v", build.err)
	}
	return build.path
}

// moduleRoot is the repository root, found from this source file.
func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Process is a miniauth binary running for a test.
type Process struct {
	URL     string
	Addr    string
	DataDir string
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartProcess runs the binary with the test WeChat credentials, a fresh
// loopback port and the given extra environment, and waits until
// /healthz answers.
func StartProcess(t testing.TB, wx *WeChat, env map[string]string) *Process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := map[string]string{
		"MINIAUTH_ADDR":            addr,
		"MINIAUTH_DATA_DIR":        t.TempDir(),
		"MINIAUTH_WECHAT_APPID":    AppID,
		"MINIAUTH_WECHAT_SECRET":   Secret,
		"MINIAUTH_WECHAT_API_BASE": wx.HTTP.URL,
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := exec.Command(Binary(t))
	cmd.Env = os.Environ()
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &Process{URL: "http://" + addr, Addr: addr, DataDir: vars["MINIAUTH_DATA_DIR"], cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start miniauth: %v", err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("log of miniauth at %s:\n%s", addr, p.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("miniauth exited during start-up:\n%s", p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("miniauth did not become healthy within 30s:\n%s", p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Env is the process as an Env for Do, Login and friends.
func (p *Process) Env(wx *WeChat) *Env {
	return &Env{URL: p.URL, DataDir: p.DataDir, WeChat: wx, HTTP: &http.Client{Timeout: 30 * time.Second}, stop: p.Stop}
}

// Log is everything the process printed.
func (p *Process) Log() string { return p.out.String() }

// Stop asks the process to shut down (SIGTERM) and waits for it.
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}
