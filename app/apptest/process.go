package apptest

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Process is a miniauth binary running for a test.
type Process struct {
	URL     string
	Addr    string
	DataDir string
	cmd     *exec.Cmd
	out     *Logs
	done    chan struct{}
	err     error // Wait's result, once done is closed
}

// Environ is this process's environment without any MINIAUTH_ setting,
// plus vars: the binary sees only the settings its test chose, whatever
// the shell running the tests has set.
func Environ(vars map[string]string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIAUTH_") {
			env = append(env, kv)
		}
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// StartProcess runs the binary with the credentials of wx, a fresh
// loopback port, a fresh data dir and the given extra environment (which
// wins), and waits until /healthz answers. With wx nil it sets no WeChat
// variables, so outside production the binary runs its development
// simulator. The process is stopped with SIGTERM when the test ends.
func StartProcess(t testing.TB, wx *WeChat, env map[string]string) *Process {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	vars := map[string]string{
		"MINIAUTH_ADDR":     addr,
		"MINIAUTH_DATA_DIR": t.TempDir(),
	}
	if wx != nil {
		vars["MINIAUTH_WECHAT_APPID"] = AppID
		vars["MINIAUTH_WECHAT_SECRET"] = Secret
		vars["MINIAUTH_WECHAT_API_BASE"] = wx.HTTP.URL
	}
	for k, v := range env {
		vars[k] = v
	}
	cmd := exec.Command(Binary(t))
	cmd.Env = Environ(vars)
	p := &Process{URL: "http://" + addr, Addr: addr, DataDir: vars["MINIAUTH_DATA_DIR"], cmd: cmd, out: &Logs{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start miniauth: %v", err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("log of miniauth at %s:\n%s", addr, p.out.String())
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("miniauth exited during start-up (%v):\n%s", p.err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("miniauth did not become healthy within 30s (last error: %v):\n%s", err, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Env is the process as an Env for Do, Login and friends.
func (p *Process) Env(wx *WeChat) *Env {
	return &Env{URL: p.URL, DataDir: p.DataDir, WeChat: wx, HTTP: &http.Client{Timeout: 30 * time.Second}, stop: p.Stop}
}

// PID is the process id, e.g. to read /proc/<pid>/status.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Log is everything the process printed.
func (p *Process) Log() string { return p.out.String() }

// Stop asks the process to shut down (SIGTERM) and waits for it; one
// that has not exited after 15s is killed.
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

// Kill ends the process at once (SIGKILL), as a crash or power cut
// would, and waits for it.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// Wait waits for the process to exit and returns how it did: nil for
// exit status 0, else an *exec.ExitError.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}
