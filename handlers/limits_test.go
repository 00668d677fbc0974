package handlers_test

// Limits in front of the API: bodies past the transport's cap, the login
// rate limit by client IP.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
)

// TestBodyPastTransportLimit: a body announced past the transport's cap
// is refused from its headers with the contract's 413, before it is read.
func TestBodyPastTransportLimit(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	for _, path := range []string{loginPath, "/api/me"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(env.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: miniauth\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"code\":\"", path, 64<<20)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		apptest.Expect(t, &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, http.StatusRequestEntityTooLarge, "request_too_large")
	}
}

// TestLoginRateLimitByTrustedClientIP: our own limit answers 429 with
// Retry-After, and a client cannot escape it by sending X-Forwarded-For;
// behind a trusted proxy, each forwarded client has its own budget.
func TestLoginRateLimitByTrustedClientIP(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		spoofed := startOn(t, b, map[string]string{"MINIAUTH_LOGIN_RATE_LIMIT": "5"})
		for i := range 5 {
			r := spoofed.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: []byte(`{`),
				Header: map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}})
			apptest.Expect(t, r, 400, "invalid_request")
		}
		r := spoofed.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: []byte(`{`),
			Header: map[string]string{"X-Forwarded-For": "198.51.100.77"}})
		apptest.Expect(t, r, http.StatusTooManyRequests, "rate_limited")
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After = %q", ra)
		}
		apptest.Expect(t, refresh(t, spoofed, "whatever"), http.StatusTooManyRequests, "rate_limited")

		proxied := startOn(t, b, map[string]string{"MINIAUTH_LOGIN_RATE_LIMIT": "5", "MINIAUTH_TRUSTED_PROXIES": "127.0.0.1"})
		for i := range 8 {
			r := proxied.Do(t, apptest.Request{Method: "POST", Path: loginPath, Body: []byte(`{`),
				Header: map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}})
			apptest.Expect(t, r, 400, "invalid_request")
		}
	})
}
