package app_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miniauth/miniauth/app/apptest"
)

// announce sends a request's headers and the first bytes of its body, then
// reads the answer while (for chunked) it keeps sending: a server that
// refuses from the headers answers without waiting for the body. The
// connection stays open until the answer is in, so the answer cannot come
// from the client giving up.
func announce(t *testing.T, addr, method, path string, header map[string]string, contentLength int) *apptest.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: miniauth\r\n", method, path)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	chunked := contentLength < 0
	if chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n{", contentLength)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	if chunked {
		// An endless chunked body: only a bounded read can answer it.
		go func() {
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 8<<10, bytes.Repeat([]byte("a"), 8<<10))
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := io.WriteString(conn, chunk); err != nil {
					return
				}
			}
		}()
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s (Content-Length %d): no answer before the body was sent: %v", method, path, contentLength, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// TestBodyLimitsPerRoute: only the avatar upload may send megabytes, and
// it is answered on its token before its body is read; JSON routes take at
// most 1 MiB, every other route a few KiB, refused from the Content-Length
// or, when chunked, as soon as the limit is passed.
func TestBodyLimitsPerRoute(t *testing.T) {
	t.Parallel()
	apptest.EachBackend(t, func(t *testing.T, b apptest.Backend) {
		env := startOn(t, b, nil)
		addr := addrOf(env)
		g := env.Login(t, "o_body_limits")
		json := map[string]string{"Content-Type": "application/json"}
		multipart := map[string]string{"Content-Type": "multipart/form-data; boundary=xyz"}
		withToken := map[string]string{"Content-Type": "multipart/form-data; boundary=xyz", "Authorization": "Bearer " + g.AccessToken}
		form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
		const mib = 1 << 20
		for _, c := range []struct {
			method, path  string
			header        map[string]string
			contentLength int // -1: chunked, endless
			status        int
			code          string
		}{
			{"POST", "/healthz", json, 8 * mib, 413, "request_too_large"},
			{"POST", "/healthz", json, 8 << 10, 413, "request_too_large"},
			{"POST", "/healthz", json, -1, 413, "request_too_large"},
			{"PUT", "/no/such/route", json, 8 * mib, 413, "request_too_large"},
			{"POST", "/uploads/avatars/x.png", multipart, 2 * mib, 413, "request_too_large"},
			{"POST", "/admin/login", form, 8 * mib, 413, "request_too_large"},
			{"POST", "/admin/login", form, -1, 413, "request_too_large"},
			{"POST", "/api/auth/login", json, mib + 1, 413, "request_too_large"},
			{"POST", "/api/auth/login", json, -1, 413, "request_too_large"},
			{"PUT", "/api/me", json, 8 * mib, 413, "request_too_large"},
			// The upload route: over its limit, refused from the headers;
			// within it, the token is checked before any of the body is read.
			{"POST", "/api/me/avatar", withToken, 8 * mib, 413, "request_too_large"},
			{"POST", "/API/ME/AVATAR/", withToken, 8 * mib, 413, "request_too_large"},
			{"POST", "/api/me/avatar", multipart, 2 * mib, 401, "unauthorized"},
			{"POST", "/api/me/avatar", multipart, -1, 401, "unauthorized"},
		} {
			r := announce(t, addr, c.method, c.path, c.header, c.contentLength)
			if r.Status != c.status || r.ErrorCode() != c.code {
				t.Errorf("%s %s (Content-Length %d): %d %s, want %d %s", c.method, c.path, c.contentLength, r.Status, r.Body, c.status, c.code)
			}
		}

		// 100 at once: unauthenticated uploads and oversized bodies.
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				path, header, want := "/api/me/avatar", multipart, 401
				if i%2 == 1 {
					path, header, want = "/healthz", json, 413
				}
				if r := announce(t, addr, "POST", path, header, 2*mib); r.Status != want {
					t.Errorf("concurrent %s: %d %s, want %d", path, r.Status, r.Body, want)
				}
			})
		}
		wg.Wait()

		// Bodies within their limits still work, chunked too (an
		// io.MultiReader has no length, so the client sends it chunked).
		if r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken,
			RawBody: io.MultiReader(strings.NewReader(`{"nickname":`), strings.NewReader(`"chunky"}`))}); r.Status != 200 || r.JSON(t)["nickname"] != "chunky" {
			t.Fatalf("a small chunked JSON body: %d %s", r.Status, r.Body)
		}
		// Bodies within their limits still work, on a kept-alive connection.
		if r := env.Do(t, apptest.Request{Method: "PUT", Path: "/api/me", Token: g.AccessToken,
			Body: []byte(`{"nickname":"` + strings.Repeat("x", 64) + `"}` + strings.Repeat(" ", mib-80))}); r.Status != 200 {
			t.Fatalf("a 1 MiB JSON body: %d %s", r.Status, r.Body)
		}
	})
}


// TestBodyFloodKeepsMemoryFlat runs the real binary and has 40
// connections each send 8 MiB to POST /healthz (and 40 more send endless
// chunked bodies to the JSON and admin routes) while a normal client is
// served: the server's memory grows by less than 64 MiB.
func TestBodyFloodKeepsMemoryFlat(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the server's memory")
	}
	t.Parallel()
	p := apptest.StartProcess(t, nil, nil)
	client := &http.Client{Timeout: 10 * time.Second}
	for range 20 { // warm up
		resp, err := client.Get(p.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	baseline := apptest.VmRSS(t, p.PID())

	const conns, size = 40, 8 << 20
	var sent atomic.Int64
	var wg sync.WaitGroup
	flood := func(path, framing string) {
		defer wg.Done()
		conn, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(60 * time.Second))
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: miniauth\r\nContent-Type: application/json\r\n%s\r\n\r\n", path, framing)
		piece := bytes.Repeat([]byte("a"), 64<<10)
		chunked := strings.Contains(framing, "chunked")
		for n := 0; n < size; n += len(piece) {
			var err error
			if chunked {
				_, err = fmt.Fprintf(conn, "%x\r\n%s\r\n", len(piece), piece)
			} else {
				_, err = conn.Write(piece)
			}
			if err != nil {
				return // the server refused and closed: fine
			}
			sent.Add(int64(len(piece)))
		}
	}
	for i := range conns {
		wg.Add(2)
		go flood("/healthz", "Content-Length: "+strconv.Itoa(size))
		go flood([]string{"/api/auth/login", "/admin/login", "/healthz"}[i%3], "Transfer-Encoding: chunked")
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	peak, served := baseline, 0
	for flooding := true; flooding; {
		select {
		case <-done:
			flooding = false
		default:
		}
		resp, err := client.Get(p.URL + "/healthz")
		if err != nil {
			t.Fatalf("a normal client during the flood: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a normal client during the flood: %d", resp.StatusCode)
		}
		served++
		peak = max(peak, apptest.VmRSS(t, p.PID()))
	}
	peak = max(peak, apptest.VmRSS(t, p.PID()))
	t.Logf("RSS %d MiB before, peak %d MiB during %d connections (%d MiB sent); %d normal requests served",
		baseline>>20, peak>>20, 2*conns, sent.Load()>>20, served)
	if growth := peak - baseline; growth >= 64<<20 {
		t.Fatalf("RSS grew by %d MiB under the flood, want < 64 MiB", growth>>20)
	}
}
