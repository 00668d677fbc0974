package main

// End-to-end tests of the built binary: start-up and configuration
// errors, durability across SIGKILL, graceful shutdown on SIGTERM.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
	"github.com/miniauth/miniauth/app/config"
	"github.com/miniauth/miniauth/app/wechatsim"
)

func TestMain(m *testing.M) {
	code := m.Run()
	apptest.RemoveBinary()
	os.Exit(code)
}

// run runs the binary to completion.
func run(t *testing.T, vars map[string]string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	// Build first: a cold build (cgo SQLite under -race) can take minutes
	// on a busy machine and must not eat the command's own deadline.
	bin := apptest.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = apptest.Environ(vars)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		exit = ee.ExitCode()
	default:
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), exit
}

// serve starts the binary on a loopback port with the given data dir,
// against wx (or, with wx nil, the development simulator), and waits
// until it is healthy.
func serve(t *testing.T, dataDir string, wx *apptest.WeChat) *apptest.Process {
	t.Helper()
	return apptest.StartProcess(t, wx, map[string]string{"MINIAUTH_DATA_DIR": dataDir})
}

var client = &http.Client{Timeout: 30 * time.Second}

func call(t *testing.T, s *apptest.Process, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	status, m, err := callErr(s, method, path, token, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, m
}

func callErr(s *apptest.Process, method, path, token string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	json.Unmarshal(raw, &m)
	return resp.StatusCode, m, nil
}

func login(t *testing.T, s *apptest.Process, code string) (access, refresh string, userID float64) {
	t.Helper()
	status, m := call(t, s, "POST", "/api/auth/login", "", map[string]any{"code": code})
	if status != 200 {
		t.Fatalf("login: %d %v", status, m)
	}
	return m["access_token"].(string), m["refresh_token"].(string), m["user"].(map[string]any)["id"].(float64)
}

func TestHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	names := []string{
		"MINIAUTH_ADDR", "MINIAUTH_DATA_DIR", "MINIAUTH_DATABASE_URL", "MINIAUTH_ENV", "MINIAUTH_WECHAT_APPID",
		"MINIAUTH_WECHAT_SECRET", "MINIAUTH_WECHAT_API_BASE", "MINIAUTH_JWT_SECRET", "MINIAUTH_ACCESS_TTL",
		"MINIAUTH_REFRESH_TTL", "MINIAUTH_TRUSTED_PROXIES",
	}
	for _, v := range config.Vars {
		names = append(names, v.Name)
	}
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}} {
		out, _, exit := run(t, nil, args...)
		if exit != 0 {
			t.Errorf("%v: exit %d", args, exit)
		}
		for _, n := range names {
			if !strings.Contains(out, n) {
				t.Errorf("%v does not list %s", args, n)
			}
		}
	}
}

// TestStartupRefusesBadConfig: a bad setting stops the binary before it
// listens, with exit status non-zero and one line naming the variable.
func TestStartupRefusesBadConfig(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		vars  map[string]string
		names []string
	}{
		{"access TTL does not parse", map[string]string{"MINIAUTH_ACCESS_TTL": "two hours"}, []string{"MINIAUTH_ACCESS_TTL"}},
		{"refresh TTL does not parse", map[string]string{"MINIAUTH_REFRESH_TTL": "30d"}, []string{"MINIAUTH_REFRESH_TTL"}},
		{"data dir not writable", map[string]string{"MINIAUTH_DATA_DIR": filepath.Join(file, "data")}, []string{"MINIAUTH_DATA_DIR"}},
		{"production without WeChat credentials", map[string]string{"MINIAUTH_ENV": "production"}, []string{"MINIAUTH_WECHAT_APPID", "MINIAUTH_WECHAT_SECRET"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"MINIAUTH_ADDR": "127.0.0.1:0", "MINIAUTH_DATA_DIR": t.TempDir()}
			for k, v := range c.vars {
				vars[k] = v
			}
			_, stderr, exit := run(t, vars)
			if exit == 0 {
				t.Fatalf("exit 0, want non-zero; stderr:\n%s", stderr)
			}
			msg := strings.TrimSpace(stderr)
			if strings.Count(msg, "\n") != 0 {
				t.Errorf("want one line, got:\n%s", msg)
			}
			for _, n := range c.names {
				if !strings.Contains(msg, n) {
					t.Errorf("%q does not name %s", msg, n)
				}
			}
		})
	}
}

// TestDevelopmentSimulator: without credentials outside production the
// built-in simulator answers, and the log says so loudly.
func TestDevelopmentSimulator(t *testing.T) {
	t.Parallel()
	s := serve(t, t.TempDir(), nil)
	_, _, id1 := login(t, s, "any-code")
	_, _, id2 := login(t, s, "any-code")
	_, _, id3 := login(t, s, "another-code")
	if id1 != id2 || id1 == id3 {
		t.Errorf("simulated openids are not derived from the code: %v %v %v", id1, id2, id3)
	}
	s.Stop() // log lines are buffered: the exit flushes them
	if !strings.Contains(s.Log(), "FAKE") {
		t.Errorf("no loud warning about fake logins:\n%s", s.Log())
	}
}

// TestSurvivesSIGKILL: a 200 means the write is on disk. Kill the process
// right after a profile update, start it again on the same data dir: the
// change is there and the tokens still work (the generated secret was
// kept).
func TestSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	wx := apptest.NewWeChat(t)
	s := serve(t, dir, wx)
	access, refresh, id := login(t, s, wx.NewCode(wechatsim.Identity{OpenID: "o_kill"}))
	for i := range 5 {
		nick := fmt.Sprintf("before kill %d 😀", i)
		if status, m := call(t, s, "PUT", "/api/me", access, map[string]any{"nickname": nick, "gender": 2}); status != 200 || m["nickname"] != nick {
			t.Fatalf("put: %d %v", status, m)
		}
	}
	s.Kill()

	s2 := serve(t, dir, wx)
	status, m := call(t, s2, "GET", "/api/me", access, nil)
	if status != 200 {
		t.Fatalf("access token after restart: %d %v", status, m)
	}
	if m["nickname"] != "before kill 4 😀" || m["gender"] != float64(2) || m["id"] != id {
		t.Errorf("after SIGKILL: %v", m)
	}
	if status, m := call(t, s2, "POST", "/api/auth/refresh", "", map[string]any{"refresh_token": refresh}); status != 200 {
		t.Errorf("refresh after restart: %d %v", status, m)
	}
}

// TestGracefulShutdown: SIGTERM lets an in-flight login finish, then the
// process exits 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	wx := apptest.NewWeChat(t)
	s := serve(t, t.TempDir(), wx)
	code := wx.NewCode(wechatsim.Identity{OpenID: "o_in_flight"})
	wx.Fail(wechatsim.PathCode2Session, wechatsim.Failure{Delay: 2 * time.Second})
	type result struct {
		status int
		body   map[string]any
		err    error
	}
	done := make(chan result, 1)
	go func() {
		status, m, err := callErr(s, "POST", "/api/auth/login", "", map[string]any{"code": code})
		done <- result{status, m, err}
	}()
	// The login is in flight once WeChat has it.
	deadline := time.Now().Add(time.Minute)
	for wx.Calls(wechatsim.PathCode2Session) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the login never reached WeChat")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Stop() // SIGTERM, then wait for the exit
	r := <-done
	if r.err != nil || r.status != 200 || r.body["access_token"] == nil {
		t.Fatalf("in-flight login: %d %v %v", r.status, r.body, r.err)
	}
	if err := s.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s.Log())
	}
}
