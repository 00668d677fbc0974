package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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

func startWeChat() *wechat {
	sim := wechatsim.New(benchAppID, benchSecret)
	srv := httptest.NewServer(sim)
	return &wechat{Sim: sim, HTTP: srv, URL: srv.URL}
}

func (w *wechat) Close() { w.HTTP.Close() }

// process is a child server.
type process struct {
	URL string
	cmd *exec.Cmd
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
