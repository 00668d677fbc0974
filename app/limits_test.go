package app_test

import (
	"bufio"
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

// rawExchange sends raw bytes on a new connection and reads one answer.
// It writes the whole request before reading, as a client that does not
// expect an early answer would.
func rawExchange(t testing.TB, addr, raw string) (*apptest.Response, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func addrOf(env *apptest.Env) string { return strings.TrimPrefix(env.URL, "http://") }

// withToken is GET /api/me with a token and the headers a client sends
// anyway (about 200 bytes).
func withToken(token string) string {
	return "GET /api/me HTTP/1.1\r\nHost: miniauth.example.com\r\nUser-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) MicroMessenger/8.0.47\r\n" +
		"Accept: application/json\r\nAccept-Encoding: gzip\r\nReferer: https://servicewechat.com/wx0123456789abcdef/1/page-frame.html\r\n" +
		"Authorization: Bearer " + token + "\r\n\r\n"
}

// TestOversizedHeadersAnswer431: headers past the read buffer get the
// contract's JSON 431 (not a reset, not a 400), one by one and 100 at once;
// a token that fits but is malformed is an ordinary 401.
func TestOversizedHeadersAnswer431(t *testing.T) {
	t.Parallel()
	env := startOn(t, sqliteOnly, nil)
	for name, raw := range map[string]string{
		"4,000-character token": withToken(strings.Repeat("a", 4000)),
		"100 KB token":          withToken(strings.Repeat("b", 100_000)),
		"100 KB cookie":         "GET /healthz HTTP/1.1\r\nHost: miniauth\r\nCookie: c=" + strings.Repeat("c", 100_000) + "\r\n\r\n",
	} {
		r, err := rawExchange(t, addrOf(env), raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		apptest.Expect(t, r, http.StatusRequestHeaderFieldsTooLarge, "request_header_too_large")
	}

	// Fits in the buffer, but is no token: 401 with the Bearer challenge.
	for _, tok := range []string{strings.Repeat("a", 3000), "a.b.c", strings.Repeat("x.", 1000) + "y"} {
		r, err := rawExchange(t, addrOf(env), withToken(tok))
		if err != nil {
			t.Fatal(err)
		}
		apptest.Expect(t, r, http.StatusUnauthorized, "unauthorized")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("401 without the Bearer challenge: %v", r.Header)
		}
	}

	// 100 oversized requests at once, while a normal client is served.
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			r, err := rawExchange(t, addrOf(env), withToken(strings.Repeat("z", 4000+i*500)))
			switch {
			case err != nil:
				errs <- err.Error()
			case r.Status != http.StatusRequestHeaderFieldsTooLarge || r.ErrorCode() != "request_header_too_large":
				errs <- fmt.Sprintf("%d %s", r.Status, r.Body)
			}
		})
	}
	g := env.Login(t, "o_header_flood")
	if r := me(t, env, g.AccessToken); r.Status != http.StatusOK {
		t.Fatalf("a normal request during the flood: %d %s", r.Status, r.Body)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("oversized request: %s", e)
	}
}
