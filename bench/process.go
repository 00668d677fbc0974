package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miniauth/miniauth/app/wechatsim"
)

const (
	benchAppID  = "wxbench00000000001"
	benchSecret = "bench-app-secret-0123456789"
)

// wechat is the simulated WeChat the miniauth processes call.
type wechat struct {
	Sim  *wechatsim.Server
	HTTP *httptest.Server
	URL  string
}

// startWeChat runs the strict simulator behind one addition: a code of the
// form "bench.<openid>.<nonce>" (which wrk's Lua scripts make up) is
// issued for that openid on first sight, so it is accepted once, like a
// fresh wx.login code, and refused when replayed.
func startWeChat() *wechat {
	sim := wechatsim.New(benchAppID, benchSecret)
	var seen sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == wechatsim.PathCode2Session {
			q := r.URL.Query()
			if code := q.Get("js_code"); strings.HasPrefix(code, "bench.") {
				if _, replay := seen.LoadOrStore(code, true); !replay {
					openid, _, _ := strings.Cut(strings.TrimPrefix(code, "bench."), ".")
					q.Set("js_code", sim.NewCode(wechatsim.Identity{OpenID: openid}))
					r.URL.RawQuery = q.Encode()
				}
			}
		}
		sim.ServeHTTP(w, r)
	}))
	return &wechat{Sim: sim, HTTP: srv, URL: srv.URL}
}

func (w *wechat) Close() { w.HTTP.Close() }

// process is a child server.
type process struct {
	URL string
	cmd *exec.Cmd
}

// rss is the process's resident set and its peak so far, in KiB.
func (p *process) rss() (now, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			now, _ = strconv.ParseInt(f[1], 10, 64)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			peak, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return now, peak
}

// cpu is the process's CPU time so far, user and system, from
// /proc/PID/stat (clock ticks of 10 ms: over a case's thousands of
// requests the rounding is small).
func (p *process) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count after its ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func (p *process) Stop() {
	if p.cmd.Process != nil {
		p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
		}
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startMiniauth(ctx context.Context, o options, dataDir, wechatURL, secret string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.binary)
	cmd.Env = append(os.Environ(),
		"MINIAUTH_ADDR="+addr,
		"MINIAUTH_DATA_DIR="+dataDir,
		"MINIAUTH_DATABASE_URL="+o.database,
		"MINIAUTH_WECHAT_APPID="+benchAppID,
		"MINIAUTH_WECHAT_SECRET="+benchSecret,
		"MINIAUTH_WECHAT_API_BASE="+wechatURL,
		"MINIAUTH_JWT_SECRET="+secret,
		"MINIAUTH_SQLITE_SYNC="+o.sync,
		"MINIAUTH_LOGIN_RATE_LIMIT=0",
		"MINIAUTH_METRICS_ADDR="+os.Getenv("BENCH_METRICS_ADDR"),
		"MINIAUTH_SESSION_CACHE="+o.sessionCache,
	)
	log, err := os.Create(dataDir + ".log")
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start miniauth: %w", err)
	}
	p := &process{URL: "http://" + addr, cmd: cmd}
	if err := waitHealthy(p.URL + "/healthz"); err != nil {
		p.Stop()
		return nil, fmt.Errorf("miniauth did not start (log: %s): %w", dataDir+".log", err)
	}
	return p, nil
}

func startBaseline(ctx context.Context, secret string) (*process, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "baseline-server", addr, secret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start baseline: %w", err)
	}
	p := &process{URL: "http://" + addr, cmd: cmd}
	if err := waitHealthy(p.URL + "/healthz"); err != nil {
		p.Stop()
		return nil, fmt.Errorf("baseline did not start: %w", err)
	}
	return p, nil
}

func waitHealthy(url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from %s within 30s", url)
}
