package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
)

// /healthz fails while the database is unreachable and recovers by itself
// when it returns, without a restart.
func TestHealthFollowsTheDatabase(t *testing.T) {
	proxy, dbURL := apptest.ProxyPostgres(t, apptest.FreshPostgres(t))
	env := apptest.Start(t, apptest.Options{DatabaseURL: dbURL})
	health := func() int {
		resp, err := http.Get(env.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode
	}
	if s := health(); s != http.StatusOK {
		t.Fatalf("healthz %d with the database up", s)
	}
	proxy.Cut()
	if s := health(); s != http.StatusServiceUnavailable {
		t.Fatalf("healthz %d with the database down, want 503", s)
	}
	proxy.Restore()
	apptest.Eventually(t, 10*time.Second, "healthz 200 after the database came back", func() (bool, string) {
		s := health()
		return s == http.StatusOK, fmt.Sprintf("status %d", s)
	})
	// And the API works again too.
	env.Login(t, "after-outage")
}

// /metrics is served only on MINIAUTH_METRICS_ADDR, never on the public
// listener, and counts requests by route and logins by outcome.
func TestMetricsOnSeparateListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := apptest.Start(t, apptest.Options{Env: map[string]string{"MINIAUTH_METRICS_ADDR": addr}})
	g := env.Login(t, "metrics-user")
	env.Do(t, apptest.Request{Method: "GET", Path: "/api/me", Token: g.AccessToken})
	env.Do(t, apptest.Request{Method: "POST", Path: "/api/auth/login", Body: map[string]any{"code": "not-a-code"}})

	// 100 made-up method names at once (verify answers any method): no
	// series per name.
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env.Do(t, apptest.Request{Method: fmt.Sprintf("MADEUP%d", i), Path: "/api/auth/verify", Token: g.AccessToken})
		}()
	}
	wg.Wait()

	if r := env.Do(t, apptest.Request{Method: "GET", Path: "/metrics"}); r.Status != http.StatusNotFound {
		t.Fatalf("public /metrics answered %d, want 404", r.Status)
	}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`miniauth_http_requests_total{method="GET",route="/api/me",status="200"} 1`,
		`miniauth_logins_total{outcome="success"} 1`,
		`miniauth_logins_total{outcome="invalid_code"} 1`,
		`miniauth_active_sessions 1`,
		`miniauth_wechat_call_duration_seconds_count{endpoint="/sns/jscode2session"} 2`,
		`miniauth_wechat_errors_total{endpoint="/sns/jscode2session",errcode="40029"} 1`,
		`miniauth_http_request_duration_seconds_bucket{method="POST",route="/api/auth/login"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(text, "MADEUP") {
		t.Error("metrics keep a series per made-up method name")
	}
	if strings.Contains(text, g.AccessToken) || strings.Contains(text, "metrics-user") {
		t.Error("metrics contain a token or an openid")
	}
}
